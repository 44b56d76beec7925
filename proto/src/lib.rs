//! Dampwatch wire format v1 on the server side: the prost types generated from
//! `proto/dampwatch/v1/*.proto`, the verifier of signed uplinks, and the signer (and verifier)
//! of the collector's signed downlinks.
//!
//! The firmware generates its own no-alloc types from the same `.proto` files; the golden
//! vectors in `proto/golden/` prove both sides agree byte for byte.

pub mod downlink;
pub mod verify;

/// Generated message types of `package dampwatch.v1`.
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/dampwatch.v1.rs"));
}

pub use dampwatch_wire as wire;
pub use downlink::{sign_downlink, verify_downlink, SignError};
pub use verify::{verify_uplink, VerifyError};
