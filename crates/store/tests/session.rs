//! Every connection Dampwatch makes runs with its session settings: JIT compilation off (see
//! `SESSION_OPTIONS` in src/connect.rs), whatever options the URL gives beside.

use dampwatch_pg::PrivatePostgres;

async fn show(client: &tokio_postgres::Client, setting: &str) -> String {
    client.query_one(&format!("SHOW {setting}"), &[]).await.expect("show").get(0)
}

#[tokio::test]
async fn connections_run_without_jit_and_keep_the_urls_own_options() {
    let pg = tokio::task::spawn_blocking(|| PrivatePostgres::temporary().expect("start PostgreSQL"))
        .await
        .expect("join");
    let plain = dampwatch_store::connect(&pg.url()).await.expect("connect");
    assert_eq!(show(&plain, "jit").await, "off");

    let mut with_options: tokio_postgres::Config = pg.url().parse().expect("url");
    with_options.options("-c statement_timeout=4321");
    let tls = dampwatch_store::tls_connector(&mut with_options);
    let (client, connection) = with_options.connect(tls).await.expect("connect");
    tokio::spawn(connection);
    assert_eq!(show(&client, "jit").await, "off");
    assert_eq!(show(&client, "statement_timeout").await, "4321ms");
}
