//! The statutory response clock: Awaab's Law in England, and Scotland's Investigation and
//! Commencement of Repair Regulations, with their working-day calendars.
//!
//! What it is for: given where a home is and how it is let (its [`Tenancy`]: jurisdiction
//! and tenure), when the landlord became aware of a potential hazard and what has happened
//! since, say which law's clock runs (or why none does), when every statutory response step
//! is due, how each due time was counted (so a housing officer can check it by hand), and
//! where each step stands. It holds:
//!
//! - [`jurisdiction`]: [`Jurisdiction`] (England, Scotland, Wales), [`Tenure`] (social,
//!   private rented) and the pair, [`Tenancy`];
//! - [`calendar`]: the bank-holiday calendars of the gov.uk divisions England & Wales and
//!   Scotland (standing rules per division and one-off changes as versioned data,
//!   configuration overrides, import of gov.uk's `bank-holidays.json` by division) and
//!   working days on them;
//! - [`law`]: every law as versioned data (one file per jurisdiction and tenure: steps,
//!   periods, the working-day definition and its calendar, phases with dates of effect and
//!   sources) and [`LawBook`], which picks the law for a home on a date or says why no clock
//!   runs (Wales; a law before its date of effect or with no date set);
//! - [`hazard`]: the HHSRS hazard list;
//! - [`deadline`]: a step's deadline from its trigger events;
//! - [`case`]: the case state machine from potential issue to closure, each law's steps
//!   (Scotland's own, with `unable_to_comply` notices), and each step's status;
//! - [`london`]: Europe/London local days and the reading and display of times;
//! - [`config`]: the `[clock]` configuration section and the assembled [`Clock`];
//! - `cli` (feature `cli`): the `dampwatch clock deadlines` command.
//!
//! Rules it keeps: elapsed-hour clocks are exact UTC arithmetic (24 h across a clock change is
//! 24 h); working-day and week periods count from the day after the trigger's Europe/London
//! date and end at the end of the last permitted London day, on the calendar the law's
//! working-day definition names; every deadline records the calendar and law versions that
//! produced it.
//!
//! What it must never do: I/O of any kind (no files, network, database or runtime: callers
//! pass text in and store results themselves; only the optional `cli` module reads a file the
//! user names), read the system clock (callers pass `now`), hold global state, or hard-code a
//! period, date, holiday, jurisdiction or hazard scope outside its data files. It is not legal
//! advice: unverified dates and definitions are labelled as such.

pub mod calendar;
pub mod case;
pub mod config;
pub mod deadline;
mod fingerprint;
pub mod hazard;
pub mod jurisdiction;
pub mod law;
pub mod london;

#[cfg(feature = "cli")]
pub mod cli;

pub use calendar::{Calendar, CalendarError, CalendarOverrides};
pub use case::{
    due_soon_from, running_status, AwarenessPolicy, Case, CaseEvent, CaseState, CaseView, ExpectedCompliance,
    StatusPolicy, StepStatus, TransitionError,
};
pub use config::{Clock, ClockConfig, ClockSources, ConfigError, TenancyDeadlines};
pub use deadline::{
    compute_deadline, deadlines_for_track, Deadline, DeadlineError, Due, StepDeadline, Triggers,
};
pub use hazard::Hazard;
pub use jurisdiction::{Jurisdiction, Tenancy, Tenure};
pub use law::{
    Applicability, AwaabRules, LawBook, NoClock, NoClockReason, RulesOverrides, Scope, StepName, Track,
    WorkingDayDefinition,
};
