//! The scenarios `dampwatch sim --scenario NAME` offers: which homes the devices sit in and
//! what happens to them during the run.

use std::fmt;
use std::str::FromStr;

/// A scenario. `Mixed` gives the devices the others in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Heated, ventilated homes: daily cycles, shower and cooking spikes, nothing hazardous.
    Healthy,
    /// A poorly ventilated, under-heated bedroom with laundry drying in it and a cold external
    /// wall: above 80 % RH most of the time.
    DampBedroom,
    /// The central heating is broken in a cold snap: below 16 °C, dipping below 10 °C.
    ColdHome,
    /// A top-floor room in a summer heatwave: above 25 °C.
    Heat,
    /// A healthy home whose sensor is unplugged for up to three days: a gap in the data.
    Offline,
    /// A healthy home whose network is cut for up to a day: readings queue on the device and
    /// all arrive once it is restored.
    Outage,
    Mixed,
}

impl Scenario {
    pub const ALL: [Scenario; 7] = [
        Scenario::Healthy,
        Scenario::DampBedroom,
        Scenario::ColdHome,
        Scenario::Heat,
        Scenario::Offline,
        Scenario::Outage,
        Scenario::Mixed,
    ];

    /// The scenarios `Mixed` cycles through, in order.
    pub const CYCLE: [Scenario; 6] = [
        Scenario::Healthy,
        Scenario::DampBedroom,
        Scenario::ColdHome,
        Scenario::Heat,
        Scenario::Offline,
        Scenario::Outage,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Healthy => "healthy",
            Scenario::DampBedroom => "damp-bedroom",
            Scenario::ColdHome => "cold-home",
            Scenario::Heat => "heat",
            Scenario::Offline => "offline",
            Scenario::Outage => "outage",
            Scenario::Mixed => "mixed",
        }
    }

    /// The scenario of the device at `index` (0-based) in a run of this scenario.
    pub fn for_device(self, index: usize) -> Scenario {
        match self {
            Scenario::Mixed => Scenario::CYCLE[index % Scenario::CYCLE.len()],
            s => s,
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A scenario name that is not one of [`Scenario::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown scenario {0:?}; choose one of: healthy, damp-bedroom, cold-home, heat, offline, outage, mixed"
)]
pub struct UnknownScenario(pub String);

impl FromStr for Scenario {
    type Err = UnknownScenario;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scenario::ALL.into_iter().find(|x| x.name() == s).ok_or_else(|| UnknownScenario(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_mixed_cycles() {
        for s in Scenario::ALL {
            assert_eq!(s.name().parse::<Scenario>(), Ok(s));
        }
        assert!("damp".parse::<Scenario>().unwrap_err().to_string().contains("damp-bedroom"));
        let first: Vec<_> = (0..7).map(|i| Scenario::Mixed.for_device(i)).collect();
        assert_eq!(&first[..6], &Scenario::CYCLE);
        assert_eq!(first[6], Scenario::Healthy);
        assert_eq!(Scenario::Heat.for_device(5), Scenario::Heat);
    }
}
