//! `dampwatch homes set|list|seal-occupants`: where each home is, how it is let, and which
//! occupant vulnerabilities its rules must allow for (kept sealed: recording them needs the
//! master key, and listing shows only the stricter rules they select).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

use dampwatch_clock::{Jurisdiction, Tenure};
use dampwatch_indicators::{OccupantRules, Vulnerability};
use dampwatch_privacy::{MasterKey, MasterKeyFile};
use tokio_postgres::Client;

use crate::home::{list_homes, parse_jurisdiction, parse_tenure, set_home, HomeChange};

fn jurisdiction(value: &str) -> Result<Jurisdiction, String> {
    parse_jurisdiction(&value.to_lowercase()).map_err(|_| "expected england, scotland or wales".to_owned())
}

fn tenure(value: &str) -> Result<Tenure, String> {
    parse_tenure(&value.to_lowercase().replace('-', "_"))
        .map_err(|_| "expected social or private-rented".to_owned())
}

fn vulnerabilities(value: &str) -> Result<BTreeSet<Vulnerability>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty() && *v != "none")
        .map(|v| v.parse::<Vulnerability>().map_err(|e| e.to_string()))
        .collect()
}

/// Commands under `dampwatch homes`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum HomesCommand {
    /// Record a home's jurisdiction, tenure and occupants' vulnerabilities. Open cases keep
    /// the law they were opened under; new cases and the rules use the new values.
    Set {
        /// The landlord's id.
        #[arg(long)]
        landlord: String,
        /// The home's reference (as given to `dampwatch devices add|move --dwelling`).
        #[arg(long)]
        dwelling: String,
        /// england, scotland or wales.
        #[arg(long, value_parser = jurisdiction)]
        jurisdiction: Option<Jurisdiction>,
        /// social or private-rented.
        #[arg(long, value_parser = tenure)]
        tenure: Option<Tenure>,
        /// Comma-separated: over_65, under_5, respiratory_condition, cardiovascular_condition;
        /// `none` clears them. Only these categories are kept, never health details, and only
        /// sealed under the landlord's data key (so `--master-key` is needed, except for `none`).
        #[arg(long, value_parser = vulnerabilities)]
        vulnerable: Option<BTreeSet<Vulnerability>>,
        /// The master key file that wraps the landlord's data keys (`dampwatch privacy
        /// master-key generate`).
        #[arg(long = "master-key", env = "DAMPWATCH_MASTER_KEY_FILE")]
        master_key: Option<PathBuf>,
        /// The area (patch, estate, district) housing officers file the home under, as the
        /// dashboard's board filters it; `""` clears it. At most 100 characters.
        #[arg(long)]
        area: Option<String>,
    },
    /// Every home with its tenancy, the stricter rules its occupants select and its number of
    /// rooms (the vulnerabilities themselves are sealed: a tenancy's subject access export or a
    /// landlord's export opens them).
    List {
        /// Only this landlord's homes.
        #[arg(long)]
        landlord: Option<String>,
    },
    /// Seal the vulnerabilities recorded in clear by releases before they were sealed (the
    /// schema upgrade keeps them apart, unread, until this runs). Safe to run again.
    SealOccupants {
        /// Only this landlord's homes.
        #[arg(long)]
        landlord: Option<String>,
        /// The master key file that wraps the landlords' data keys.
        #[arg(long = "master-key", env = "DAMPWATCH_MASTER_KEY_FILE")]
        master_key: PathBuf,
    },
}

/// Runs a `dampwatch homes` command on `db`, writing to `out`.
pub async fn run(command: HomesCommand, db: &mut Client, out: &mut dyn Write) -> anyhow::Result<()> {
    match command {
        HomesCommand::Set { landlord, dwelling, jurisdiction, tenure, vulnerable, master_key, area } => {
            if area.as_ref().is_some_and(|a| a.chars().count() > 100) {
                anyhow::bail!("an area is at most 100 characters");
            }
            let master = master_key.as_deref().map(MasterKeyFile::open).transpose()?;
            let change = HomeChange { jurisdiction, tenure, vulnerabilities: vulnerable.clone(), area };
            let tx = db.transaction().await?;
            let set =
                set_home(&tx, master.as_ref().map(|m| m as &dyn MasterKey), &landlord, &dwelling, &change)
                    .await?;
            let Some(profile) = set else {
                anyhow::bail!(
                    "landlord {landlord} has no home {dwelling:?}; homes come into being when a device is \
                     placed in one (`dampwatch devices move --dwelling {dwelling} --room ROOM`)"
                );
            };
            tx.commit().await?;
            let recorded = match &vulnerable {
                None => String::new(),
                Some(set) if set.is_empty() => ", vulnerabilities: none".to_owned(),
                Some(set) => format!(
                    ", vulnerabilities: {} (sealed)",
                    set.iter().map(|v| v.slug()).collect::<Vec<_>>().join(",")
                ),
            };
            writeln!(
                out,
                "home {dwelling} of {landlord}: {} {}{recorded}",
                profile.tenancy.jurisdiction, profile.tenancy.tenure,
            )?;
            // What the record changes for the hazard rules, so the operator sees it at once.
            let rules = OccupantRules::embedded().map_err(|e| anyhow::anyhow!("{e}"))?;
            let selected: Vec<String> = rules
                .stricter()
                .iter()
                .filter(|s| profile.occupant_rules.contains(&s.rule.id))
                .map(|s| format!("{} instead of {}", s.rule.id, s.replaces))
                .collect();
            if !selected.is_empty() {
                writeln!(
                    out,
                    "its rooms are judged from their next reading by the stricter rules for these occupants \
                     ({}): {} (each where at least as strict as the configured rule)",
                    rules.version(),
                    selected.join(", ")
                )?;
            }
        }
        HomesCommand::List { landlord } => {
            writeln!(
                out,
                "{:<20}  {:<16}  {:<16}  {:<12}  {:<14}  {:>5}  STRICTER RULES",
                "LANDLORD", "DWELLING", "AREA", "JURISDICTION", "TENURE", "ROOMS"
            )?;
            for h in list_homes(&*db, landlord.as_deref()).await? {
                let list = h.profile.occupant_rules.iter().map(String::as_str).collect::<Vec<_>>().join(",");
                writeln!(
                    out,
                    "{:<20}  {:<16}  {:<16}  {:<12}  {:<14}  {:>5}  {}",
                    h.landlord_id,
                    h.reference,
                    if h.area.is_empty() { "-" } else { &h.area },
                    h.profile.tenancy.jurisdiction,
                    h.profile.tenancy.tenure,
                    h.rooms,
                    if list.is_empty() { "-" } else { &list }
                )?;
            }
        }
        HomesCommand::SealOccupants { landlord, master_key } => {
            let master = MasterKeyFile::open(&master_key)?;
            let tx = db.transaction().await?;
            let sealed =
                dampwatch_privacy::occupants::seal_unsealed(&tx, &master, landlord.as_deref()).await?;
            tx.commit().await?;
            writeln!(out, "{sealed} homes' recorded vulnerabilities sealed")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_as_people_type_them() {
        assert_eq!(tenure("private-rented"), Ok(Tenure::PrivateRented));
        assert_eq!(jurisdiction("Scotland"), Ok(Jurisdiction::Scotland));
        assert!(jurisdiction("northern_ireland").is_err());
        assert_eq!(
            vulnerabilities("over_65, respiratory_condition"),
            Ok([Vulnerability::Over65, Vulnerability::RespiratoryCondition].into_iter().collect())
        );
        assert_eq!(vulnerabilities("none"), Ok(BTreeSet::new()));
        assert!(vulnerabilities("over_65,frail").is_err());
    }
}
