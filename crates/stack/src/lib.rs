//! One way to start Dampwatch for a test or a benchmark: [`Stack::builder`] makes a temporary
//! PKI laid out like the demo's data directory (`DIR/pki`), a private PostgreSQL, the gateway
//! on a free loopback port and the collector, each optional and configurable, all real and
//! in-process. Every stack has its own directory, cluster and ports, so tests run in parallel.
//!
//! Devices are provisioned the way `dampwatch sim --provision` does it (one code path: PKI
//! credentials, registry entry) and come back as [`DeviceSpec`]s that a device driver connects
//! with.

mod device;
mod gateway;
mod stack;

pub use device::DeviceSpec;
pub use gateway::{relaxed_limits, Limits};
pub use stack::{Stack, StackBuilder};
