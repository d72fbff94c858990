//! Bounded FIFO queues, as `IQueue` with a max-size provides them.

use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::Notify;

use hazelcast_client::Data;

#[derive(Debug)]
pub struct BoundedQueue {
    items: VecDeque<Data>,
    capacity: usize,
    /// Woken when an item is added.
    not_empty: Arc<Notify>,
    /// Woken when an item is removed.
    not_full: Arc<Notify>,
}

impl BoundedQueue {
    /// A queue holding at most `capacity` items (`None`: unbounded, as Hazelcast's default).
    pub fn new(capacity: Option<u32>) -> BoundedQueue {
        BoundedQueue {
            items: VecDeque::new(),
            capacity: capacity.map_or(usize::MAX, |c| c as usize),
            not_empty: Arc::default(),
            not_full: Arc::default(),
        }
    }

    /// Adds `item` if there is room.
    pub fn try_push(&mut self, item: Data) -> Result<(), Data> {
        if self.items.len() >= self.capacity {
            return Err(item);
        }
        self.items.push_back(item);
        self.not_empty.notify_one();
        Ok(())
    }

    /// Removes the head, if any.
    pub fn try_pop(&mut self) -> Option<Data> {
        let item = self.items.pop_front()?;
        self.not_full.notify_one();
        Some(item)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The items, head first.
    pub fn items(&self) -> &VecDeque<Data> {
        &self.items
    }

    /// Replaces the items (a merge chose the other side's), waking whoever waits.
    pub fn replace_items(&mut self, items: VecDeque<Data>) {
        self.items = items;
        self.wake_all();
    }

    /// A copy for another side of a split: the same items, waiters of its own.
    pub fn fork(&self) -> BoundedQueue {
        BoundedQueue {
            items: self.items.clone(),
            capacity: self.capacity,
            not_empty: Arc::default(),
            not_full: Arc::default(),
        }
    }

    pub fn not_empty(&self) -> Arc<Notify> {
        self.not_empty.clone()
    }

    pub fn not_full(&self) -> Arc<Notify> {
        self.not_full.clone()
    }

    /// Wakes every waiter (the queue's partition was lost: they must look again).
    pub fn wake_all(&self) {
        self.not_empty.notify_waiters();
        self.not_full.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hazelcast_client::Value;

    fn item(i: i32) -> Data {
        Data::from_value(&Value::Int(i))
    }

    #[test]
    fn refuses_items_past_capacity_and_keeps_fifo_order() {
        let mut q = BoundedQueue::new(Some(2));
        assert!(q.try_push(item(1)).is_ok());
        assert!(q.try_push(item(2)).is_ok());
        assert_eq!(q.try_push(item(3)), Err(item(3)));
        assert_eq!(q.try_pop(), Some(item(1)));
        assert!(q.try_push(item(3)).is_ok());
        assert_eq!(q.try_pop(), Some(item(2)));
        assert_eq!(q.try_pop(), Some(item(3)));
        assert_eq!(q.try_pop(), None);
    }
}
