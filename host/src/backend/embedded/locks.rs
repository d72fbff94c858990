//! Reentrant key locks owned by sessions, as `IMap.lock` provides them.

use std::sync::Arc;
use tokio::sync::Notify;

use crate::backend::OwnerId;

/// The lock of one map key.
#[derive(Debug, Default)]
pub struct KeyLock {
    holder: Option<(OwnerId, u32)>,
    /// Woken when the lock is released (one waiter at a time).
    released: Arc<Notify>,
}

impl KeyLock {
    /// Takes the lock for `owner` if it is free or already `owner`'s.
    pub fn try_acquire(&mut self, owner: OwnerId) -> bool {
        match &mut self.holder {
            None => {
                self.holder = Some((owner, 1));
                true
            }
            Some((o, count)) if *o == owner => {
                *count += 1;
                true
            }
            Some(_) => false,
        }
    }

    /// Releases one hold by `owner`; false if `owner` does not hold the lock.
    pub fn release(&mut self, owner: OwnerId) -> bool {
        match &mut self.holder {
            Some((o, count)) if *o == owner => {
                *count -= 1;
                if *count == 0 {
                    self.holder = None;
                    self.released.notify_one();
                }
                true
            }
            _ => false,
        }
    }

    pub fn is_locked(&self) -> bool {
        self.holder.is_some()
    }

    pub fn is_free(&self) -> bool {
        self.holder.is_none()
    }

    /// Free, and nobody waits for it: the entry can go. (A waiter keeps a handle to
    /// `released`; dropping the entry under it would leave it waiting forever.)
    pub fn is_unused(&self) -> bool {
        self.is_free() && Arc::strong_count(&self.released) == 1
    }

    /// What a waiter waits on.
    pub fn released(&self) -> Arc<Notify> {
        self.released.clone()
    }

    /// Who holds the lock, if anyone.
    pub fn holder(&self) -> Option<OwnerId> {
        self.holder.map(|(o, _)| o)
    }

    /// Releases the lock whoever holds it (its owner left the cluster's sight).
    pub fn force_release(&mut self) {
        if self.holder.take().is_some() {
            self.released.notify_waiters();
        }
    }

    /// A copy for another side of a split: the same holder, waiters of its own.
    pub fn fork(&self) -> KeyLock {
        KeyLock {
            holder: self.holder,
            released: Arc::default(),
        }
    }

    /// Wakes every waiter (the lock's partition was lost: they must look again).
    pub fn wake_all(&self) {
        self.released.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_is_reentrant_for_its_owner_only() {
        let mut l = KeyLock::default();
        assert!(l.try_acquire(1));
        assert!(l.try_acquire(1));
        assert!(!l.try_acquire(2));
        assert!(!l.release(2), "a non-owner must not unlock");
        assert!(l.release(1));
        assert!(l.is_locked(), "one hold is left");
        assert!(l.release(1));
        assert!(l.is_free());
        assert!(!l.release(1));
        assert!(l.try_acquire(2));
    }
}
