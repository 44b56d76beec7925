//! The registry of live device connections by certificate serial, so that a CRL reload can
//! close connections whose certificate has just been revoked.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use tokio_util::sync::CancellationToken;

#[derive(Default)]
pub struct LiveConnections {
    next_id: AtomicU64,
    by_id: Mutex<HashMap<u64, (Vec<u8>, CancellationToken)>>,
}

impl LiveConnections {
    /// Records a connection; returns the id to unregister it with.
    pub fn register(&self, serial: Vec<u8>, cancel: CancellationToken) -> u64 {
        let id = self.next_id.fetch_add(1, Relaxed);
        self.by_id.lock().unwrap_or_else(|p| p.into_inner()).insert(id, (serial, cancel));
        id
    }

    pub fn unregister(&self, id: u64) {
        self.by_id.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    }

    /// Cancels every connection whose serial is in `revoked`; returns how many.
    pub fn close_revoked(&self, revoked: &HashSet<Vec<u8>>) -> usize {
        let map = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        let mut n = 0;
        for (serial, cancel) in map.values() {
            if revoked.contains(serial) {
                cancel.cancel();
                n += 1;
            }
        }
        n
    }

    pub fn len(&self) -> usize {
        self.by_id.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
