//! `dampwatch webhooks add|list|disable|dead|requeue|advisory`: landlords' webhook endpoints,
//! the dead-letter queue and how advisory alerts are sent, from the operator's shell. A new
//! endpoint's signing secret is printed once, at creation.

use std::io::Write;

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;

use crate::address_policy::AddressPolicy;
use crate::advisory_delivery::{self, parse_batch_time, AdvisoryDelivery};
use crate::endpoints::{add_endpoint, dead_letters, disable_endpoint, list_endpoints, requeue_dead};

/// Commands under `dampwatch webhooks`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum WebhooksCommand {
    /// Register a landlord's webhook endpoint and print its signing secret (once).
    Add {
        /// The landlord's id.
        #[arg(long)]
        landlord: String,
        /// Where alerts are POSTed: https:// to a public address.
        #[arg(long)]
        url: String,
        /// What the endpoint is (e.g. "repairs system").
        #[arg(long, default_value = "")]
        description: String,
        /// Development only: allow a receiver on this machine's loopback address, over plain
        /// http:// too (the sender needs `[alerts.webhooks] dev_loopback_http = true` as well).
        #[arg(long)]
        dev_loopback_http: bool,
        /// A non-public network (CIDR) the receiver's literal address may be in; repeatable. The
        /// sender needs the same in `[alerts.webhooks] allowed_networks`.
        #[arg(long = "allowed-network", value_name = "CIDR")]
        allowed_networks: Vec<ipnet::IpNet>,
    },
    /// Every endpoint with its pending, dead and delivered webhooks.
    List {
        /// Only this landlord's endpoints.
        #[arg(long)]
        landlord: Option<String>,
    },
    /// Stop sending to an endpoint (its queued webhooks fail their remaining attempts and stay
    /// visible as dead letters).
    Disable {
        /// The endpoint's id, as listed.
        id: i64,
    },
    /// Webhooks that failed every attempt, with the last error.
    Dead {
        /// Only this landlord's.
        #[arg(long)]
        landlord: Option<String>,
    },
    /// How a landlord's advisory alerts (no legal clock: poor ventilation, a device offline)
    /// are sent: `immediate`, or in one `daily` batch per endpoint at `--at` (Europe/London).
    /// Alerts with a legal clock and case changes are always sent at once. Without `--delivery`,
    /// shows the landlord's choice.
    Advisory {
        /// The landlord's id.
        #[arg(long)]
        landlord: String,
        /// immediate or daily.
        #[arg(long, value_enum)]
        delivery: Option<AdvisoryDelivery>,
        /// When the daily batch goes out, HH:MM Europe/London (default 08:00).
        #[arg(long, value_parser = parse_batch_time, requires = "delivery")]
        at: Option<chrono::NaiveTime>,
    },
    /// Put dead webhooks back in the queue for a fresh series of attempts (after fixing the
    /// receiver): one by id, or `--all` (of one landlord with `--landlord`).
    Requeue {
        /// The dead webhook's id, as listed by `dead`.
        #[arg(conflicts_with = "all", required_unless_present = "all")]
        id: Option<i64>,
        /// Every dead webhook.
        #[arg(long)]
        all: bool,
        /// With `--all`: only this landlord's.
        #[arg(long, requires = "all")]
        landlord: Option<String>,
    },
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "-".to_owned(), |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// Runs a `dampwatch webhooks` command on `db`, writing to `out`. New endpoints' secrets are
/// sealed under the secrets key at `secrets_key` (made if there is none yet; the collector's
/// is `PKI/secrets/sealing.key`).
pub async fn run(
    command: WebhooksCommand,
    db: &impl GenericClient,
    secrets_key: &std::path::Path,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match command {
        WebhooksCommand::Add { landlord, url, description, dev_loopback_http, allowed_networks } => {
            let policy = AddressPolicy { allowed_networks, allow_loopback: dev_loopback_http };
            if !secrets_key.exists() {
                // Said, since the collector must seal and open with this same file.
                eprintln!(
                    "made a new secrets key at {}: the collector must use this file ([alerts.webhooks] secrets_key, \
                     by default secrets/sealing.key in its PKI directory)",
                    secrets_key.display()
                );
            }
            let key = dampwatch_privacy::SecretsKey::open_or_create(secrets_key)?;
            let endpoint = add_endpoint(db, &landlord, &url, &description, &policy, &key).await?;
            let (id, url, secret) = (endpoint.id, endpoint.url, endpoint.secret);
            writeln!(out, "{secret}")?;
            writeln!(
                out,
                "# webhook endpoint {id} for landlord {landlord}: {url}. The line above is its signing \
                 secret (HMAC-SHA256 of timestamp, idempotency key and body, sent as v2=); give it to \
                 the receiver now: it is not shown again."
            )?;
        }
        WebhooksCommand::List { landlord } => {
            let endpoints = list_endpoints(db, landlord.as_deref()).await?;
            writeln!(
                out,
                "{:>6}  {:<20}  {:<8}  {:>8}  {:>6}  {:>9}  {:<20}  URL",
                "ID", "LANDLORD", "ACTIVE", "PENDING", "DEAD", "DELIVERED", "CREATED"
            )?;
            for e in endpoints {
                writeln!(
                    out,
                    "{:>6}  {:<20}  {:<8}  {:>8}  {:>6}  {:>9}  {:<20}  {}{}",
                    e.id,
                    e.landlord_id,
                    if e.active { "yes" } else { "no" },
                    e.pending,
                    e.dead,
                    e.delivered,
                    time(Some(e.created_at)),
                    e.url,
                    if e.description.is_empty() { String::new() } else { format!("  ({})", e.description) }
                )?;
            }
        }
        WebhooksCommand::Disable { id } => {
            disable_endpoint(db, id).await?;
            writeln!(out, "disabled webhook endpoint {id}")?;
        }
        WebhooksCommand::Dead { landlord } => {
            let dead = dead_letters(db, landlord.as_deref()).await?;
            writeln!(
                out,
                "{:>8}  {:<20}  {:>8}  {:<16}  {:>8}  {:<20}  LAST ERROR",
                "ID", "LANDLORD", "ENDPOINT", "EVENT", "ATTEMPTS", "DEAD SINCE"
            )?;
            for d in &dead {
                writeln!(
                    out,
                    "{:>8}  {:<20}  {:>8}  {:<16}  {:>8}  {:<20}  {}",
                    d.id,
                    d.landlord_id,
                    d.endpoint_id,
                    d.event_type,
                    d.attempts,
                    time(d.dead_at),
                    d.last_error.as_deref().unwrap_or("-")
                )?;
            }
            writeln!(out, "{} dead webhook(s)", dead.len())?;
        }
        WebhooksCommand::Advisory { landlord, delivery, at } => {
            let p = match delivery {
                Some(delivery) => advisory_delivery::set(db, &landlord, delivery, at).await?,
                None => advisory_delivery::get(db, &landlord).await?,
            };
            match p.delivery {
                AdvisoryDelivery::Immediate => {
                    writeln!(out, "landlord {landlord}: advisory alerts are sent at once")?
                }
                AdvisoryDelivery::Daily => writeln!(
                    out,
                    "landlord {landlord}: advisory alerts are sent in one batch per endpoint a day at {} \
                     (Europe/London); alerts with a legal clock are sent at once",
                    p.batch_time.format("%H:%M")
                )?,
            }
        }
        WebhooksCommand::Requeue { id, all: _, landlord } => {
            let n = requeue_dead(db, id, landlord.as_deref()).await?;
            writeln!(out, "requeued {n} dead webhook(s)")?;
        }
    }
    Ok(())
}
