//! A home's tenancy (jurisdiction and tenure) and its occupants' recorded vulnerabilities:
//! what decides which law's clock a case runs under and which cold and heat rules judge its
//! rooms.
//!
//! A device that is not placed in a home has no recorded tenancy; its alerts and cases run
//! under the default, an English social home (what every home was before tenancies were
//! recorded), with no vulnerabilities.

use std::collections::BTreeSet;

use dampwatch_clock::{Jurisdiction, Tenancy, Tenure};
use dampwatch_indicators::Vulnerability;
use tokio_postgres::GenericClient;

use crate::error::AlertsError;

/// What the rules and the clock need to know about a home.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HomeProfile {
    /// Where it is and how it is let.
    pub tenancy: Tenancy,
    /// Its occupants' recorded vulnerabilities.
    pub vulnerabilities: BTreeSet<Vulnerability>,
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
    vulnerabilities: &[String],
) -> Result<HomeProfile, AlertsError> {
    let vulnerabilities = vulnerabilities
        .iter()
        .map(|v| {
            v.parse::<Vulnerability>().map_err(|_| AlertsError::UnknownValue {
                what: "dwellings.vulnerabilities",
                value: v.clone(),
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(HomeProfile {
        tenancy: Tenancy::new(parse_jurisdiction(jurisdiction)?, parse_tenure(tenure)?),
        vulnerabilities,
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
            "SELECT d.jurisdiction, d.tenure, d.vulnerabilities
             FROM rooms r JOIN dwellings d ON d.id = r.dwelling_id WHERE r.id = $1",
            &[&room_id],
        )
        .await?;
    match row {
        Some(row) => profile_from(row.get(0), row.get(1), &row.get::<_, Vec<String>>(2)),
        None => Ok(HomeProfile::default()),
    }
}

/// What `dampwatch homes set` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HomeChange {
    pub jurisdiction: Option<Jurisdiction>,
    pub tenure: Option<Tenure>,
    pub vulnerabilities: Option<BTreeSet<Vulnerability>>,
    /// The landlord's area for the home (`Some("")` clears it).
    pub area: Option<String>,
}

/// Records a home's tenancy and occupants. Open cases keep the tenancy they were opened
/// under; new cases and the rules from the next reading on use the new values.
pub async fn set_home<C: GenericClient>(
    client: &C,
    landlord_id: &str,
    reference: &str,
    change: &HomeChange,
) -> Result<Option<HomeProfile>, AlertsError> {
    let vulnerabilities: Option<Vec<&str>> =
        change.vulnerabilities.as_ref().map(|set| set.iter().map(|v| v.slug()).collect());
    let row = client
        .query_opt(
            "UPDATE dwellings SET jurisdiction = coalesce($3, jurisdiction), tenure = coalesce($4, tenure),
                 vulnerabilities = coalesce($5, vulnerabilities), area = coalesce($6, area)
             WHERE landlord_id = $1 AND reference = $2
             RETURNING jurisdiction, tenure, vulnerabilities",
            &[
                &landlord_id,
                &reference,
                &change.jurisdiction.map(Jurisdiction::as_str),
                &change.tenure.map(Tenure::as_str),
                &vulnerabilities,
                &change.area.as_deref().map(str::trim),
            ],
        )
        .await?;
    row.map(|r| profile_from(r.get(0), r.get(1), &r.get::<_, Vec<String>>(2))).transpose()
}

/// Every home (of one landlord, if given), by landlord and reference.
pub async fn list_homes<C: GenericClient>(
    client: &C,
    landlord_id: Option<&str>,
) -> Result<Vec<Home>, AlertsError> {
    let rows = client
        .query(
            "SELECT d.landlord_id, d.reference, d.address, d.jurisdiction, d.tenure, d.vulnerabilities,
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
                profile: profile_from(r.get(3), r.get(4), &r.get::<_, Vec<String>>(5))?,
                rooms: r.get(6),
                area: r.get(7),
            })
        })
        .collect()
}
