//! The budget of connections that have not finished their TLS handshake.
//!
//! Anyone can open a TCP connection, so connections before the handshake must never be able to
//! take the slots of devices and services that proved who they are: they get a budget of their
//! own. When it is full, a new connection displaces the oldest one still in its handshake
//! rather than being turned away. A genuine device finishes its handshake within a few round
//! trips, while a connection that sits silent (or dribbles bytes) to hold a slot is always
//! among the oldest; so a flood of such connections, even from many addresses, only displaces
//! itself, and cannot keep a device out unless it opens more new connections, during the few
//! milliseconds of that device's handshake, than the whole budget.

use crate::metrics::Metrics;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio_util::sync::CancellationToken;

/// Connections in their handshake, oldest first.
pub struct Handshakes {
    max: usize,
    metrics: Arc<Metrics>,
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    next_id: u64,
    by_age: BTreeMap<u64, CancellationToken>,
}

/// One connection's place in the budget, given back when dropped (its handshake is over, one
/// way or another).
pub struct Handshake {
    id: u64,
    displaced: CancellationToken,
    owner: Arc<Handshakes>,
}

impl Handshakes {
    pub fn new(max: usize, metrics: Arc<Metrics>) -> Arc<Handshakes> {
        Arc::new(Handshakes { max: max.max(1), metrics, pending: Mutex::default() })
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Gives a new connection a place, displacing the oldest if the budget is full.
    pub fn begin(self: &Arc<Self>) -> Handshake {
        let displaced = CancellationToken::new();
        let mut p = self.pending();
        if p.by_age.len() >= self.max {
            if let Some((_, oldest)) = p.by_age.pop_first() {
                oldest.cancel();
            }
        }
        let id = p.next_id;
        p.next_id += 1;
        p.by_age.insert(id, displaced.clone());
        self.metrics.handshakes_pending.set(p.by_age.len() as i64);
        Handshake { id, displaced, owner: self.clone() }
    }

    /// Connections in their handshake now.
    pub fn len(&self) -> usize {
        self.pending().by_age.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Handshake {
    /// Resolves when a newer connection has taken this one's place.
    pub async fn displaced(&self) {
        self.displaced.cancelled().await
    }
}

impl Drop for Handshake {
    fn drop(&mut self) {
        let mut p = self.owner.pending();
        p.by_age.remove(&self.id);
        self.owner.metrics.handshakes_pending.set(p.by_age.len() as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn displaced(h: &Handshake) -> bool {
        h.displaced.is_cancelled()
    }

    #[test]
    fn a_full_budget_displaces_the_oldest() {
        let budget = Handshakes::new(2, Arc::default());
        let (a, b) = (budget.begin(), budget.begin());
        assert!(!displaced(&a) && !displaced(&b));
        let c = budget.begin();
        assert!(displaced(&a), "the oldest made room");
        assert!(!displaced(&b) && !displaced(&c));
        assert_eq!(budget.len(), 2);
        drop(b);
        assert_eq!(budget.len(), 1, "a finished handshake gives its place back");
        let d = budget.begin();
        assert!(!displaced(&c) && !displaced(&d), "room was free: nobody displaced");
        drop(a); // displaced already: dropping it frees nothing twice
        assert_eq!(budget.len(), 2);
        assert_eq!(budget.metrics.handshakes_pending.get(), 2);
    }

    #[tokio::test]
    async fn a_displaced_handshake_is_told() {
        let budget = Handshakes::new(1, Arc::default());
        let old = budget.begin();
        let _new = budget.begin();
        tokio::time::timeout(Duration::from_secs(1), old.displaced()).await.unwrap();
    }
}
