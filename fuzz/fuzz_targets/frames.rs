#![no_main]
//! Wire bytes through the frame decoder and the message assembler, as a connection reads
//! them; every message completed is decoded with every decoder.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hazelcast_client::fuzzing::wire(data);
});
