//! The Dampwatch collector: the system of record.
//!
//! It receives signed uplinks from the gateway (MQTT with manual acks; a persistent session, or
//! a shared subscription when several collectors share the load), checks each (registered
//! device, signature, payload, ranges, time), stores every reading exactly once in PostgreSQL
//! (binary COPY, idempotent, one transaction per batch, hourly rollups in the same
//! transaction), and only then acknowledges the messages and tells each device how far the
//! database holds its readings. Refused messages go to a quarantine table with their reason and
//! raw bytes. It also runs the retention of old data. The schema and the device registry it
//! reads are the store's (`dampwatch-store`).
//!
//! Map: [`intake`] (MQTT) -> [`pipeline`] (batching, checking one batch while the one before
//! it is stored, retries, isolating refused messages) ->
//! [`checks`] -> [`store`] (with [`admission`]: per-device limits, and [`quarantine`]);
//! [`service`] wires them; [`retention`].
//!
//! It must never: acknowledge what it has not committed (durably: see
//! [`store::prepare_session`]), acknowledge on a connection other than the one that delivered
//! the message, drop a message without a trace (a quarantine row, or past its device's
//! quarantine quota a count per device and hour) and a counter, trust a payload before its
//! signature verified, let one device's traffic slow down or crowd out the others (see
//! [`admission`]), or crash-loop when its database or broker is away.

mod admission;
mod cache;
mod checks;
pub mod config;
mod db;
mod downlink;
mod error;
mod intake;
mod logins;
mod metrics;
mod pipeline;
mod quarantine;
mod reject;
pub mod retention;
mod service;
mod store;
mod upstream;

#[cfg(test)]
mod schema_tests;

pub use checks::{check_uplink, CheckedUplink, Rejection};
pub use config::Config;
pub use downlink::{DownlinkSigner, KeyError, SendConfigError, SentConfig};
pub use error::StartError;
pub use metrics::Metrics;
pub use reject::Reason;
pub use service::{start_embedded_postgres, Collector};
