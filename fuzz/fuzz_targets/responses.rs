#![no_main]
//! One message's frames, decoded with every decoder the client applies to what a member
//! sends (responses, error responses, events, the authentication answer).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hazelcast_client::fuzzing::message_bytes(data);
});
