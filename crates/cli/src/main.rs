//! `dampwatch`: the operator's command.
mod cluster_demo;
mod demo;
mod demo_devices;
mod demo_landlord;

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
    /// Dampwatch across machines, on one: a three-node NATS JetStream cluster, two gateways
    /// and two collectors on loopback (`dampwatch cluster demo`).
    #[command(subcommand)]
    Cluster(cluster_demo::ClusterCommand),
    /// Simulated homes running the real firmware core against a gateway (also the load
    /// generator). Defaults match `dampwatch demo`.
    Sim(dampwatch_sim::SimArgs),
    /// The device registry: add, list, move (place in a dwelling and room), revoke.
    #[command(subcommand)]
    Devices(dampwatch::devices::DevicesCommand),
    /// API keys for landlords (only their SHA-256 hashes are stored).
    ApiKeys(ApiKeysArgs),
    /// People who sign in: add (with a password-setup token), list, disable, enable,
    /// reset-mfa, set-role, reset-password, unlock.
    Users(UsersArgs),
    /// Landlords: add, list, erase (their personal data for good, and their readings).
    Landlords(LandlordsArgs),
    /// Tenancies of a home: add (people's details stored only sealed), show (opened).
    #[command(subcommand)]
    Tenancies(dampwatch::privacy::TenanciesCommand),
    /// Personal data's keys: the master key, a landlord's data key rotation, re-wrapping under
    /// a new master key.
    #[command(subcommand)]
    Privacy(dampwatch::privacy::PrivacyCommand),
    /// Landlords' webhook endpoints and dead-lettered webhooks.
    Webhooks(WebhooksArgs),
    /// E-mail notifications: failures, and addresses the mail system reported as bouncing.
    Email(EmailArgs),
    /// The tamper-evident audit log: export, verify an export offline, sign the head now.
    #[command(subcommand)]
    Audit(dampwatch::audit::AuditCommand),
    /// A case's evidence pack: export it (sealed with the audit key), verify one offline.
    #[command(subcommand)]
    Evidence(dampwatch::evidence::EvidenceCommand),
    /// Encrypted backups: the backup key, a backup, its restore into a new database and the
    /// re-verification of every uplink and chain.
    #[command(subcommand)]
    Backup(dampwatch::backup::BackupCommand),
    /// The retention policy in force, the dry run of what it deletes, a round now.
    #[command(subcommand)]
    Retention(dampwatch::retention::RetentionCommand),
    /// Legal holds: keep a home's evidence from deletion while a complaint, dispute or claim
    /// runs.
    #[command(subcommand)]
    Holds(dampwatch::retention::HoldsCommand),
    /// Homes: jurisdiction, tenure and occupants' vulnerabilities (which law and rules apply).
    Homes(HomesArgs),
    /// The device gateway (the same as `dampwatch-gateway`).
    Gateway(dampwatch_gateway::cli::GatewayArgs),
    /// Benchmarks that set up everything they need themselves.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Device PKI: certificate authority, device credentials, revocation.
    #[command(subcommand)]
    Pki(dampwatch_pki::cli::PkiCommand),
    /// Awaab's Law deadlines, computed as a housing officer would by hand.
    #[command(subcommand)]
    Clock(dampwatch_clock::cli::ClockCommand),
    /// Read a logger export (time,temperature,rh) and add dew point and VTT mould index, with
    /// the hours it covered and the gaps it could not see.
    Mould(dampwatch_indicators::csv_tool::MouldArgs),
}

#[derive(clap::Args)]
struct ApiKeysArgs {
    #[command(flatten)]
    target: dampwatch::devices::Target,
    #[command(subcommand)]
    command: dampwatch_api::cli::ApiKeysCommand,
}

#[derive(clap::Args)]
struct UsersArgs {
    #[command(flatten)]
    target: dampwatch::devices::Target,
    #[command(subcommand)]
    command: dampwatch::people::UsersCommand,
}

#[derive(clap::Args)]
struct LandlordsArgs {
    #[command(flatten)]
    target: dampwatch::devices::Target,
    #[command(subcommand)]
    command: dampwatch::people::LandlordsCommand,
}

#[derive(clap::Args)]
struct WebhooksArgs {
    #[command(flatten)]
    target: dampwatch::devices::Target,
    #[command(subcommand)]
    command: dampwatch_alerts::cli::WebhooksCommand,
}

#[derive(clap::Args)]
struct EmailArgs {
    #[command(flatten)]
    target: dampwatch::devices::Target,
    #[command(subcommand)]
    command: dampwatch_alerts::email::cli::EmailCommand,
}

#[derive(clap::Args)]
struct HomesArgs {
    #[command(flatten)]
    target: dampwatch::devices::Target,
    #[command(subcommand)]
    command: dampwatch_alerts::home_cli::HomesCommand,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// The gateway against Mosquitto: idle connections and memory, handshakes/s, publishes/s.
    Gateway(dampwatch_gateway::bench::GatewayBenchArgs),
    /// The ingest path: devices to committed rows, collector-only rate, latency, floors.
    Ingest(dampwatch_bench::IngestBenchArgs),
    /// Shape 1 with the embedded broker and with a three-node NATS JetStream cluster as the
    /// upstream, side by side in the same invocation.
    Upstreams(dampwatch_bench::upstreams::UpstreamsBenchArgs),
    /// From the commit of a reading that crosses a hazard threshold to the landlord's webhook.
    Alerts(dampwatch_bench::alerts::AlertsBenchArgs),
    /// Server time of the dashboard's SLA board and room charts for a landlord of 100,000
    /// homes and 5,000 open cases.
    Dashboard(dampwatch_bench::dashboard::DashboardBenchArgs),
    /// The restore drill at size: 10 million signed readings backed up (encrypted), the
    /// database dropped, restored and every uplink and chain re-verified.
    Restore(dampwatch_bench::restore::RestoreBenchArgs),
}

fn multi_thread_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| default.parse().expect("static filter"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command = match cli.command {
        // It logs to stdout from many threads for as long as it serves: not under this
        // thread's stdout lock.
        Command::Gateway(args) => return multi_thread_runtime()?.block_on(dampwatch_gateway::cli::run(args)),
        other => other,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match command {
        Command::Demo(args) => {
            init_logging("warn,rumqttd=off");
            multi_thread_runtime()?.block_on(demo::run(args, &mut out))?;
        }
        Command::Cluster(command) => {
            init_logging("warn,rumqttd=off");
            multi_thread_runtime()?.block_on(cluster_demo::run(command, &mut out))?;
        }
        Command::Sim(args) => {
            init_logging("warn,rumqttd=off");
            let summary = multi_thread_runtime()?.block_on(dampwatch_sim::run(args, &mut out))?;
            if !summary.is_complete() {
                out.flush()?;
                anyhow::bail!("not every reading was confirmed before the drain timeout");
            }
        }
        Command::Devices(cmd) => {
            init_logging("warn");
            multi_thread_runtime()?.block_on(dampwatch::devices::run(cmd, &mut out))?;
        }
        Command::ApiKeys(args) => {
            init_logging("warn");
            multi_thread_runtime()?.block_on(async {
                let db = dampwatch_store::connect(&args.target.database_url()?).await?;
                dampwatch_api::cli::run(args.command, &db, &mut out).await
            })?;
        }
        Command::Users(args) => {
            init_logging("warn");
            multi_thread_runtime()?.block_on(async {
                let mut db = dampwatch_store::connect(&args.target.database_url()?).await?;
                dampwatch::people::run_users(args.command, &mut db, &mut out).await
            })?;
        }
        Command::Landlords(args) => {
            init_logging("warn");
            multi_thread_runtime()?.block_on(async {
                let mut db = dampwatch_store::connect(&args.target.database_url()?).await?;
                dampwatch::people::run_landlords(args.command, &mut db, &args.target.pki_dir(), &mut out)
                    .await
            })?;
        }
        Command::Tenancies(cmd) => {
            init_logging("warn");
            multi_thread_runtime()?.block_on(dampwatch::privacy::run_tenancies(cmd, &mut out))?;
        }
        Command::Privacy(cmd) => {
            init_logging("warn");
            multi_thread_runtime()?.block_on(dampwatch::privacy::run_privacy(cmd, &mut out))?;
        }
        Command::Webhooks(args) => {
            init_logging("warn");
            multi_thread_runtime()?.block_on(async {
                let db = dampwatch_store::connect(&args.target.database_url()?).await?;
                let change = dampwatch::people::webhook_change(&args.command);
                let secrets_key = args.target.pki_dir().join(dampwatch_privacy::secrets_key::KEY_FILE);
                dampwatch_alerts::cli::run(args.command, &db, &secrets_key, &mut out).await?;
                if let Some(change) = change {
                    dampwatch_audit::append(&db, &change).await?;
                }
                anyhow::Ok(())
            })?;
        }
        Command::Email(args) => {
            init_logging("warn");
            multi_thread_runtime()?.block_on(async {
                let mut db = dampwatch_store::connect(&args.target.database_url()?).await?;
                let tx = db.transaction().await?;
                let change = args.command.change();
                let actor = dampwatch_audit::cli_actor();
                dampwatch_alerts::email::cli::run(args.command, &tx, &actor, &mut out).await?;
                if let Some((action, target, details)) = change {
                    let event = dampwatch_audit::Event::by_operator(action, None, Some(target), details);
                    dampwatch_audit::append(&tx, &event).await?;
                }
                tx.commit().await?;
                anyhow::Ok(())
            })?;
        }
        Command::Homes(args) => {
            init_logging("warn");
            multi_thread_runtime()?.block_on(async {
                let mut db = dampwatch_store::connect(&args.target.database_url()?).await?;
                dampwatch_alerts::home_cli::run(args.command, &mut db, &mut out).await
            })?;
        }
        Command::Audit(cmd) => {
            init_logging("warn");
            let verdict = multi_thread_runtime()?.block_on(dampwatch::audit::run(cmd, &mut out))?;
            if verdict == dampwatch::audit::Verdict::Tampered {
                out.flush()?;
                std::process::exit(1);
            }
        }
        Command::Evidence(cmd) => {
            init_logging("warn");
            let verdict = multi_thread_runtime()?.block_on(dampwatch::evidence::run(cmd, &mut out))?;
            if verdict == dampwatch::audit::Verdict::Tampered {
                out.flush()?;
                std::process::exit(1);
            }
        }
        Command::Backup(cmd) => {
            init_logging("warn");
            let verdict = multi_thread_runtime()?.block_on(dampwatch::backup::run(cmd, &mut out))?;
            if verdict == dampwatch::audit::Verdict::Tampered {
                out.flush()?;
                std::process::exit(1);
            }
        }
        Command::Retention(cmd) => {
            init_logging("warn");
            multi_thread_runtime()?.block_on(dampwatch::retention::run(cmd, &mut out))?;
        }
        Command::Holds(cmd) => {
            init_logging("warn");
            multi_thread_runtime()?.block_on(dampwatch::retention::run_holds(cmd, &mut out))?;
        }
        Command::Gateway(_) => unreachable!("served above"),
        Command::Bench(BenchCommand::Gateway(args)) => {
            init_logging("warn,rumqttd=off");
            multi_thread_runtime()?.block_on(dampwatch_gateway::bench::run(args, &mut out))?;
        }
        Command::Bench(BenchCommand::Alerts(args)) => {
            init_logging("warn");
            multi_thread_runtime()?.block_on(dampwatch_bench::alerts::run(args, &mut out))?;
        }
        Command::Bench(BenchCommand::Dashboard(args)) => {
            init_logging("warn,rumqttd=off");
            multi_thread_runtime()?.block_on(dampwatch_bench::dashboard::run(args, &mut out))?;
        }
        Command::Bench(BenchCommand::Restore(args)) => {
            init_logging("warn");
            multi_thread_runtime()?.block_on(dampwatch_bench::restore::run(args, &mut out))?;
        }
        Command::Bench(BenchCommand::Ingest(args)) => {
            init_logging("warn,rumqttd=off");
            multi_thread_runtime()?.block_on(dampwatch_bench::run(args, &mut out))?;
        }
        Command::Bench(BenchCommand::Upstreams(args)) => {
            init_logging("warn,rumqttd=off");
            multi_thread_runtime()?.block_on(dampwatch_bench::upstreams::run(args, &mut out))?;
        }
        Command::Pki(cmd) => dampwatch_pki::cli::run(cmd, &mut out)?,
        Command::Clock(cmd) => dampwatch_clock::cli::run(cmd, &mut out)?,
        Command::Mould(args) => {
            let summary =
                dampwatch_indicators::csv_tool::run_mould(&args, std::io::stdin().lock(), &mut out)?;
            if let Some(report) = summary.skipped_report() {
                eprintln!("{report}");
            }
            // Also on standard error: output redirected to a file must not hide it from the
            // person running the command.
            if let Some(warning) = summary.gap_warning() {
                eprintln!("{warning}");
            }
        }
    }
    out.flush()?;
    Ok(())
}
