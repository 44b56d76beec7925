//! What the tests of every crate share and that needs no running service: a landlord's webhook
//! receiver ([`webhook_receiver`]), a real SMTP server ([`smtp_server`], aiosmtpd), how an error's cause chain reads ([`error_chain`]) and waiting on a condition instead of sleeping
//! ([`eventually`]). The whole-stack builder (PKI, PostgreSQL, gateway, collector) is
//! `dampwatch-tests`, on top of the services; this crate sits below them, so any crate's tests
//! may use it without a dependency cycle.

pub mod error_chain;
pub mod eventually;
pub mod smtp_server;
pub mod webhook_receiver;

pub use error_chain::assert_causes_not_repeated;
pub use eventually::{eventually, eventually_true};
pub use smtp_server::{Mail, SmtpServer};
pub use webhook_receiver::{Received, Receiver};
