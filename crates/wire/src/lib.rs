//! The rules of the Dampwatch wire format that both ends must agree on, in one place:
//! exactly which bytes a device signs and which the collector signs, the topic layout, what a
//! valid landlord or device id is, the size limits, and what a reading's status bits and
//! values mean (the plausible range of each value). Beside them, the one back-off policy every
//! reconnecting or retrying loop of the servers and the simulator shares ([`backoff`]).
//!
//! `#![no_std]` with no allocator, so the firmware and the servers use the very same code; its
//! one dependency, curve25519-dalek without default features, decides which Ed25519 public
//! keys both ends accept ([`public_key`]). It must never gain a dependency that needs `std`.
#![no_std]

pub mod backoff;
pub mod downlink;
pub mod ids;
pub mod limits;
pub mod public_key;
pub mod reading;
pub mod signing;
pub mod topic;

pub use backoff::Backoff;
pub use downlink::{downlink_signing_message, downlink_signing_message_len, DownlinkKind};
pub use ids::{validate_device_id, validate_landlord_id, IdError};
pub use reading::Quantity;
pub use signing::{signing_message, signing_message_len, SIGNING_DOMAIN};
pub use topic::{Topic, TopicKind};
