//! The Dampwatch store: the one PostgreSQL database every part of the system shares.
//!
//! It owns the whole schema ([`migrate`]: the registry and readings, the hazard worker's rooms,
//! alerts, cases and webhooks, the API's keys and tenant isolation), connecting and waiting for
//! a server that is starting ([`connect`]), the device registry ([`registry`]), the read model
//! the API answers with and the webhooks carry ([`read_model`]) and where a private cluster
//! publishes its URL ([`database_url`]). The collector, the hazard worker, the
//! API, the simulator and the CLI depend on it; it depends on no service.
//!
//! It must never: hold a schema in two places, edit a released migration, or write to a
//! database whose schema is newer than it knows.

pub mod connect;
pub mod database_url;
pub mod holds;
pub mod migrate;
pub mod prepared;
pub mod read_model;
pub mod readings;
mod redact;
pub mod registry;
pub mod roles;
mod snapshot;

pub use connect::{
    connect, describe, is_data_error, is_unavailable, prepare_database, prepare_database_when_up,
    tls_connector, PrepareError,
};
pub use database_url::{DatabaseUrlFile, DATABASE_URL_FILE};
pub use migrate::{migrate, migrate_to, MigrateError, Migration, MIGRATIONS};
pub use prepared::Prepared;
pub use readings::{write_reading, Provenance, ReadingRow, READING_COLUMNS};
pub use redact::redacted;
pub use registry::{DeviceEntry, RegistryError};
pub use snapshot::read_only_snapshot;
