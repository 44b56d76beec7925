//! The retention policy as data (`collector/data/retention.toml`): versions in force from a
//! date, each class's period with its reason and primary source.

use std::time::Duration;

use chrono::NaiveDate;
use serde::Deserialize;

/// The policy file, built in.
pub const POLICY_TOML: &str = include_str!("../../data/retention.toml");

/// A class of data with one retention period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Readings and the signed uplinks they came in.
    Readings,
    HourlyRollups,
    /// Quarantined messages and the per-device hourly counts that trace them.
    RejectedMessages,
    /// Successful webhook deliveries and e-mail sends.
    OperationalLogs,
    /// Failed and abandoned webhook deliveries and e-mails.
    ErrorLogs,
    /// The tamper-evident audit log.
    AuditLogs,
    ClosedCases,
}

impl Class {
    pub const ALL: [Class; 7] = [
        Class::Readings,
        Class::HourlyRollups,
        Class::RejectedMessages,
        Class::OperationalLogs,
        Class::ErrorLogs,
        Class::AuditLogs,
        Class::ClosedCases,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Class::Readings => "readings",
            Class::HourlyRollups => "hourly_rollups",
            Class::RejectedMessages => "rejected_messages",
            Class::OperationalLogs => "operational_logs",
            Class::ErrorLogs => "error_logs",
            Class::AuditLogs => "audit_logs",
            Class::ClosedCases => "closed_cases",
        }
    }
}

/// How long a class is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    For(Duration),
    Forever,
}

impl Keep {
    fn parse(text: &str) -> Result<Keep, String> {
        if text == "forever" {
            return Ok(Keep::Forever);
        }
        match humantime::parse_duration(text) {
            Ok(d) if d.is_zero() => Ok(Keep::Forever),
            Ok(d) => Ok(Keep::For(d)),
            Err(e) => Err(format!("{text:?}: {e}")),
        }
    }

    /// A configured override: "0s" keeps for ever, as the configuration has always said.
    pub fn from_config(d: Duration) -> Keep {
        if d.is_zero() {
            Keep::Forever
        } else {
            Keep::For(d)
        }
    }
}

impl std::fmt::Display for Keep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Keep::For(d) => write!(f, "{}", humantime::format_duration(*d)),
            Keep::Forever => f.write_str("forever"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub class: Class,
    pub keep: Keep,
    /// Whether a legal hold stops the deletion.
    pub held: bool,
    pub basis: String,
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct Version {
    pub id: String,
    pub effective_from: NaiveDate,
    pub summary: String,
    pub rules: Vec<Rule>,
}

impl Version {
    pub fn rule(&self, class: Class) -> &Rule {
        self.rules.iter().find(|r| r.class == class).expect("every class has a rule (checked at parse)")
    }
}

#[derive(Debug, Clone)]
pub struct Policy {
    versions: Vec<Version>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: Vec<RawVersion>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVersion {
    id: String,
    effective_from: toml::value::Datetime,
    summary: String,
    class: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    class: Class,
    keep: String,
    held: bool,
    basis: String,
    source: String,
}

impl Policy {
    /// The built-in policy.
    pub fn builtin() -> Policy {
        Policy::parse(POLICY_TOML).expect("the built-in retention policy parses (tested)")
    }

    pub fn parse(text: &str) -> Result<Policy, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut versions = Vec::new();
        for v in file.version {
            let date = v
                .effective_from
                .date
                .and_then(|d| NaiveDate::from_ymd_opt(d.year.into(), d.month.into(), d.day.into()))
                .filter(|_| v.effective_from.time.is_none())
                .ok_or_else(|| format!("version {}: effective_from must be a date", v.id))?;
            let mut rules = Vec::new();
            for r in v.class {
                let keep =
                    Keep::parse(&r.keep).map_err(|e| format!("version {} {}: {e}", v.id, r.class.name()))?;
                if r.source.trim().is_empty() || r.basis.trim().is_empty() {
                    return Err(format!(
                        "version {} {}: every period needs its basis and source",
                        v.id,
                        r.class.name()
                    ));
                }
                if rules.iter().any(|x: &Rule| x.class == r.class) {
                    return Err(format!("version {}: {} twice", v.id, r.class.name()));
                }
                rules.push(Rule { class: r.class, keep, held: r.held, basis: r.basis, source: r.source });
            }
            if let Some(missing) = Class::ALL.iter().find(|c| !rules.iter().any(|r| r.class == **c)) {
                return Err(format!("version {}: no rule for {}", v.id, missing.name()));
            }
            versions.push(Version { id: v.id, effective_from: date, summary: v.summary, rules });
        }
        versions.sort_by_key(|v| v.effective_from);
        if versions.is_empty() {
            return Err("no version".into());
        }
        Ok(Policy { versions })
    }

    /// The version in force on `day` (the earliest version before the first took effect).
    pub fn in_force(&self, day: NaiveDate) -> &Version {
        self.versions.iter().rev().find(|v| v.effective_from <= day).unwrap_or(&self.versions[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_policy_states_every_class_with_its_source() {
        let policy = Policy::builtin();
        let v = policy.in_force(NaiveDate::from_ymd_opt(2027, 1, 1).unwrap());
        assert_eq!(v.id, "2026-12");
        let days = |c: Class| match v.rule(c).keep {
            Keep::For(d) => d.as_secs() / 86_400,
            Keep::Forever => u64::MAX,
        };
        assert_eq!(days(Class::RejectedMessages), 90);
        assert_eq!(days(Class::OperationalLogs), 90);
        assert_eq!(days(Class::ErrorLogs), 365);
        assert_eq!(days(Class::AuditLogs), 2556, "7 years of 365.25 days");
        assert!(v.rule(Class::Readings).held && !v.rule(Class::RejectedMessages).held);
        for class in Class::ALL {
            assert!(v.rule(class).source.contains("legislation.gov.uk"), "{}", class.name());
        }
    }

    #[test]
    fn a_later_version_takes_over_on_its_date() {
        let later = POLICY_TOML.to_owned()
            + &POLICY_TOML
                .split("[[version]]")
                .nth(1)
                .map(|v| {
                    format!(
                        "[[version]]{}",
                        v.replace("2026-12-01", "2028-04-01").replace("\"2026-12\"", "\"2028-04\"")
                    )
                })
                .unwrap();
        let policy = Policy::parse(&later).unwrap();
        assert_eq!(policy.in_force(NaiveDate::from_ymd_opt(2028, 3, 31).unwrap()).id, "2026-12");
        assert_eq!(policy.in_force(NaiveDate::from_ymd_opt(2028, 4, 1).unwrap()).id, "2028-04");
    }

    #[test]
    fn a_class_without_its_source_is_refused() {
        let broken = POLICY_TOML.replacen(
            "source = \"UK GDPR Art. 5(1)(e) (storage limitation), https://www.legislation.gov.uk/eur/2016/679/article/5\"",
            "source = \"\"",
            1,
        );
        let err = Policy::parse(&broken).unwrap_err();
        assert!(err.contains("basis and source"), "{err}");
    }
}
