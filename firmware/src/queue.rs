//! The store-and-forward queue: a fixed ring of readings in ascending `seq` order.
//!
//! Readings enter at the back as they are recorded and leave from the front, either confirmed
//! by a commit acknowledgement or, when the ring is full, dropped to make room for a newer one
//! (the caller counts the drop). No allocation; the capacity is a type parameter.

use crate::reading::StoredReading;

/// Readings the device holds: 48 hours at the default 10-minute interval. The wire's number,
/// because the collector refuses sequence numbers further ahead than a queue this size can hold.
pub const QUEUE_CAPACITY: usize = dampwatch_wire::limits::DEVICE_QUEUE_CAPACITY;

pub struct ReadingQueue<const N: usize = QUEUE_CAPACITY> {
    slots: [StoredReading; N],
    head: usize,
    len: usize,
}

impl<const N: usize> Default for ReadingQueue<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> ReadingQueue<N> {
    pub const fn new() -> Self {
        ReadingQueue { slots: [StoredReading::ZERO; N], head: 0, len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn is_full(&self) -> bool {
        self.len == N
    }

    /// The oldest reading still held.
    pub fn front(&self) -> Option<&StoredReading> {
        self.get(0)
    }

    /// The `i`-th oldest reading.
    pub fn get(&self, i: usize) -> Option<&StoredReading> {
        (i < self.len).then(|| &self.slots[(self.head + i) % N])
    }

    /// Appends a reading; when full, first removes and returns the oldest one.
    pub fn push(&mut self, reading: StoredReading) -> Option<StoredReading> {
        if N == 0 {
            return Some(reading);
        }
        let evicted = if self.is_full() { self.pop_front() } else { None };
        self.slots[(self.head + self.len) % N] = reading;
        self.len += 1;
        evicted
    }

    pub fn pop_front(&mut self) -> Option<StoredReading> {
        let r = *self.front()?;
        self.head = (self.head + 1) % N;
        self.len -= 1;
        Some(r)
    }

    /// Removes every reading with `seq <= through` from the front; returns how many.
    pub fn release_through(&mut self, through: u32) -> u32 {
        let mut released = 0;
        while self.front().is_some_and(|r| r.seq <= through) {
            self.pop_front();
            released += 1;
        }
        released
    }

    /// Readings from oldest to newest.
    pub fn iter(&self) -> impl Iterator<Item = &StoredReading> + '_ {
        (0..self.len).map(move |i| &self.slots[(self.head + i) % N])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(seq: u32) -> StoredReading {
        let mut reading = StoredReading::ZERO;
        reading.seq = seq;
        reading
    }

    #[test]
    fn full_ring_evicts_the_oldest_and_keeps_order() {
        let mut q = ReadingQueue::<3>::new();
        for s in 1..=3 {
            assert_eq!(q.push(r(s)), None);
        }
        assert_eq!(q.push(r(4)).map(|e| e.seq), Some(1));
        assert_eq!(q.iter().map(|x| x.seq).collect::<heapless::Vec<_, 3>>(), [2, 3, 4]);
        assert_eq!(q.release_through(3), 2);
        assert_eq!(q.front().map(|x| x.seq), Some(4));
        assert_eq!(q.release_through(10), 1);
        assert!(q.is_empty());
        assert_eq!(q.pop_front(), None);
    }
}
