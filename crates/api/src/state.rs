//! What every request handler shares: the database pool, the Awaab's Law clock and the
//! configuration.

use std::sync::Arc;

use dampwatch_clock::Clock;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::config::ApiConfig;

/// The router's state.
#[derive(Clone)]
pub struct ApiState {
    pub(crate) pool: Pool,
    pub(crate) clock: Arc<Clock>,
    pub(crate) config: Arc<ApiConfig>,
}

/// Why the state could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("invalid database URL: {0}")]
    Url(#[from] tokio_postgres::Error),
    #[error("cannot build the database pool: {0}")]
    Pool(#[from] deadpool_postgres::BuildError),
}

impl ApiState {
    /// State over an existing pool. The pool's connections must belong to the role that ran
    /// the migrations (or any role granted `dampwatch_api_tenant`).
    pub fn new(pool: Pool, clock: Clock, config: ApiConfig) -> Self {
        ApiState { pool, clock: Arc::new(clock), config: Arc::new(config) }
    }

    /// State with a new pool of `config.pool_size` connections to `db_url` (connected lazily).
    pub fn connect(db_url: &str, clock: Clock, config: ApiConfig) -> Result<Self, StateError> {
        let mut pg: tokio_postgres::Config = db_url.parse()?;
        pg.application_name("dampwatch-api");
        let manager =
            Manager::from_config(pg, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .runtime(Runtime::Tokio1)
            // Waiting longer than the request may take is pointless.
            .wait_timeout(Some(config.request_timeout))
            .create_timeout(Some(config.request_timeout))
            .build()?;
        Ok(ApiState::new(pool, clock, config))
    }

    /// The database pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}
