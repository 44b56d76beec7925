//! The read model: alerts, cases, their deadlines, devices, a room's history and rooms' risk
//! levels as landlords
//! see them, and the SQL that loads them. The landlord API answers with these types and the
//! webhooks carry them, so a receiver and an API client read the same fields under the same
//! names; the OpenAPI schemas of both are derived from these types (`utoipa`).
//!
//! Every loader takes a [`GenericClient`] (a client or a transaction) and names no landlord:
//! the API runs them in a tenant transaction, where row-level security confines them to the
//! caller's landlord; the hazard worker runs them in the transaction that wrote the rows.
//!
//! One word per idea: where something stands is its `status` (an alert, a case, a deadline, a
//! device); where it is, its `room` ([`Room`]), the same shape everywhere.

pub mod alert;
pub mod case;
pub mod deadline;
pub mod device;
pub mod device_health;
pub mod room_history;
pub mod room_risk;

use serde::Serialize;
use tokio_postgres::{GenericClient, Row};
use utoipa::ToSchema;

pub use alert::{
    Alert, AlertDuty, AlertEpisode, AlertFilter, AlertStatus, AlertTriage, Severity, TriageReview,
};
pub use case::{Case, CaseDetail, CaseEventRecord, CaseFilter, LogHead};
pub use deadline::{Deadline, RecordedLate};
pub use device::{Device, DeviceFilter, DeviceStatus};
pub use device_health::DeviceHealth;
pub use room_history::{HourlyMean, RoomHome, StoredSample};
pub use room_risk::{RiskLevel, RoomRisk, RoomRiskFilter};

/// Where an alert, a case or a device is: a registered room, or a device placed in no room,
/// which is watched as a room of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Room {
    /// `room:<id>`, or `device:<id>` for a device placed in no room.
    #[schema(pattern = "^(room|device):.+$")]
    pub key: String,
    #[schema(required = true)]
    pub room_id: Option<i64>,
    #[schema(required = true)]
    pub room_name: Option<String>,
    #[schema(required = true)]
    pub dwelling_id: Option<i64>,
    /// The landlord's reference for the home.
    #[schema(required = true)]
    pub dwelling_reference: Option<String>,
    #[schema(required = true)]
    pub dwelling_address: Option<String>,
    /// The device, when the key names a device rather than a room.
    #[schema(required = true)]
    pub device_id: Option<String>,
}

/// The joins that give a [`Room`] for a table aliased `t` with `room_id` (and, in
/// [`ROOM_COLUMNS`], `room_key` and `device_id`) columns.
const ROOM_JOIN: &str = "LEFT JOIN rooms r ON r.id = t.room_id LEFT JOIN dwellings d ON d.id = r.dwelling_id";

/// The select list of a [`Room`] of a row that records its room key: seven columns in
/// [`room`]'s order.
const ROOM_COLUMNS: &str = "t.room_key, t.room_id, r.name, d.id, d.reference, d.address, t.device_id";

/// Reads a [`Room`] from seven columns starting at `at`.
fn room(row: &Row, at: usize) -> Result<Room, tokio_postgres::Error> {
    Ok(Room {
        key: row.try_get(at)?,
        room_id: row.try_get(at + 1)?,
        room_name: row.try_get(at + 2)?,
        dwelling_id: row.try_get(at + 3)?,
        dwelling_reference: row.try_get(at + 4)?,
        dwelling_address: row.try_get(at + 5)?,
        device_id: row.try_get(at + 6)?,
    })
}

/// Runs `sql` and reads every row with `read`.
async fn load<C, T>(
    client: &C,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    read: impl Fn(&Row) -> Result<T, tokio_postgres::Error>,
) -> Result<Vec<T>, tokio_postgres::Error>
where
    C: GenericClient + Sync,
{
    client.query(sql, params).await?.iter().map(read).collect()
}

/// A text column whose values are a closed set (a `CHECK` constraint holds it to them), read
/// into an enum; a value outside the set is an error, not a guess. The texts are the variants'
/// names in snake_case (serde's and the schema's `rename_all`); a test checks they agree.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and serialised text.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<'a> tokio_postgres::types::FromSql<'a> for $name {
            fn from_sql(
                ty: &tokio_postgres::types::Type,
                raw: &'a [u8],
            ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
                match <&str as tokio_postgres::types::FromSql>::from_sql(ty, raw)? {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("{other:?} is not a known {}", stringify!($name)).into()),
                }
            }

            fn accepts(ty: &tokio_postgres::types::Type) -> bool {
                <&str as tokio_postgres::types::FromSql>::accepts(ty)
            }
        }
    };
}
pub(crate) use text_enum;

#[cfg(test)]
mod tests {
    use super::*;

    fn serialises_as_stored<T>(values: &[T], text: impl Fn(&T) -> &'static str)
    where
        T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        for value in values {
            let json = serde_json::to_value(value).unwrap();
            assert_eq!(json, text(value), "{value:?}");
            assert_eq!(&serde_json::from_value::<T>(json).unwrap(), value);
        }
    }

    #[test]
    fn text_enums_serialise_as_their_stored_text() {
        serialises_as_stored(AlertStatus::ALL, |v| v.as_str());
        serialises_as_stored(Severity::ALL, |v| v.as_str());
        serialises_as_stored(AlertTriage::ALL, |v| v.as_str());
        serialises_as_stored(AlertDuty::ALL, |v| v.as_str());
        serialises_as_stored(DeviceStatus::ALL, |v| v.as_str());
        serialises_as_stored(RiskLevel::ALL, |v| v.as_str());
        assert_eq!(DeviceStatus::Revoked.to_string(), "revoked");
    }

    #[test]
    fn the_schemas_of_text_enums_list_the_stored_texts() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(AlertTriage::schema()).unwrap();
        let texts: Vec<&str> = AlertTriage::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(schema["enum"], serde_json::json!(texts));
    }
}
