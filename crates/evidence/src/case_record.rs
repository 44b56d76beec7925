//! `case.json`: the case as the `cases` row holds it, with the home and room it concerns.
//! What the deadlines are recomputed from besides the events: the tenancy (which law), the
//! hazard, when the potential issue was recorded and the awareness policy.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::timestamp;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseRecord {
    pub id: i64,
    pub landlord_id: String,
    /// `room:<id>`, or `device:<id>` for a device placed in no room (watched as its own room).
    pub room_key: String,
    pub room_id: Option<i64>,
    pub device_id: Option<String>,
    pub room_name: Option<String>,
    pub dwelling_reference: Option<String>,
    pub address: Option<String>,
    /// HHSRS hazard slug as first recorded (triage may correct it: see the events).
    pub hazard: String,
    #[serde(with = "timestamp")]
    pub opened_at: DateTime<Utc>,
    #[serde(with = "timestamp::option")]
    pub awareness: Option<DateTime<Utc>>,
    /// `at_detection` or `at_triage`.
    pub awareness_policy: String,
    pub case_policy: String,
    pub alert_id: Option<i64>,
    /// When the condition behind the alert began (data time), if an alert opened the case.
    #[serde(with = "timestamp::option")]
    pub alert_since: Option<DateTime<Utc>>,
    pub state: String,
    pub track: Option<String>,
    /// How many events the case had at export: `events.jsonl` holds exactly these.
    pub event_count: i32,
    pub jurisdiction: String,
    pub tenure: String,
}
