//! The hazard worker's unit of work: one transaction that takes inbox rows, folds their
//! readings into each room's engine state, writes the resulting alerts, cases, deadlines and
//! webhooks, saves the states and deletes the inbox rows, or does none of it. Also the
//! periodic "offline" evaluation of silent rooms.
//!
//! Times: the engine judges readings at data time (the newest reading so far), so a backlog
//! of old readings does not look like silence; "offline" is judged against the wall clock by
//! [`HazardProcessor::evaluate_offline`]. Alerts record both: `since` (data time) and
//! `raised_at` (the detection instant, which is the awareness instant of a case opened at
//! detection).
//!
//! Late readings: a reading older than its room's settled state (a sensor's backlog after an
//! outage) is placed in time order within the engine's late-reading horizon. All such readings
//! of a room in one unit of work are placed by one replay: the room is rewound to the stored
//! checkpoint before the earliest of them and the room's stored readings from there (every
//! sensor's) are folded again, so a replay folds at most a horizon (and a twelfth) of the
//! room's readings. Readings beyond the horizon are counted (by reason, and per room in its
//! coverage), never logged one by one.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use dampwatch_clock::Clock;
use dampwatch_indicators::{
    AlertTransition, Checkpoint, Condition, HazardEngine, IngestError, ReplayFrom, RoomReading,
};
use dampwatch_store::Prepared;
use tokio_postgres::{Client, Transaction};

use crate::alert_store::{self, RoomContext};
use crate::config::{AlertsConfig, ConfigError};
use crate::error::AlertsError;
use crate::inbox;
use crate::occupant_engines::OccupantEngines;
use crate::room::{LeftOut, RoomRef, Skipped, StoredReading};
use crate::room_readings;
use crate::room_state::{self, LockedRoom, LOCKED_ROOM_SELECT};

/// The engines and clock, built once from configuration.
#[derive(Debug, Clone)]
pub struct HazardProcessor {
    /// The configured engine, and one per set of stricter rules a home's occupants select.
    engines: OccupantEngines,
    clock: Clock,
    /// Shortest "no data" period of the rules, and the hazards those rules raise.
    no_data: Option<(chrono::Duration, Vec<String>)>,
    /// A raise this soon (data time) after the clear of the room's last alert of the hazard
    /// opens that alert again.
    quiet_period: chrono::TimeDelta,
}

/// What one unit of work did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Inbox rows consumed.
    pub inbox_rows: usize,
    /// Readings taken by the engine (including repeats it recognised, and late ones placed by
    /// a replay).
    pub readings: usize,
    /// Readings left out of the rules (flagged, incomplete, invalid, or older than the
    /// late-reading horizon): `left_out.total()`.
    pub skipped: usize,
    /// The same, by reason.
    pub left_out: LeftOut,
    /// Readings that arrived after their room's state had moved on and were placed in time
    /// order by a replay.
    pub late: usize,
    /// Rooms folded again from a checkpoint (at most one per room per unit of work).
    pub replays: usize,
    /// Readings those replays folded.
    pub replayed: usize,
    pub rooms: usize,
    pub transitions: usize,
    pub cases_opened: usize,
    /// Webhook outbox rows written.
    pub webhooks: u64,
    /// Advisory events queued for their landlord's daily batch.
    pub batched: u64,
    /// Alerts opened again with a new episode.
    pub reopened: usize,
}

impl BatchOutcome {
    fn add(&mut self, applied: alert_store::Applied) {
        self.transitions += 1;
        self.cases_opened += usize::from(applied.case_opened);
        self.webhooks += applied.webhooks;
        self.batched += applied.batched;
        self.reopened += usize::from(applied.reopened);
    }

    fn leave_out(&mut self, why: Skipped, n: usize) {
        for _ in 0..n {
            self.left_out.add(why);
        }
        self.skipped += n;
    }

    /// Adds another unit of work's counts to these.
    pub fn merge(&mut self, other: &BatchOutcome) {
        self.inbox_rows += other.inbox_rows;
        self.readings += other.readings;
        self.skipped += other.skipped;
        self.left_out.merge(&other.left_out);
        self.late += other.late;
        self.replays += other.replays;
        self.replayed += other.replayed;
        self.rooms += other.rooms;
        self.transitions += other.transitions;
        self.cases_opened += other.cases_opened;
        self.webhooks += other.webhooks;
        self.batched += other.batched;
        self.reopened += other.reopened;
    }
}

/// What folding one room's readings of a unit of work produced.
#[derive(Default)]
struct Folded {
    transitions: Vec<AlertTransition>,
    /// Checkpoints taken, to keep beside the state.
    checkpoints: Vec<Checkpoint>,
    /// Where to replay from to place the late readings, if any arrived.
    replay: Option<ReplayFrom>,
    /// The readings the replay places: the first late one and every later one of the batch.
    deferred: Vec<RoomReading>,
    /// Of those, the ones older than the room's settled state.
    late: usize,
}

impl HazardProcessor {
    /// Builds the engines and the clock; `govuk_bank_holidays` is the text of a gov.uk
    /// `bank-holidays.json`, if the operator supplies one. The occupant rules are the data
    /// compiled into `dampwatch-indicators` ([`OccupantEngines::new`]).
    pub fn new(config: &AlertsConfig, govuk_bank_holidays: Option<&str>) -> Result<Self, ConfigError> {
        let hazards: Vec<String> = config
            .engine
            .rules
            .iter()
            .filter(|r| matches!(r.condition, Condition::NoData { .. }))
            .map(|r| r.hazard.slug().to_owned())
            .collect();
        let engines = OccupantEngines::new(&config.engine)?;
        let clock = Clock::from_config(&config.clock, govuk_bank_holidays)?;
        // Occupants change only cold and heat rules, never the "no data" ones.
        let no_data = engines.base().engine.shortest_silence().map(|s| (s, hazards));
        let quiet_period = chrono::TimeDelta::from_std(config.stories.quiet_period)
            .map_err(|_| ConfigError::Invalid("alerts.stories.quiet_period is too long".to_owned()))?;
        Ok(HazardProcessor { engines, clock, no_data, quiet_period })
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The configured engine (a home recording no vulnerabilities is judged by it).
    pub fn engine(&self) -> &HazardEngine {
        &self.engines.base().engine
    }

    /// The rule set version stored with the alerts of a home recording no vulnerabilities
    /// (the offline period included when not the default).
    pub fn ruleset_version(&self) -> &str {
        &self.engines.base().ruleset_version
    }

    /// The engine `room` is judged by: its home's occupants' (see [`OccupantEngines`]).
    fn engine_for(&self, room: &LockedRoom) -> &HazardEngine {
        &self.engines.for_occupants(&room.occupant_rules).engine
    }

    /// The rule set version `room` records.
    fn version_for(&self, room: &LockedRoom) -> &str {
        &self.engines.for_occupants(&room.occupant_rules).ruleset_version
    }

    /// Consumes up to `limit` inbox rows in one transaction; `now` is the detection instant.
    pub async fn process_inbox(
        &self,
        client: &mut Client,
        prepared: &mut Prepared,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<BatchOutcome, AlertsError> {
        let tx = client.transaction().await?;
        let ranges = inbox::take(&tx, prepared, limit).await?;
        let mut outcome = BatchOutcome { inbox_rows: ranges.len(), ..BatchOutcome::default() };
        if ranges.is_empty() {
            return Ok(outcome);
        }
        let readings = inbox::readings(&tx, prepared, &ranges).await?;
        let mut by_room: BTreeMap<String, (RoomRef, String, Vec<_>)> = BTreeMap::new();
        for r in readings {
            by_room
                .entry(r.room.key())
                .or_insert_with(|| (r.room.clone(), r.landlord_id.clone(), Vec::new()))
                .2
                .push(r);
        }
        let rooms: BTreeMap<String, (RoomRef, String)> = by_room
            .iter()
            .map(|(k, (room, landlord, _))| (k.clone(), (room.clone(), landlord.clone())))
            .collect();
        let mut locked = room_state::lock(&tx, prepared, &rooms, self.ruleset_version(), now).await?;
        outcome.rooms = by_room.len();
        for (key, (_, _, room_readings)) in by_room {
            let Some(room) = locked.get_mut(&key) else { continue };
            let mut folded = self.fold(room, &room_readings, &mut outcome);
            if let Some(from) = folded.replay {
                self.replay(&tx, room, from, &mut folded, &mut outcome).await?;
            }
            self.apply(&tx, room, &folded.transitions, now, &mut outcome).await?;
            if !folded.checkpoints.is_empty() || folded.replay.is_some() {
                room_state::keep_checkpoints(&tx, room, &folded.checkpoints).await?;
            }
        }
        let folded: Vec<&LockedRoom> = locked.values().collect();
        room_state::save_all(&tx, prepared, &folded, |room| self.version_for(room), now).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Takes one room's readings of a unit of work (in sample-time order) into its state. The
    /// first reading too late to fold here names the replay that places it and every later
    /// reading of the batch.
    fn fold(&self, room: &mut LockedRoom, readings: &[StoredReading], outcome: &mut BatchOutcome) -> Folded {
        let mut folded = Folded::default();
        let engine = self.engine_for(room);
        let settled = room.state.settled_until();
        for stored in readings {
            let reading = match stored.for_rules() {
                Ok(r) => r,
                Err(why) => {
                    outcome.leave_out(why, 1);
                    continue;
                }
            };
            if folded.replay.is_some() {
                // Newer than a reading the replay places: the replay folds it too.
                folded.late += usize::from(settled.is_some_and(|s| reading.time < s));
                folded.deferred.push(reading);
                continue;
            }
            // Judge "no data" at data time: a backlog is not silence.
            let data_now = room.state.last_reading_at().map_or(reading.time, |t| t.max(reading.time));
            match engine.ingest(&mut room.state, &reading, data_now) {
                Ok(ingested) => {
                    outcome.readings += 1;
                    folded.transitions.extend(ingested.transitions);
                    folded.checkpoints.extend(ingested.checkpoints);
                }
                Err(IngestError::NeedsReplay { from, .. }) => {
                    folded.late += 1;
                    folded.replay = Some(from);
                    folded.deferred.push(reading);
                }
                // Counted in the room's coverage by the engine, and here by reason.
                Err(IngestError::TooLate { .. }) => outcome.leave_out(Skipped::TooLate, 1),
                Err(IngestError::Invalid(_)) => outcome.leave_out(Skipped::Invalid, 1),
            }
        }
        folded
    }

    /// Places a room's late readings: rewinds it to the checkpoint `from` and folds the room's
    /// stored readings after it again, in time order.
    async fn replay(
        &self,
        tx: &Transaction<'_>,
        room: &mut LockedRoom,
        from: ReplayFrom,
        folded: &mut Folded,
        outcome: &mut BatchOutcome,
    ) -> Result<(), AlertsError> {
        let engine = self.engine_for(room);
        let start = match from.after() {
            Some(at) => room_state::checkpoint(tx, &room.key, at).await?,
            None => None,
        };
        let replayed = if from.after().is_some() && start.is_none() {
            None
        } else {
            let stored = room_readings::after(tx, &room.room, &room.landlord_id, from.after()).await?;
            let readings: Vec<RoomReading> = stored.iter().filter_map(|s| s.for_rules().ok()).collect();
            engine.replay(&mut room.state, start.as_ref(), &readings).ok()
        };
        let Some(replayed) = replayed else {
            // The state names a checkpoint the table does not hold (a state restarted afresh
            // meanwhile): the late readings cannot be placed and count as too late; the newer
            // ones of the batch are taken as usual.
            tracing::error!(room = %room.key, ?from, late = folded.late, "no checkpoint to place late readings from");
            for reading in std::mem::take(&mut folded.deferred) {
                let data_now = room.state.last_reading_at().map_or(reading.time, |t| t.max(reading.time));
                match engine.ingest(&mut room.state, &reading, data_now) {
                    Ok(ingested) => {
                        outcome.readings += 1;
                        folded.transitions.extend(ingested.transitions);
                        folded.checkpoints.extend(ingested.checkpoints);
                    }
                    Err(IngestError::Invalid(_)) => outcome.leave_out(Skipped::Invalid, 1),
                    Err(_) => outcome.leave_out(Skipped::TooLate, 1),
                }
            }
            return Ok(());
        };
        outcome.readings += folded.deferred.len();
        outcome.late += folded.late;
        outcome.replays += 1;
        outcome.replayed += replayed.readings;
        folded.transitions.extend(replayed.transitions);
        folded.checkpoints.extend(replayed.checkpoints);
        Ok(())
    }

    /// Writes a room's alert transitions (alerts, cases, deadlines, webhooks); its state is
    /// saved by the caller, with the others of the unit of work.
    async fn apply(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        room: &LockedRoom,
        transitions: &[dampwatch_indicators::AlertTransition],
        now: DateTime<Utc>,
        outcome: &mut BatchOutcome,
    ) -> Result<(), AlertsError> {
        let ctx = RoomContext { key: &room.key, room: &room.room, landlord_id: &room.landlord_id };
        for t in transitions {
            let applied = alert_store::apply(tx, &self.clock, self.quiet_period, ctx, t, now).await?;
            tracing::info!(room = %room.key, hazard = %t.hazard, kind = ?t.kind, alert = ?applied.alert_id, case = ?applied.case_id, "alert transition");
            outcome.add(applied);
        }
        Ok(())
    }

    /// Re-judges rooms that have been silent for at least the shortest "no data" period at
    /// `now`, `page` rooms per transaction; rooms another worker holds are skipped this time.
    pub async fn evaluate_offline(
        &self,
        client: &mut Client,
        prepared: &mut Prepared,
        now: DateTime<Utc>,
        page: i64,
    ) -> Result<BatchOutcome, AlertsError> {
        let mut outcome = BatchOutcome::default();
        let Some((after, hazards)) = &self.no_data else { return Ok(outcome) };
        let cutoff = now - *after;
        let mut last_key = String::new();
        loop {
            let tx = client.transaction().await?;
            let rows = tx
                .query(
                    &format!(
                        "{LOCKED_ROOM_SELECT}
                         WHERE s.last_reading_at <= $1 AND NOT (s.open_hazards @> $2) AND s.room_key > $3
                         ORDER BY s.room_key LIMIT $4 FOR UPDATE OF s SKIP LOCKED"
                    ),
                    &[&cutoff, hazards, &last_key, &page],
                )
                .await?;
            let count = rows.len();
            let mut changed = Vec::new();
            for r in rows {
                let mut room = room_state::locked_room(&r)?;
                last_key.clone_from(&room.key);
                let transitions = self.engine_for(&room).evaluate(&mut room.state, now);
                outcome.rooms += 1;
                if !transitions.is_empty() {
                    self.apply(&tx, &room, &transitions, now, &mut outcome).await?;
                    changed.push(room);
                }
            }
            let changed: Vec<&LockedRoom> = changed.iter().collect();
            room_state::save_all(&tx, prepared, &changed, |room| self.version_for(room), now).await?;
            tx.commit().await?;
            if i64::try_from(count).unwrap_or(i64::MAX) < page {
                return Ok(outcome);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dampwatch_indicators::EngineConfig;

    #[test]
    fn the_configured_offline_period_is_watched_and_recorded_in_the_ruleset_version() {
        let default = HazardProcessor::new(&AlertsConfig::default(), None).expect("valid");
        assert_eq!(default.ruleset_version(), EngineConfig::default().ruleset_version);
        assert_eq!(default.no_data.as_ref().map(|(s, _)| *s), Some(chrono::TimeDelta::hours(48)));
        let config = AlertsConfig::from_toml("[alerts.engine]\noffline_after = \"6h\"\n").expect("parses");
        let changed = HazardProcessor::new(&config, None).expect("valid");
        assert!(changed.ruleset_version().ends_with("+offline_after=6h"), "{}", changed.ruleset_version());
        let (silence, hazards) = changed.no_data.expect("a no-data rule");
        assert_eq!((silence, hazards), (chrono::TimeDelta::hours(6), vec!["device_offline".to_owned()]));
    }
}
