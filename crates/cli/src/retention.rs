//! `dampwatch retention` (the policy in force, the dry run, a round now) and `dampwatch holds`
//! (legal holds on a home's data). The work is the collector's retention job and the store's
//! holds; this parses arguments and prints. Holds opened and released are audited.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use dampwatch_audit::{append, Event};
use dampwatch_collector::retention::policy::{Class, Policy};
use serde_json::json;

use crate::devices::Target;

#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum RetentionCommand {
    /// Print the retention policy in force: each class's period, basis and primary source.
    Policy {
        /// The day to show the policy of (default: today), YYYY-MM-DD.
        #[arg(long)]
        on: Option<chrono::NaiveDate>,
    },
    /// The dry run: what a round would delete now, what legal holds keep, what is kept and why.
    /// Deletes nothing.
    Plan {
        #[command(flatten)]
        target: Target,
        /// The collector's configuration file, whose `[retention]` may override periods.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Run one round now, as the collector's job does every `[retention] interval`.
    Run {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum HoldsCommand {
    /// Hold a home's data (readings, signed uplinks, rollups, closed cases) from deletion.
    Open {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        landlord: String,
        /// The home's reference.
        #[arg(long = "home")]
        home: String,
        /// complaint, dispute or claim.
        #[arg(long)]
        reason: String,
        /// The complaint's, Ombudsman's or court's reference.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Release a hold: the home's data follows the retention policy again.
    Release {
        #[command(flatten)]
        target: Target,
        id: i64,
    },
    /// List holds, open ones first.
    List {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        landlord: Option<String>,
    },
}

fn retention_config(config: Option<PathBuf>) -> anyhow::Result<dampwatch_collector::config::Retention> {
    Ok(match config {
        Some(file) => {
            dampwatch_collector::Config::load(&file)
                .with_context(|| format!("cannot read {}", file.display()))?
                .retention
        }
        None => dampwatch_collector::Config::default().retention,
    })
}

pub async fn run(cmd: RetentionCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    match cmd {
        RetentionCommand::Policy { on } => {
            let day = on.unwrap_or_else(|| chrono::Utc::now().date_naive());
            let policy = Policy::builtin();
            let v = policy.in_force(day);
            writeln!(out, "retention policy {} (in force from {}): {}", v.id, v.effective_from, v.summary)?;
            for class in Class::ALL {
                let rule = v.rule(class);
                let held = if rule.held { ", held for open cases and legal holds" } else { "" };
                writeln!(out, "\n{}: keep {}{held}", class.name(), rule.keep)?;
                writeln!(out, "  basis: {}", rule.basis)?;
                writeln!(out, "  source: {}", rule.source)?;
            }
        }
        RetentionCommand::Plan { target, config } => {
            let cfg = retention_config(config)?;
            let plan =
                dampwatch_collector::retention::plan_for(&target.database_url()?, &cfg, chrono::Utc::now())
                    .await?;
            writeln!(out, "{plan}")?;
        }
        RetentionCommand::Run { target, config } => {
            let cfg = retention_config(config)?;
            let report = dampwatch_collector::retention::run_now(&target.database_url()?, &cfg).await?;
            if !report.ran {
                writeln!(out, "another collector is running a round now; nothing done")?;
            }
            for (table, n) in &report.deleted {
                writeln!(out, "{table}: {n} rows deleted")?;
            }
        }
    }
    Ok(())
}

pub async fn run_holds(cmd: HoldsCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    let actor = dampwatch_audit::cli_actor();
    match cmd {
        HoldsCommand::Open { target, landlord, home, reason, note } => {
            let mut db = dampwatch_store::connect(&target.database_url()?).await?;
            let tx = db.transaction().await?;
            let id = dampwatch_store::holds::open(&tx, &landlord, &home, &reason, &note, &actor).await?;
            let event = Event::by_operator(
                "legal_hold.open",
                Some(landlord.clone()),
                Some(format!("legal_hold:{id}")),
                json!({"home": home, "reason": reason, "note": note}),
            );
            append(&tx, &event).await?;
            tx.commit().await?;
            writeln!(out, "hold {id} open on {landlord}'s home {home} ({reason})")?;
        }
        HoldsCommand::Release { target, id } => {
            let mut db = dampwatch_store::connect(&target.database_url()?).await?;
            let tx = db.transaction().await?;
            let landlord: Option<String> = tx
                .query_opt("SELECT landlord_id FROM legal_holds WHERE id = $1", &[&id])
                .await?
                .map(|r| r.get(0));
            dampwatch_store::holds::release(&tx, id, &actor).await?;
            let event = Event::by_operator(
                "legal_hold.release",
                landlord,
                Some(format!("legal_hold:{id}")),
                json!({}),
            );
            append(&tx, &event).await?;
            tx.commit().await?;
            writeln!(out, "hold {id} released")?;
        }
        HoldsCommand::List { target, landlord } => {
            let db = dampwatch_store::connect(&target.database_url()?).await?;
            for h in dampwatch_store::holds::list(&db, landlord.as_deref()).await? {
                let state = match h.released_at {
                    None => "open".to_owned(),
                    Some(at) => format!("released {}", at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                };
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\topened {} by {}\t{}",
                    h.id,
                    h.landlord_id,
                    h.dwelling_reference,
                    h.reason,
                    state,
                    h.opened_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    h.opened_by,
                    h.note
                )?;
            }
        }
    }
    Ok(())
}
