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

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dampwatch_clock::Clock;
use dampwatch_indicators::{Condition, EngineConfig, HazardEngine, Placement};
use tokio_postgres::Client;

use crate::alert_store::{self, RoomContext};
use crate::config::{AlertsConfig, ConfigError};
use crate::error::AlertsError;
use crate::inbox;
use crate::room::RoomRef;
use crate::room_state::{self, LockedRoom};

/// The engine and clock, built once from configuration.
#[derive(Debug, Clone)]
pub struct HazardProcessor {
    engine: HazardEngine,
    clock: Clock,
    ruleset_version: String,
    /// Shortest "no data" period of the rules, and the hazards those rules raise.
    no_data: Option<(chrono::Duration, Vec<String>)>,
}

/// What one unit of work did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Inbox rows consumed.
    pub inbox_rows: usize,
    /// Readings taken by the engine (including repeats it recognised).
    pub readings: usize,
    /// Readings left out of the rules (flagged, incomplete, or too late to place in order).
    pub skipped: usize,
    pub rooms: usize,
    pub transitions: usize,
    pub cases_opened: usize,
    /// Webhook outbox rows written.
    pub webhooks: u64,
}

impl BatchOutcome {
    fn add(&mut self, applied: alert_store::Applied) {
        self.transitions += 1;
        self.cases_opened += usize::from(applied.case_opened);
        self.webhooks += applied.webhooks;
    }
}

/// The engine configuration with `offline_after` applied to its "no data" rules. A period
/// other than the rule's own is recorded in the rule set version, so stored alerts stay
/// traceable to the numbers that raised them.
fn with_offline_after(mut engine: EngineConfig, offline_after: Duration) -> EngineConfig {
    let mut changed = false;
    for rule in &mut engine.rules {
        if let Condition::NoData { after } = &mut rule.condition {
            if *after != offline_after {
                *after = offline_after;
                changed = true;
            }
        }
    }
    if changed {
        engine.ruleset_version =
            format!("{}+offline_after={}", engine.ruleset_version, humantime::format_duration(offline_after));
    }
    engine
}

impl HazardProcessor {
    /// Builds the engine and the clock; `govuk_bank_holidays` is the text of a gov.uk
    /// `bank-holidays.json`, if the operator supplies one.
    pub fn new(config: &AlertsConfig, govuk_bank_holidays: Option<&str>) -> Result<Self, ConfigError> {
        let engine_config = with_offline_after(config.engine.clone(), config.worker.offline_after);
        let ruleset_version = engine_config.ruleset_version.clone();
        let hazards: Vec<String> = engine_config
            .rules
            .iter()
            .filter(|r| matches!(r.condition, Condition::NoData { .. }))
            .map(|r| r.hazard.slug().to_owned())
            .collect();
        let engine = HazardEngine::new(engine_config)?;
        let clock = Clock::from_config(&config.clock, govuk_bank_holidays)?;
        let no_data = engine.shortest_silence().map(|s| (s, hazards));
        Ok(HazardProcessor { engine, clock, ruleset_version, no_data })
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn engine(&self) -> &HazardEngine {
        &self.engine
    }

    /// The rule set version stored with alerts.
    pub fn ruleset_version(&self) -> &str {
        &self.ruleset_version
    }

    /// Consumes up to `limit` inbox rows in one transaction; `now` is the detection instant.
    pub async fn process_inbox(
        &self,
        client: &mut Client,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<BatchOutcome, AlertsError> {
        let tx = client.transaction().await?;
        let ranges = inbox::take(&tx, limit).await?;
        let mut outcome = BatchOutcome { inbox_rows: ranges.len(), ..BatchOutcome::default() };
        if ranges.is_empty() {
            return Ok(outcome);
        }
        let readings = inbox::readings(&tx, &ranges).await?;
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
        let mut locked = room_state::lock(&tx, &rooms, &self.ruleset_version, now).await?;
        outcome.rooms = by_room.len();
        for (key, (_, _, room_readings)) in by_room {
            let Some(room) = locked.get_mut(&key) else { continue };
            let mut transitions = Vec::new();
            for stored in &room_readings {
                let reading = match stored.for_rules() {
                    Ok(r) => r,
                    Err(why) => {
                        tracing::debug!(device = %stored.device_id, at = %stored.sampled_at, ?why, "reading left out of the hazard rules");
                        outcome.skipped += 1;
                        continue;
                    }
                };
                // Judge "no data" at data time: a backlog is not silence.
                let data_now = room.state.last_reading_at().map_or(reading.time, |t| t.max(reading.time));
                match self.engine.ingest(&mut room.state, &reading, data_now) {
                    Ok(ingested) => {
                        outcome.readings += 1;
                        if ingested.placement == Placement::Duplicate {
                            tracing::trace!(room = %key, at = %reading.time, "repeat reading");
                        }
                        transitions.extend(ingested.transitions);
                    }
                    Err(e) => {
                        tracing::warn!(room = %key, device = %stored.device_id, error = %e, "reading left out of the hazard rules");
                        outcome.skipped += 1;
                    }
                }
            }
            self.write(&tx, room, &transitions, now, &mut outcome).await?;
        }
        tx.commit().await?;
        Ok(outcome)
    }

    async fn write(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        room: &LockedRoom,
        transitions: &[dampwatch_indicators::AlertTransition],
        now: DateTime<Utc>,
        outcome: &mut BatchOutcome,
    ) -> Result<(), AlertsError> {
        let ctx = RoomContext { key: &room.key, room: &room.room, landlord_id: &room.landlord_id };
        for t in transitions {
            let applied = alert_store::apply(tx, &self.clock, ctx, t, now).await?;
            tracing::info!(room = %room.key, hazard = %t.hazard, kind = ?t.kind, alert = ?applied.alert_id, case = ?applied.case_id, "alert transition");
            outcome.add(applied);
        }
        room_state::save(tx, room, &self.ruleset_version, now).await
    }

    /// Re-judges rooms that have been silent for at least the shortest "no data" period at
    /// `now`, `page` rooms per transaction; rooms another worker holds are skipped this time.
    pub async fn evaluate_offline(
        &self,
        client: &mut Client,
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
                    "SELECT room_key, landlord_id, room_id, device_id, state FROM room_hazard_state
                     WHERE last_reading_at <= $1 AND NOT (open_hazards @> $2) AND room_key > $3
                     ORDER BY room_key LIMIT $4 FOR UPDATE SKIP LOCKED",
                    &[&cutoff, hazards, &last_key, &page],
                )
                .await?;
            let count = rows.len();
            for r in rows {
                let mut room = room_state::locked_room(r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
                last_key.clone_from(&room.key);
                let transitions = self.engine.evaluate(&mut room.state, now);
                outcome.rooms += 1;
                if !transitions.is_empty() {
                    self.write(&tx, &room, &transitions, now, &mut outcome).await?;
                }
            }
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

    #[test]
    fn a_changed_offline_period_is_recorded_in_the_ruleset_version() {
        let same = with_offline_after(EngineConfig::default(), Duration::from_secs(48 * 3600));
        assert_eq!(same, EngineConfig::default());
        let changed = with_offline_after(EngineConfig::default(), Duration::from_secs(6 * 3600));
        assert!(changed.ruleset_version.ends_with("+offline_after=6h"), "{}", changed.ruleset_version);
        assert!(changed.rules.iter().any(
            |r| matches!(r.condition, Condition::NoData { after } if after == Duration::from_secs(6 * 3600))
        ));
    }
}
