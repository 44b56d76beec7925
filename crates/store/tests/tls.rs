//! TLS to an external PostgreSQL: a URL with `sslmode=require` connects over TLS to a server
//! whose certificate chains to the given root and names the host, and refuses one that does
//! not; without it, the private cluster on loopback is reached in the clear.

use dampwatch_pg::PrivatePostgres;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use std::os::unix::fs::{chown, MetadataExt, PermissionsExt};
use std::path::Path;

/// A CA and a server certificate for 127.0.0.1 signed by it: (CA PEM, server cert PEM, key PEM).
fn server_credentials() -> (String, String, String) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("CA");
    let server_key = KeyPair::generate().expect("key");
    let server = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("params")
        .signed_by(&server_key, &ca)
        .expect("server certificate");
    (ca.pem(), server.pem(), server_key.serialize_pem())
}

/// Turns TLS on in the running cluster with the given certificate and key (reloaded, no restart).
async fn enable_ssl(pg: &PrivatePostgres, cert: &str, key: &str) {
    let dir = pg.cluster_dir();
    let owner = std::fs::metadata(&dir).expect("cluster dir");
    for (name, text, mode) in [("server.crt", cert, 0o644), ("server.key", key, 0o600)] {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("mode");
        chown(&path, Some(owner.uid()), Some(owner.gid())).expect("owner");
    }
    let admin = dampwatch_store::connect(&pg.url()).await.expect("connect");
    // One statement at a time: ALTER SYSTEM refuses to run inside a transaction block.
    for sql in [
        "ALTER SYSTEM SET ssl_cert_file = 'server.crt'",
        "ALTER SYSTEM SET ssl_key_file = 'server.key'",
        "ALTER SYSTEM SET ssl = on",
        "SELECT pg_reload_conf()",
    ] {
        admin.execute(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

async fn uses_tls(client: &tokio_postgres::Client) -> bool {
    client
        .query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
        .await
        .expect("pg_stat_ssl")
        .get(0)
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmode_require_is_encrypted_and_verified() {
    let pg = tokio::task::spawn_blocking(PrivatePostgres::temporary).await.expect("join").expect("postgres");
    let (ca, cert, key) = server_credentials();
    enable_ssl(&pg, &cert, &key).await;
    let files = tempfile::tempdir().expect("tempdir");
    let root = write(files.path(), "ca.pem", &ca);
    let url = format!("{}?sslmode=require", pg.url());

    // The reload reaches the server a moment later: poll until a TLS connection works.
    let client = dampwatch_testkit::eventually(std::time::Duration::from_secs(5), || async {
        dampwatch_store::connect::connect_with_root(&url, Some(&root)).await.ok()
    })
    .await
    .expect("a TLS connection verified against the server's CA");
    assert!(uses_tls(&client).await, "the session is encrypted");

    // Another CA's root: the server is not trusted, and nothing falls back to the clear.
    let (other_ca, _, _) = server_credentials();
    let other = write(files.path(), "other.pem", &other_ca);
    let refused = dampwatch_store::connect::connect_with_root(&url, Some(&other)).await;
    assert!(refused.is_err(), "a server certificate from an untrusted CA is refused");

    // Without sslmode=require the private cluster on loopback is reached in the clear.
    let plain = dampwatch_store::connect(&pg.url()).await.expect("plain");
    assert!(!uses_tls(&plain).await);
}
