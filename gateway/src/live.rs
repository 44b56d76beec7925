//! Every live connection by certificate serial and expiry, so that a CRL reload can close the
//! connections whose certificate has just been revoked, and a sweep those whose certificate has
//! run out (the handshake checked its validity only once, at the start).

use crate::mailbox::{End, Mailbox};
use crate::refusal::Refusal;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

/// A connection's certificate serial, its certificate's notAfter, and how to close it.
type Entry = (Vec<u8>, SystemTime, Arc<Mailbox>);

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
        not_after: SystemTime,
        mailbox: Arc<Mailbox>,
        revoked_now: impl FnOnce(&[u8]) -> bool,
    ) -> Result<u64, Refusal> {
        let id = self.next_id.fetch_add(1, Relaxed);
        self.map().insert(id, (serial.clone(), not_after, mailbox));
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
        for (serial, _, mailbox) in map.values() {
            if revoked.contains(serial) {
                mailbox.close(End::Refused(Refusal::RevokedWhileConnected));
                n += 1;
            }
        }
        n
    }

    /// Closes every connection whose certificate has expired at `now`; returns how many. A
    /// connection already closing may be counted again; its refusal is counted once, when it
    /// ends.
    ///
    /// notAfter is a whole second and includes that second (as the handshake's check does),
    /// so a certificate has expired from one second after it.
    pub fn close_expired(&self, now: SystemTime) -> usize {
        let map = self.map();
        let mut n = 0;
        for (_, not_after, mailbox) in map.values() {
            if now >= *not_after + Duration::from_secs(1) {
                mailbox.close(End::Refused(Refusal::CertificateExpiredWhileConnected));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    #[test]
    fn only_expired_certificates_are_closed() {
        let live = LiveConnections::default();
        let now = SystemTime::now();
        let (old, new) = (Arc::new(Mailbox::default()), Arc::new(Mailbox::default()));
        live.register(vec![1], now - Duration::from_secs(1), old.clone(), |_| false).unwrap();
        live.register(vec![2], now, new.clone(), |_| false).unwrap();
        assert_eq!(live.close_expired(now), 1, "valid through its notAfter second");
        let expired = End::Refused(Refusal::CertificateExpiredWhileConnected);
        assert_eq!(old.take(&mut VecDeque::new()), Some(expired));
        assert_eq!(new.take(&mut VecDeque::new()), None);
    }
}
