//! How an audited action ended.

use std::fmt;
use std::str::FromStr;

/// The outcome of an audited action, stored as `success`, `failure` or `refused` (the
/// database's CHECK constraint lists the same three).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// It was done.
    Success,
    /// It was attempted and failed (a wrong password, an error).
    Failure,
    /// It was not allowed (no permission, a rate limit, another landlord's record).
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Refused => "refused",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored outcome that is none of the three.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("outcome {0:?} is not one of success, failure, refused")]
pub struct UnknownOutcome(pub String);

impl FromStr for Outcome {
    type Err = UnknownOutcome;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "success" => Ok(Outcome::Success),
            "failure" => Ok(Outcome::Failure),
            "refused" => Ok(Outcome::Refused),
            other => Err(UnknownOutcome(other.to_owned())),
        }
    }
}
