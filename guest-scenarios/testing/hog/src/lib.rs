//! Allocates 1 MiB at a time and keeps it, until the host refuses more memory.

use hzlab_guest::{runtime, Outcome, Scenario};

struct Hog;

impl Scenario for Hog {
    fn run() -> Outcome {
        let mut kept: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut block = vec![0u8; 1 << 20];
            block[0] = 1;
            kept.push(block);
            runtime::count("mib", 1);
        }
    }
}

hzlab_guest::scenario!(Hog);
