//! The Dampwatch gateway: the mutual-TLS front door for devices.
//!
//! It terminates TLS itself (handshakes in their own tasks with a timeout, CRL revocation that
//! also closes live connections), takes the device identity from the client certificate
//! (CN = device, O = landlord), authorises every MQTT packet (client id = CN, own topics only,
//! no QoS 2) and forwards the original bytes to an embedded broker that listens on loopback
//! only.
//!
//! It must never: forward a packet it has not authorised, listen with the broker on a
//! non-loopback address, or let one client's slowness or hostility affect another's.

pub mod acl;
pub mod broker;
pub mod config;
mod connection;
mod http;
pub mod identity;
pub mod limits;
mod live;
pub mod metrics;
pub mod mqtt;
pub mod refusal;
pub mod server;
pub mod tls;

pub use config::Config;
pub use refusal::Refusal;
pub use server::Gateway;
