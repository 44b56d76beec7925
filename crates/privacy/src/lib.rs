//! Personal data, encrypted per landlord (`crates/privacy/README.md`).
//!
//! Tenants' names, phone numbers, e-mail addresses and notes, and the vulnerabilities a home
//! records for its occupants ([`occupants`]), are stored only sealed
//! (AES-256-GCM, [`seal`]) under their landlord's data key; data keys are stored only wrapped
//! under a master key that the database never holds ([`master`]). A landlord's key rotates
//! (every tenancy and home's record re-sealed under a new generation, the old key deleted), the master key
//! rotates (every data key re-wrapped), and a landlord's personal data is erased by destroying
//! its keys ([`keys::erase_landlord`]), which also makes every copy of the ciphertext, in
//! replicas and later backups, unreadable.
//!
//! This crate must never write a data key or personal data in clear to the database, a log or
//! a `Debug` string.

pub mod access;
pub mod case_texts;
pub mod consent;
pub mod device_data;
pub mod erase;
pub mod error;
mod key_file;
pub mod keys;
pub mod master;
pub mod occupants;
pub mod portability;
pub mod seal;
pub mod secrets_key;
pub mod tenancy;
pub mod text_keys;

pub use device_data::{erase_device_data, DeviceDataErased};
pub use error::PrivacyError;
pub use keys::{create_first_key, erase_landlord, rewrap_all, rotate_landlord_key, Erasure, Rotation};
pub use master::{DataKey, MasterKey, MasterKeyFile, WrapContext};
pub use secrets_key::SecretsKey;
pub use tenancy::{add_tenancy, open_tenancy, tenancies_of_dwelling, NewTenancy, Personal, Tenancy};
