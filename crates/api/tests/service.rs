//! The operator's side: `dampwatch api-keys` and serving the API on a real listener.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use clap::Parser;
use common::{fixture, get};
use dampwatch_api::cli::{run, ApiKeysCommand};
use dampwatch_api::{create_api_key, serve, ApiConfig, ApiKeyError, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// How the `dampwatch` binary mounts the commands.
#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: ApiKeysCommand,
}

async fn run_args(db: &tokio_postgres::Client, args: &[&str]) -> anyhow::Result<String> {
    let cli = Cli::try_parse_from(std::iter::once("api-keys").chain(args.iter().copied()))?;
    let mut out = Vec::new();
    run(cli.command, db, &mut out).await?;
    Ok(String::from_utf8(out)?)
}

#[tokio::test]
async fn keys_are_created_printed_once_listed_without_the_key_and_revoked() {
    // Every key looked up on every request, so the revocation shows at once (with the default
    // cache it shows within key_cache_ttl: tests/limits.rs).
    let f = common::fixture_with(ApiConfig { key_cache_ttl: Duration::ZERO, ..ApiConfig::default() }).await;
    let printed =
        run_args(&f.db, &["create", "--landlord", "south-homes", "--label", "repairs system"]).await.unwrap();
    let key = printed.lines().next().unwrap().trim().to_owned();
    assert!(key.starts_with("dwk_") && key.len() == 47, "{printed}");
    assert!(printed.contains("not shown again"));
    assert_eq!(get(&f.app, "/v1/devices", &key).await.status, StatusCode::OK);

    let listing = run_args(&f.db, &["list", "--landlord", "south-homes"]).await.unwrap();
    assert!(listing.contains("repairs system"), "{listing}");
    assert!(listing.contains(&key[..10]), "the first characters identify it: {listing}");
    assert!(!listing.contains(&key), "never the key itself: {listing}");
    assert!(!listing.contains("north-homes"), "only that landlord's keys: {listing}");
    let id = listing
        .lines()
        .find(|l| l.contains("repairs system"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    let revoked = run_args(&f.db, &["revoke", &id]).await.unwrap();
    assert!(revoked.contains(&id));
    assert_eq!(get(&f.app, "/v1/devices", &key).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(&f.app, "/v1/devices", &f.south.key).await.status,
        StatusCode::OK,
        "other keys still work"
    );

    let unknown = run_args(&f.db, &["create", "--landlord", "nobody", "--label", "x"]).await.unwrap_err();
    assert!(unknown.to_string().contains("nobody"), "{unknown}");
    assert!(matches!(create_api_key(&f.db, "south-homes", "\n").await, Err(ApiKeyError::BadLabel)));
    assert!(run_args(&f.db, &["revoke", "999999"]).await.is_err());
}

/// One HTTP/1.1 request over a real socket; returns the whole response as text, after
/// checking it against `contract`.
async fn http(
    contract: &common::Contract,
    addr: std::net::SocketAddr,
    path: &str,
    key: Option<&str>,
) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let auth = key.map(|k| format!("Authorization: Bearer {k}\r\n")).unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    common::check_http(contract, "GET", path, &response);
    response
}

#[tokio::test]
async fn serve_listens_answers_and_stops() {
    let f = fixture().await;
    let stop = CancellationToken::new();
    let config = ApiConfig::default();
    // Plain HTTP, to read the answers as bytes; HTTPS is tested with the collector's listener.
    let (addr, clock) = ("127.0.0.1:0".parse().unwrap(), common::clock());
    let addr = serve(addr, &f.api_url, config, clock, Transport::Plain, stop.clone()).await.expect("serve");
    assert_ne!(addr.port(), 0);
    // The fixture's router has the same configuration as the one served here.
    let contract = common::contract(&f.app).await;
    let doc = http(&contract, addr, "/openapi.json", None).await;
    assert!(doc.starts_with("HTTP/1.1 200"), "{doc}");
    assert!(doc.to_ascii_lowercase().contains("strict-transport-security: max-age="));
    let alerts = http(&contract, addr, "/v1/alerts?status=open", Some(&f.north.key)).await;
    assert!(alerts.starts_with("HTTP/1.1 200"), "{alerts}");
    assert!(alerts.contains("\"items\""));
    let denied = http(&contract, addr, "/v1/alerts", None).await;
    assert!(denied.starts_with("HTTP/1.1 401"), "{denied}");

    stop.cancel();
    let mut closed = false;
    for _ in 0..50 {
        if TcpStream::connect(addr).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(closed, "the listener closes after stop");
}

#[tokio::test]
async fn serve_refuses_a_database_without_the_schema() {
    let f = fixture().await;
    let bare = f.db_url.rsplit_once('/').map(|(base, _)| format!("{base}/postgres")).unwrap();
    let err = serve(
        "127.0.0.1:0".parse().unwrap(),
        &bare,
        ApiConfig::default(),
        common::clock(),
        Transport::Plain,
        CancellationToken::new(),
    )
    .await
    .expect_err("no schema");
    assert!(format!("{err:#}").contains("run the migrations"), "{err:#}");
}

#[tokio::test]
async fn serve_refuses_a_database_user_that_cannot_switch_to_the_tenant_role() {
    let f = fixture().await;
    let role = format!("reader_{}", std::process::id());
    f.db.batch_execute(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD 'reader-password'; GRANT EXECUTE ON FUNCTION api_key_owner(bytea) TO {role}"
    ))
    .await
    .unwrap();
    let url = f.db_url.replace(
        &format!("{}:{}@", common::SERVICE_ROLE, common::SERVICE_PASSWORD),
        &format!("{role}:reader-password@"),
    );
    let err = serve(
        "127.0.0.1:0".parse().unwrap(),
        &url,
        ApiConfig::default(),
        common::clock(),
        Transport::Plain,
        CancellationToken::new(),
    )
    .await
    .expect_err("cannot switch");
    assert!(format!("{err:#}").contains("may not switch to dampwatch_api_tenant"), "{err:#}");
}
