//! Loops forever in `run` without calling the host: the host must stop it at its time budget.

use hzlab_guest::{Outcome, Scenario};

struct Spin;

impl Scenario for Spin {
    fn run() -> Outcome {
        let mut x: u64 = 1;
        loop {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
}

hzlab_guest::scenario!(Spin);
