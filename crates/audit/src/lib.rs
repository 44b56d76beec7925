//! Dampwatch's tamper-evident audit log: who signed in, who was refused, who changed what.
//!
//! Every entry is written by the database function `audit_append` (migration
//! `0300_audit_log.sql`), which numbers it (`seq`, from 1, without gaps), dates it and chains it
//! to the entry before with SHA-256 ([`entry_hash`] is the same computation in Rust). From time
//! to time the head of the chain is signed with the platform's Ed25519 audit key
//! ([`checkpoint`], [`run_checkpoints`]). An [`export`] (JSON Lines) can then be checked
//! offline by anyone holding the platform's public keys ([`verify`]): a changed, removed,
//! reordered or inserted entry breaks the chain, and a chain rewritten from some entry on no
//! longer matches the signed checkpoints after it.
//!
//! What this crate must never do:
//! - write an entry any other way than through `audit_append` (the one place that numbers and
//!   chains entries, and that stops a landlord's request from writing another landlord's);
//! - trust a public key found in an export: the verifier names the keys it trusts;
//! - hold a whole log in memory (exports stream; verification keeps 32 bytes per entry);
//! - print a private key.
//!
//! What it cannot do: stop the database's owner from disabling the append-only triggers and
//! rewriting the log. It makes that visible: entries after the last checkpoint are the only
//! ones a rewrite can hide, which is why [`Report`] counts them.

mod checkpoint;
mod entry;
mod error;
mod event;
mod export;
mod outcome;
mod periodic;
mod search;
mod signer;
mod trusted_key;
mod verify;

pub use checkpoint::{checkpoint, checkpoint_message, Checkpoint, CHECKPOINT_DOMAIN};
pub use entry::{entry_hash, Entry, ENTRY_DOMAIN, GENESIS_HASH};
pub use error::AuditError;
pub use event::{append, cli_actor, Event};
pub use export::{export, ExportSummary, Line};
pub use outcome::{Outcome, UnknownOutcome};
pub use periodic::{pool, run_checkpoints};
pub use search::{search, AuditFilter};
pub use signer::CheckpointSigner;
pub use trusted_key::{load_public_key, parse_public_key, PublicKeyError};
pub use verify::{verify, Break, Report};
