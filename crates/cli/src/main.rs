//! `dampwatch`: the operator's command.
mod data_dir;
mod demo;
mod demo_devices;

use clap::{Parser, Subcommand};
use std::io::Write;

#[derive(Parser)]
#[command(
    name = "dampwatch",
    version,
    about = "Dampwatch: damp, mould, cold and heat monitoring for rented homes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run everything on embedded defaults: private PostgreSQL, PKI, gateway, collector and
    /// simulated devices.
    Demo(demo::DemoArgs),
    /// Simulated homes running the real firmware core against a gateway (also the load
    /// generator). Defaults match `dampwatch demo`.
    Sim(dampwatch_sim::SimArgs),
    /// Device PKI: certificate authority, device credentials, revocation.
    #[command(subcommand)]
    Pki(dampwatch_pki::cli::PkiCommand),
    /// Awaab's Law deadlines, computed as a housing officer would by hand.
    #[command(subcommand)]
    Clock(dampwatch_clock::cli::ClockCommand),
    /// Read a logger export (time,temperature,rh) and add dew point and VTT mould index.
    Mould(dampwatch_indicators::csv_tool::MouldArgs),
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| default.parse().expect("static filter"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cli.command {
        Command::Demo(args) => {
            init_logging("warn,rumqttd=off");
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(demo::run(args, &mut out))?;
        }
        Command::Sim(args) => {
            init_logging("warn,rumqttd=off");
            let rt = tokio::runtime::Runtime::new()?;
            let summary = rt.block_on(dampwatch_sim::run(args, &mut out))?;
            if !summary.is_complete() {
                out.flush()?;
                anyhow::bail!("not every reading was confirmed before the drain timeout");
            }
        }
        Command::Pki(cmd) => dampwatch_pki::cli::run(cmd, &mut out)?,
        Command::Clock(cmd) => dampwatch_clock::cli::run(cmd, &mut out)?,
        Command::Mould(args) => {
            let summary =
                dampwatch_indicators::csv_tool::run_mould(&args, std::io::stdin().lock(), &mut out)?;
            if let Some(report) = summary.skipped_report() {
                eprintln!("{report}");
            }
        }
    }
    out.flush()?;
    Ok(())
}
