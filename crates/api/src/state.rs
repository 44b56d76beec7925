//! What every request handler shares: the database pools, the key directory, the rate limits,
//! the counters, the Awaab's Law clock and the configuration.

use std::path::PathBuf;
use std::sync::Arc;

use dampwatch_privacy::SecretsKey;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dampwatch_alerts::occupant_engines::OccupantEngines;
use dampwatch_clock::{Clock, ClockConfig};
use dampwatch_indicators::{EngineConfig, HazardEngine};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use prometheus_client::registry::Registry;

use crate::caller::KeyDirectory;
use crate::config::ApiConfig;
use crate::rate_limit::RateLimits;
use crate::stats::ApiStats;

/// The router's state.
#[derive(Clone)]
pub struct ApiState {
    pub(crate) pool: Pool,
    pub(crate) keys: Arc<KeyDirectory>,
    pub(crate) limits: Arc<RateLimits>,
    pub(crate) stats: Arc<ApiStats>,
    pub(crate) clock: Arc<Clock>,
    pub(crate) config: Arc<ApiConfig>,
    /// The hazard engines (`[alerts.engine]`, and one per set of occupants' vulnerabilities
    /// a home records): the rules whose thresholds the room page draws and the settings its
    /// indicators are computed with, as the hazard worker judges that room.
    pub(crate) engines: Arc<OccupantEngines>,
    /// The wall clock sessions, lockouts and TOTP codes are judged by; tests move it.
    pub(crate) time: WallClock,
    /// Where evidence packs are sealed from; without it the API cannot export them.
    pub(crate) evidence: Option<Arc<EvidenceSource>>,
    /// Seals and opens people's TOTP secrets; without it no one can enrol a second factor and
    /// a sealed one cannot be checked (the service answers 503, and says why in its log).
    pub(crate) secrets_key: Option<Arc<SecretsKey>>,
}

/// What sealing a case's evidence pack needs besides the database: the PKI directory (the
/// audit key that seals it, the CA, the CRL and the device certificates it carries) and the
/// clock configuration its deadlines were computed under.
#[derive(Debug, Clone)]
pub struct EvidenceSource {
    pub pki_dir: PathBuf,
    pub clock: ClockConfig,
}

/// Where the current time comes from.
pub type WallClock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Why the state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("invalid database URL: {0}")]
    Url(#[from] tokio_postgres::Error),
    #[error("cannot build the database pool: {0}")]
    Pool(#[from] deadpool_postgres::BuildError),
}

impl ApiState {
    /// State over existing pools: `pool` for request handlers, `key_pool` for key lookups only.
    /// Both pools' connections must belong to the role that ran the migrations (or any role
    /// granted `dampwatch_api_tenant` that may read `api_keys`).
    pub fn new(pool: Pool, key_pool: Pool, clock: Clock, config: ApiConfig) -> Self {
        let stats = Arc::new(ApiStats::default());
        let keys =
            KeyDirectory::new(key_pool, config.key_cache_ttl, config.key_lookup_timeout, stats.clone());
        let limits = RateLimits::new(&config.rate_limits, stats.clone());
        ApiState {
            pool,
            keys: Arc::new(keys),
            limits: Arc::new(limits),
            stats,
            clock: Arc::new(clock),
            config: Arc::new(config),
            engines: Arc::new(default_engines()),
            time: Arc::new(Utc::now),
            evidence: None,
            secrets_key: None,
        }
    }

    /// The same state able to export evidence packs sealed from `source`.
    pub fn with_evidence(mut self, source: EvidenceSource) -> Self {
        self.evidence = Some(Arc::new(source));
        self
    }

    /// The same state sealing and opening people's TOTP secrets with `key` (the collector's
    /// secrets key, `PKI/secrets/sealing.key`).
    pub fn with_secrets_key(mut self, key: Arc<SecretsKey>) -> Self {
        self.secrets_key = Some(key);
        self
    }

    /// The key that seals people's TOTP secrets, if this service has one.
    pub fn secrets_key(&self) -> Option<&SecretsKey> {
        self.secrets_key.as_deref()
    }

    /// The same state with the hazard engines the hazard worker runs (the collector passes
    /// its `[alerts.engine]`); without it, the engine's defaults.
    pub fn with_hazard_engines(mut self, engines: OccupantEngines) -> Self {
        self.engines = Arc::new(engines);
        self
    }

    /// The configured engine: what a room whose home records no vulnerabilities is judged by.
    pub(crate) fn engine(&self) -> &HazardEngine {
        &self.engines.base().engine
    }

    /// The same state judging time by `time` instead of the system clock.
    pub fn with_wall_clock(mut self, time: WallClock) -> Self {
        self.time = time;
        self
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        (self.time)()
    }

    /// State with new pools to `db_url` (connected lazily): `config.pool_size` connections for
    /// requests and `config.key_lookup_connections` for key lookups.
    pub fn connect(db_url: &str, clock: Clock, config: ApiConfig) -> Result<Self, StateError> {
        let mut pg: tokio_postgres::Config = db_url.parse()?;
        pg.application_name("dampwatch-api");
        // Waiting longer than the request may take is pointless.
        let pool = new_pool(pg.clone(), config.pool_size, config.request_timeout)?;
        // Authentication must not queue behind request handlers: its own connections, and a
        // short wait.
        let key_pool = new_pool(pg, config.key_lookup_connections, config.key_lookup_timeout)?;
        Ok(ApiState::new(pool, key_pool, clock, config))
    }

    /// The database pool of request handlers.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The database pool of key lookups.
    pub fn key_pool(&self) -> &Pool {
        self.keys.pool()
    }

    /// The API's counters.
    pub fn stats(&self) -> &ApiStats {
        &self.stats
    }

    /// Registers the counters and the pools' occupancy in the hosting service's Prometheus
    /// registry, for its `/metrics`.
    pub fn register_metrics(&self, registry: &mut Registry) {
        self.stats.register(registry, &self.pool, self.keys.pool());
    }

    /// These metrics alone in the Prometheus text format (version 0.0.4).
    pub fn render_metrics(&self) -> String {
        dampwatch_alerts::metrics::render(|r| self.register_metrics(r))
    }
}

fn default_engines() -> OccupantEngines {
    // The defaults are checked to validate by the indicators crate's own tests.
    OccupantEngines::new(&EngineConfig::default()).expect("the default engine configuration is valid")
}

fn new_pool(mut pg: tokio_postgres::Config, size: usize, wait: Duration) -> Result<Pool, StateError> {
    let tls = dampwatch_store::tls_connector(&mut pg);
    let manager = Manager::from_config(pg, tls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    Ok(Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(wait))
        .create_timeout(Some(wait))
        .build()?)
}
