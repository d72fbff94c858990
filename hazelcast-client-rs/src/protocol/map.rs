//! The Map service (id 1): the IMap operations this client offers, declared as in the
//! protocol definitions' `Map.yaml`.

use super::declare::messages;
use crate::serialization::Data;

/// The map service's name, as distributed objects of the service are created and
/// destroyed with.
pub const SERVICE_NAME: &str = "hz:impl:mapService";

messages! {
    service 1 "Map";

    /// Puts and answers the previous value.
    0x01 "put" => Put<'a> as PUT {
        retryable: false,
        partition: key,
        request { name: &'a str, key: &'a Data, value: &'a Data, thread_id: i64, ttl: i64 }
        response { response: Option<Data> }
    }
    0x02 "get" => Get<'a> as GET {
        retryable: true,
        partition: key,
        request { name: &'a str, key: &'a Data, thread_id: i64 }
        response { response: Option<Data> }
    }
    /// Removes and answers the value.
    0x03 "remove" => Remove<'a> as REMOVE {
        retryable: false,
        partition: key,
        request { name: &'a str, key: &'a Data, thread_id: i64 }
        response { response: Option<Data> }
    }
    /// Replaces the value if the key has one; answers the previous value.
    0x04 "replace" => Replace<'a> as REPLACE {
        retryable: false,
        partition: key,
        request { name: &'a str, key: &'a Data, value: &'a Data, thread_id: i64 }
        response { response: Option<Data> }
    }
    /// Replaces the value only if it equals `test_value`.
    0x05 "replaceIfSame" => ReplaceIfSame<'a> as REPLACE_IF_SAME {
        retryable: false,
        partition: key,
        request {
            name: &'a str,
            key: &'a Data,
            test_value: &'a Data,
            value: &'a Data,
            thread_id: i64,
        }
        response { response: bool }
    }
    0x06 "containsKey" => ContainsKey<'a> as CONTAINS_KEY {
        retryable: true,
        partition: key,
        request { name: &'a str, key: &'a Data, thread_id: i64 }
        response { response: bool }
    }
    /// Removes without answering the value; members of protocol 2.7 on answer whether
    /// the key had one.
    0x09 "delete" => Delete<'a> as DELETE {
        retryable: false,
        partition: key,
        request { name: &'a str, key: &'a Data, thread_id: i64 }
        response { #[since = "2.7"] response: bool }
    }
    /// Puts if the key has no value; answers the existing value otherwise.
    0x0E "putIfAbsent" => PutIfAbsent<'a> as PUT_IF_ABSENT {
        retryable: false,
        partition: key,
        request { name: &'a str, key: &'a Data, value: &'a Data, thread_id: i64, ttl: i64 }
        response { response: Option<Data> }
    }
    /// Puts without answering the previous value.
    0x0F "set" => Set<'a> as SET {
        retryable: false,
        partition: key,
        request { name: &'a str, key: &'a Data, value: &'a Data, thread_id: i64, ttl: i64 }
        response {}
    }
    /// Locks for (client, `thread_id`); `ttl` is the lease (-1: none). `reference_id` lets
    /// a member tell a re-sent lock from a new one.
    0x10 "lock" => Lock<'a> as LOCK {
        retryable: true,
        partition: key,
        request {
            name: &'a str,
            key: &'a Data,
            thread_id: i64,
            ttl: i64,
            reference_id: i64,
        }
        response {}
    }
    0x11 "tryLock" => TryLock<'a> as TRY_LOCK {
        retryable: true,
        partition: key,
        request {
            name: &'a str,
            key: &'a Data,
            thread_id: i64,
            lease: i64,
            timeout: i64,
            reference_id: i64,
        }
        response { response: bool }
    }
    0x12 "isLocked" => IsLocked<'a> as IS_LOCKED {
        retryable: true,
        partition: key,
        request { name: &'a str, key: &'a Data }
        response { response: bool }
    }
    0x13 "unlock" => Unlock<'a> as UNLOCK {
        retryable: true,
        partition: key,
        request { name: &'a str, key: &'a Data, thread_id: i64, reference_id: i64 }
        response {}
    }
    0x2A "size" => Size<'a> as SIZE {
        retryable: true,
        partition: none,
        request { name: &'a str }
        response { response: i32 }
    }
    0x2D "clear" => Clear<'a> as CLEAR {
        retryable: false,
        partition: none,
        request { name: &'a str }
        response {}
    }
    /// Releases the lock whoever holds it.
    0x33 "forceUnlock" => ForceUnlock<'a> as FORCE_UNLOCK {
        retryable: true,
        partition: key,
        request { name: &'a str, key: &'a Data, reference_id: i64 }
        response {}
    }
}
