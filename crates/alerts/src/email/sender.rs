//! Sending queued e-mails: claim due `email_outbox` rows (`FOR UPDATE SKIP LOCKED` and a
//! lease, so several senders share the work and a vanished sender's rows come back), send each
//! over SMTP, record the attempt, and mark the row sent, schedule a retry with back-off after a
//! temporary failure, or record it as failed after a permanent refusal (5xx) or the last
//! attempt. An address with an uncleared bounce is not mailed (`suppressed`).
//!
//! **The guarantee: at least once, with a stable Message-ID.** Sending and recording cannot be
//! one transaction (the SMTP server is not in the database). A sender that dies after the
//! server accepted a message but before the row was marked leaves the row claimed; when its
//! lease runs out another round sends it again, under the same Message-ID and Date (both come
//! from the row: [`super::message`]), so the recipient's server and mail client can recognise
//! the repeat. Nothing is lost: a row leaves `pending` only once the server accepted the
//! message or refused it for good. A person may, rarely (a crash in that window, and a mail
//! system that keeps both), see one e-mail twice; never a different one.

use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde_json::Value;
use tokio_postgres::Client;

use super::config::{EmailConfig, EmailConfigError, SmtpTls};
use super::message;
use crate::error::AlertsError;

/// One claimed outbox row.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub landlord_id: String,
    pub address: String,
    pub kind: String,
    pub event_type: String,
    pub case_id: Option<i64>,
    pub payload: Value,
    pub message_key: String,
    /// This attempt's number (1 for the first).
    pub attempt: i32,
    pub created_at: DateTime<Utc>,
    /// The address has an uncleared bounce.
    pub bounced: bool,
}

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The server accepted the message (its reply code).
    Sent { code: u16 },
    /// Not sent: the address bounces.
    Suppressed,
    /// Not accepted; `permanent` for a 5xx refusal.
    Failed { code: Option<u16>, permanent: bool, error: String },
}

/// What a round of sending did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmailRound {
    pub claimed: usize,
    pub sent: usize,
    pub retrying: usize,
    /// Given up: refused for good or out of attempts.
    pub failed: usize,
    pub suppressed: usize,
}

/// Sends e-mails over SMTP.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    config: EmailConfig,
    from: Mailbox,
    domain: String,
}

impl Mailer {
    /// A sender for `config` (which must name an SMTP server).
    pub fn new(config: &EmailConfig) -> Result<Self, EmailConfigError> {
        config.validate()?;
        let bad = |what: &str, e: &dyn std::fmt::Display| EmailConfigError(format!("{what}: {e}"));
        let host = config.smtp_host.trim();
        let tls = || -> Result<TlsParameters, EmailConfigError> {
            let mut params = TlsParameters::builder(host.to_owned());
            if !config.ca_file.is_empty() {
                let pem = std::fs::read(&config.ca_file)
                    .map_err(|e| bad(&format!("email.ca_file {}", config.ca_file), &e))?;
                params = params
                    .add_root_certificate(Certificate::from_pem(&pem).map_err(|e| bad("email.ca_file", &e))?);
            }
            params.build_rustls().map_err(|e| bad("email TLS", &e))
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(config.smtp_port)
            .timeout(Some(config.timeout))
            .hello_name(ClientId::Domain(config.hello_name.clone()));
        builder = match config.tls {
            SmtpTls::Starttls => builder.tls(Tls::Required(tls()?)),
            SmtpTls::Implicit => builder.tls(Tls::Wrapper(tls()?)),
            SmtpTls::Plain => builder.tls(Tls::None),
        };
        if !config.username.is_empty() {
            builder = builder.credentials(Credentials::new(config.username.clone(), config.password.clone()));
        }
        let from: Mailbox = config.from.parse().map_err(|e| bad("email.from", &e))?;
        Ok(Mailer { transport: builder.build(), config: config.clone(), from, domain: config.from_domain()? })
    }

    /// The configuration it sends with.
    pub fn config(&self) -> &EmailConfig {
        &self.config
    }

    /// The Message-ID of a row.
    pub fn message_id(&self, c: &Claimed) -> String {
        message::message_id(&c.message_key, &self.domain)
    }

    /// Claims up to `batch_size` due rows: each attempt counted and the row leased.
    pub async fn claim(&self, db: &Client) -> Result<Vec<Claimed>, AlertsError> {
        let lease = self.config.lease.as_secs_f64();
        let limit = i64::from(self.config.batch_size);
        let rows = db
            .query(
                "UPDATE email_outbox o SET attempts = o.attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
                 WHERE o.id IN (
                     SELECT id FROM email_outbox WHERE state = 'pending' AND next_attempt_at <= now()
                     ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
                 RETURNING o.id, o.landlord_id, o.address, o.kind, o.event_type, o.case_id, o.payload,
                           o.message_key::text, o.attempts, o.created_at,
                           EXISTS (SELECT 1 FROM email_bounces b WHERE b.address = o.address AND b.cleared_at IS NULL)",
                &[&limit, &lease],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| Claimed {
                id: r.get(0),
                landlord_id: r.get(1),
                address: r.get(2),
                kind: r.get(3),
                event_type: r.get(4),
                case_id: r.get(5),
                payload: r.get(6),
                message_key: r.get(7),
                attempt: r.get(8),
                created_at: r.get(9),
                bounced: r.get(10),
            })
            .collect())
    }

    /// Renders a row and hands it to the SMTP server (records nothing).
    pub async fn send(&self, c: &Claimed) -> Attempt {
        if c.bounced {
            return Attempt::Suppressed;
        }
        let base = self.config.public_base();
        let rendered = if c.kind == "digest" {
            message::digest_email(&c.payload, base)
        } else {
            message::event_email(&c.event_type, &c.payload, c.case_id, base)
        };
        let date = SystemTime::from(c.created_at);
        let email = match message::build(&self.from, &c.address, self.message_id(c), date, &rendered) {
            Ok(m) => m,
            Err(error) => return Attempt::Failed { code: None, permanent: true, error },
        };
        match self.transport.send(email).await {
            Ok(response) => Attempt::Sent { code: code_number(&response.code().to_string()) },
            Err(e) => Attempt::Failed {
                code: e.status().map(|c| code_number(&c.to_string())),
                permanent: e.is_permanent(),
                error: e.to_string(),
            },
        }
    }

    /// Records an attempt and its outcome in one statement; the row changes only if this
    /// sender still holds it (same attempt number, still pending). Returns the outcome logged.
    pub async fn record(
        &self,
        db: &Client,
        c: &Claimed,
        attempt: &Attempt,
        started_at: DateTime<Utc>,
        took: Duration,
    ) -> Result<&'static str, AlertsError> {
        let last = c.attempt >= i32::try_from(self.config.max_attempts).unwrap_or(i32::MAX);
        let (state, outcome, code, error) = match attempt {
            Attempt::Sent { code } => ("sent", "sent", Some(*code), None),
            Attempt::Suppressed => (
                "suppressed",
                "suppressed",
                None,
                Some("the address bounces (dampwatch email bounce)".to_owned()),
            ),
            Attempt::Failed { code, permanent, error } if *permanent || last => {
                ("failed", "failed", *code, Some(error.clone()))
            }
            Attempt::Failed { code, error, .. } => ("pending", "retrying", *code, Some(error.clone())),
        };
        let retry_in = self.config.backoff().delay(u32::try_from(c.attempt).unwrap_or(0)).as_secs_f64();
        let duration_ms = i32::try_from(took.as_millis()).unwrap_or(i32::MAX);
        let code = code.map(i32::from);
        db.execute(
            "WITH o AS (
                 UPDATE email_outbox SET state = $3,
                     sent_at = CASE WHEN $3 = 'sent' THEN now() END,
                     failed_at = CASE WHEN $3 IN ('failed', 'suppressed') THEN now() END,
                     next_attempt_at = CASE WHEN $3 = 'pending' THEN now() + make_interval(secs => $4)
                                            ELSE next_attempt_at END,
                     last_error = $5
                 WHERE id = $1 AND state = 'pending' AND attempts = $2
                 RETURNING id)
             INSERT INTO email_attempts (outbox_id, landlord_id, attempt, started_at, duration_ms, smtp_code, error, outcome)
             VALUES ($1, $6, $2, $7, $8, $9, $5, $10)",
            &[&c.id, &c.attempt, &state, &retry_in, &error, &c.landlord_id, &started_at, &duration_ms, &code, &outcome],
        )
        .await?;
        match (outcome, attempt) {
            ("failed", Attempt::Failed { code, error, .. }) => {
                tracing::warn!(
                    outbox = c.id,
                    attempts = c.attempt,
                    code,
                    error,
                    "e-mail given up: recorded as a failure"
                )
            }
            ("retrying", Attempt::Failed { code, error, .. }) => {
                tracing::info!(
                    outbox = c.id,
                    attempt = c.attempt,
                    code,
                    error,
                    "e-mail attempt failed, will retry"
                )
            }
            _ => tracing::debug!(outbox = c.id, outcome, "e-mail attempt"),
        }
        Ok(outcome)
    }

    /// Claims the due rows and sends them, `concurrency` at a time.
    pub async fn send_due(&self, db: &Client) -> Result<EmailRound, AlertsError> {
        let claimed = self.claim(db).await?;
        let mut round = EmailRound { claimed: claimed.len(), ..EmailRound::default() };
        let concurrency = usize::try_from(self.config.concurrency).unwrap_or(1).max(1);
        let outcomes: Vec<Result<&'static str, AlertsError>> = stream::iter(claimed)
            .map(|c| async move {
                let started_at = Utc::now();
                let clock = Instant::now();
                let attempt = self.send(&c).await;
                self.record(db, &c, &attempt, started_at, clock.elapsed()).await
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        for outcome in outcomes {
            match outcome? {
                "sent" => round.sent += 1,
                "suppressed" => round.suppressed += 1,
                "failed" => round.failed += 1,
                _ => round.retrying += 1,
            }
        }
        Ok(round)
    }

    /// When the next pending row falls due, if one does.
    pub async fn next_due(&self, db: &Client) -> Result<Option<DateTime<Utc>>, AlertsError> {
        Ok(db
            .query_one("SELECT min(next_attempt_at) FROM email_outbox WHERE state = 'pending'", &[])
            .await?
            .get(0))
    }
}

/// An SMTP reply code's number ("550" → 550).
fn code_number(text: &str) -> u16 {
    text.parse().unwrap_or(0)
}
