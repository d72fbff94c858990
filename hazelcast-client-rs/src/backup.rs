//! Backup acknowledgements sent straight to the client, as the official smart clients
//! use them: a request flagged backup-aware is answered by its partition's primary as soon
//! as it ran there, with the number of synchronous backups in the answer's header; each
//! backup member then sends the client an event naming the request's correlation id. The
//! call completes when all acknowledgements are in (or after the backup timeout, with the
//! primary's answer, as the official clients do by default).

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::oneshot;

#[derive(Default)]
struct AckState {
    received: u8,
    expected: Option<u8>,
    done: Option<oneshot::Sender<()>>,
}

/// Acknowledgements per correlation id, shared by all connections of a client.
#[derive(Default)]
pub(crate) struct BackupAcks {
    table: Mutex<HashMap<i64, AckState>>,
}

impl BackupAcks {
    /// Starts tracking a request before it is sent (acks may beat the answer).
    pub fn register(&self, id: i64) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        self.table.lock().unwrap().insert(
            id,
            AckState {
                done: Some(tx),
                ..AckState::default()
            },
        );
        rx
    }

    /// Records the answer's expected ack count; true if all are already in.
    pub fn expect(&self, id: i64, expected: u8) -> bool {
        let mut t = self.table.lock().unwrap();
        match t.get_mut(&id) {
            Some(s) => {
                s.expected = Some(expected);
                s.received >= expected
            }
            None => true,
        }
    }

    /// A backup member acknowledged request `id`.
    pub fn ack(&self, id: i64) {
        let mut t = self.table.lock().unwrap();
        if let Some(s) = t.get_mut(&id) {
            s.received = s.received.saturating_add(1);
            if s.expected.is_some_and(|e| s.received >= e) {
                if let Some(tx) = s.done.take() {
                    let _ = tx.send(());
                }
            }
        }
    }

    /// Acknowledgements received so far for request `id`.
    pub fn received(&self, id: i64) -> u8 {
        self.table
            .lock()
            .unwrap()
            .get(&id)
            .map_or(0, |s| s.received)
    }

    pub fn forget(&self, id: i64) {
        self.table.lock().unwrap().remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_before_and_after_the_answer() {
        let acks = BackupAcks::default();
        let mut rx = acks.register(1);
        acks.ack(1); // before the answer
        assert!(!acks.expect(1, 2));
        assert!(rx.try_recv().is_err());
        acks.ack(1);
        assert!(rx.try_recv().is_ok());
        acks.forget(1);
        acks.ack(1); // late: ignored
        let _rx2 = acks.register(2);
        acks.ack(2);
        assert!(acks.expect(2, 1));
        assert!(acks.expect(99, 1), "unknown ids do not wait");
    }
}
