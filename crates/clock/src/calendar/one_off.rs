//! A division's calendar data: which standing rules apply in it, and the one-off changes to
//! them (royal proclamations), kept as versioned data.
//!
//! The embedded files `data/england-and-wales.toml` and `data/scotland.toml` are the
//! defaults; another file of the same shape can replace either.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::error::CalendarError;
use super::rule::HolidayRule;

/// The England & Wales calendar data compiled into the crate.
pub const EMBEDDED_CALENDAR_DATA: &str = include_str!("../../data/england-and-wales.toml");

/// The Scotland calendar data compiled into the crate.
pub const EMBEDDED_SCOTLAND_CALENDAR_DATA: &str = include_str!("../../data/scotland.toml");

/// The gov.uk divisions with calendar data compiled into the crate, and their data.
const EMBEDDED_DIVISIONS: [(&str, &str); 2] =
    [("england-and-wales", EMBEDDED_CALENDAR_DATA), ("scotland", EMBEDDED_SCOTLAND_CALENDAR_DATA)];

/// Where a one-off change comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provenance {
    /// The date the change was announced or proclaimed.
    pub effective: NaiveDate,
    /// The calendar data version that first carried the change.
    pub version: String,
    /// Where the change is published.
    pub source: String,
}

/// A one-off change to one year's bank holidays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OneOffChange {
    /// A standing-rule day moved to another date (2020 VE day, 2022 spring).
    Move {
        /// The rule whose day moved.
        rule: HolidayRule,
        /// The date the rule gives.
        from: NaiveDate,
        /// The date it moved to.
        date: NaiveDate,
        /// The published name of the moved day.
        title: String,
        /// Where the change comes from.
        provenance: Provenance,
    },
    /// An extra bank holiday (2022 Jubilee and state funeral, 2023 coronation).
    Add {
        /// The extra day.
        date: NaiveDate,
        /// Its published name.
        title: String,
        /// Where the change comes from.
        provenance: Provenance,
    },
    /// A standing-rule day cancelled without replacement.
    Remove {
        /// The rule whose day is cancelled.
        rule: HolidayRule,
        /// The date the rule gives.
        from: NaiveDate,
        /// Where the change comes from.
        provenance: Provenance,
    },
}

impl OneOffChange {
    /// The standing-rule date this change takes away, if any.
    pub fn removes(&self) -> Option<NaiveDate> {
        match self {
            OneOffChange::Move { from, .. } | OneOffChange::Remove { from, .. } => Some(*from),
            OneOffChange::Add { .. } => None,
        }
    }

    /// The bank holiday this change creates, with its title, if any.
    pub fn adds(&self) -> Option<(NaiveDate, &str)> {
        match self {
            OneOffChange::Move { date, title, .. } | OneOffChange::Add { date, title, .. } => {
                Some((*date, title.as_str()))
            }
            OneOffChange::Remove { .. } => None,
        }
    }

    /// Where the change comes from.
    pub fn provenance(&self) -> &Provenance {
        match self {
            OneOffChange::Move { provenance, .. }
            | OneOffChange::Add { provenance, .. }
            | OneOffChange::Remove { provenance, .. } => provenance,
        }
    }
}

/// A parsed calendar data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarData {
    /// Data version, e.g. `ew-2026-11`.
    pub version: String,
    /// gov.uk division name, `england-and-wales` or `scotland`.
    pub division: String,
    /// Where the published calendar lives.
    pub source: String,
    /// The statute behind the standing rules.
    pub rules_source: String,
    /// The standing rules that apply in the division, in calendar order.
    pub rules: Vec<HolidayRule>,
    /// One-off changes, in file order.
    pub changes: Vec<OneOffChange>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    version: String,
    division: String,
    source: String,
    rules_source: String,
    #[serde(default)]
    rules: Option<Vec<HolidayRule>>,
    #[serde(default)]
    change: Vec<ChangeEntry>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum ChangeKind {
    Move,
    Add,
    Remove,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeEntry {
    kind: ChangeKind,
    rule: Option<HolidayRule>,
    from: Option<NaiveDate>,
    date: Option<NaiveDate>,
    title: Option<String>,
    effective: NaiveDate,
    version: String,
    source: String,
}

impl CalendarData {
    /// The England & Wales data compiled into the crate.
    pub fn embedded() -> Result<Self, CalendarError> {
        Self::from_toml(EMBEDDED_CALENDAR_DATA)
    }

    /// The data compiled into the crate for a gov.uk division (`england-and-wales`,
    /// `scotland`).
    pub fn embedded_for(division: &str) -> Result<Self, CalendarError> {
        let (_, text) = EMBEDDED_DIVISIONS.iter().find(|(name, _)| *name == division).ok_or_else(|| {
            CalendarError::UnknownDivision {
                division: division.to_owned(),
                known: EMBEDDED_DIVISIONS.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", "),
            }
        })?;
        let data = Self::from_toml(text)?;
        if data.division != division {
            return Err(CalendarError::InvalidData {
                reason: format!("the {division} data names division {:?}", data.division),
            });
        }
        Ok(data)
    }

    /// Parse and check a calendar data file.
    pub fn from_toml(text: &str) -> Result<Self, CalendarError> {
        let file: CalendarFile =
            toml::from_str(text).map_err(|e| CalendarError::InvalidData { reason: e.to_string() })?;
        let changes = file
            .change
            .into_iter()
            .enumerate()
            .map(|(index, entry)| {
                let rules = file.rules.as_deref();
                entry.check(rules).map_err(|reason| CalendarError::InvalidChange { index, reason })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Checked after the changes so a file's first mistake is the one reported.
        let rules = file.rules.ok_or_else(|| CalendarError::InvalidData {
            reason: "the file lists no standing `rules` for its division".to_owned(),
        })?;
        if let Some(twice) = rules.iter().enumerate().find(|(i, r)| rules[..*i].contains(r)) {
            return Err(CalendarError::InvalidData { reason: format!("rule {} is listed twice", twice.1) });
        }
        Ok(CalendarData {
            version: file.version,
            division: file.division,
            source: file.source,
            rules_source: file.rules_source,
            rules,
            changes,
        })
    }
}

impl ChangeEntry {
    /// The change, if it is consistent with itself and with the division's standing `rules`
    /// (when the file lists them).
    fn check(self, rules: Option<&[HolidayRule]>) -> Result<OneOffChange, String> {
        let provenance = Provenance { effective: self.effective, version: self.version, source: self.source };
        let standing_day = |rule: Option<HolidayRule>, from: Option<NaiveDate>| {
            let rule = rule.ok_or("needs `rule`")?;
            let from = from.ok_or("needs `from`")?;
            if rules.is_some_and(|rules| !rules.contains(&rule)) {
                return Err(format!("rule {rule:?} is not one of this division's standing rules"));
            }
            if rule.date_in(from.year()) != Some(from) {
                return Err(format!("`from` {from} is not the {rule} date of {}", from.year()));
            }
            Ok((rule, from))
        };
        match self.kind {
            ChangeKind::Move => {
                let (rule, from) = standing_day(self.rule, self.from)?;
                let date = self.date.ok_or("a move needs `date`")?;
                let title = self.title.unwrap_or_else(|| rule.title().to_owned());
                Ok(OneOffChange::Move { rule, from, date, title, provenance })
            }
            ChangeKind::Add => {
                let date = self.date.ok_or("an addition needs `date`")?;
                let title = self.title.ok_or("an addition needs `title`")?;
                Ok(OneOffChange::Add { date, title, provenance })
            }
            ChangeKind::Remove => {
                let (rule, from) = standing_day(self.rule, self.from)?;
                Ok(OneOffChange::Remove { rule, from, provenance })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_data_parses_with_sources() {
        let data = CalendarData::embedded().expect("embedded calendar data");
        assert_eq!(data.division, "england-and-wales");
        assert_eq!(data.changes.len(), 5);
        for change in &data.changes {
            assert!(change.provenance().source.starts_with("https://"), "{change:?}");
        }
        assert!(data.rules.contains(&HolidayRule::EasterMonday));
        assert!(!data.rules.contains(&HolidayRule::StAndrewsDay));
    }

    #[test]
    fn each_division_lists_its_own_standing_rules() {
        let scotland = CalendarData::embedded_for("scotland").expect("embedded Scotland data");
        assert_eq!(scotland.division, "scotland");
        assert!(!scotland.rules.contains(&HolidayRule::EasterMonday), "no Easter Monday in Scotland");
        assert!(!scotland.rules.contains(&HolidayRule::Summer));
        for rule in [HolidayRule::SecondJanuary, HolidayRule::SummerScotland, HolidayRule::StAndrewsDay] {
            assert!(scotland.rules.contains(&rule), "{rule}");
        }
        for change in &scotland.changes {
            assert!(change.provenance().source.starts_with("https://"), "{change:?}");
        }
        assert!(matches!(
            CalendarData::embedded_for("northern-ireland"),
            Err(CalendarError::UnknownDivision { .. })
        ));
    }

    #[test]
    fn a_change_to_a_rule_the_division_does_not_have_is_refused() {
        let text = r#"
            version = "x"
            division = "scotland"
            source = "s"
            rules_source = "r"
            rules = ["new_year", "summer_scotland"]
            [[change]]
            kind = "remove"
            rule = "easter_monday"
            from = "2026-04-06"
            effective = "2026-01-01"
            version = "x"
            source = "s"
        "#;
        assert!(matches!(CalendarData::from_toml(text), Err(CalendarError::InvalidChange { index: 0, .. })));
        let without_rules = text.replace("rules = [\"new_year\", \"summer_scotland\"]", "");
        let without_rules = without_rules.split("[[change]]").next().unwrap_or_default();
        assert!(matches!(CalendarData::from_toml(without_rules), Err(CalendarError::InvalidData { .. })));
    }

    #[test]
    fn a_move_from_a_date_the_rule_does_not_give_is_refused() {
        let text = r#"
            version = "x"
            division = "england-and-wales"
            source = "s"
            rules_source = "r"
            [[change]]
            kind = "move"
            rule = "early_may"
            from = "2020-05-11"
            date = "2020-05-08"
            effective = "2019-06-07"
            version = "x"
            source = "s"
        "#;
        assert!(matches!(CalendarData::from_toml(text), Err(CalendarError::InvalidChange { index: 0, .. })));
    }
}
