//! `dampwatch-collector`: runs the collector from a configuration file.
use clap::{Parser, Subcommand};
use dampwatch_collector::{config::default_config, Collector, Config};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "dampwatch-collector",
    version,
    about = "Stores every Dampwatch reading exactly once in PostgreSQL"
)]
struct Cli {
    /// Configuration file (TOML); without it the built-in defaults are used.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Take the CA and the collector's certificate from this `dampwatch pki init` directory.
    #[arg(long)]
    pki_dir: Option<PathBuf>,
    /// PostgreSQL URL (overrides the file); without one, a private cluster under the data dir.
    #[arg(long, env = "DAMPWATCH_DATABASE_URL")]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print the commented default configuration.
    PrintConfig,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::PrintConfig) = cli.command {
        print!("{}", default_config());
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info".parse().expect("static filter")),
        )
        .init();
    let mut cfg = match &cli.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(dir) = &cli.pki_dir {
        cfg = cfg.with_pki_dir(dir);
    }
    if let Some(url) = cli.database_url {
        cfg.database.url = url;
    }
    let collector = Collector::start(cfg).await?;
    println!("dampwatch-collector storing into {}", dampwatch_store::redacted(collector.db_url()));
    if let Some(api) = collector.api_url() {
        println!("landlord API on {api}/v1/ (OpenAPI: {api}/openapi.json)");
    }
    if let Some(m) = collector.metrics_addr() {
        println!("metrics on http://{m}/metrics");
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    collector.shutdown().await;
    Ok(())
}
