//! The landlord HTTP API: what housing officers and landlords' systems use to see hazard
//! alerts, run Awaab's Law cases (record triage decisions, investigations, works, stops and
//! closure) and watch their deadlines.
//!
//! - Endpoints ([`routes::ENDPOINTS`]): `GET /v1/alerts`, `GET /v1/alerts/{id}`,
//!   `POST /v1/alerts/{id}/triage`, `GET /v1/cases`, `GET /v1/cases/{id}`,
//!   `POST /v1/cases/{id}/events`, `GET /v1/sla`, `GET /v1/devices`,
//!   `GET /v1/webhooks/deliveries`, and the OpenAPI 3.1 document at `GET /openapi.json`.
//! - Authentication: `Authorization: Bearer <key>`; per-landlord keys stored only as SHA-256
//!   hashes ([`keys`], managed with [`cli`]). A key is resolved to its landlord before the
//!   request may spend anything ([`guard`], [`caller`]): from memory for `key_cache_ttl`
//!   (30 s by default, so a revoked key stops working within that time), else on a few
//!   connections reserved for key lookups. An unauthenticated request never takes a
//!   connection of the tenant pool.
//! - Limits: token buckets per API key and per source address, and a much smaller one per
//!   source for failed authentication ([`rate_limit`]; 429 with `Retry-After`); request headers
//!   and bodies must arrive within their time limits (408 for a slow body), and a body is
//!   read in full before the handler takes a database connection ([`body`], [`mod@serve`]).
//! - Transport: HTTPS (TLS 1.3 and 1.2) on the API's own listener, each handshake within a
//!   time limit and failures counted ([`tls`], [`mod@serve`]); plain HTTP only when the
//!   hosting service is told it sits behind a TLS-terminating proxy.
//!   What was refused is counted ([`stats`], [`ApiState::render_metrics`]).
//! - Isolation: every request runs in a transaction switched to the database role
//!   `dampwatch_api_tenant` with the key's landlord in `dampwatch.landlord`; PostgreSQL
//!   row-level security (this crate's migration) then shows and accepts only that landlord's
//!   rows. The handlers' queries name no landlord on purpose, so isolation does not depend on
//!   each query remembering to.
//! - Errors are RFC 9457 problem documents; every response carries the security headers.
//! - Case changes go through `dampwatch-alerts` (append-only events, refreshed snapshot and
//!   deadlines, webhook queued) and are checked by the `dampwatch-clock` state machine.
//!
//! What it must never do: show or change one landlord's data through another's key (not even
//! reveal that an id exists: such ids are answered 404), store or log a key in clear, show a
//! webhook signing secret, edit or delete a case event, or answer an error with a database
//! message.

pub mod audit;
pub mod body;
pub mod caller;
pub mod cli;
pub mod config;
pub mod extract;
pub mod guard;
pub mod handlers;
pub mod key_cache;
pub mod keys;
pub mod middleware;
pub mod oauth;
pub mod openapi;
pub mod paging;
pub mod problem;
pub mod rate_limit;
pub mod routes;
pub(crate) mod sealed_text;
pub mod serve;
pub mod source;
pub mod state;
pub mod stats;
pub mod tenant;
pub mod tls;
pub mod web;

pub use config::{ApiConfig, ApiConfigError, RateLimitConfig, DEFAULT_CONFIG};
pub use keys::{create_api_key, list_api_keys, revoke_api_key, ApiKeyError, ApiKeyInfo};
pub use routes::{router, Endpoint, Verb, ENDPOINTS};
pub use serve::{serve, spawn_server, ServerOptions, Transport};
pub use state::{ApiState, StateError};
pub use stats::{ApiStats, StatsSnapshot};
pub use tenant::{Tenant, LANDLORD_SETTING, TENANT_ROLE};
pub use tls::{server_config, HandshakeFailure, ListenerStats};
