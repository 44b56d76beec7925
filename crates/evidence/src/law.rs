//! The law the deadlines were computed under, as files in the pack: every law data file and
//! every calendar data file (with their sources and versions, as `crates/clock/data` holds
//! them) and the clock configuration that adjusted them (phase dates, added or removed bank
//! holidays, the triage review period). From these alone the verifier builds the same clock
//! and recomputes every deadline; each deadline names the law and calendar versions it used,
//! which this clock must reproduce.

use std::collections::BTreeMap;

use dampwatch_clock::calendar::CalendarData;
use dampwatch_clock::law::AwaabRules;
use dampwatch_clock::{Clock, ClockConfig, ClockSources};

use crate::layout;

/// The law part of a pack: path → text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LawFiles {
    pub files: BTreeMap<String, String>,
}

impl LawFiles {
    /// The files of a clock built from `sources` with `config`.
    pub fn new(config: &ClockConfig, sources: &ClockSources<'_>) -> Result<LawFiles, String> {
        let mut files = BTreeMap::new();
        let config_text = toml::to_string(config).map_err(|e| format!("the clock configuration: {e}"))?;
        files.insert(layout::CLOCK_CONFIG.to_owned(), config_text);
        for text in &sources.laws {
            let law = AwaabRules::from_toml(text).map_err(|e| e.to_string())?;
            files.insert(layout::law_file(law.id()), (*text).to_owned());
        }
        for text in &sources.calendars {
            let data = CalendarData::from_toml(text).map_err(|e| e.to_string())?;
            files.insert(layout::calendar_file(&data.division), (*text).to_owned());
        }
        Ok(LawFiles { files })
    }

    /// The clock these files describe; the error names the file at fault.
    pub fn clock(&self) -> Result<Clock, (String, String)> {
        let config_text = self
            .files
            .get(layout::CLOCK_CONFIG)
            .ok_or_else(|| (layout::CLOCK_CONFIG.to_owned(), "missing".to_owned()))?;
        let config: ClockConfig = toml::from_str(config_text)
            .map_err(|e| (layout::CLOCK_CONFIG.to_owned(), format!("unreadable: {e}")))?;
        let texts = |dir: &str| -> Vec<&str> {
            self.files
                .iter()
                .filter(|(path, _)| path.starts_with(dir))
                .map(|(_, text)| text.as_str())
                .collect()
        };
        let sources = ClockSources { laws: texts(layout::LAWS_DIR), calendars: texts(layout::CALENDARS_DIR) };
        Clock::from_sources(&config, None, &sources).map_err(|e| ("law/".to_owned(), e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_give_back_the_clock_they_came_from() {
        let mut config = ClockConfig::default();
        config.status.triage_review_hours = 8;
        config.calendar.add.push(dampwatch_clock::calendar::AddedDay {
            date: chrono::NaiveDate::from_ymd_opt(2027, 6, 7).unwrap(),
            title: "Extra bank holiday".into(),
        });
        let files = LawFiles::new(&config, &ClockSources::embedded()).expect("files");
        let clock = files.clock().expect("clock");
        let built_in = Clock::from_config(&config, None).expect("clock");
        // The same laws (the pack lists them by file name, not in the crate's order), the
        // same calendars and the same status policy.
        assert_eq!(clock.rules, built_in.rules);
        assert_eq!(clock.calendars, built_in.calendars);
        assert_eq!(clock.status, built_in.status);
        assert_eq!(clock.laws.laws().len(), built_in.laws.laws().len());
        for law in built_in.laws.laws() {
            assert_eq!(clock.laws.by_id(law.id()), Some(law));
        }
        assert!(files.files.contains_key("law/laws/england-social.toml"), "{:?}", files.files.keys());
        assert!(files.files.contains_key("law/calendars/scotland.toml"));
    }
}
