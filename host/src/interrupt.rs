//! Interrupting a run (Ctrl-C, SIGTERM): a flag the command raises and the runner and the
//! plan executor watch.
//!
//! Once it is raised, every instance stops at its next cluster operation (the operation is
//! carried out and recorded, then the instance traps) or at its next epoch tick if it only
//! computes; an instance that waits inside an operation longer than [`GRACE`] is dropped.
//! Each stopped instance releases the locks it holds, setups and verifies not yet started
//! are not run, and a plan runs no further step, repeat or case. The results gathered so far
//! are returned, marked `interrupted`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// How long an instance that waits inside an operation (a lock held elsewhere, a blocking
/// take, a sleep) may take to end on its own once the run is interrupted.
pub const GRACE: Duration = Duration::from_secs(2);

/// Raised once, never lowered.
#[derive(Debug, Default)]
pub struct Interrupt {
    raised: AtomicBool,
    notify: Notify,
}

/// The error an operation gives an instance once the run is interrupted: it stops the
/// instance (a trap), which is then reported as `interrupted`.
#[derive(Debug, thiserror::Error)]
#[error("the run was interrupted")]
pub struct Interrupted;

impl Interrupt {
    /// Raises the flag and wakes every waiter; safe from any thread.
    pub fn raise(&self) {
        if !self.raised.swap(true, Ordering::SeqCst) {
            self.notify.notify_waiters();
        }
    }

    pub fn is_raised(&self) -> bool {
        self.raised.load(Ordering::SeqCst)
    }

    /// Resolves once the flag is raised.
    pub async fn raised(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_raised() {
                return;
            }
            notified.await;
        }
    }

    /// Resolves [`GRACE`] after the flag is raised.
    pub async fn raised_and_grace_passed(&self) {
        self.raised().await;
        tokio::time::sleep(GRACE).await;
    }

    /// Runs `fut` unless the flag is raised first (`None` then); if it is raised while `fut`
    /// runs, `fut` still has [`GRACE`] to end.
    pub async fn or_grace<F: std::future::Future>(&self, fut: F) -> Option<F::Output> {
        tokio::select! {
            biased;
            r = fut => Some(r),
            () = self.raised_and_grace_passed() => None,
        }
    }

    /// Runs `fut` unless the flag is raised first or while it runs (`None` then): for waits
    /// that have nothing to finish (sleeps, polls).
    pub async fn or_raised<F: std::future::Future>(&self, fut: F) -> Option<F::Output> {
        tokio::select! {
            biased;
            r = fut => Some(r),
            () = self.raised() => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_wait_ends_when_raised_from_another_thread() {
        let i = std::sync::Arc::new(Interrupt::default());
        let j = i.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            j.raise();
        });
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let r = i
                    .or_raised(tokio::time::sleep(Duration::from_secs(30)))
                    .await;
                assert_eq!(r, None);
            });
        assert!(i.is_raised());
    }

    #[test]
    fn work_gets_its_grace() {
        rt().block_on(async {
            let i = Interrupt::default();
            i.raise();
            // Ends within the grace: its result is kept.
            let quick = i.or_grace(tokio::time::sleep(GRACE / 4)).await;
            assert_eq!(quick, Some(()));
            // Outlives it: dropped once the grace is over.
            let began = std::time::Instant::now();
            let slow = i.or_grace(tokio::time::sleep(GRACE * 10)).await;
            assert_eq!(slow, None);
            assert!(began.elapsed() < GRACE * 2);
            // Nothing raised: runs to its end.
            let calm = Interrupt::default();
            let r = calm.or_raised(tokio::time::sleep(GRACE / 4)).await;
            assert_eq!(r, Some(()));
        });
    }
}
