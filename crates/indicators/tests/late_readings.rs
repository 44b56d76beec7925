//! Late readings: a room's second sensor comes back from a two-day outage and delivers its
//! backlog after the room's state has moved on. The backlog is placed in time order (by a
//! replay from a checkpoint), so the room ends exactly as if every reading had arrived in time
//! order, and the alerts already reported are revised rather than raised again. A reading
//! older than the late-reading horizon is counted and left out.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::{hours, minutes, t0, StoredRoom};
use dampwatch_indicators::{
    AlertTransition, EngineConfig, Hazard, HazardEngine, IngestError, RoomReading, RoomState, Severity,
    TransitionKind,
};

fn engine() -> HazardEngine {
    HazardEngine::new(EngineConfig::default()).expect("defaults")
}

fn at(h: f64) -> DateTime<Utc> {
    t0() + TimeDelta::milliseconds((h * 3_600_000.0) as i64)
}

/// Hours of the room's life: five days.
const END_H: i64 = 120;
/// Sensor B is offline (keeping its readings) from here...
const B_OFF_H: i64 = 36;
/// ...until here, two days later, when it delivers its backlog.
const B_BACK_H: i64 = 84;

/// Which sensor took a reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sensor {
    /// On the cold outside wall, with a surface probe: every 10 minutes on the hour.
    A,
    /// Room air only: every 10 minutes, 5 minutes after A.
    B,
}

/// The room: dry for a day, then damp air (76 % RH). A was unplugged for three hours at
/// 38 h (no readings at all); with `a_dry_spell`, A also saw a dry two hours at 70 h.
fn readings(sensor: Sensor, a_dry_spell: bool) -> Vec<RoomReading> {
    let offset = if sensor == Sensor::A { 0 } else { 5 };
    let mut out = Vec::new();
    let mut m = offset;
    while m < END_H * 60 {
        let h = m as f64 / 60.0;
        let unplugged = sensor == Sensor::A && (38.0..41.0).contains(&h);
        if !unplugged {
            let dry = h < 24.0 || (a_dry_spell && sensor == Sensor::A && (70.0..72.0).contains(&h));
            let mut r = RoomReading::air(t0() + minutes(m), 20.0, if dry { 60.0 } else { 76.0 });
            if sensor == Sensor::A {
                r.surface_temperature_c = Some(15.5);
            }
            out.push(r);
        }
        m += 10;
    }
    out
}

/// Hourly batches of both sensors, in time order: what arrives when nothing is late.
fn in_time_order(a: &[RoomReading], b: &[RoomReading]) -> Vec<Vec<RoomReading>> {
    (0..END_H).map(|h| hour(a, h).into_iter().chain(hour(b, h)).collect()).collect()
}

/// The same readings as they arrive when B is offline from 36 h to 84 h: A hourly, and B's
/// backlog in four uplinks of twelve hours when it comes back.
fn with_b_offline(a: &[RoomReading], b: &[RoomReading]) -> Vec<Vec<RoomReading>> {
    let mut batches = Vec::new();
    for h in 0..END_H {
        let mut batch = hour(a, h);
        if !(B_OFF_H..B_BACK_H).contains(&h) {
            batch.extend(hour(b, h));
        }
        if h == B_BACK_H {
            for start in (B_OFF_H..B_BACK_H).step_by(12) {
                batches.push((start..start + 12).flat_map(|h| hour(b, h)).collect());
            }
        }
        batches.push(batch);
    }
    batches
}

fn hour(readings: &[RoomReading], h: i64) -> Vec<RoomReading> {
    readings.iter().filter(|r| r.time >= t0() + hours(h) && r.time < t0() + hours(h + 1)).cloned().collect()
}

/// One alert as a landlord sees it, applied the way the alert store applies transitions: one
/// row per alert, updated in place, a revision finding its row by the reported window.
#[derive(Debug, Clone, PartialEq)]
struct AlertRow {
    hazard: Hazard,
    open: bool,
    since: DateTime<Utc>,
    cleared_at: Option<DateTime<Utc>>,
    severity: Severity,
    rules: Vec<String>,
    /// Each finding's window start.
    windows: Vec<DateTime<Utc>>,
}

#[derive(Debug, Default)]
struct AlertTable {
    rows: Vec<AlertRow>,
    /// Every transition applied, for the assertions about how they were reported.
    log: Vec<AlertTransition>,
}

impl AlertTable {
    fn apply(&mut self, transitions: Vec<AlertTransition>) {
        for t in transitions {
            self.apply_one(&t);
            self.log.push(t);
        }
    }

    fn apply_one(&mut self, t: &AlertTransition) {
        let since = t.late.as_ref().map_or(t.alert.since, |l| l.since);
        let cleared_at = t.cleared_at.or(Some(t.evaluated_at));
        let reported_end = t.late.as_ref().and_then(|l| l.reported).and_then(|r| r.cleared_at);
        let open_row = self.rows.iter().position(|r| r.hazard == t.hazard && r.open);
        let index = match t.kind {
            TransitionKind::Raised if t.cleared_at.is_some() => None,
            TransitionKind::Raised => open_row,
            TransitionKind::Updated | TransitionKind::Refreshed | TransitionKind::Cleared => {
                Some(open_row.unwrap_or_else(|| panic!("no open row for {t:?}")))
            }
            TransitionKind::Reopened | TransitionKind::Revised => {
                assert!(t.kind == TransitionKind::Revised || open_row.is_none(), "one open alert per hazard");
                self.rows.iter().position(|r| r.hazard == t.hazard && !r.open && r.cleared_at == reported_end)
            }
        };
        let row = match index {
            Some(i) => &mut self.rows[i],
            None => {
                self.rows.push(AlertRow {
                    hazard: t.hazard,
                    open: true,
                    since,
                    cleared_at: None,
                    severity: t.alert.severity,
                    rules: Vec::new(),
                    windows: Vec::new(),
                });
                self.rows.last_mut().expect("pushed")
            }
        };
        row.severity = t.alert.severity;
        row.rules = t.alert.rule_ids().into_iter().map(str::to_owned).collect();
        row.windows = t.alert.findings.iter().map(|f| f.window.start).collect();
        if t.late.is_some() {
            row.since = since;
        }
        match t.kind {
            TransitionKind::Raised if t.cleared_at.is_some() => {
                (row.open, row.cleared_at) = (false, t.cleared_at)
            }
            TransitionKind::Raised
            | TransitionKind::Updated
            | TransitionKind::Refreshed
            | TransitionKind::Reopened => (row.open, row.cleared_at) = (true, None),
            TransitionKind::Cleared | TransitionKind::Revised => {
                (row.open, row.cleared_at) = (false, cleared_at)
            }
        }
    }
}

/// Delivers `batches` to a fresh room; returns it and the alerts as reported.
fn run(batches: &[Vec<RoomReading>]) -> (StoredRoom, AlertTable) {
    let engine = engine();
    let mut room = StoredRoom::new();
    let mut alerts = AlertTable::default();
    for batch in batches {
        alerts.apply(room.deliver(&engine, batch));
    }
    (room, alerts)
}

/// The fold without the record of what was reported (which differs by design: the late room
/// did report other things before the backlog came).
fn fold_of(room: &RoomState) -> serde_json::Value {
    let mut v = serde_json::to_value(room).expect("serialize");
    v.as_object_mut().expect("object").remove("reported");
    v
}

fn damp(table: &AlertTable) -> Vec<&AlertRow> {
    table.rows.iter().filter(|r| r.hazard == Hazard::DampAndMouldGrowth).collect()
}

#[test]
fn a_second_sensors_two_day_backlog_ends_as_if_delivered_in_time_order() {
    let (a, b) = (readings(Sensor::A, false), readings(Sensor::B, false));
    let (reference, reference_alerts) = run(&in_time_order(&a, &b));
    assert_eq!(reference.replays, 0);

    // Before the backlog, A alone: its three unplugged hours restarted the 24 h window.
    let late_batches = with_b_offline(&a, &b);
    // The hourly batches before B's return come first; the backlog follows.
    let (_, before_alerts) = run(&late_batches[..B_BACK_H as usize]);
    let reported = damp(&before_alerts);
    assert_eq!(reported.len(), 1);
    assert_eq!(reported[0].since, at(65.0), "A alone: raised 24 h after it was plugged in again");

    let (late, late_alerts) = run(&late_batches);
    assert_eq!(late.left_out, 0);
    assert!(late.replays >= 1, "the backlog was placed by replaying");

    // The room is exactly the in-order room: mould index to the bit, windows, daily counts,
    // coverage (hours with data and gaps) and open alerts.
    assert_eq!(late.state.mould_index().to_bits(), reference.state.mould_index().to_bits());
    assert_eq!(fold_of(&late.state), fold_of(&reference.state));
    assert_eq!(late.state.coverage(), reference.state.coverage());
    assert_eq!(late.state.coverage().data.gaps, 0, "B's readings cover A's unplugged hours");
    assert!(late.state.mould_index() > 0.0);

    // The same alerts with the same windows: B's readings cover A's gap, so the damp alert is
    // known to have started 17 hours earlier, at 48 h. It stayed one alert, updated in place.
    assert_eq!(late_alerts.rows, reference_alerts.rows);
    let damp_rows = damp(&late_alerts);
    assert_eq!(damp_rows.len(), 1);
    assert_eq!((damp_rows[0].since, damp_rows[0].open), (at(48.0), true));
    assert_eq!(damp_rows[0].windows, vec![at(24.0)]);
    let damp_changes: Vec<&AlertTransition> =
        late_alerts.log.iter().filter(|t| t.hazard == Hazard::DampAndMouldGrowth).collect();
    let kinds: Vec<TransitionKind> = damp_changes.iter().map(|t| t.kind).collect();
    assert_eq!(kinds, vec![TransitionKind::Raised, TransitionKind::Updated], "no second alert");
    let revision = damp_changes[1].late.as_ref().expect("said to come from late readings");
    assert!(revision.known_to_have_started_earlier);
    assert_eq!(revision.since, at(48.0));
    assert_eq!(revision.reported.map(|r| r.since), Some(at(65.0)));
    assert!(
        damp_changes[1].explanation().contains("known to have started earlier"),
        "{}",
        damp_changes[1].explanation()
    );
}

#[test]
fn a_clear_the_backlog_contradicts_opens_the_same_alert_again() {
    let (a, b) = (readings(Sensor::A, true), readings(Sensor::B, true));
    let (reference, reference_alerts) = run(&in_time_order(&a, &b));
    let late_batches = with_b_offline(&a, &b);
    let (late, late_alerts) = run(&late_batches);

    // A alone saw two dry hours and cleared the alert; B's readings show the room stayed damp.
    let damp_changes: Vec<TransitionKind> =
        late_alerts.log.iter().filter(|t| t.hazard == Hazard::DampAndMouldGrowth).map(|t| t.kind).collect();
    // Its first twelve hours move the alert's start to 48 h (still cleared by A's dry spell:
    // revised); the twelve hours that cover the dry spell show it never cleared (reopened).
    assert_eq!(
        damp_changes,
        vec![
            TransitionKind::Raised,
            TransitionKind::Cleared,
            TransitionKind::Revised,
            TransitionKind::Reopened
        ]
    );
    let reference_changes: Vec<TransitionKind> = reference_alerts
        .log
        .iter()
        .filter(|t| t.hazard == Hazard::DampAndMouldGrowth)
        .map(|t| t.kind)
        .collect();
    assert_eq!(reference_changes, vec![TransitionKind::Raised]);

    assert_eq!(late.state.mould_index().to_bits(), reference.state.mould_index().to_bits());
    assert_eq!(fold_of(&late.state), fold_of(&reference.state));
    assert_eq!(late_alerts.rows, reference_alerts.rows);
    let rows = damp(&late_alerts);
    assert_eq!((rows.len(), rows[0].since, rows[0].open), (1, at(48.0), true));
}

#[test]
fn a_reading_older_than_the_horizon_is_counted_and_left_out() {
    let engine = engine();
    let a = readings(Sensor::A, false);
    let mut room = StoredRoom::new();
    room.deliver(&engine, &a);
    let before = room.state.clone();
    // 100 h behind the newest reading: beyond the 72 h horizon and every checkpoint kept.
    let old = RoomReading::air(at(19.5), 5.0, 99.0);
    let err = engine.ingest(&mut room.state, &old, at(120.0)).expect_err("too late");
    assert!(matches!(err, IngestError::TooLate { .. }), "{err}");
    // Not applied: the fold is untouched...
    assert_eq!(fold_of_without_coverage(&room.state), fold_of_without_coverage(&before));
    // ...and counted in the room's coverage.
    let coverage = room.state.coverage();
    assert_eq!(coverage.late_readings_left_out, 1);
    assert_eq!(coverage.newest_left_out_sample_at, Some(at(19.5)));
    assert_eq!(coverage.readings, before.coverage().readings);
    // A reading at the edge of the horizon still has a checkpoint before it.
    let edge = RoomReading::air(at(119.9 - 72.0), 20.0, 76.0);
    assert!(matches!(engine.ingest(&mut room.state, &edge, at(120.0)), Err(IngestError::NeedsReplay { .. })));
    // Checkpoints kept: one every six hours from the horizon's start to the settled state
    // (six hours behind the newest reading), so beside the state, not in it.
    assert!((12..=14).contains(&room.checkpoints_kept()), "{}", room.checkpoints_kept());
}

fn fold_of_without_coverage(room: &RoomState) -> serde_json::Value {
    let mut v = fold_of(room);
    v.as_object_mut().expect("object").remove("left_out");
    v
}
