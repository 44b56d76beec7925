//! The Dampwatch collector: the system of record.
//!
//! It receives signed uplinks from the gateway (MQTT, persistent session, manual acks), checks
//! each (registered device, signature, payload, ranges, time), stores every reading exactly
//! once in PostgreSQL (binary COPY, idempotent, one transaction per batch), and only then
//! acknowledges the messages and tells each device how far the database holds its readings.
//!
//! It must never: acknowledge what it has not committed, drop a message without a quarantine
//! row and a counter, or trust a payload before its signature verified.

pub mod cache;
pub mod checks;
pub mod config;
pub mod db;
pub mod intake;
pub mod metrics;
pub mod migrate;
pub mod pipeline;
pub mod registry;
pub mod reject;
pub mod service;
pub mod store;

pub use config::Config;
pub use service::Collector;
