//! E-mail notifications to people: at once for anything that starts or changes a legal clock,
//! and a daily digest of advisory alerts and of deadlines due in the next two working days, as
//! each person chooses (`email_preferences`, defaults by role).
//!
//! The path: the transaction that makes a change queues its e-mails ([`queue`], called from
//! [`crate::outbox::enqueue_event`] beside the webhooks) in `email_outbox`, or digest items in
//! `email_digest_items`; [`digest`] composes each person's digest of the day once; the sender
//! ([`sender`]) claims due rows, renders them ([`message`]: plain text and HTML with a link to
//! the case), sends them over SMTP (STARTTLS, implicit TLS, or plain to a loopback relay;
//! [`config`]) and records every attempt. Delivery is at least once with a stable Message-ID
//! per outbox row (see [`sender`]). Bounces reported by the mail system stop e-mail to an
//! address until cleared ([`admin`]).

pub mod admin;
pub mod cli;
pub mod config;
pub mod digest;
pub mod message;
pub mod queue;
pub mod sender;

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveTime, Utc};
use dampwatch_clock::Calendar;
use dampwatch_wire::Backoff;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use config::{EmailConfig, EmailConfigError, SmtpTls, DEFAULT_CONFIG};
pub use sender::{EmailRound, Mailer};

use crate::worker::{ensure, pause};

/// Shortest pause of the sender when due rows are held by another sender.
const MIN_IDLE: Duration = Duration::from_millis(10);

/// The sender's loop: composes the digests that are due, then sends what is due, woken by the
/// outbox's notifications (`wake`) or its poll interval.
pub(crate) async fn run(
    url: String,
    mailer: Mailer,
    calendar: Calendar,
    digest_at: NaiveTime,
    wake: Arc<Notify>,
    retry: Backoff,
    stop: CancellationToken,
) {
    let poll = mailer.config().poll_interval;
    let batch = usize::try_from(mailer.config().batch_size).unwrap_or(usize::MAX);
    let mut client = None;
    let mut failures = retry.retries();
    while !stop.is_cancelled() {
        let Some(mut c) = ensure(&url, client.take(), retry, &stop).await else { return };
        match digest::compose_due(&mut c, &calendar, digest_at, Utc::now()).await {
            Ok(done) if done.emails > 0 => {
                tracing::info!(digests = done.emails, "daily e-mail digests composed")
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "composing daily e-mail digests failed"),
        }
        let idle = match mailer.send_due(&c).await {
            Ok(round) if round.claimed >= batch => {
                failures.reset();
                client = Some(c);
                continue;
            }
            Ok(round) => {
                failures.reset();
                if round.claimed > 0 {
                    tracing::debug!(?round, "e-mail round");
                }
                let next = mailer.next_due(&c).await.ok().flatten();
                let until_next = next.map_or(poll, |t| (t - Utc::now()).to_std().unwrap_or(Duration::ZERO));
                let floor = if round.claimed == 0 { MIN_IDLE } else { Duration::ZERO };
                until_next.min(poll).max(floor)
            }
            Err(e) => {
                let wait = failures.next_delay();
                tracing::error!(error = %e, retry_in = ?wait, "e-mail round failed");
                wait
            }
        };
        client = Some(c);
        tokio::select! {
            _ = wake.notified() => {}
            _ = pause(idle, &stop) => {}
        }
    }
}
