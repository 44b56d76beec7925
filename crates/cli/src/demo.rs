//! `dampwatch demo`: the whole system on embedded defaults, on one machine.
//!
//! Private PostgreSQL under the data directory, the development PKI (created if absent), the
//! gateway on 127.0.0.1:8883, the collector, and a handful of simulated devices. On the first
//! start it also makes the demo landlord's first administrator and three example cases
//! ([`crate::demo_landlord`]). It prints where to look (the dashboard's address and, once, the
//! administrator's password), then every few seconds how many readings are stored; its last
//! line is `stored readings: N`.

use dampwatch_collector::Collector;
use dampwatch_gateway::Gateway;
use dampwatch_pg::{PgOptions, PrivatePostgres};
use dampwatch_sim::cli::default_data_dir;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Where the demo keeps its PKI (DIR/pki) and database (DIR/postgres). Default:
    /// /var/lib/dampwatch as root, else ~/.local/share/dampwatch.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Stop by itself after this long (e.g. 30s, 5m); default: run until Ctrl-C.
    #[arg(long = "for", value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Simulated devices to run.
    #[arg(long, default_value_t = 5)]
    pub devices: usize,
    /// Where the gateway listens for devices.
    #[arg(long, default_value = "127.0.0.1:8883")]
    pub gateway: SocketAddr,
    /// Seconds between the stored-readings lines.
    #[arg(long, default_value_t = 5)]
    pub report_every: u64,
}

pub async fn run(args: DemoArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let pki = dir.join("pki");
    if !dampwatch_pki::is_initialized(&pki) {
        dampwatch_pki::init(&pki, Default::default())?;
        writeln!(out, "created the development PKI in {}", pki.display())?;
    } else if dampwatch_pki::downlink_keys(&pki)?.is_empty() {
        // A data directory from before downlinks were signed: the collector needs the key, and
        // the simulated devices are given its public key when they start.
        let key = dampwatch_pki::rotate_downlink_key(&pki)?.created;
        writeln!(out, "created the collector's downlink key {} in {}", key.key_id, pki.display())?;
    }
    if !dampwatch_pki::Paths::new(&pki).web_cert().exists() {
        // A data directory from before the API served HTTPS.
        let issued =
            dampwatch_pki::issue_web(&pki, &dampwatch_pki::WebNames::loopback(), Default::default())?;
        writeln!(out, "issued the landlord API's HTTPS certificate {}", issued.cert.display())?;
    }
    // A data directory from before devices' private keys left the PKI: the simulated devices
    // keep them in their bundles, beside the PKI.
    let bundles = dir.join(dampwatch_pki::cli::DEFAULT_BUNDLES_DIR);
    let moved = dampwatch_pki::move_device_keys(&pki, &bundles)?;
    if !moved.is_empty() {
        let (n, from, to) = (moved.len(), pki.display(), bundles.display());
        writeln!(
            out,
            "moved the private keys of {n} simulated devices from {from} into their bundles in {to}"
        )?;
    }

    let pg_dir = dir.join("postgres");
    let pg = tokio::task::spawn_blocking(move || PrivatePostgres::start(PgOptions::new(pg_dir))).await??;
    let db_url = pg.url();
    dampwatch_store::prepare_database(&db_url).await?;
    let logins = dampwatch_store::roles::private_logins(&pg, &db_url).await?;
    let url_file = dampwatch_store::DatabaseUrlFile::write(&dir, &db_url)?;

    let mut gcfg = dampwatch_gateway::Config::default().with_pki_dir(&pki);
    gcfg.listen.address = args.gateway;
    gcfg.listen.metrics_address = gcfg.listen.metrics_address.map(free_or_any);
    let gateway = Gateway::start(gcfg).await.map_err(|e| {
        anyhow::anyhow!("{e:#}\n(is another demo or gateway already using {}? pass --gateway)", args.gateway)
    })?;
    // The collector migrates as the owner, then works and serves the API on its own logins.
    let mut ccfg = dampwatch_collector::Config::default().with_pki_dir(&pki).with_database(&db_url, &logins);
    ccfg.mqtt.port = gateway.local_addr().port();
    for address in [&mut ccfg.http.address, &mut ccfg.metrics.address] {
        if let Ok(addr) = address.parse() {
            *address = free_or_any(addr).to_string();
        }
    }
    let collector = Collector::start(ccfg).await?;
    let mut setup_db = dampwatch_store::connect(&db_url).await?;
    let first_start = crate::demo_landlord::prepare(&mut setup_db).await?;
    drop(setup_db);

    writeln!(out, "data directory:   {}", dir.display())?;
    // The URL carries the cluster's password: shown without it; `DIR/database-url` (0600) and
    // `DIR/postgres/password` hold it for the commands that take `--data-dir`.
    writeln!(out, "database:         {}", dampwatch_store::redacted(&db_url))?;
    writeln!(out, "gateway (mTLS):   {}", gateway.local_addr())?;
    if let Some(m) = gateway.metrics_addr() {
        writeln!(out, "gateway metrics:  http://{m}/metrics")?;
    }
    if let Some(m) = collector.metrics_addr() {
        writeln!(out, "collector metrics: http://{m}/metrics")?;
    }
    if let Some(api) = collector.api_url() {
        let ca = dampwatch_pki::Paths::new(&pki).ca_cert();
        writeln!(out, "dashboard:        {api}/ (its certificate is from the development CA {}: trust it or accept the browser's warning)", ca.display())?;
        match &first_start {
            Some(first) => {
                writeln!(
                    out,
                    "first sign-in:    {} with the password {} (shown this once; an administrator sets up an authenticator app at first sign-in)",
                    crate::demo_landlord::ADMIN_EMAIL,
                    first.admin_password
                )?;
                writeln!(
                    out,
                    "example cases:    {} reported by tenants in home EXAMPLE-1 ({})",
                    first.example_cases.len(),
                    first.example_cases.join(", ")
                )?;
            }
            None => writeln!(
                out,
                "sign in:          as before ({}; a new password: dampwatch users --data-dir {} reset-password {})",
                crate::demo_landlord::ADMIN_EMAIL,
                dir.display(),
                crate::demo_landlord::ADMIN_EMAIL
            )?,
        }
        writeln!(out, "landlord API:     {api}/v1/cases (OpenAPI: {api}/openapi.json)")?;
        writeln!(out, "API certificate:  signed by the development CA {}", ca.display())?;
        writeln!(
            out,
            "try it:           curl --cacert {} -H \"Authorization: Bearer KEY\" {api}/v1/cases",
            ca.display()
        )?;
        writeln!(
            out,
            "API key:          dampwatch api-keys --data-dir {} create --landlord {} --label me",
            dir.display(),
            crate::demo_landlord::LANDLORD
        )?;
    }
    writeln!(out, "more devices:     dampwatch sim --data-dir {} --provision --devices 200", dir.display())?;
    out.flush()?;

    let devices = crate::demo_devices::start(
        &dir,
        &pki,
        &db_url,
        gateway.local_addr(),
        args.devices,
        args.duration,
        "demo-",
    );
    let db = dampwatch_store::connect(&db_url).await?;
    let stored =
        || async { db.query_one("SELECT count(*) FROM readings", &[]).await.map(|r| r.get::<_, i64>(0)) };
    // The collector's own counter: counting the table would scan a growing table every few
    // seconds, competing with the ingest it reports on.
    report_until_end(args.duration, args.report_every, out, |out| {
        writeln!(out, "stored readings this run: {}", collector.metrics().readings_stored.get())
    })
    .await?;
    let summary = devices.finish().await;
    if let Some(s) = summary {
        writeln!(out, "{s}")?;
    }
    collector.shutdown().await;
    gateway.shutdown().await;
    drop(url_file);
    // Once, at the end: everything in the database, earlier runs' readings included.
    writeln!(out, "stored readings: {}", stored().await?)?;
    drop(db);
    drop(pg);
    Ok(())
}

/// Calls `report` every `every_s` seconds until `duration` has passed, or until Ctrl-C without
/// one: the progress lines of `dampwatch demo` and `dampwatch cluster demo`.
pub(crate) async fn report_until_end(
    duration: Option<Duration>,
    every_s: u64,
    out: &mut dyn Write,
    mut report: impl FnMut(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(Duration::from_secs(every_s.max(1)));
    tick.tick().await;
    let ended = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    tokio::pin!(ended);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                report(out)?;
                out.flush()?;
            }
            _ = &mut ended => return Ok(()),
        }
    }
}

/// The default ports are convenient to remember, but a second demo (or a test) must
/// not fail because they are taken: then any free port is used (and printed).
fn free_or_any(addr: SocketAddr) -> SocketAddr {
    match std::net::TcpListener::bind(addr) {
        Ok(_) => addr,
        Err(_) => SocketAddr::new(addr.ip(), 0),
    }
}
