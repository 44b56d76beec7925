//! Persisting each room's hazard-engine state, and beside it the checkpoints a late reading is
//! replayed from. Rooms are locked in `room_key` order, so workers taking overlapping sets of
//! rooms wait for each other instead of deadlocking, and a room's readings are folded by one
//! worker at a time.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use dampwatch_indicators::{Checkpoint, RoomState};
use dampwatch_store::Prepared;
use serde_json::Value;
use tokio_postgres::Transaction;

use crate::error::AlertsError;
use crate::room::RoomRef;

/// A locked room with its state.
#[derive(Debug, Clone)]
pub struct LockedRoom {
    pub key: String,
    pub room: RoomRef,
    pub landlord_id: String,
    pub state: RoomState,
    /// The stricter rules its home's record of its occupants selects, as it is now (none for a
    /// device not placed in a room): they pick the rules the room is judged by. The
    /// vulnerabilities behind them are sealed; the worker never sees them.
    pub occupant_rules: BTreeSet<String>,
}

/// The columns [`locked_room`] reads, from `room_hazard_state s` with the home's recorded
/// selection of stricter rules; lock with `FOR UPDATE OF s` (the home and room are only read).
pub(crate) const LOCKED_ROOM_SELECT: &str =
    "SELECT s.room_key, s.landlord_id, s.room_id, s.device_id, s.state, coalesce(d.occupant_rules, '{}')
     FROM room_hazard_state s LEFT JOIN rooms r ON r.id = s.room_id LEFT JOIN dwellings d ON d.id = r.dwelling_id";

/// Creates missing state rows for `rooms` (key → room and landlord), then locks them all and
/// returns their states.
pub async fn lock(
    tx: &Transaction<'_>,
    prepared: &mut Prepared,
    rooms: &BTreeMap<String, (RoomRef, String)>,
    ruleset_version: &str,
    now: DateTime<Utc>,
) -> Result<HashMap<String, LockedRoom>, AlertsError> {
    if rooms.is_empty() {
        return Ok(HashMap::new());
    }
    let keys: Vec<&str> = rooms.keys().map(String::as_str).collect();
    let landlords: Vec<&str> = rooms.values().map(|(_, l)| l.as_str()).collect();
    let room_ids: Vec<Option<i64>> = rooms.values().map(|(r, _)| r.room_id()).collect();
    let device_ids: Vec<Option<&str>> = rooms.values().map(|(r, _)| r.device_id()).collect();
    let empty = serde_json::to_string(&RoomState::new()).map_err(AlertsError::json("room state"))?;
    let create = prepared
        .statement(
            tx,
            "INSERT INTO room_hazard_state (room_key, landlord_id, room_id, device_id, state, ruleset_version, evaluated_at)
             SELECT k, l, r, d, $5, $6, $7
             FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[]) AS n (k, l, r, d)
             ORDER BY k
             ON CONFLICT (room_key) DO NOTHING",
        )
        .await?;
    tx.execute(&create, &[&keys, &landlords, &room_ids, &device_ids, &empty, &ruleset_version, &now]).await?;
    let select = prepared
        .statement(
            tx,
            &format!("{LOCKED_ROOM_SELECT} WHERE s.room_key = ANY($1) ORDER BY s.room_key FOR UPDATE OF s"),
        )
        .await?;
    let rows = tx.query(&select, &[&keys]).await?;
    rows.iter().map(|r| locked_room(r).map(|room| (room.key.clone(), room))).collect()
}

/// A state row ([`LOCKED_ROOM_SELECT`]) as read from the database. A state this version cannot read (from an incompatible version) restarts the room
/// from empty rather than stopping every room's processing; any other error (a column of the
/// wrong type, a bug) stops the unit of work, so it can never silently wipe a room.
pub(crate) fn locked_room(r: &tokio_postgres::Row) -> Result<LockedRoom, AlertsError> {
    let (key, landlord_id, room_id, device_id): (String, String, Option<i64>, Option<String>) =
        (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
    // The state is JSON text (migration 0470): read straight from the row's bytes into the
    // state, with no JSON tree in between and no conversion in PostgreSQL.
    let state = match serde_json::from_str::<RoomState>(r.try_get::<_, &str>(4)?) {
        Ok(state) => state,
        Err(e) => {
            tracing::error!(room = %key, error = %e, "stored room state unreadable; starting the room afresh");
            RoomState::new()
        }
    };
    let room = match (room_id, device_id) {
        (Some(id), _) => RoomRef::Room(id),
        (None, Some(d)) => RoomRef::Device(d),
        (None, None) => RoomRef::Device(String::new()),
    };
    // An id this release's occupant data does not know (a newer release's) selects nothing
    // (`OccupantEngines::for_occupants`) rather than stopping the room.
    let occupant_rules = r.try_get::<_, Vec<String>>(5)?.into_iter().collect();
    Ok(LockedRoom { key, room, landlord_id, state, occupant_rules })
}

/// Writes the rooms' states back, all in one statement: at one reading per uplink a unit of
/// work touches as many rooms as it takes readings, and a statement per room would cost a
/// round trip, a parse and a plan for every reading. Each room records the rule set version
/// it was judged by (`version_of`: its occupants may select stricter rules).
pub async fn save_all<'v>(
    tx: &Transaction<'_>,
    prepared: &mut Prepared,
    rooms: &[&LockedRoom],
    version_of: impl Fn(&LockedRoom) -> &'v str,
    now: DateTime<Utc>,
) -> Result<(), AlertsError> {
    if rooms.is_empty() {
        return Ok(());
    }
    let mut sorted: Vec<&LockedRoom> = rooms.to_vec();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    let n = sorted.len();
    let (mut keys, mut states, mut last, mut open, mut coverage, mut levels, mut risks, mut versions) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for room in sorted {
        let json =
            |what: &'static str, v: Result<Value, serde_json::Error>| v.map_err(AlertsError::json(what));
        keys.push(room.key.as_str());
        versions.push(version_of(room));
        // Written straight from the state: no JSON tree in between, stored as the text it is.
        states.push(serde_json::to_string(&room.state).map_err(AlertsError::json("room state"))?);
        last.push(room.state.last_reading_at());
        // text[] per room: a two-dimensional array cannot be ragged, so each goes as JSON.
        let hazards: Vec<&str> = room.state.open_alerts().map(|a| a.hazard.slug()).collect();
        open.push(json("open hazards", serde_json::to_value(hazards))?);
        coverage.push(json("room coverage", serde_json::to_value(room.state.coverage()))?);
        // The room's risk level goes with the alerts it summarises, in the same transaction.
        let risk = room.state.risk();
        levels.push(risk.level.as_str());
        risks.push(json("room risk", serde_json::to_value(&risk))?);
    }
    let update = prepared
        .statement(
            tx,
            "UPDATE room_hazard_state t
             SET state = n.state, ruleset_version = n.ruleset_version, last_reading_at = n.last_reading_at,
                 open_hazards = ARRAY(SELECT jsonb_array_elements_text(n.open_hazards)), evaluated_at = $9,
                 coverage = n.coverage, risk_level = n.risk_level, risk = n.risk
             FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::jsonb[], $5::jsonb[], $6::text[], $7::jsonb[],
                         $8::text[])
                 AS n (room_key, state, last_reading_at, open_hazards, coverage, risk_level, risk, ruleset_version)
             WHERE t.room_key = n.room_key",
        )
        .await?;
    tx.execute(&update, &[&keys, &states, &last, &open, &coverage, &levels, &risks, &versions, &now]).await?;
    Ok(())
}

/// The room's checkpoint taken at `at`, if it is stored.
pub async fn checkpoint(
    tx: &Transaction<'_>,
    room_key: &str,
    at: DateTime<Utc>,
) -> Result<Option<Checkpoint>, AlertsError> {
    let row = tx
        .query_opt(
            "SELECT checkpoint FROM room_hazard_checkpoints WHERE room_key = $1 AND taken_at = $2",
            &[&room_key, &at],
        )
        .await?;
    row.map(|r| serde_json::from_value(r.get(0)).map_err(AlertsError::json("room checkpoint"))).transpose()
}

/// Stores the checkpoints `taken` (replacing any taken at the same time before a replay), then
/// drops the room's checkpoints its state no longer keeps.
pub async fn keep_checkpoints(
    tx: &Transaction<'_>,
    room: &LockedRoom,
    taken: &[Checkpoint],
) -> Result<(), AlertsError> {
    // One row per time, the last taken winning (a replay retakes what it folded again).
    let taken: BTreeMap<DateTime<Utc>, &Checkpoint> = taken.iter().map(|c| (c.at, c)).collect();
    if !taken.is_empty() {
        let times: Vec<DateTime<Utc>> = taken.keys().copied().collect();
        let bodies = taken
            .values()
            .map(serde_json::to_value)
            .collect::<Result<Vec<Value>, _>>()
            .map_err(AlertsError::json("room checkpoint"))?;
        tx.execute(
            "INSERT INTO room_hazard_checkpoints (room_key, taken_at, checkpoint)
             SELECT $1, t, c FROM unnest($2::timestamptz[], $3::jsonb[]) AS n (t, c)
             ON CONFLICT (room_key, taken_at) DO UPDATE SET checkpoint = EXCLUDED.checkpoint",
            &[&room.key, &times, &bodies],
        )
        .await?;
    }
    let kept: Vec<DateTime<Utc>> = room.state.checkpoint_times().collect();
    tx.execute(
        "DELETE FROM room_hazard_checkpoints WHERE room_key = $1 AND taken_at <> ALL($2)",
        &[&room.key, &kept],
    )
    .await?;
    Ok(())
}
