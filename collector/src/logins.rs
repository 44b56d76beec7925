//! The database logins the collector's parts work as. The migrations run as the schema's
//! owner; then the collector's own work (ingest, hazards, alerts, webhooks, retention, the
//! audit checkpoints) runs as `dampwatch_collector`, which owns nothing, and the landlord API
//! as `dampwatch_api`, which reaches landlords' data only through the tenant role's row-level
//! security (migration 0460). On the private cluster both logins are made here; on a database
//! of the operator's, `[database] collector_url` and `api_url` name them.

use crate::config::Database;
use crate::error::StartError;
use dampwatch_pg::PrivatePostgres;
use dampwatch_store::roles::API_LOGIN;

/// Where each part connects.
#[derive(Clone)]
pub(crate) struct Logins {
    /// The schema's owner: migrations, and the URL published for operators' commands.
    pub owner: String,
    pub collector: String,
    pub api: String,
}

impl Logins {
    /// The logins for the database at `owner`, migrated: on the private cluster `embedded`,
    /// its own two (given LOGIN and their passwords now, as the owner); otherwise those
    /// configured, `owner` where none is.
    pub(crate) async fn prepare(
        cfg: &Database,
        owner: &str,
        embedded: Option<&PrivatePostgres>,
    ) -> Result<Logins, StartError> {
        let Some(pg) = embedded else {
            let or_owner = |url: &str| if url.is_empty() { owner.to_owned() } else { url.to_owned() };
            if cfg.api_url.is_empty() {
                tracing::warn!(
                    "[database] api_url is empty: the landlord API connects as database.url, which can leave \
                     row-level security; give it the {API_LOGIN} login"
                );
            }
            return Ok(Logins {
                owner: owner.to_owned(),
                collector: or_owner(&cfg.collector_url),
                api: or_owner(&cfg.api_url),
            });
        };
        let urls = dampwatch_store::roles::private_logins(pg, owner).await?;
        Ok(Logins { owner: owner.to_owned(), collector: urls.collector, api: urls.api })
    }
}
