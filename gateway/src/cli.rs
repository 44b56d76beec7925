//! The gateway's command line, shared by `dampwatch-gateway` and `dampwatch gateway`.

use crate::{config::default_config, Config, Gateway};
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Runs the gateway from a configuration file.
#[derive(Args, Debug, Clone)]
pub struct GatewayArgs {
    /// Configuration file (TOML); without it the built-in defaults are used.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Take the CA, gateway certificate and CRL from this `dampwatch pki init` directory.
    #[arg(long)]
    pki_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<GatewayCommand>,
}

#[derive(Subcommand, Debug, Clone)]
enum GatewayCommand {
    /// Print the commented default configuration.
    PrintConfig,
}

/// Prints the defaults, or serves until Ctrl-C or SIGTERM and then shuts down gracefully.
pub async fn run(args: GatewayArgs) -> anyhow::Result<()> {
    if let Some(GatewayCommand::PrintConfig) = args.command {
        print!("{}", default_config());
        return Ok(());
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,rumqttd=warn".parse().expect("static filter")),
        )
        .try_init();
    let mut cfg = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(dir) = &args.pki_dir {
        cfg = cfg.with_pki_dir(dir);
    }
    // Every connection the limits allow holds a file descriptor, plus a few for the broker.
    let l = &cfg.limits;
    let connections = l.max_connections + l.max_handshakes + l.service_connections;
    match crate::rlimit::raise_open_files_limit() {
        Ok(n) if (n as usize) < connections + 64 => tracing::warn!(
            open_files = n,
            connections,
            "the open-file limit is below limits.max_connections + max_handshakes + service_connections; \
             connections will fail before the caps"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
    let gateway = Gateway::start(cfg).await?;
    println!("dampwatch-gateway listening on {}", gateway.local_addr());
    if let Some(m) = gateway.metrics_addr() {
        println!("metrics on http://{m}/metrics");
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    gateway.shutdown().await;
    Ok(())
}
