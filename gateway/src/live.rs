//! Every live connection by certificate serial, so that a CRL reload can close the connections
//! whose certificate has just been revoked.

use crate::mailbox::{End, Mailbox};
use crate::refusal::Refusal;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

/// A connection's certificate serial and how to close it.
type Entry = (Vec<u8>, Arc<Mailbox>);

#[derive(Default)]
pub struct LiveConnections {
    next_id: AtomicU64,
    by_id: Mutex<HashMap<u64, Entry>>,
}

impl LiveConnections {
    fn map(&self) -> MutexGuard<'_, HashMap<u64, Entry>> {
        self.by_id.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a connection unless `revoked_now` (read after recording) shows its certificate
    /// revoked; returns the id to unregister it with.
    ///
    /// Recording before looking, while a CRL reload stores the new list before it closes
    /// connections, leaves no gap: a revocation is seen either here or by that reload's
    /// [`LiveConnections::close_revoked`].
    pub fn register(
        &self,
        serial: Vec<u8>,
        mailbox: Arc<Mailbox>,
        revoked_now: impl FnOnce(&[u8]) -> bool,
    ) -> Result<u64, Refusal> {
        let id = self.next_id.fetch_add(1, Relaxed);
        self.map().insert(id, (serial.clone(), mailbox));
        if revoked_now(&serial) {
            self.unregister(id);
            return Err(Refusal::CertificateRevoked);
        }
        Ok(id)
    }

    pub fn unregister(&self, id: u64) {
        self.map().remove(&id);
    }

    /// Closes every connection whose serial is in `revoked`; returns how many.
    pub fn close_revoked(&self, revoked: &HashSet<Vec<u8>>) -> usize {
        let map = self.map();
        let mut n = 0;
        for (serial, mailbox) in map.values() {
            if revoked.contains(serial) {
                mailbox.close(End::Refused(Refusal::RevokedWhileConnected));
                n += 1;
            }
        }
        n
    }

    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
