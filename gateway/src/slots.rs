//! Slots for connections that have finished their TLS handshake, by who they are: devices
//! share one pool, services (the collector) have their own, so no number of devices can keep
//! the collector out, and with it every device's readings.

use crate::identity::Identity;
use crate::refusal::Refusal;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct Slots {
    devices: Arc<Semaphore>,
    services: Arc<Semaphore>,
}

/// A connection's slot, given back when dropped.
pub type Slot = OwnedSemaphorePermit;

impl Slots {
    pub fn new(devices: usize, services: usize) -> Slots {
        Slots { devices: Arc::new(Semaphore::new(devices)), services: Arc::new(Semaphore::new(services)) }
    }

    /// A slot in the pool of `identity`'s kind, if one is free.
    pub fn take(&self, identity: &Identity) -> Result<Slot, Refusal> {
        match identity {
            Identity::Device { .. } => {
                self.devices.clone().try_acquire_owned().map_err(|_| Refusal::TooManyConnections)
            }
            Identity::Service { .. } => {
                self.services.clone().try_acquire_owned().map_err(|_| Refusal::TooManyServiceConnections)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_cannot_take_service_slots() {
        let slots = Slots::new(1, 1);
        let device = Identity::Device { landlord: "acme".into(), device: "d-1".into() };
        let service = Identity::Service { name: "collector".into() };
        let held = slots.take(&device).unwrap();
        assert_eq!(slots.take(&device).err(), Some(Refusal::TooManyConnections));
        let collector = slots.take(&service).unwrap();
        assert_eq!(slots.take(&service).err(), Some(Refusal::TooManyServiceConnections));
        drop((held, collector));
        assert!(slots.take(&device).is_ok() && slots.take(&service).is_ok());
    }
}
