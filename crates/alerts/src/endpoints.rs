//! Landlords' webhook endpoints and the delivery queue, as an operator manages them: register
//! an endpoint (its signing secret is made here and shown once), disable one, see what is
//! pending or dead-lettered, and put dead rows back in the queue once a receiver is fixed.

use chrono::{DateTime, Utc};
use ring::rand::{SecureRandom, SystemRandom};
use tokio_postgres::GenericClient;

use crate::address_policy::AddressPolicy;
use crate::error::AlertsError;
use crate::webhook_url::{check_url, UrlRefusal};
use dampwatch_privacy::SecretsKey;

/// Bytes of randomness in a signing secret (hex-encoded: 64 characters).
const SECRET_BYTES: usize = 32;

/// Why an endpoint could not be registered or changed.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("no landlord {0:?} in the registry (add it with `dampwatch devices add` first)")]
    UnknownLandlord(String),
    #[error("webhook URL {url:?} refused: {refusal}")]
    BadUrl { url: String, refusal: UrlRefusal },
    #[error("no webhook endpoint {0}")]
    UnknownEndpoint(i64),
    #[error("the system random number generator failed")]
    Random,
    #[error("cannot seal the signing secret: {0}")]
    Seal(String),
    #[error(transparent)]
    Db(#[from] AlertsError),
}

impl From<tokio_postgres::Error> for EndpointError {
    fn from(e: tokio_postgres::Error) -> Self {
        EndpointError::Db(e.into())
    }
}

/// An endpoint just registered.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub id: i64,
    /// The URL as stored (normalised).
    pub url: String,
    /// The signing secret, shown to the operator this once.
    pub secret: String,
}

/// A registered endpoint with its queue.
#[derive(Debug, Clone)]
pub struct EndpointSummary {
    pub id: i64,
    pub landlord_id: String,
    pub url: String,
    pub active: bool,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub pending: i64,
    pub dead: i64,
    pub delivered: i64,
}

/// A dead-lettered webhook: every attempt failed.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub id: i64,
    pub landlord_id: String,
    pub endpoint_id: i64,
    pub event_type: String,
    pub attempts: i32,
    pub dead_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

/// Registers an endpoint for `landlord`; returns it with its signing secret (stored sealed
/// under `key`, shown to the operator this once). The URL must pass [`check_url`] under
/// `policy` (https only, alerts carry tenants' addresses and health hazards; plain http to
/// loopback with the development flag) and is stored in its normalised form. The sender checks
/// it again, and the addresses its name resolves to, at every delivery.
pub async fn add_endpoint(
    db: &impl GenericClient,
    landlord: &str,
    url: &str,
    description: &str,
    policy: &AddressPolicy,
    key: &SecretsKey,
) -> Result<NewEndpoint, EndpointError> {
    let url = check_url(url, policy)
        .map_err(|refusal| EndpointError::BadUrl { url: url.to_owned(), refusal })?
        .to_string();
    if db.query_opt("SELECT 1 FROM landlords WHERE id = $1", &[&landlord]).await?.is_none() {
        return Err(EndpointError::UnknownLandlord(landlord.to_owned()));
    }
    let mut bytes = [0u8; SECRET_BYTES];
    SystemRandom::new().fill(&mut bytes).map_err(|_| EndpointError::Random)?;
    let secret = hex::encode(bytes);
    // The row's id is bound into the sealed value, so it is taken first.
    let id: i64 =
        db.query_one("SELECT nextval(pg_get_serial_sequence('webhook_endpoints', 'id'))", &[]).await?.get(0);
    let sealed =
        crate::secrets::seal(key, landlord, id, &secret).map_err(|e| EndpointError::Seal(e.to_string()))?;
    db.execute(
        "INSERT INTO webhook_endpoints (id, landlord_id, url, secret_sealed, description) VALUES ($1, $2, $3, $4, $5)",
        &[&id, &landlord, &url, &sealed, &description],
    )
    .await?;
    Ok(NewEndpoint { id, url, secret })
}

/// Stops sending to an endpoint; its queued webhooks stay, fail their remaining attempts
/// ("the endpoint is deactivated") and end as dead letters, visible to the operator.
pub async fn disable_endpoint(db: &impl GenericClient, id: i64) -> Result<(), EndpointError> {
    let n = db.execute("UPDATE webhook_endpoints SET active = false WHERE id = $1", &[&id]).await?;
    if n == 0 {
        return Err(EndpointError::UnknownEndpoint(id));
    }
    Ok(())
}

/// Every endpoint (or one landlord's) with counts of pending, dead and delivered webhooks.
pub async fn list_endpoints(
    db: &impl GenericClient,
    landlord: Option<&str>,
) -> Result<Vec<EndpointSummary>, EndpointError> {
    let rows = db
        .query(
            "SELECT e.id, e.landlord_id, e.url, e.active, e.description, e.created_at,
                    count(o.id) FILTER (WHERE o.state = 'pending'),
                    count(o.id) FILTER (WHERE o.state = 'dead'),
                    count(o.id) FILTER (WHERE o.state = 'delivered')
             FROM webhook_endpoints e LEFT JOIN webhook_outbox o ON o.endpoint_id = e.id
             WHERE $1::text IS NULL OR e.landlord_id = $1
             GROUP BY e.id ORDER BY e.id",
            &[&landlord],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| EndpointSummary {
            id: r.get(0),
            landlord_id: r.get(1),
            url: r.get(2),
            active: r.get(3),
            description: r.get(4),
            created_at: r.get(5),
            pending: r.get(6),
            dead: r.get(7),
            delivered: r.get(8),
        })
        .collect())
}

/// Dead-lettered webhooks, oldest first.
pub async fn dead_letters(
    db: &impl GenericClient,
    landlord: Option<&str>,
) -> Result<Vec<DeadLetter>, EndpointError> {
    let rows = db
        .query(
            "SELECT id, landlord_id, endpoint_id, event_type, attempts, dead_at, last_error
             FROM webhook_outbox WHERE state = 'dead' AND ($1::text IS NULL OR landlord_id = $1)
             ORDER BY dead_at, id",
            &[&landlord],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| DeadLetter {
            id: r.get(0),
            landlord_id: r.get(1),
            endpoint_id: r.get(2),
            event_type: r.get(3),
            attempts: r.get(4),
            dead_at: r.get(5),
            last_error: r.get(6),
        })
        .collect())
}

/// Puts dead webhooks back in the queue for a fresh series of attempts: the one with `id`, or
/// all of them (of one landlord, if given). Returns how many.
pub async fn requeue_dead(
    db: &impl GenericClient,
    id: Option<i64>,
    landlord: Option<&str>,
) -> Result<u64, EndpointError> {
    Ok(db
        .execute(
            "UPDATE webhook_outbox SET state = 'pending', attempts = 0, next_attempt_at = now(), dead_at = NULL
             WHERE state = 'dead' AND ($1::bigint IS NULL OR id = $1) AND ($2::text IS NULL OR landlord_id = $2)",
            &[&id, &landlord],
        )
        .await?)
}
