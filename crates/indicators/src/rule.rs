//! Alert rules as data: each has an id, a version, a threshold, a duration, hysteresis, a
//! severity and the basis it rests on. Changing a default changes its rule's version and the
//! rule set version, so every stored alert can be traced to the exact rule that raised it.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Version of [`default_rules`]; stored with every alert.
/// 2026.1: ventilation is judged over nights (`ventilation.co2_nights`) instead of by the hour
/// (`ventilation.co2_1500ppm`, which raised and cleared an alert every night in a bedroom).
pub const DEFAULT_RULESET_VERSION: &str = "dampwatch-rules/2026.1";

/// What an alert is about. The first three indicate HHSRS (2006) hazards and carry their slugs
/// (the hazard worker maps them to `dampwatch_clock::Hazard` with a typed match); the others
/// are about ventilation and the data itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hazard {
    DampAndMouldGrowth,
    ExcessCold,
    ExcessHeat,
    PoorVentilation,
    DeviceOffline,
}

impl Hazard {
    pub fn slug(self) -> &'static str {
        match self {
            Hazard::DampAndMouldGrowth => "damp_and_mould_growth",
            Hazard::ExcessCold => "excess_cold",
            Hazard::ExcessHeat => "excess_heat",
            Hazard::PoorVentilation => "poor_ventilation",
            Hazard::DeviceOffline => "device_offline",
        }
    }
}

/// What an alert about a hazard means for the landlord's legal duties. Ordered:
/// `LegalClock` > `Advisory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Duty {
    /// Advice: no legal clock runs on it (ventilation, the data itself). It may be delivered
    /// in a batch.
    Advisory,
    /// Evidence of a potential HHSRS hazard (a potential emergency or significant hazard, as a
    /// person's triage decides): it opens or joins a case whose response clock starts at
    /// detection or at triage, under the home's law. Always delivered at once.
    LegalClock,
}

impl Duty {
    pub fn as_str(self) -> &'static str {
        match self {
            Duty::Advisory => "advisory",
            Duty::LegalClock => "legal_clock",
        }
    }
}

impl Hazard {
    /// Whether an alert about this hazard starts or joins a legal clock. One exhaustive
    /// match: a new kind of hazard does not compile until this is decided.
    pub fn duty(self) -> Duty {
        match self {
            Hazard::DampAndMouldGrowth | Hazard::ExcessCold | Hazard::ExcessHeat => Duty::LegalClock,
            Hazard::PoorVentilation | Hazard::DeviceOffline => Duty::Advisory,
        }
    }
}

impl fmt::Display for Hazard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

/// How urgent an alert is. Ordered: `Red` > `Amber`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Amber,
    Red,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Amber => "amber",
            Severity::Red => "red",
        })
    }
}

/// A quantity a rule watches, computed for every reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Room air relative humidity, %.
    RoomRh,
    /// Relative humidity at the coldest surface (measured or ESTIMATED), %.
    SurfaceRh,
    /// Room air temperature, °C.
    AirTemperature,
    /// CO2, ppm.
    Co2,
    /// VTT mould index M, 0–6.
    MouldIndex,
    /// Coldest known temperature minus dew point, °C.
    DewPointMargin,
}

impl Metric {
    pub fn label(self) -> &'static str {
        match self {
            Metric::RoomRh => "room RH",
            Metric::SurfaceRh => "surface RH",
            Metric::AirTemperature => "air temperature",
            Metric::Co2 => "CO2",
            Metric::MouldIndex => "mould index",
            Metric::DewPointMargin => "dew-point margin",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Metric::RoomRh | Metric::SurfaceRh => " %",
            Metric::AirTemperature | Metric::DewPointMargin => " °C",
            Metric::Co2 => " ppm",
            Metric::MouldIndex => "",
        }
    }
}

/// Which side of the threshold raises the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// value > threshold raises; value < clear_at clears.
    Above,
    /// value ≥ threshold raises; value < clear_at clears.
    AtLeast,
    /// value < threshold raises; value > clear_at clears.
    Below,
    /// value ≤ threshold raises; value > clear_at clears.
    AtMost,
}

impl Comparison {
    pub fn raises(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::Above => value > threshold,
            Comparison::AtLeast => value >= threshold,
            Comparison::Below => value < threshold,
            Comparison::AtMost => value <= threshold,
        }
    }

    /// The value is past the hysteresis level, on the safe side.
    pub fn clears(self, value: f64, clear_at: f64) -> bool {
        if self.is_upward() {
            value < clear_at
        } else {
            value > clear_at
        }
    }

    /// True when high values are the risk.
    pub fn is_upward(self) -> bool {
        matches!(self, Comparison::Above | Comparison::AtLeast)
    }

    pub fn words(self) -> &'static str {
        match self {
            Comparison::Above => "above",
            Comparison::AtLeast => "at or above",
            Comparison::Below => "below",
            Comparison::AtMost => "at or below",
        }
    }
}

/// When a rule raises and clears.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// The metric stays past `threshold` for `raise_after` without a gap in the data longer than
    /// the engine's `max_gap`. Once raised it stays raised until the metric has been past
    /// `clear_at` (hysteresis) for `clear_after`; a gap never clears it.
    Sustained {
        metric: Metric,
        comparison: Comparison,
        threshold: f64,
        clear_at: f64,
        #[serde(with = "humantime_serde")]
        raise_after: Duration,
        #[serde(with = "humantime_serde")]
        clear_after: Duration,
    },
    /// The daily (UTC day) time-weighted mean of the metric is above `threshold` on at least
    /// `raise_days` of the last `window_days` days. A day counts only with at least
    /// `min_day_coverage` of data. Clears once `clear_dry_days` days of the window are covered
    /// and at or below the threshold: days without data never clear it.
    MostDays {
        metric: Metric,
        threshold: f64,
        window_days: u32,
        raise_days: u32,
        clear_dry_days: u32,
        #[serde(with = "humantime_serde")]
        min_day_coverage: Duration,
    },
    /// The metric is above `threshold` for at least `min_above` of a night on at least
    /// `raise_nights` of the last `window_nights` nights. A night runs from
    /// `night_start_hour` to `night_end_hour` (UTC; it may cross midnight). A night counts as
    /// below only once it is over, with at least `min_night_coverage` of data. Clears once
    /// `clear_nights` nights of the window count as below: nights without data never clear
    /// it. For patterns that follow the day, such as a bedroom's CO2 while people sleep.
    Nights {
        metric: Metric,
        threshold: f64,
        night_start_hour: u32,
        night_end_hour: u32,
        #[serde(with = "humantime_serde")]
        min_above: Duration,
        #[serde(with = "humantime_serde")]
        min_night_coverage: Duration,
        window_nights: u32,
        raise_nights: u32,
        clear_nights: u32,
    },
    /// No reading for `after`, judged against the caller's `now`. Without `after` (the
    /// built-in rule), the engine configuration's `offline_after`: the offline period is
    /// configured there, once.
    NoData {
        #[serde(default, skip_serializing_if = "Option::is_none", with = "humantime_serde")]
        after: Option<Duration>,
    },
}

/// One alert rule. Unknown keys are errors: a misspelt key in a configured rule must not
/// leave a number at its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable identifier, e.g. `damp.room_rh_sustained`.
    pub id: String,
    /// Bumped whenever the rule's meaning or numbers change.
    pub version: u32,
    pub hazard: Hazard,
    pub severity: Severity,
    pub condition: Condition,
    /// The source or reasoning behind the numbers, shown with every alert.
    pub basis: String,
}

impl Rule {
    /// The metric this rule watches and the level past which it raises, if it watches one: the
    /// line a chart of that metric draws for it.
    pub fn threshold(&self) -> Option<(Metric, f64)> {
        match &self.condition {
            Condition::Sustained { metric, threshold, .. }
            | Condition::MostDays { metric, threshold, .. }
            | Condition::Nights { metric, threshold, .. } => Some((*metric, *threshold)),
            Condition::NoData { .. } => None,
        }
    }
}

const HOUR: u64 = 3600;

fn sustained(
    id: &str,
    (hazard, severity): (Hazard, Severity),
    metric: Metric,
    comparison: Comparison,
    (threshold, clear_at): (f64, f64),
    (raise_after_h, clear_after_h): (u64, u64),
    basis: &str,
) -> Rule {
    Rule {
        id: id.to_owned(),
        version: 1,
        hazard,
        severity,
        condition: Condition::Sustained {
            metric,
            comparison,
            threshold,
            clear_at,
            raise_after: Duration::from_secs(raise_after_h * HOUR),
            clear_after: Duration::from_secs(clear_after_h * HOUR),
        },
        basis: basis.to_owned(),
    }
}

/// The default rules ([`DEFAULT_RULESET_VERSION`]), from domain facts §4.
pub fn default_rules() -> Vec<Rule> {
    use Comparison::*;
    use Hazard::*;
    use Metric::*;
    use Severity::*;
    vec![
        sustained(
            "damp.room_rh_sustained",
            (DampAndMouldGrowth, Amber),
            RoomRh,
            Above,
            (70.0, 65.0),
            (24, 1),
            "Comfort band 40-60 % RH; room air above 70 % RH for 24 h or more lets surfaces stay \
             damp (Dampwatch domain facts §4). Clears below 65 % held for 1 h.",
        ),
        Rule {
            id: "damp.surface_rh_most_days".to_owned(),
            version: 1,
            hazard: DampAndMouldGrowth,
            severity: Amber,
            condition: Condition::MostDays {
                metric: SurfaceRh,
                threshold: 80.0,
                window_days: 7,
                raise_days: 4,
                clear_dry_days: 5,
                min_day_coverage: Duration::from_secs(12 * HOUR),
            },
            basis: "BS 5250 / BS EN ISO 13788 design limit: surface RH above 80 % (mean) lets \
                    mould grow; here judged on daily means, on most days of a rolling week."
                .to_owned(),
        },
        sustained(
            "mould.index_microscopic",
            (DampAndMouldGrowth, Amber),
            MouldIndex,
            AtLeast,
            (1.0, 0.9),
            (0, 0),
            "VTT mould model (Hukka & Viitanen 1999; Ojanen et al. 2010): M >= 1, microscopic \
             growth likely.",
        ),
        sustained(
            "mould.index_visible",
            (DampAndMouldGrowth, Red),
            MouldIndex,
            AtLeast,
            (3.0, 2.8),
            (0, 0),
            "VTT mould model (Hukka & Viitanen 1999; Ojanen et al. 2010): M >= 3, visible growth \
             likely.",
        ),
        sustained(
            "cold.below_16c",
            (ExcessCold, Amber),
            AirTemperature,
            Below,
            (16.0, 17.0),
            (6, 1),
            "HHSRS excess cold: below 19 °C risk begins, below 16 °C serious when sustained \
             (Dampwatch domain facts §4). Clears above 17 °C held for 1 h.",
        ),
        sustained(
            "cold.below_10c",
            (ExcessCold, Red),
            AirTemperature,
            Below,
            (10.0, 11.0),
            (3, 1),
            "HHSRS excess cold: below 10 °C sustained is a severe risk, above all for people 65 \
             and over (Dampwatch domain facts §4).",
        ),
        sustained(
            "heat.above_25c",
            (ExcessHeat, Amber),
            AirTemperature,
            Above,
            (25.0, 24.0),
            (6, 1),
            "HHSRS excess heat: above 25 °C sustained. UNVERIFIED threshold, configurable \
             (Dampwatch domain facts §4).",
        ),
        Rule {
            id: "ventilation.co2_nights".to_owned(),
            version: 1,
            hazard: PoorVentilation,
            severity: Amber,
            condition: Condition::Nights {
                metric: Co2,
                threshold: 1500.0,
                night_start_hour: 22,
                night_end_hour: 7,
                min_above: Duration::from_secs(2 * HOUR),
                min_night_coverage: Duration::from_secs(6 * HOUR),
                window_nights: 7,
                raise_nights: 3,
                clear_nights: 6,
            },
            basis: "CO2 consistently above 1500 ppm in an occupied room indicates poor ventilation \
                    (HSE, Ventilation in the workplace: using CO2 monitors, \
                    hse.gov.uk/ventilation/using-co2-monitors.htm; Dampwatch domain facts §4); \
                    poor ventilation also traps moisture. Judged over nights (22:00-07:00 UTC), \
                    when a bedroom is occupied: at least 2 h above on 3 of the last 7 nights \
                    raises, 6 nights below clears (the nights, hours and counts are Dampwatch \
                    policy, not from the source)."
                .to_owned(),
        },
        Rule {
            // The id keeps the default period's name: it is stored with every alert it raised.
            id: "data.offline_48h".to_owned(),
            version: 1,
            hazard: DeviceOffline,
            severity: Amber,
            condition: Condition::NoData { after: None },
            basis: "Data quality: no reading for 48 h means the device is offline; a gap is no \
                    data, never no risk (Dampwatch domain facts §4)."
                .to_owned(),
        },
    ]
}
