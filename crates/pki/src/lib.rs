//! Dampwatch device PKI: the development certificate authority and everything it issues, plus
//! the loaders the gateway, collector and simulator use to read it back.
//!
//! One directory (see [`Paths`]) holds:
//! - a development root CA (`ca.pem`, `ca-key.pem`) that signs every certificate below and the
//!   CRL;
//! - the gateway's TLS server certificate (`localhost`, `127.0.0.1`, `::1`; EKU serverAuth);
//! - the HTTPS server certificate of the landlord API listener (`web/`; loopback names from
//!   [`init`], any host names and addresses from [`issue_web`]; EKU serverAuth);
//! - service client certificates (CN = service name, O = `dampwatch`, OU = `service`; EKU
//!   clientAuth), the collector's made by [`init`], more by [`issue_service`];
//! - per device a TLS client certificate (ECDSA P-256, CN = device id, O = landlord id, no OU,
//!   EKU clientAuth, key usage digitalSignature) and the public half of an Ed25519 signing key
//!   for uplinks ([`issue_device`]); the device's private keys go into its provisioning
//!   [`Bundle`], outside this directory, and are not kept by the server;
//! - the collector's Ed25519 downlink signing keys, in generations (`downlink/key-N.*`): the
//!   collector signs every acknowledgement and configuration with the newest, devices are
//!   provisioned with the newest two ([`trusted_downlink_keys`]), [`rotate_downlink_key`] makes
//!   the next;
//! - the platform's Ed25519 audit checkpoint keys (`audit/key-N.*`), which sign the head of the
//!   audit log ([`load_audit_signing_key`], [`audit_keys`], [`rotate_audit_key`]);
//! - `crl.pem`, rewritten by [`revoke`];
//! - `index.json`, the serials issued and revoked, written atomically.
//!
//! [`list`] reports every credential's age and rotation status (current below 60 days, due soon
//! below 90, overdue from 90, expired, revoked; a downlink key a newer one replaced is
//! superseded). [`cli`] holds the `dampwatch pki` subcommands.
//!
//! What this crate must never do:
//! - print, log or return private key material (no type holding a private key implements
//!   `Debug` or `Display`; the issuing functions return paths and public keys only);
//! - write a private key with permissions wider than 0600, even briefly (files are created with
//!   that mode, not chmod-ed afterwards);
//! - hand out a serial number twice in one directory (a CRL entry must hit only the certificate
//!   it names);
//! - accept an id that breaks the shared id rule of `dampwatch-wire` (ids become path
//!   components, MQTT topic levels and certificate subjects).
//!
//! It is a development and small-fleet tool: one operator at a time per directory; the CA key
//! sits on disk, sealed under a passphrase only when asked ([`ca_key`]). A production fleet
//! would keep the CA key in an HSM and issue from device CSRs.

mod audit_key;
mod bundle;
mod ca;
pub mod ca_key;
mod cert_info;
pub mod cli;
mod client_tls;
mod crl;
mod device;
mod dir_lock;
mod downlink_key;
mod error;
mod files;
mod identity;
mod index;
mod init;
mod leaf;
mod list;
mod load;
mod paths;
mod revoke;
mod service;
mod signing_key;
mod validity;
mod web;

pub use audit_key::{audit_keys, has_audit_signing_key, load_audit_signing_key, rotate_audit_key, AuditKey};
pub use bundle::{device_keys_in_pki, move_device_key, move_device_keys, Bundle};
pub use client_tls::{client_tls, client_tls_from_files, Holder};
pub use crl::CRL_NEXT_UPDATE;
pub use device::{issue_device, IssuedDevice};
pub use downlink_key::{
    downlink_keys, load_downlink_signing_key, rotate_downlink_key, trusted_downlink_keys, DownlinkKey,
    Rotation, TRUSTED_DOWNLINK_KEYS,
};
pub use error::{IdKind, PkiError};
pub use identity::{identity_of, Identity, IdentityError, DAMPWATCH_ORGANIZATION, SERVICE_UNIT};
pub use init::{init, is_initialized, InitOptions, InitReport};
pub use leaf::GATEWAY_NAMES;
pub use list::{list, Credential, CredentialKind, RotationStatus, ROTATION_DUE_DAYS, ROTATION_OVERDUE_DAYS};
pub use load::{load_ca_certs, load_cert_chain, load_crls, load_private_key};
pub use paths::{Paths, COLLECTOR_SERVICE};
pub use revoke::{revoke, Revocation};
pub use service::{issue_service, IssueOptions, IssuedService};
pub use signing_key::{load_signing_public_key, load_signing_seed, ED25519_KEY_LEN};
pub use validity::{DEFAULT_VALIDITY_DAYS, MAX_VALIDITY_DAYS};
pub use web::{issue_web, IssuedWeb, WebNames};
