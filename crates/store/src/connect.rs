//! Connecting to the database: once, or waiting for a server that is still starting, and
//! telling a failure that will pass (the connection, the server, a lock) from one caused by
//! the data in a statement.

use dampwatch_wire::Backoff;
use tokio_postgres::config::SslMode;
use tokio_postgres::Client;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::migrate::{migrate, MigrateError};

/// Connects once and spawns the connection driver. A URL with `sslmode=require` is served
/// over TLS, verified against the Mozilla roots and, when the environment names one,
/// `PGSSLROOTCERT`'s certificates (an external server with a private CA). `sslmode=disable` and
/// the default `prefer` connect without TLS, which suits the private cluster on loopback.
pub async fn connect(url: &str) -> Result<Client, tokio_postgres::Error> {
    let root_ca = std::env::var_os("PGSSLROOTCERT").map(std::path::PathBuf::from);
    connect_with_root(url, root_ca.as_deref()).await
}

/// [`connect`], trusting `root_ca` (a PEM file of CA certificates) beside the Mozilla roots
/// when the URL requires TLS.
pub async fn connect_with_root(
    url: &str,
    root_ca: Option<&std::path::Path>,
) -> Result<Client, tokio_postgres::Error> {
    let mut config: tokio_postgres::Config = url.parse()?;
    let tls = tls_connector_with_root(&mut config, root_ca);
    let (client, connection) = config.connect(tls).await?;
    tokio::spawn(drive(connection));
    Ok(client)
}

/// The TLS side of a connection made from `config`, for callers that drive the connection
/// themselves (a LISTEN loop, a pool), with Dampwatch's session settings added to `config`
/// ([`SESSION_OPTIONS`]): verified TLS when the URL says `sslmode=require`, the
/// roots as in [`connect`]; otherwise `config` is set to `sslmode=disable`, so `prefer` means
/// plaintext everywhere, never a TLS attempt that could fail on an unverifiable certificate in
/// one process and not another.
pub fn tls_connector(config: &mut tokio_postgres::Config) -> MakeRustlsConnect {
    let root_ca = std::env::var_os("PGSSLROOTCERT").map(std::path::PathBuf::from);
    tls_connector_with_root(config, root_ca.as_deref())
}

/// Session settings every Dampwatch connection runs with, added to any the URL gives.
///
/// JIT compilation off: PostgreSQL compiles a query to machine code once its estimated cost
/// passes `jit_above_cost`, and the estimates of the hazard worker's and the collector's
/// statements grow with the tables. With 50 million readings stored, the worker's read-back
/// of a batch was compiled on every call and cost milliseconds of CPU per uplink for a query
/// that reads a few hundred rows by their key (`dampwatch bench ingest --preload 50000000`).
/// None of Dampwatch's statements is the long analytic scan JIT pays off for.
const SESSION_OPTIONS: &str = "-c jit=off";

fn with_session_options(config: &mut tokio_postgres::Config) {
    let options = match config.get_options() {
        Some(given) if !given.trim().is_empty() => format!("{given} {SESSION_OPTIONS}"),
        _ => SESSION_OPTIONS.to_owned(),
    };
    config.options(&options);
}

fn tls_connector_with_root(
    config: &mut tokio_postgres::Config,
    root_ca: Option<&std::path::Path>,
) -> MakeRustlsConnect {
    with_session_options(config);
    if config.get_ssl_mode() != SslMode::Require {
        config.ssl_mode(SslMode::Disable);
        // Never used; the root file is not read for a connection that will not use it.
        return MakeRustlsConnect::new(tls_config(None));
    }
    MakeRustlsConnect::new(tls_config(root_ca))
}

async fn drive<F: std::future::Future<Output = Result<(), tokio_postgres::Error>>>(connection: F) {
    if let Err(e) = connection.await {
        tracing::warn!(error = %e, "database connection closed");
    }
}

/// The client side of TLS to PostgreSQL: the server's certificate must chain to a trusted root
/// and name the host of the URL (stricter than libpq's `require`, which verifies nothing).
/// A root file that cannot be read is logged and left out: the handshake then fails on
/// verification, never falls back to trusting the server.
fn tls_config(root_ca: Option<&std::path::Path>) -> rustls::ClientConfig {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = root_ca {
        match rustls_pki_types::CertificateDer::pem_file_iter(path) {
            Ok(certs) => {
                for cert in certs {
                    let added =
                        cert.map_err(|e| e.to_string()).and_then(|c| roots.add(c).map_err(|e| e.to_string()));
                    if let Err(e) = added {
                        tracing::error!(file = %path.display(), error = %e, "unusable database root certificate");
                    }
                }
            }
            Err(e) => {
                tracing::error!(file = %path.display(), error = %e, "cannot read the database root certificates")
            }
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    match rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions() {
        Ok(builder) => builder.with_root_certificates(roots).with_no_client_auth(),
        // The ring provider supports the default versions; this cannot happen.
        Err(e) => unreachable!("ring supports TLS 1.2 and 1.3: {e}"),
    }
}

/// Connects and applies pending migrations.
pub async fn prepare_database(url: &str) -> Result<(), MigrateError> {
    let mut client = connect(url).await?;
    migrate(&mut client).await?;
    Ok(())
}

/// Why the database could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("invalid database URL: {0}")]
    InvalidUrl(tokio_postgres::Error),
    #[error(transparent)]
    Migrate(#[from] MigrateError),
}

/// [`prepare_database`], waiting (backing off by `retry`) while the server is unreachable or
/// still starting, so that a process started before its database neither exits nor
/// crash-loops. Errors about the schema itself are returned at once.
pub async fn prepare_database_when_up(url: &str, retry: Backoff) -> Result<(), PrepareError> {
    // A URL that does not parse will not get better by waiting.
    url.parse::<tokio_postgres::Config>().map_err(PrepareError::InvalidUrl)?;
    let mut retries = retry.retries();
    loop {
        let err = match prepare_database(url).await {
            Ok(()) => return Ok(()),
            Err(MigrateError::Db(e)) if is_unavailable(&e) => e,
            Err(e) => return Err(e.into()),
        };
        let wait = retries.next_delay();
        tracing::warn!(error = %describe(&err), retry_in = ?wait, "database unreachable; waiting for it");
        tokio::time::sleep(wait).await;
    }
}

/// Whether a failed statement is worth splitting: the server refused something in the data (a
/// value, a constraint, a trigger's verdict). Everything else (no connection, server shutting
/// down, out of resources, deadlock, serialisation, lock timeout, a schema problem) says
/// nothing about any one row, so the whole batch is retried unchanged.
pub fn is_data_error(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return false;
    }
    let Some(code) = e.code() else { return false };
    let class = &code.code()[..2];
    // 22 data exception, 23 integrity constraint, 54 program limit (row too big),
    // P0 PL/pgSQL raise (triggers), 38/39 external routine errors, 2F SQL routine errors.
    matches!(class, "22" | "23" | "54" | "P0" | "38" | "39" | "2F")
}

/// The server's own words when there are some (`tokio_postgres::Error` alone says "db error").
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{} ({})", d.message(), d.code().code()),
        None => e.to_string(),
    }
}

/// Whether an error means the server could not be reached or is not taking connections yet
/// (worth waiting for), as opposed to one it gave about a statement.
pub fn is_unavailable(e: &tokio_postgres::Error) -> bool {
    match e.code() {
        None => true,
        Some(code) => code.code().starts_with("08") || code.code().starts_with("57P"),
    }
}
