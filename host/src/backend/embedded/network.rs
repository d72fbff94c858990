//! The simulated network between an instance and the embedded cluster.
//!
//! Every operation makes one trip: a number of scheduler yields drawn from a generator seeded
//! by the run's seed and the instance, so concurrent instances interleave between operations
//! as they would on a real network, and a run with the same seed interleaves the same way.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug)]
pub struct Network {
    state: AtomicU64,
    max_yields: u32,
}

impl Network {
    pub fn new(seed: u64, owner: u64, max_yields: u32) -> Network {
        let mixed = splitmix64(seed ^ splitmix64(owner.wrapping_add(0x9e37_79b9_7f4a_7c15)));
        Network {
            state: AtomicU64::new(mixed | 1),
            max_yields,
        }
    }

    /// The next number of yields, in 0..=max_yields.
    fn next_yields(&self) -> u32 {
        if self.max_yields == 0 {
            return 0;
        }
        // xorshift64*: one instance's generator is only used by that instance's task.
        let mut x = self.state.load(Ordering::Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state.store(x, Ordering::Relaxed);
        ((x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) % (self.max_yields as u64 + 1)) as u32
    }

    /// One trip: yields to the scheduler 0..=max_yields times.
    pub async fn trip(&self) {
        for _ in 0..self.next_yields() {
            tokio::task::yield_now().await;
        }
    }
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yields_stay_in_range_and_depend_on_seed() {
        let a = Network::new(1, 0, 3);
        let b = Network::new(1, 0, 3);
        let c = Network::new(2, 0, 3);
        let sa: Vec<u32> = (0..64).map(|_| a.next_yields()).collect();
        let sb: Vec<u32> = (0..64).map(|_| b.next_yields()).collect();
        let sc: Vec<u32> = (0..64).map(|_| c.next_yields()).collect();
        assert!(sa.iter().all(|&y| y <= 3));
        assert_eq!(sa, sb, "same seed, same draws");
        assert_ne!(sa, sc, "another seed, other draws");
        assert!(
            (0..=3).all(|y| sa.contains(&y)),
            "every count is drawn: {sa:?}"
        );
        assert_eq!(Network::new(1, 0, 0).next_yields(), 0);
    }
}
