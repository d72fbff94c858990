//! The Queue service (id 3), declared as in the protocol definitions' `Queue.yaml`. A queue
//! lives on the partition of its name.

use super::declare::messages;
use crate::serialization::Data;

/// The queue service's name, as distributed objects of the service are created and
/// destroyed with.
pub const SERVICE_NAME: &str = "hz:impl:queueService";

messages! {
    service 3 "Queue";

    /// Adds an item, waiting up to `timeout_millis` for room; answers whether it was added.
    0x01 "offer" => Offer<'a> as OFFER {
        retryable: false,
        partition: name,
        request { name: &'a str, value: &'a Data, timeout_millis: i64 }
        response { response: bool }
    }
    /// Adds an item, waiting as long as the queue is full.
    0x02 "put" => Put<'a> as PUT {
        retryable: false,
        partition: name,
        request { name: &'a str, value: &'a Data }
        response {}
    }
    0x03 "size" => Size<'a> as SIZE {
        retryable: false,
        partition: name,
        request { name: &'a str }
        response { response: i32 }
    }
    /// Takes the head, waiting up to `timeout_millis`; null if the queue stayed empty.
    0x05 "poll" => Poll<'a> as POLL {
        retryable: false,
        partition: name,
        request { name: &'a str, timeout_millis: i64 }
        response { response: Option<Data> }
    }
    /// Takes the head, waiting as long as the queue is empty.
    0x06 "take" => Take<'a> as TAKE {
        retryable: false,
        partition: name,
        request { name: &'a str }
        response { response: Option<Data> }
    }
    0x0F "clear" => Clear<'a> as CLEAR {
        retryable: false,
        partition: name,
        request { name: &'a str }
        response {}
    }
}
