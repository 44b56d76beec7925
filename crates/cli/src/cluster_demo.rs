//! `dampwatch cluster demo`: Dampwatch across several machines, on one: a three-node NATS
//! JetStream cluster, two gateways and two collectors on loopback ports, every one of them
//! using the cluster as its upstream (`docs/message-layer.md`), one private PostgreSQL, and
//! simulated homes spread over both gateways. Everything lives in a temporary directory that is
//! removed at the end. It prints where each part listens (with `/health` and `/metrics`), then
//! every few seconds what each collector stored and the cluster's view of the collectors' lag.

use dampwatch_cluster::{NatsCluster, Role};
use dampwatch_collector::Collector;
use dampwatch_gateway::Gateway;
use dampwatch_pg::{PgOptions, PrivatePostgres};
use std::io::Write;
use std::time::Duration;

#[derive(clap::Subcommand, Debug)]
pub enum ClusterCommand {
    /// Start a three-node cluster, two gateways and two collectors on loopback, with simulated
    /// homes spread over both gateways.
    Demo(ClusterDemoArgs),
}

#[derive(clap::Args, Debug)]
pub struct ClusterDemoArgs {
    /// Stop by itself after this long (e.g. 30s, 5m); default: run until Ctrl-C.
    #[arg(long = "for", value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Simulated homes behind each gateway.
    #[arg(long, default_value_t = 3)]
    pub devices_per_gateway: usize,
    /// Seconds between the progress lines.
    #[arg(long, default_value_t = 5)]
    pub report_every: u64,
}

const ANY_LOOPBACK_PORT: &str = "127.0.0.1:0";

pub async fn run(command: ClusterCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    let ClusterCommand::Demo(args) = command;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::Builder::new().prefix("dampwatch-cluster-demo-").tempdir()?;
    let pki = dir.path().join("pki");
    dampwatch_pki::init(&pki, Default::default())?;
    let pg_dir = dir.path().join("postgres");
    let pg = tokio::task::spawn_blocking(move || PrivatePostgres::start(PgOptions::new(pg_dir))).await??;
    let db_url = pg.url();
    dampwatch_store::prepare_database(&db_url).await?;
    let logins = dampwatch_store::roles::private_logins(&pg, &db_url).await?;
    writeln!(out, "starting a three-node NATS JetStream cluster ...")?;
    out.flush()?;
    let cluster = NatsCluster::start(3, Duration::from_secs(60)).await?;

    let mut gateways = Vec::new();
    for _ in 0..2 {
        let mut cfg = dampwatch_gateway::Config::default().with_pki_dir(&pki);
        cfg.listen.address = ANY_LOOPBACK_PORT.parse()?;
        cfg.listen.metrics_address = Some(ANY_LOOPBACK_PORT.parse()?);
        cfg.upstream = cluster.upstream(Role::Gateway);
        gateways.push(Gateway::start(cfg).await?);
    }
    let mut collectors = Vec::new();
    for (i, client_id) in ["collector", "collector-2"].into_iter().enumerate() {
        let mut cfg =
            dampwatch_collector::Config::default().with_pki_dir(&pki).with_database(&db_url, &logins);
        cfg.mqtt.client_id = client_id.into();
        cfg.upstream = cluster.upstream(Role::Collector);
        cfg.metrics.address = ANY_LOOPBACK_PORT.into();
        // One dashboard is enough to show what both collectors store.
        cfg.http.address = if i == 0 { ANY_LOOPBACK_PORT.into() } else { String::new() };
        collectors.push(Collector::start(cfg).await?);
    }
    let mut setup_db = dampwatch_store::connect(&db_url).await?;
    let first = crate::demo_landlord::prepare(&mut setup_db).await?;
    drop(setup_db);

    writeln!(out, "temporary directory: {} (removed at the end)", dir.path().display())?;
    writeln!(out, "database:            {}", dampwatch_store::redacted(&db_url))?;
    for (i, url) in cluster.urls().iter().enumerate() {
        writeln!(out, "cluster node n{i}:     {url}")?;
    }
    for (i, g) in gateways.iter().enumerate() {
        let health = g.metrics_addr().map(|m| format!(" (http://{m}/health, /metrics)")).unwrap_or_default();
        writeln!(out, "gateway {} (mTLS):    {}{health}", i + 1, g.local_addr())?;
    }
    for (i, c) in collectors.iter().enumerate() {
        let health = c.metrics_addr().map(|m| format!("http://{m}/health, /metrics")).unwrap_or_default();
        writeln!(out, "collector {}:         {health}", i + 1)?;
    }
    if let (Some(api), Some(first)) = (collectors[0].api_url(), &first) {
        writeln!(
            out,
            "dashboard:           {api}/ (sign in as {} with the password {})",
            crate::demo_landlord::ADMIN_EMAIL,
            first.admin_password
        )?;
    }
    out.flush()?;

    let homes: Vec<crate::demo_devices::DemoDevices> = gateways
        .iter()
        .enumerate()
        .map(|(i, g)| {
            crate::demo_devices::start(
                dir.path(),
                &pki,
                &db_url,
                g.local_addr(),
                args.devices_per_gateway,
                args.duration,
                &format!("demo-gw{}-", i + 1),
            )
        })
        .collect();
    report_until_done(&args, &collectors, out).await?;
    for h in homes {
        if let Some(s) = h.finish().await {
            writeln!(out, "{s}")?;
        }
    }
    for c in collectors {
        c.shutdown().await;
    }
    for g in gateways {
        g.shutdown().await;
    }
    let db = dampwatch_store::connect(&db_url).await?;
    let stored: i64 = db.query_one("SELECT count(*) FROM readings", &[]).await?.get(0);
    writeln!(out, "stored readings: {stored}")?;
    drop(db);
    drop(cluster);
    drop(pg);
    Ok(())
}

/// Prints each collector's stored readings and the cluster's lag until the end.
async fn report_until_done(
    args: &ClusterDemoArgs,
    collectors: &[Collector],
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    crate::demo::report_until_end(args.duration, args.report_every, out, |out| {
        let each: Vec<String> = collectors
            .iter()
            .map(|c| {
                let m = c.metrics();
                format!("{} stored ({} redelivered)", m.readings_stored.get(), m.uplinks_redelivered.get())
            })
            .collect();
        let m = collectors[0].metrics();
        writeln!(
            out,
            "collectors: {}; cluster: {} waiting, {} taken unacknowledged",
            each.join(", "),
            m.cluster_pending.get(),
            m.cluster_ack_pending.get()
        )
    })
    .await
}
