//! Why an event cannot be applied to a case. Every variant says what would be accepted.

use std::fmt;

use chrono::{DateTime, Utc};

use super::event::EventKind;
use super::CaseState;

/// The events a case accepts now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedEvents(pub Vec<EventKind>);

impl fmt::Display for AllowedEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<&str> = self.0.iter().map(|k| k.as_str()).collect();
        f.write_str(&names.join(", "))
    }
}

/// An event that the case's state does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// Not possible in this state.
    #[error("{event} is not allowed while the case is {state}; allowed now: {allowed}")]
    NotAllowed {
        /// The case's state.
        state: CaseState,
        /// The event refused.
        event: EventKind,
        /// What the case accepts now.
        allowed: AllowedEvents,
    },
    /// Already recorded once; it cannot happen twice.
    #[error("{event} was already recorded at {at}; allowed now: {allowed}")]
    AlreadyRecorded {
        /// The event refused.
        event: EventKind,
        /// When it was recorded.
        at: DateTime<Utc>,
        /// What the case accepts now.
        allowed: AllowedEvents,
    },
    /// Closing with work outstanding.
    #[error("the case cannot be closed yet: record {missing} first (or a stop event)")]
    OutstandingWork {
        /// The events still missing.
        missing: AllowedEvents,
    },
    /// The event's instant is before something it must follow.
    #[error("{event} at {at} is before {after} at {limit}")]
    TooEarly {
        /// The event refused.
        event: EventKind,
        /// Its instant.
        at: DateTime<Utc>,
        /// What it must not precede.
        after: &'static str,
        /// That instant.
        limit: DateTime<Utc>,
    },
}
