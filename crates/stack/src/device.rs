//! Who a device of a stack is: what a driver needs to connect and sign.

use std::sync::Arc;

/// A provisioned device: its landlord, id, signing seed, boot number and TLS client
/// configuration (its own certificate, the stack's CA).
#[derive(Clone)]
pub struct DeviceSpec {
    pub landlord: String,
    pub device: String,
    pub seed: [u8; 32],
    pub boot: u32,
    pub tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the seed.
        f.debug_struct("DeviceSpec")
            .field("landlord", &self.landlord)
            .field("device", &self.device)
            .field("boot", &self.boot)
            .finish_non_exhaustive()
    }
}
