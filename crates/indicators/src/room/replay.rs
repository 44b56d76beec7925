//! Placing late readings: the room is rewound to a checkpoint, the room's stored readings after
//! it are folded again in time order, and the alerts already reported are revised to match what
//! the readings in time order show, without spamming the landlord:
//!
//! - an alert already reported stays that alert. When the readings in time order show its
//!   episode, it is updated in place (an earlier start is said: "known to have started
//!   earlier"), cleared at the true end, or, when it had been cleared but the condition in
//!   fact went on, opened again;
//! - an episode nobody reported is raised with its true window, already cleared if it is over;
//! - an open alert the readings in time order do not show at all is withdrawn: cleared, and
//!   said so. An alert already cleared that they do not show stays as it was reported.
//!
//! Episodes of a hazard are matched to the reported alerts of that hazard by overlapping time.
//! The open alert is matched first, to the newest episode, so an open alert stays one alert.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::checkpoint::{Checkpoint, ReplayFrom};
use super::{Placement, RoomState};
use crate::alert::{AlertTransition, HazardAlert, LateRevision, ReportedWindow, TransitionKind};
use crate::config::Settings;
use crate::reading::RoomReading;
use crate::rule::Hazard;

/// What a replay did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replayed {
    /// Alerts to report: revisions of alerts already reported, and alerts the late readings
    /// raise (some already over).
    pub transitions: Vec<AlertTransition>,
    /// Checkpoints taken while folding again. With the room's earlier checkpoints they are
    /// now [`RoomState::checkpoint_times`]; any other stored one is stale.
    pub checkpoints: Vec<Checkpoint>,
    /// Readings folded (repeats of one sample time count once).
    pub readings: usize,
}

/// A replay that cannot start where it was asked to.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReplayError {
    #[error("the room keeps no checkpoint at {0}")]
    UnknownCheckpoint(DateTime<Utc>),
    #[error("the room can no longer be folded again from its start")]
    NoStart,
}

/// An alert as it was reported, kept while a replay may still revise it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct ReportedEpisode {
    pub hazard: Hazard,
    pub since: DateTime<Utc>,
    /// As stored with the alert; `None` while it is open.
    pub cleared_at: Option<DateTime<Utc>>,
}

/// Records that the open alert for `hazard` was cleared at `at`.
pub(crate) fn record_cleared(
    reported: &mut Vec<ReportedEpisode>,
    hazard: Hazard,
    since: DateTime<Utc>,
    at: DateTime<Utc>,
) {
    match reported.iter_mut().rev().find(|r| r.hazard == hazard && r.cleared_at.is_none()) {
        Some(open) => open.cleared_at = Some(at),
        // Raised before episodes were recorded.
        None => reported.push(ReportedEpisode { hazard, since, cleared_at: Some(at) }),
    }
}

/// An episode as the readings in time order show it.
#[derive(Debug, Clone)]
struct Episode {
    since: DateTime<Utc>,
    cleared_at: Option<DateTime<Utc>>,
    /// As it stands now, or as it last stood when it cleared.
    alert: HazardAlert,
    /// It began before the replay's start (its start is not refolded).
    in_progress_at_start: bool,
}

/// Two spans overlap; `None` ends are open.
fn overlaps(a: (DateTime<Utc>, Option<DateTime<Utc>>), b: (DateTime<Utc>, Option<DateTime<Utc>>)) -> bool {
    a.1.is_none_or(|end| b.0 < end) && b.1.is_none_or(|end| a.0 < end)
}

/// Where the alert's evidence starts: the earliest window of its findings.
fn window_start(alert: &HazardAlert) -> Option<DateTime<Utc>> {
    alert.findings.iter().map(|f| f.window.start).min()
}

impl RoomState {
    /// Folds `readings` (the room's stored readings after `start`, in any order, repeats
    /// allowed) again from `start` (`None`: the room's start) and revises the alerts reported.
    pub(crate) fn replay(
        &mut self,
        settings: &Settings,
        start: Option<&Checkpoint>,
        readings: &[RoomReading],
    ) -> Result<Replayed, ReplayError> {
        let from = match start {
            None if !self.checkpoints.can_start() => return Err(ReplayError::NoStart),
            None => ReplayFrom::Start,
            Some(c) if !self.checkpoints.contains(c.at) => return Err(ReplayError::UnknownCheckpoint(c.at)),
            Some(c) => ReplayFrom::Checkpoint(c.at),
        };
        let fold = start.map(|c| c.fold.clone()).unwrap_or_default();
        let mut shadow = RoomState {
            settled: fold.clone(),
            pending: VecDeque::new(),
            current: fold,
            open: BTreeMap::new(),
            checkpoints: self.checkpoints.rewound_to(from),
            reported: Vec::new(),
            left_out: self.left_out,
        };
        // The alerts the room showed at the checkpoint: episodes already in progress there.
        if let Some(at) = from.after() {
            shadow.reconcile(settings, at);
        }
        let at_start = shadow.open.clone();
        let mut ordered: Vec<&RoomReading> =
            readings.iter().filter(|r| from.after().is_none_or(|after| r.time > after)).collect();
        ordered.sort_by_key(|r| r.time);
        let (mut history, mut checkpoints, mut folded) = (Vec::new(), Vec::new(), 0);
        for reading in ordered {
            // Judged at data time, as readings arriving in order are.
            let now = shadow.last_reading_at().map_or(reading.time, |t| t.max(reading.time));
            // An invalid reading was refused when it arrived and is refused again here.
            let Ok(taken) = shadow.take(settings, reading, now) else { continue };
            folded += usize::from(taken.placement != Placement::Duplicate);
            history.extend(taken.transitions);
            checkpoints.extend(taken.checkpoints);
        }
        let now = shadow.last_reading_at().max(self.last_reading_at()).unwrap_or_default();
        let episodes = episodes(&at_start, &history, &shadow.open);
        let revision = Revision { settings, from, now, reported_open: &self.open };
        let (transitions, reported) = revision.revise(episodes, &self.reported);
        self.settled = shadow.settled;
        self.pending = shadow.pending;
        self.current = shadow.current;
        self.open = shadow.open;
        self.checkpoints = shadow.checkpoints;
        self.reported = reported;
        Ok(Replayed { transitions, checkpoints, readings: folded })
    }
}

/// The episodes of each hazard from the replay's start on, oldest first.
fn episodes(
    at_start: &BTreeMap<Hazard, HazardAlert>,
    history: &[AlertTransition],
    open_now: &BTreeMap<Hazard, HazardAlert>,
) -> BTreeMap<Hazard, Vec<Episode>> {
    let mut out: BTreeMap<Hazard, Vec<Episode>> = BTreeMap::new();
    for (hazard, alert) in at_start {
        out.entry(*hazard).or_default().push(Episode {
            since: alert.since,
            cleared_at: None,
            alert: alert.clone(),
            in_progress_at_start: true,
        });
    }
    for t in history {
        let list = out.entry(t.hazard).or_default();
        let open = list.last_mut().filter(|e| e.cleared_at.is_none());
        match (t.kind, open) {
            (TransitionKind::Raised, _) => list.push(Episode {
                since: t.alert.since,
                cleared_at: None,
                alert: t.alert.clone(),
                in_progress_at_start: false,
            }),
            (TransitionKind::Updated | TransitionKind::Refreshed, Some(e)) => e.alert = t.alert.clone(),
            (TransitionKind::Cleared, Some(e)) => {
                e.cleared_at = Some(t.cleared_at.unwrap_or(t.evaluated_at));
                e.alert = t.alert.clone();
            }
            // A fold in time order only raises, updates and clears.
            _ => {}
        }
    }
    // Open alerts are refreshed silently between transitions: take their latest values.
    for (hazard, alert) in open_now {
        if let Some(e) = out.get_mut(hazard).and_then(|l| l.last_mut()).filter(|e| e.cleared_at.is_none()) {
            e.alert = alert.clone();
        }
    }
    out
}

/// Turns the episodes of a replay into changes to the alerts reported.
struct Revision<'a> {
    settings: &'a Settings,
    from: ReplayFrom,
    /// Data time of the newest reading.
    now: DateTime<Utc>,
    /// The open alerts as last reported.
    reported_open: &'a BTreeMap<Hazard, HazardAlert>,
}

/// Transitions of one hazard, in the order the alert store can apply them: an open alert is
/// closed before another is opened.
#[derive(Default)]
struct Phases {
    closed: Vec<AlertTransition>,
    revised: Vec<AlertTransition>,
    reopened: Vec<AlertTransition>,
    updated: Vec<AlertTransition>,
    past: Vec<AlertTransition>,
    raised: Vec<AlertTransition>,
}

impl Revision<'_> {
    /// The transitions to report, and the reported alerts a later replay may revise.
    fn revise(
        &self,
        mut episodes: BTreeMap<Hazard, Vec<Episode>>,
        reported: &[ReportedEpisode],
    ) -> (Vec<AlertTransition>, Vec<ReportedEpisode>) {
        let start = self.from.after();
        // Alerts that ended before the start are untouched by the replay.
        let (mut kept, mut affected): (Vec<ReportedEpisode>, Vec<ReportedEpisode>) = reported
            .iter()
            .copied()
            .partition(|r| matches!((r.cleared_at, start), (Some(c), Some(s)) if c <= s));
        // An open alert reported before episodes were recorded.
        for (hazard, alert) in self.reported_open {
            if !affected.iter().any(|r| r.hazard == *hazard && r.cleared_at.is_none()) {
                affected.push(ReportedEpisode { hazard: *hazard, since: alert.since, cleared_at: None });
            }
        }
        let hazards: BTreeSet<Hazard> =
            episodes.keys().chain(affected.iter().map(|r| &r.hazard)).copied().collect();
        let mut transitions = Vec::new();
        for hazard in hazards {
            let eps = episodes.remove(&hazard).unwrap_or_default();
            let mut reps: Vec<ReportedEpisode> =
                affected.iter().filter(|r| r.hazard == hazard).copied().collect();
            reps.sort_by_key(|r| (r.cleared_at.is_none(), r.since));
            let phases = self.revise_hazard(hazard, eps, &reps, &mut kept);
            transitions.extend(
                [phases.closed, phases.revised, phases.reopened, phases.updated, phases.past, phases.raised]
                    .into_iter()
                    .flatten(),
            );
        }
        kept.sort_by_key(|r| (r.since, r.hazard));
        (transitions, kept)
    }

    fn revise_hazard(
        &self,
        hazard: Hazard,
        mut eps: Vec<Episode>,
        reps: &[ReportedEpisode],
        reported: &mut Vec<ReportedEpisode>,
    ) -> Phases {
        let span = |e: &Episode| (e.since, e.cleared_at);
        let mut partner: Vec<Option<usize>> = vec![None; eps.len()];
        let mut matched = vec![false; reps.len()];
        // The open alert goes with the newest episode, if that one reaches past its start.
        if let Some(ri) = reps.iter().position(|r| r.cleared_at.is_none()) {
            if let Some(last) = eps.len().checked_sub(1) {
                if eps[last].cleared_at.is_none_or(|end| end > reps[ri].since) {
                    partner[last] = Some(ri);
                    matched[ri] = true;
                }
            }
        }
        // Cleared alerts go with the first free episode they overlap.
        for (ri, r) in reps.iter().enumerate().filter(|(_, r)| r.cleared_at.is_some()) {
            let free = (0..eps.len())
                .find(|&ei| partner[ei].is_none() && overlaps(span(&eps[ei]), (r.since, r.cleared_at)));
            if let Some(ei) = free {
                partner[ei] = Some(ri);
                matched[ri] = true;
            }
        }
        let mut phases = Phases::default();
        for (e, p) in eps.iter_mut().zip(&partner) {
            let r = p.map(|ri| reps[ri]);
            // The start of an episode already under way at the checkpoint is not refolded; the
            // reported start is the better record of it.
            if let Some(r) = r.filter(|r| e.in_progress_at_start && r.since < e.since) {
                e.since = r.since;
            }
            let late = LateRevision {
                replayed_from: self.from.after(),
                since: e.since,
                reported: r.map(|r| ReportedWindow { since: r.since, cleared_at: r.cleared_at }),
                known_to_have_started_earlier: r.is_some_and(|r| e.since < r.since),
                not_supported: false,
            };
            let change = |kind, cleared_at| self.transition(kind, hazard, &e.alert, cleared_at, late.clone());
            match (r.map(|r| r.cleared_at), e.cleared_at) {
                (Some(None), None) => {
                    if self.open_changed(hazard, e, r) {
                        phases.updated.push(change(TransitionKind::Updated, None));
                    }
                }
                (Some(None), Some(end)) => phases.closed.push(change(TransitionKind::Cleared, Some(end))),
                (Some(Some(_)), None) => phases.reopened.push(change(TransitionKind::Reopened, None)),
                (Some(Some(reported_end)), Some(end)) => {
                    if reported_end != end || r.is_some_and(|r| r.since != e.since) {
                        phases.revised.push(change(TransitionKind::Revised, Some(end)));
                    }
                }
                (None, None) => phases.raised.push(change(TransitionKind::Raised, None)),
                (None, Some(end)) => phases.past.push(change(TransitionKind::Raised, Some(end))),
            }
            reported.push(ReportedEpisode { hazard, since: e.since, cleared_at: e.cleared_at });
        }
        // An open alert no episode goes with: the readings in time order do not show it.
        for (r, _) in reps.iter().zip(&matched).filter(|(r, m)| !**m && r.cleared_at.is_none()) {
            let Some(alert) = self.reported_open.get(&hazard) else { continue };
            let late = LateRevision {
                replayed_from: self.from.after(),
                since: r.since,
                reported: Some(ReportedWindow { since: r.since, cleared_at: None }),
                known_to_have_started_earlier: false,
                not_supported: true,
            };
            phases.closed.push(self.transition(TransitionKind::Cleared, hazard, alert, Some(self.now), late));
            reported.push(ReportedEpisode { hazard, since: r.since, cleared_at: Some(self.now) });
        }
        phases
    }

    /// The open alert's reported window, severity or rules differ from the episode's.
    fn open_changed(&self, hazard: Hazard, e: &Episode, r: Option<ReportedEpisode>) -> bool {
        let Some(old) = self.reported_open.get(&hazard) else { return true };
        r.is_some_and(|r| r.since != e.since)
            || old.severity != e.alert.severity
            || old.rule_ids() != e.alert.rule_ids()
            || window_start(old) != window_start(&e.alert)
    }

    fn transition(
        &self,
        kind: TransitionKind,
        hazard: Hazard,
        alert: &HazardAlert,
        cleared_at: Option<DateTime<Utc>>,
        late: LateRevision,
    ) -> AlertTransition {
        AlertTransition {
            kind,
            hazard,
            alert: alert.clone(),
            cleared_at,
            evaluated_at: self.now,
            ruleset_version: self.settings.config.ruleset_version.clone(),
            late: Some(late),
        }
    }
}
