//! The Awaab's Law deadline clock and the England & Wales working-day calendar.
//!
//! What it is for: given when a social landlord became aware of a potential hazard and what
//! has happened since, say when every statutory response step is due, how each due time was
//! counted (so a housing officer can check it by hand), and where each step stands. It holds:
//!
//! - [`calendar`]: the England & Wales bank-holiday calendar (standing rules, one-off changes
//!   as versioned data, configuration overrides, import of gov.uk's `bank-holidays.json`) and
//!   working days on it;
//! - [`law`]: Awaab's Law steps and phases as versioned data with dates of effect and sources;
//! - [`hazard`]: the HHSRS hazard list;
//! - [`deadline`]: a step's deadline from its trigger events;
//! - [`case`]: the case state machine from potential issue to closure, and each step's status;
//! - [`london`]: Europe/London local days and the reading and display of times;
//! - [`config`]: the `[clock]` configuration section and the assembled [`Clock`];
//! - `cli` (feature `cli`): the `dampwatch clock deadlines` command.
//!
//! Rules it keeps: elapsed-hour clocks are exact UTC arithmetic (24 h across a clock change is
//! 24 h); working-day and week periods count from the day after the trigger's Europe/London
//! date and end at the end of the last permitted London day; every deadline records the
//! calendar and rules versions that produced it.
//!
//! What it must never do: I/O of any kind (no files, network, database or runtime: callers
//! pass text in and store results themselves; only the optional `cli` module reads a file the
//! user names), read the system clock (callers pass `now`), hold global state, or hard-code a
//! period, date or hazard scope outside its data files. It is not legal advice: unverified
//! dates are labelled as such.

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
    AwarenessPolicy, Case, CaseEvent, CaseState, CaseView, StatusPolicy, StepStatus, TransitionError,
};
pub use config::{Clock, ClockConfig, ConfigError};
pub use deadline::{
    compute_deadline, deadlines_for_track, Deadline, DeadlineError, Due, StepDeadline, Triggers,
};
pub use hazard::Hazard;
pub use jurisdiction::{Jurisdiction, Tenancy, Tenure};
pub use law::{AwaabRules, RulesOverrides, Scope, StepName, Track};
