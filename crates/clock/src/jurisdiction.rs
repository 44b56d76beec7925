//! Where a home is and how it is let: the two facts that decide which law's clock, if any,
//! runs for it.
//!
//! The identifiers are part of the product's interface (stored with homes and cases, used in
//! law files, configuration and APIs): `england`, `scotland`, `wales`; `social`,
//! `private_rented`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The legal jurisdiction a home is in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum Jurisdiction {
    /// England.
    #[default]
    England,
    /// Scotland.
    Scotland,
    /// Wales (recorded; no statutory response clock is in the law data).
    Wales,
}

impl Jurisdiction {
    /// Every jurisdiction.
    pub const ALL: [Jurisdiction; 3] = [Jurisdiction::England, Jurisdiction::Scotland, Jurisdiction::Wales];

    /// The identifier used in data and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Jurisdiction::England => "england",
            Jurisdiction::Scotland => "scotland",
            Jurisdiction::Wales => "wales",
        }
    }

    /// The name people read: `England`, `Scotland`, `Wales`.
    pub fn title(self) -> &'static str {
        match self {
            Jurisdiction::England => "England",
            Jurisdiction::Scotland => "Scotland",
            Jurisdiction::Wales => "Wales",
        }
    }
}

impl fmt::Display for Jurisdiction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a home is let.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum Tenure {
    /// Let by a social landlord (a council or a housing association).
    #[default]
    Social,
    /// Let by a private landlord.
    PrivateRented,
}

impl Tenure {
    /// Every tenure.
    pub const ALL: [Tenure; 2] = [Tenure::Social, Tenure::PrivateRented];

    /// The identifier used in data and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Tenure::Social => "social",
            Tenure::PrivateRented => "private_rented",
        }
    }

    /// The name people read: `social`, `private rented`.
    pub fn title(self) -> &'static str {
        match self {
            Tenure::Social => "social",
            Tenure::PrivateRented => "private rented",
        }
    }
}

impl fmt::Display for Tenure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A home's jurisdiction and tenure: what a law file declares it covers, and what a case
/// records it runs under.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Tenancy {
    /// Where the home is.
    pub jurisdiction: Jurisdiction,
    /// How it is let.
    pub tenure: Tenure,
}

impl Tenancy {
    /// A social home in England: what every case was before homes recorded their tenancy.
    pub const ENGLAND_SOCIAL: Tenancy =
        Tenancy { jurisdiction: Jurisdiction::England, tenure: Tenure::Social };

    /// A home in `jurisdiction` let as `tenure`.
    pub fn new(jurisdiction: Jurisdiction, tenure: Tenure) -> Self {
        Tenancy { jurisdiction, tenure }
    }
}

impl fmt::Display for Tenancy {
    /// `scotland/private_rented`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.jurisdiction, self.tenure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_stable() {
        let json =
            serde_json::to_string(&Tenancy::new(Jurisdiction::Scotland, Tenure::PrivateRented)).unwrap();
        assert_eq!(json, r#"{"jurisdiction":"scotland","tenure":"private_rented"}"#);
        for j in Jurisdiction::ALL {
            assert_eq!(serde_json::to_value(j).unwrap(), j.as_str());
        }
        for t in Tenure::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        assert_eq!(Tenancy::default(), Tenancy::ENGLAND_SOCIAL);
    }
}
