//! `dampwatch homes set|list`: where each home is, how it is let, and which occupant
//! vulnerabilities its rules must allow for.

use std::collections::BTreeSet;
use std::io::Write;

use dampwatch_clock::{Jurisdiction, Tenure};
use dampwatch_indicators::{OccupantRules, Vulnerability};
use tokio_postgres::GenericClient;

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
        /// `none` clears them. Only these categories are kept, never health details.
        #[arg(long, value_parser = vulnerabilities)]
        vulnerable: Option<BTreeSet<Vulnerability>>,
        /// The area (patch, estate, district) housing officers file the home under, as the
        /// dashboard's board filters it; `""` clears it. At most 100 characters.
        #[arg(long)]
        area: Option<String>,
    },
    /// Every home with its tenancy, vulnerabilities and number of rooms.
    List {
        /// Only this landlord's homes.
        #[arg(long)]
        landlord: Option<String>,
    },
}

/// Runs a `dampwatch homes` command on `db`, writing to `out`.
pub async fn run(command: HomesCommand, db: &impl GenericClient, out: &mut dyn Write) -> anyhow::Result<()> {
    match command {
        HomesCommand::Set { landlord, dwelling, jurisdiction, tenure, vulnerable, area } => {
            if area.as_ref().is_some_and(|a| a.chars().count() > 100) {
                anyhow::bail!("an area is at most 100 characters");
            }
            let change = HomeChange { jurisdiction, tenure, vulnerabilities: vulnerable, area };
            let Some(profile) = set_home(db, &landlord, &dwelling, &change).await? else {
                anyhow::bail!(
                    "landlord {landlord} has no home {dwelling:?}; homes come into being when a device is \
                     placed in one (`dampwatch devices move --dwelling {dwelling} --room ROOM`)"
                );
            };
            let list = profile.vulnerabilities.iter().map(|v| v.slug()).collect::<Vec<_>>().join(",");
            writeln!(
                out,
                "home {dwelling} of {landlord}: {} {}, vulnerabilities: {}",
                profile.tenancy.jurisdiction,
                profile.tenancy.tenure,
                if list.is_empty() { "none" } else { &list }
            )?;
            // What the record changes for the hazard rules, so the operator sees it at once.
            let rules = OccupantRules::embedded().map_err(|e| anyhow::anyhow!("{e}"))?;
            let selected: Vec<String> = rules
                .stricter()
                .iter()
                .filter(|s| !s.applies_to.is_disjoint(&profile.vulnerabilities))
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
                "{:<20}  {:<16}  {:<16}  {:<12}  {:<14}  {:>5}  VULNERABILITIES",
                "LANDLORD", "DWELLING", "AREA", "JURISDICTION", "TENURE", "ROOMS"
            )?;
            for h in list_homes(db, landlord.as_deref()).await? {
                let list = h.profile.vulnerabilities.iter().map(|v| v.slug()).collect::<Vec<_>>().join(",");
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
