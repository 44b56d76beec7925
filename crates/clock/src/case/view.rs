//! A case's open steps with their due times and statuses, as of a given instant.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::CaseState;
use super::{Case, EventKind, ExpectedCompliance, InvestigationOutcome, StopReason, UnableToComplyNotice};
use crate::calendar::Calendar;
use crate::deadline::{compute_deadline, Deadline, DeadlineError, Due, Triggers};
use crate::hazard::{Hazard, TAXONOMY_VERSION};
use crate::jurisdiction::Tenancy;
use crate::law::{AwaabRules, Basis, NoClock, Scope, StepName, StepRule, StepWaiver, Track, Trigger};
use crate::london::{end_of_local_day, local_date};

/// Product policy for statuses (not law), e.g. the `[status]` section of a config file.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatusPolicy {
    /// A step is due soon when at most this fraction of its period's elapsed time is left
    /// (0 to 1; values outside are clamped).
    pub due_soon_fraction: f64,
    /// A working-day step is also due soon when at most this many working days are left,
    /// counting today if it is one (so 1 means "on the last working day"; 0 turns this off).
    pub due_soon_working_days: u32,
    /// Hours a potential issue may wait for a person's triage. Under the conservative
    /// awareness policy the 24-hour emergency clock may already be running, so triage must
    /// leave most of it.
    pub triage_review_hours: u32,
}

impl Default for StatusPolicy {
    fn default() -> Self {
        StatusPolicy { due_soon_fraction: 0.25, due_soon_working_days: 1, triage_review_hours: 4 }
    }
}

/// Where a step stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StepStatus {
    /// Running, with time to spare.
    OnTrack,
    /// Running, close to its deadline (see [`StatusPolicy`]).
    DueSoon,
    /// The deadline has passed and the step is not done.
    Overdue,
    /// Done.
    Met {
        /// When.
        at: DateTime<Utc>,
        /// Whether before the period ended.
        on_time: bool,
    },
    /// The step does not apply to this case.
    NotRequired {
        /// Why.
        reason: String,
    },
    /// A stop event ended the clock before the step was done.
    Stopped {
        /// When.
        at: DateTime<Utc>,
        /// Why.
        reason: StopReason,
    },
    /// The clock has not started: the event it counts from has not happened.
    AwaitingTrigger {
        /// The event.
        trigger: Trigger,
    },
}

/// One statutory step of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepView {
    /// The step.
    pub step: StepName,
    /// Its deadline, once its clock has started (none when out of scope).
    pub deadline: Option<Deadline>,
    /// Where it stands.
    pub status: StepStatus,
    /// The latest notice that the landlord cannot comply with this step in time (Scotland),
    /// if one was given. It does not move the deadline or change the status: it records the
    /// reason and when the landlord expects to comply, beside them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unable_to_comply: Option<UnableToComplyView>,
    /// Set when the event that met the step was recorded long after the instant it gives
    /// (see [`RecordedLate`]): the step is met as of that instant, but only on the landlord's
    /// word, given after the fact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_late: Option<RecordedLate>,
    /// While the clock runs: the instant from which it counts as due soon (see
    /// [`due_soon_from`]). With `deadline.ends_at` it gives the status at any later instant
    /// without replaying the case, which is how the SLA board reads stored deadlines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_soon_from: Option<DateTime<Utc>>,
}

/// An event recorded more than the tolerance after the instant it says it happened, with the
/// reason the person gave. A step met by such an event shows it, so a deadline missed in
/// practice cannot pass unnoticed as "met" by dating the event back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedLate {
    /// The event.
    pub event: EventKind,
    /// When it happened, as recorded (the instant the step's status counts).
    pub occurred_at: DateTime<Utc>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Why it was recorded late.
    pub reason: String,
}

impl RecordedLate {
    /// Could this event have met `step`?
    fn meets(&self, step: StepName) -> bool {
        use EventKind as K;
        let kinds: &[EventKind] = match step {
            StepName::EmergencyInvestigate | StepName::Investigate => &[K::InvestigationConcluded],
            StepName::EmergencyMakeSafe | StepName::SafetyWork => &[K::SafetyWorkDone],
            StepName::WrittenSummary => &[K::WrittenSummarySent],
            StepName::PreventativeStart | StepName::PreventativeBackstop => &[
                K::PreventativeWorkStarted,
                K::PreventativeWorkCompleted,
                K::PreventativeNotReasonablyPracticable,
            ],
            StepName::SafetyWorkCommenced => &[K::SafetyWorkCommenced, K::SafetyWorkDone],
        };
        kinds.contains(&self.event)
    }
}

impl CaseView {
    /// Marks each step met by one of `late` (events recorded late) as recorded late. A step
    /// is met at the instant of the event that met it, so the event is the one of a kind that
    /// meets the step with that instant.
    pub fn mark_recorded_late(&mut self, late: &[RecordedLate]) {
        for step in &mut self.steps {
            let StepStatus::Met { at, .. } = &step.status else { continue };
            let found = late.iter().find(|l| l.occurred_at == *at && l.meets(step.step)).cloned();
            step.recorded_late = found;
        }
    }
}

/// A notice that the landlord cannot comply with a step in time, as a step shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnableToComplyView {
    /// When the tenant was notified.
    pub notified_at: DateTime<Utc>,
    /// The reason given.
    pub reason: String,
    /// When the landlord expects to comply, as stated.
    pub expected: ExpectedCompliance,
    /// The last day it expects to comply by (a stated number of working days counted on the
    /// law's calendar from the day after the notice's Europe/London date).
    pub expected_by: Option<NaiveDate>,
    /// Whether the notice was given before the step's period ended (`None` while the step's
    /// clock has not started).
    pub within_period: Option<bool>,
    /// How many notices were given for the step in all (a later one revises the expectation).
    pub notices: usize,
}

/// The triage review of a potential issue (product policy, not law).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriageView {
    /// When a person should have decided the category.
    pub due: DateTime<Utc>,
    /// Where the review stands.
    pub status: StepStatus,
    /// While the review is waiting: the instant from which it counts as due soon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_soon_from: Option<DateTime<Utc>>,
}

impl TriageView {
    /// When the review of a potential issue recorded at `noticed_at` is due.
    pub fn due_for(noticed_at: DateTime<Utc>, policy: &StatusPolicy) -> DateTime<Utc> {
        noticed_at
            .checked_add_signed(Duration::hours(i64::from(policy.triage_review_hours)))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The review of a potential issue recorded at `noticed_at` (a case's, or a sensor alert's
    /// waiting for triage without a case), decided at `triaged_at` if it has been, as of
    /// `as_of`.
    pub fn of(
        noticed_at: DateTime<Utc>,
        triaged_at: Option<DateTime<Utc>>,
        as_of: DateTime<Utc>,
        calendar: &Calendar,
        policy: &StatusPolicy,
    ) -> TriageView {
        let due = TriageView::due_for(noticed_at, policy);
        match triaged_at {
            Some(at) => {
                TriageView { due, status: StepStatus::Met { at, on_time: at < due }, due_soon_from: None }
            }
            None => {
                let soon = due_soon_from(noticed_at, due, None, calendar, policy);
                TriageView { due, status: running_status(as_of, due, soon), due_soon_from: Some(soon) }
            }
        }
    }
}

/// Alternative accommodation: owed at the landlord's cost from the expiry of the safety-work
/// period when the safety work is not done in time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlternativeAccommodationView {
    /// The instant it became needed (the safety-work period ran out undone), if it did.
    pub needed_from: Option<DateTime<Utc>>,
    /// When it was offered.
    pub offered_at: Option<DateTime<Utc>>,
    /// When it was provided.
    pub provided_at: Option<DateTime<Utc>>,
}

/// A case as a housing officer sees it at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseView {
    /// The home's jurisdiction and tenure.
    #[serde(default)]
    pub tenancy: Tenancy,
    /// The law whose steps are shown (its id), or `None` when no law covers the home.
    #[serde(default)]
    pub law: Option<String>,
    /// Why no statutory clock runs, when none does (no law for the home, or the law not in
    /// effect on the awareness date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_clock: Option<NoClock>,
    /// Where the case stands.
    pub state: CaseState,
    /// The hazard.
    pub hazard: Hazard,
    /// The hazard taxonomy version.
    pub taxonomy: String,
    /// The track the case runs on, once triaged as a hazard (under a law without an
    /// emergency track, an urgent case runs on its one timetable).
    pub track: Option<Track>,
    /// When the statutory clock started.
    pub awareness: Option<DateTime<Utc>>,
    /// Whether Awaab's Law covers the hazard on the track (judged on the awareness date).
    pub scope: Option<Scope>,
    /// The triage review.
    pub triage: TriageView,
    /// Every step of the track, in order.
    pub steps: Vec<StepView>,
    /// Alternative accommodation.
    pub alternative_accommodation: AlternativeAccommodationView,
    /// The instant statuses were evaluated at (the closing instant for a closed case).
    pub evaluated_at: DateTime<Utc>,
    /// The calendar version used.
    pub calendar_version: String,
    /// The rules version used.
    pub rules_version: String,
}

impl CaseView {
    /// The view of one step.
    pub fn step(&self, step: StepName) -> Option<&StepView> {
        self.steps.iter().find(|s| s.step == step)
    }
}

/// The instant from which a clock running from `start` to `ends_at` counts as due soon: when
/// at most [`StatusPolicy::due_soon_fraction`] of its period is left, or, for a working-day
/// period whose last permitted day is `last_working_day`, from the start of the first London
/// day with at most [`StatusPolicy::due_soon_working_days`] working days left (counting that
/// day if it is one), whichever comes first.
///
/// Both rules only move towards "due soon" as time passes, so one instant decides the status
/// at every later moment ([`running_status`]), and a stored deadline keeps it.
pub fn due_soon_from(
    start: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    last_working_day: Option<NaiveDate>,
    calendar: &Calendar,
    policy: &StatusPolicy,
) -> DateTime<Utc> {
    let fraction =
        if policy.due_soon_fraction.is_nan() { 0.0 } else { policy.due_soon_fraction.clamp(0.0, 1.0) };
    // Whole seconds, as the period is counted: exact for any period this crate computes.
    let total = (ends_at - start).num_seconds().max(0);
    let by_fraction = ends_at - Duration::seconds((total as f64 * fraction).floor() as i64);
    let Some(last) = last_working_day else { return by_fraction };
    let left = |day: NaiveDate| day.pred_opt().map_or(0, |eve| calendar.working_days_after(eve, last));
    // Walk back from the day after the last permitted day (none left) while the day before
    // still has few enough; never before the day the clock started, so at most one period.
    let first_day = local_date(start);
    let Some(mut day) = last.succ_opt() else { return by_fraction };
    while day > first_day {
        match day.pred_opt() {
            Some(eve) if left(eve) <= policy.due_soon_working_days => day = eve,
            _ => break,
        }
    }
    let by_working_days = day.pred_opt().and_then(end_of_local_day).unwrap_or(start);
    by_fraction.min(by_working_days)
}

/// How a running clock stands at `as_of`: overdue from `ends_at`, due soon from
/// `due_soon_from` ([`due_soon_from`]), on track before.
pub fn running_status(
    as_of: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    due_soon_from: DateTime<Utc>,
) -> StepStatus {
    if as_of >= ends_at {
        StepStatus::Overdue
    } else if as_of >= due_soon_from {
        StepStatus::DueSoon
    } else {
        StepStatus::OnTrack
    }
}

impl Case {
    /// When `step` was done, as far as the record shows.
    fn met_at(&self, step: StepName) -> Option<DateTime<Utc>> {
        match step {
            StepName::EmergencyInvestigate | StepName::Investigate => self.investigation.map(|i| i.at),
            StepName::EmergencyMakeSafe | StepName::SafetyWork => self.safety_work_done,
            // Work recorded as done without its start began no later than that.
            StepName::SafetyWorkCommenced => self.safety_work_commenced.or(self.safety_work_done),
            StepName::WrittenSummary => self.written_summary_sent,
            StepName::PreventativeStart => self.preventative_started,
            StepName::PreventativeBackstop => {
                self.not_reasonably_practicable.as_ref().and(self.preventative_started)
            }
        }
    }

    /// Why the step of `rule` does not apply, if it does not.
    fn not_required(&self, rule: &StepRule, deadline: Option<&Deadline>) -> Option<String> {
        let no_hazard = self.investigation.is_some_and(|i| i.outcome == InvestigationOutcome::NoHazard);
        match rule.name {
            StepName::EmergencyMakeSafe
            | StepName::SafetyWork
            | StepName::SafetyWorkCommenced
            | StepName::PreventativeStart
            | StepName::PreventativeBackstop
                if no_hazard =>
            {
                Some("the investigation found no hazard".to_owned())
            }
            StepName::PreventativeStart => self.not_reasonably_practicable.as_ref().map(|(at, reason)| {
                format!("not reasonably practicable ({reason}), recorded {at}; the 12-week backstop applies")
            }),
            StepName::PreventativeBackstop if self.not_reasonably_practicable.is_none() => Some(
                "applies only if beginning preventative work within its period is recorded as not \
                 reasonably practicable"
                    .to_owned(),
            ),
            StepName::WrittenSummary if rule.waived_when == Some(StepWaiver::AllWorkDoneWithinPeriod) => {
                let ends = deadline?.ends_at;
                let done_in_time = |t: Option<DateTime<Utc>>| t.is_some_and(|t| t < ends);
                (self.investigation.is_some_and(|i| i.outcome == InvestigationOutcome::HazardFound)
                    && done_in_time(self.safety_work_done)
                    && done_in_time(self.preventative_completed))
                .then(|| "all work was done within the period".to_owned())
            }
            _ => None,
        }
    }

    fn step_view(
        &self,
        rule: &StepRule,
        triggers: &Triggers,
        as_of: DateTime<Utc>,
        calendar: &Calendar,
        rules: &AwaabRules,
        policy: &StatusPolicy,
    ) -> Result<StepView, DeadlineError> {
        let deadline = compute_deadline(rule, triggers, calendar, rules)?;
        let step = rule.name;
        let met = self.met_at(step).map(|at| (at, deadline.as_ref().is_none_or(|d| at < d.ends_at)));
        let awaiting = StepStatus::AwaitingTrigger {
            trigger: rule.counted_from.first().copied().unwrap_or(Trigger::Awareness),
        };
        let mut due_soon = None;
        let status = match (met, self.not_required(rule, deadline.as_ref()), &deadline) {
            // Work begun in time counts even if "not reasonably practicable" was also recorded.
            (Some((at, true)), _, _) => StepStatus::Met { at, on_time: true },
            // A clock that has not started is waiting, even for a conditional step: its
            // condition can still be recorded once the trigger happens.
            (None, _, None) => match self.stopped {
                Some((at, reason)) => StepStatus::Stopped { at, reason },
                None => awaiting,
            },
            (_, Some(reason), _) => StepStatus::NotRequired { reason },
            (Some((at, on_time)), None, _) => StepStatus::Met { at, on_time },
            (None, None, Some(d)) => match self.stopped {
                Some((at, reason)) => StepStatus::Stopped { at, reason },
                None => {
                    let last_day = match d.due {
                        Due::Date(day) if rule.basis == Basis::WorkingDays => Some(day),
                        _ => None,
                    };
                    let soon = due_soon_from(d.counted_from.at, d.ends_at, last_day, calendar, policy);
                    due_soon = Some(soon);
                    running_status(as_of, d.ends_at, soon)
                }
            },
        };
        let unable_to_comply = self.unable_to_comply_view(step, deadline.as_ref(), calendar);
        Ok(StepView {
            step,
            deadline,
            status,
            unable_to_comply,
            recorded_late: None,
            due_soon_from: due_soon,
        })
    }

    /// The latest notice for `step`, with its expected date worked out on `calendar`.
    fn unable_to_comply_view(
        &self,
        step: StepName,
        deadline: Option<&Deadline>,
        calendar: &Calendar,
    ) -> Option<UnableToComplyView> {
        let notices: Vec<&UnableToComplyNotice> =
            self.unable_to_comply.iter().filter(|n| n.step == step).collect();
        let latest = notices.last()?;
        let expected_by = match latest.expected {
            ExpectedCompliance::By(date) => Some(date),
            ExpectedCompliance::WorkingDays(days) => {
                calendar.add_working_days(local_date(latest.at), days).ok()
            }
        };
        Some(UnableToComplyView {
            notified_at: latest.at,
            reason: latest.reason.clone(),
            expected: latest.expected,
            expected_by,
            within_period: deadline.map(|d| latest.at < d.ends_at),
            notices: notices.len(),
        })
    }

    fn triage_view(&self, as_of: DateTime<Utc>, calendar: &Calendar, policy: &StatusPolicy) -> TriageView {
        match (self.triaged_at, self.stopped) {
            (None, Some((at, reason))) => TriageView {
                due: TriageView::due_for(self.opened_at, policy),
                status: StepStatus::Stopped { at, reason },
                due_soon_from: None,
            },
            (triaged, _) => TriageView::of(self.opened_at, triaged, as_of, calendar, policy),
        }
    }

    /// Every step of the case's track with its deadline and status as of `now` (or as of
    /// closure, for a closed case).
    pub fn view(
        &self,
        now: DateTime<Utc>,
        calendar: &Calendar,
        rules: &AwaabRules,
        policy: &StatusPolicy,
    ) -> Result<CaseView, DeadlineError> {
        let as_of = self.closed_at.map_or(now, |closed| closed.min(now));
        let track = self.track.map(|t| rules.track_for(t));
        let scope = match (track, self.awareness) {
            (Some(track), Some(aware)) => Some(rules.scope(track, self.hazard, local_date(aware))),
            _ => None,
        };
        let mut steps = Vec::new();
        if let (Some(track), Some(awareness)) = (track, self.awareness) {
            let triggers = Triggers { awareness, investigation_concluded: self.investigation.map(|i| i.at) };
            for rule in rules.steps_for(track) {
                let view = match &scope {
                    Some(Scope::OutOfScope { reason }) => StepView {
                        step: rule.name,
                        deadline: None,
                        status: StepStatus::NotRequired { reason: reason.clone() },
                        unable_to_comply: None,
                        recorded_late: None,
                        due_soon_from: None,
                    },
                    _ => self.step_view(rule, &triggers, as_of, calendar, rules, policy)?,
                };
                steps.push(view);
            }
        }
        // The safety work whose lateness owes the household alternative accommodation, as the
        // law data marks it (none under Scotland's regulations).
        let safety_step = track.and_then(|track| {
            rules.steps_for(track).find(|r| r.alternative_accommodation_on_expiry).map(|r| r.name)
        });
        let needed_from = safety_step.and_then(|name| steps.iter().find(|s| s.step == name)).and_then(|s| {
            match (&s.status, &s.deadline) {
                (StepStatus::Overdue | StepStatus::Met { on_time: false, .. }, Some(d)) => Some(d.ends_at),
                _ => None,
            }
        });
        Ok(CaseView {
            tenancy: self.tenancy,
            law: Some(rules.id().to_owned()),
            no_clock: None,
            state: self.state,
            hazard: self.hazard,
            taxonomy: TAXONOMY_VERSION.to_owned(),
            track,
            awareness: self.awareness,
            scope,
            triage: self.triage_view(as_of, calendar, policy),
            steps,
            alternative_accommodation: AlternativeAccommodationView {
                needed_from,
                offered_at: self.alternative_accommodation_offered,
                provided_at: self.alternative_accommodation_provided,
            },
            evaluated_at: as_of,
            calendar_version: calendar.version().to_owned(),
            rules_version: rules.version().to_owned(),
        })
    }

    /// The case of a home no law covers (or whose law is not to be applied), as of `now`:
    /// the triage review and what was recorded, no statutory steps, and why there is no
    /// clock.
    pub fn view_without_law(
        &self,
        now: DateTime<Utc>,
        calendar: &Calendar,
        policy: &StatusPolicy,
        no_clock: NoClock,
    ) -> CaseView {
        let as_of = self.closed_at.map_or(now, |closed| closed.min(now));
        let scope = (self.track.is_some() && self.awareness.is_some())
            .then(|| Scope::OutOfScope { reason: no_clock.reason.clone() });
        CaseView {
            tenancy: self.tenancy,
            law: None,
            no_clock: Some(no_clock),
            state: self.state,
            hazard: self.hazard,
            taxonomy: TAXONOMY_VERSION.to_owned(),
            track: self.track,
            awareness: self.awareness,
            scope,
            triage: self.triage_view(as_of, calendar, policy),
            steps: Vec::new(),
            alternative_accommodation: AlternativeAccommodationView {
                needed_from: None,
                offered_at: self.alternative_accommodation_offered,
                provided_at: self.alternative_accommodation_provided,
            },
            evaluated_at: as_of,
            calendar_version: calendar.version().to_owned(),
            rules_version: "none".to_owned(),
        }
    }
}
