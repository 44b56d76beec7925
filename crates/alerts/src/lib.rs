//! Hazard alerts, Awaab's Law cases and signed landlord webhooks, driven by committed
//! readings. Runs inside the collector process, next to the readings it watches.
//!
//! What it does:
//! - the **hazard worker** consumes `hazard_inbox` (ranges of committed readings the
//!   collector writes in the same transaction as the readings), folds each room's readings
//!   through the hazard engine (`dampwatch-indicators`; readings that arrive after their room
//!   has moved on are placed in time order by a replay from a checkpoint kept beside the
//!   state, within the late-reading horizon), persists the room state, and writes
//!   the resulting alerts (one open alert per room and hazard, updated in place), opens a
//!   case at detection when the landlord's policy says so (`dampwatch-clock` computes its
//!   deadlines), and queues webhooks: all in one transaction with the inbox delete, so a
//!   crash neither loses nor doubles anything. Periodically it re-judges silent rooms so
//!   "device offline" is raised;
//! - the **webhook sender** POSTs each queued body to the landlord's endpoints, signed with
//!   HMAC-SHA256 over timestamp, idempotency key and body ([`signature`]), retries with
//!   exponential back-off, logs every attempt and dead-letters after the last one. It sends
//!   only over https to public addresses, checking the URL and every address the receiver's
//!   name resolves to at each delivery ([`webhook_url`], [`address_policy`], [`connector`]);
//!   the landlord's log shows a fixed reason and the status code, never the receiver's answer;
//! - one story per room and hazard ([`alert_store`]): a condition that clears and comes back
//!   within `[alerts.stories] quiet_period` re-opens the same alert with a new episode; each
//!   alert carries its duty (legal clock or advisory) and each room its risk level
//!   ([`room_state`]); advisory alerts of a landlord who chose daily batches wait in
//!   `webhook_batch_items` until [`batch`] gathers them into one outbox row per endpoint
//!   ([`advisory_delivery`] is the landlord's choice);
//! - the **e-mail sender** ([`email`]): people's e-mails, queued in the same transaction as the
//!   change (one per recipient in `email_outbox`), sent over SMTP at once for anything that
//!   starts or changes a legal clock and in a daily digest for the rest and for deadlines due
//!   in the next two working days; at least once, with a stable Message-ID per e-mail;
//! - [`cases`] holds the case operations the API uses to record people's decisions.
//!
//! Readings the rules never see (they stay stored as evidence): time-corrected ones (their
//! time is the arrival time, which would misplace old conditions), out-of-range ones, ones the
//! device flagged as invalid (T/RH sensor CRC or bus error, clock unset), and ones without
//! temperature or humidity.
//!
//! What it must never do: edit or delete a case event (the table refuses it), treat missing
//! data as safe data, send a webhook for a change that did not commit, decide a triage
//! category (a person does), or fold one landlord's device into another landlord's room.

pub mod address_policy;
pub mod advisory_delivery;
pub mod alert_store;
pub mod batch;
pub mod cases;
pub mod cli;
pub mod config;
pub mod connector;
pub mod deadlines;
pub mod delivery;
pub mod email;
pub mod endpoints;
pub mod error;
pub mod failure;
pub mod hazard_stats;
pub mod home;
pub mod home_cli;
pub mod http;
pub mod inbox;
pub mod metrics;
pub mod occupant_engines;
pub mod outbox;
pub mod payload;
pub mod processor;
pub mod projection;
pub mod resolve;
pub mod room;
pub mod room_readings;
pub mod room_state;
pub mod secrets;
pub mod signature;
pub mod stats;
pub mod wake;
pub mod webhook_url;
pub mod worker;

pub use cases::CasePolicy;
pub use config::{AlertsConfig, ConfigError, StoriesConfig, WebhookConfig, WorkerConfig, DEFAULT_CONFIG};
pub use delivery::{Deliverer, DeliveryRound};
pub use email::EmailConfig;
pub use error::{AlertsError, StartError};
pub use failure::FailureReason;
pub use hazard_stats::HazardStats;
pub use processor::{BatchOutcome, HazardProcessor};
pub use room::RoomRef;
pub use stats::WebhookStats;
pub use worker::{start, start_with_email, Worker};
