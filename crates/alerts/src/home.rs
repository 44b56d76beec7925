//! A home's tenancy (jurisdiction and tenure) and its occupants' recorded vulnerabilities:
//! what decides which law's clock a case runs under and which cold and heat rules judge its
//! rooms.
//!
//! The vulnerabilities are health data: they are kept sealed under the landlord's data key
//! (`dampwatch_privacy::occupants`), so recording them needs the master key. What the rules
//! need is kept in clear beside them, written in the same statement: the stricter rules they
//! select (`dwellings.occupant_rules`, from the occupant data of `dampwatch-indicators`).
//!
//! A device that is not placed in a home has no recorded tenancy; its alerts and cases run
//! under the default, an English social home (what every home was before tenancies were
//! recorded), with no stricter rules.

use std::collections::BTreeSet;

use dampwatch_clock::{Jurisdiction, Tenancy, Tenure};
use dampwatch_indicators::{OccupantRules, Vulnerability};
use dampwatch_privacy::occupants::record_occupants;
use dampwatch_privacy::MasterKey;
use tokio_postgres::{GenericClient, Transaction};

use crate::error::AlertsError;

/// What the rules and the clock need to know about a home.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HomeProfile {
    /// Where it is and how it is let.
    pub tenancy: Tenancy,
    /// The ids of the stricter rules its occupants' (sealed) vulnerabilities select.
    pub occupant_rules: BTreeSet<String>,
}

/// A home as listed by `dampwatch homes list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    pub landlord_id: String,
    pub reference: String,
    pub address: String,
    /// The landlord's area (patch, estate) for the home; empty when none is recorded.
    pub area: String,
    pub profile: HomeProfile,
    pub rooms: i64,
}

/// `england` → [`Jurisdiction::England`]; the stored identifiers of dampwatch-clock.
pub fn parse_jurisdiction(value: &str) -> Result<Jurisdiction, AlertsError> {
    Jurisdiction::ALL
        .into_iter()
        .find(|j| j.as_str() == value)
        .ok_or_else(|| AlertsError::UnknownValue { what: "jurisdiction", value: value.to_owned() })
}

/// `private_rented` → [`Tenure::PrivateRented`].
pub fn parse_tenure(value: &str) -> Result<Tenure, AlertsError> {
    Tenure::ALL
        .into_iter()
        .find(|t| t.as_str() == value)
        .ok_or_else(|| AlertsError::UnknownValue { what: "tenure", value: value.to_owned() })
}

fn profile_from(
    jurisdiction: &str,
    tenure: &str,
    occupant_rules: Vec<String>,
) -> Result<HomeProfile, AlertsError> {
    Ok(HomeProfile {
        tenancy: Tenancy::new(parse_jurisdiction(jurisdiction)?, parse_tenure(tenure)?),
        occupant_rules: occupant_rules.into_iter().collect(),
    })
}

/// The profile of the home a room is in; the default for a device not placed in a room.
pub async fn profile_of_room<C: GenericClient>(
    client: &C,
    room_id: Option<i64>,
) -> Result<HomeProfile, AlertsError> {
    let Some(room_id) = room_id else {
        return Ok(HomeProfile::default());
    };
    let row = client
        .query_opt(
            "SELECT d.jurisdiction, d.tenure, d.occupant_rules
             FROM rooms r JOIN dwellings d ON d.id = r.dwelling_id WHERE r.id = $1",
            &[&room_id],
        )
        .await?;
    match row {
        Some(row) => profile_from(row.get(0), row.get(1), row.get(2)),
        None => Ok(HomeProfile::default()),
    }
}

/// What `dampwatch homes set` changes; `None` leaves a field as it is. Its `Debug` says how
/// many vulnerabilities, never which (they are health data, kept only sealed).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HomeChange {
    pub jurisdiction: Option<Jurisdiction>,
    pub tenure: Option<Tenure>,
    pub vulnerabilities: Option<BTreeSet<Vulnerability>>,
    /// The landlord's area for the home (`Some("")` clears it).
    pub area: Option<String>,
}

impl std::fmt::Debug for HomeChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HomeChange")
            .field("jurisdiction", &self.jurisdiction)
            .field("tenure", &self.tenure)
            .field("vulnerabilities", &self.vulnerabilities.as_ref().map(|v| format!("{} recorded", v.len())))
            .field("area", &self.area)
            .finish()
    }
}

/// Records a home's tenancy and occupants, in `tx`. The vulnerabilities are sealed under the
/// landlord's data key, so changing them to anything but none needs `master`; the stricter
/// rules they select are recorded with them. Open cases keep the tenancy they were opened
/// under; new cases and the rules from the next reading on use the new values. `None` when
/// the landlord has no such home.
pub async fn set_home(
    tx: &Transaction<'_>,
    master: Option<&dyn MasterKey>,
    landlord_id: &str,
    reference: &str,
    change: &HomeChange,
) -> Result<Option<HomeProfile>, AlertsError> {
    let Some(home) = tx
        .query_opt(
            "SELECT id FROM dwellings WHERE landlord_id = $1 AND reference = $2",
            &[&landlord_id, &reference],
        )
        .await?
    else {
        return Ok(None);
    };
    let dwelling_id: i64 = home.get(0);
    // The occupants first: sealing takes the landlord's key before the home's row, the order a
    // rotation takes them in.
    if let Some(vulnerabilities) = &change.vulnerabilities {
        let rules = OccupantRules::embedded().expect("the embedded occupant rules are valid");
        let names: BTreeSet<String> = vulnerabilities.iter().map(|v| v.slug().to_owned()).collect();
        record_occupants(tx, master, landlord_id, dwelling_id, &names, &rules.select(vulnerabilities))
            .await?;
    }
    let row = tx
        .query_one(
            "UPDATE dwellings SET jurisdiction = coalesce($2, jurisdiction), tenure = coalesce($3, tenure),
                 area = coalesce($4, area)
             WHERE id = $1
             RETURNING jurisdiction, tenure, occupant_rules",
            &[
                &dwelling_id,
                &change.jurisdiction.map(Jurisdiction::as_str),
                &change.tenure.map(Tenure::as_str),
                &change.area.as_deref().map(str::trim),
            ],
        )
        .await?;
    profile_from(row.get(0), row.get(1), row.get(2)).map(Some)
}

/// Every home (of one landlord, if given), by landlord and reference.
pub async fn list_homes<C: GenericClient>(
    client: &C,
    landlord_id: Option<&str>,
) -> Result<Vec<Home>, AlertsError> {
    let rows = client
        .query(
            "SELECT d.landlord_id, d.reference, d.address, d.jurisdiction, d.tenure, d.occupant_rules,
                    (SELECT count(*) FROM rooms r WHERE r.dwelling_id = d.id), d.area
             FROM dwellings d WHERE $1::text IS NULL OR d.landlord_id = $1
             ORDER BY d.landlord_id, d.reference",
            &[&landlord_id],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Home {
                landlord_id: r.get(0),
                reference: r.get(1),
                address: r.get(2),
                profile: profile_from(r.get(3), r.get(4), r.get(5))?,
                rooms: r.get(6),
                area: r.get(7),
            })
        })
        .collect()
}
