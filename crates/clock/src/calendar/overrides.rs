//! Calendar overrides from configuration: days added or removed before the calendar data
//! catches up (one-off bank holidays are announced at short notice).

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::fingerprint::fingerprint;

/// Days to add to or remove from the calendar, e.g. the `[calendar]` section of a config file:
///
/// ```toml
/// [[calendar.add]]
/// date = "2027-06-07"
/// title = "Extra bank holiday"
///
/// [[calendar.remove]]
/// date = "2027-05-31"
/// reason = "Spring bank holiday moved by proclamation"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalendarOverrides {
    /// Extra bank holidays.
    pub add: Vec<AddedDay>,
    /// Bank holidays that no longer apply.
    pub remove: Vec<RemovedDay>,
}

/// An extra bank holiday from configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddedDay {
    /// The day.
    pub date: NaiveDate,
    /// Its name.
    pub title: String,
}

/// A bank holiday removed by configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemovedDay {
    /// The day.
    pub date: NaiveDate,
    /// Why (kept for the record; not part of the version).
    #[serde(default)]
    pub reason: String,
}

impl CalendarOverrides {
    /// No overrides at all?
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }

    pub(crate) fn added_dates(&self) -> BTreeSet<NaiveDate> {
        self.add.iter().map(|a| a.date).collect()
    }

    pub(crate) fn removed_dates(&self) -> BTreeSet<NaiveDate> {
        self.remove.iter().map(|r| r.date).collect()
    }

    /// A fingerprint of which days are added and removed; titles and reasons do not change
    /// which days count, so they do not change the version.
    pub fn fingerprint(&self) -> String {
        let mut canonical = String::new();
        for date in self.added_dates() {
            canonical.push_str(&format!("+{date}\n"));
        }
        for date in self.removed_dates() {
            canonical.push_str(&format!("-{date}\n"));
        }
        fingerprint(&canonical)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_ignores_order_and_titles() {
        let d1 = NaiveDate::from_ymd_opt(2027, 6, 7).unwrap();
        let d2 = NaiveDate::from_ymd_opt(2027, 6, 8).unwrap();
        let a = CalendarOverrides {
            add: vec![AddedDay { date: d1, title: "x".into() }, AddedDay { date: d2, title: "y".into() }],
            remove: vec![],
        };
        let b = CalendarOverrides {
            add: vec![AddedDay { date: d2, title: "other".into() }, AddedDay { date: d1, title: "z".into() }],
            remove: vec![],
        };
        assert_eq!(a.fingerprint(), b.fingerprint());
        let c = CalendarOverrides { add: vec![AddedDay { date: d1, title: "x".into() }], remove: vec![] };
        assert_ne!(a.fingerprint(), c.fingerprint());
    }

    #[test]
    fn reads_from_toml() {
        let text = "[[add]]\ndate = \"2027-06-07\"\ntitle = \"Extra\"\n[[remove]]\ndate = \"2027-05-31\"\n";
        let o: CalendarOverrides = toml::from_str(text).unwrap();
        assert_eq!(o.add.len(), 1);
        assert_eq!(o.remove.len(), 1);
    }
}
