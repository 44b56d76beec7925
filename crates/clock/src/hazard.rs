//! HHSRS hazards (Housing Health and Safety Rating System, the 2006 list of 29).
//!
//! Cases name their hazard with this list and record [`TAXONOMY_VERSION`]. The reformed list
//! (21 hazards, in force 23 June 2026) is not represented: its official numbering is not yet
//! confirmed, and Awaab's Law scope is announced in terms of the 2006 names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The taxonomy every [`Hazard`] belongs to; store it with every case and assessment.
pub const TAXONOMY_VERSION: &str = "hhsrs-2006";

macro_rules! hazards {
    ($( $variant:ident = $number:literal, $slug:literal, $title:literal; )*) => {
        /// One of the 29 HHSRS (2006) hazards.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Hazard {
            $(
                #[doc = $title]
                $variant,
            )*
        }

        impl Hazard {
            /// Every hazard, in HHSRS order.
            pub const ALL: &'static [Hazard] = &[$(Hazard::$variant),*];

            /// The HHSRS (2006) number, 1 to 29.
            pub fn number(self) -> u8 {
                match self { $(Hazard::$variant => $number,)* }
            }

            /// The stable identifier used in data, configuration and APIs.
            pub fn slug(self) -> &'static str {
                match self { $(Hazard::$variant => $slug,)* }
            }

            /// The HHSRS name.
            pub fn title(self) -> &'static str {
                match self { $(Hazard::$variant => $title,)* }
            }
        }
    };
}

hazards! {
    DampAndMouldGrowth = 1, "damp_and_mould_growth", "Damp and mould growth";
    ExcessCold = 2, "excess_cold", "Excess cold";
    ExcessHeat = 3, "excess_heat", "Excess heat";
    AsbestosAndMmf = 4, "asbestos_and_mmf", "Asbestos and MMF";
    Biocides = 5, "biocides", "Biocides";
    CarbonMonoxide = 6, "carbon_monoxide_and_fuel_combustion_products", "Carbon monoxide and fuel combustion products";
    Lead = 7, "lead", "Lead";
    Radiation = 8, "radiation", "Radiation";
    UncombustedFuelGas = 9, "uncombusted_fuel_gas", "Uncombusted fuel gas";
    VolatileOrganicCompounds = 10, "volatile_organic_compounds", "Volatile organic compounds";
    CrowdingAndSpace = 11, "crowding_and_space", "Crowding and space";
    EntryByIntruders = 12, "entry_by_intruders", "Entry by intruders";
    Lighting = 13, "lighting", "Lighting";
    Noise = 14, "noise", "Noise";
    DomesticHygiene = 15, "domestic_hygiene_pests_and_refuse", "Domestic hygiene, pests and refuse";
    FoodSafety = 16, "food_safety", "Food safety";
    PersonalHygiene = 17, "personal_hygiene_sanitation_and_drainage", "Personal hygiene, sanitation and drainage";
    WaterSupply = 18, "water_supply", "Water supply";
    FallsAssociatedWithBaths = 19, "falls_associated_with_baths", "Falls associated with baths etc.";
    FallingOnLevelSurfaces = 20, "falling_on_level_surfaces", "Falling on level surfaces etc.";
    FallingOnStairs = 21, "falling_on_stairs", "Falling on stairs etc.";
    FallingBetweenLevels = 22, "falling_between_levels", "Falling between levels";
    ElectricalHazards = 23, "electrical_hazards", "Electrical hazards";
    Fire = 24, "fire", "Fire";
    FlamesAndHotSurfaces = 25, "flames_and_hot_surfaces", "Flames, hot surfaces etc.";
    CollisionAndEntrapment = 26, "collision_and_entrapment", "Collision and entrapment";
    Explosions = 27, "explosions", "Explosions";
    PositionOfAmenities = 28, "position_and_operability_of_amenities", "Position and operability of amenities etc.";
    StructuralCollapse = 29, "structural_collapse_and_falling_elements", "Structural collapse and falling elements";
}

/// A hazard name that is not on the HHSRS (2006) list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown HHSRS hazard {0:?} (taxonomy {TAXONOMY_VERSION}); use names like damp_and_mould_growth or excess_cold")]
pub struct UnknownHazard(pub String);

impl FromStr for Hazard {
    type Err = UnknownHazard;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Hazard::ALL.iter().copied().find(|h| h.slug() == s).ok_or_else(|| UnknownHazard(s.to_owned()))
    }
}

impl fmt::Display for Hazard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

impl Serialize for Hazard {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.slug())
    }
}

impl<'de> Deserialize<'de> for Hazard {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_2006_list_has_29_hazards_numbered_in_order() {
        assert_eq!(Hazard::ALL.len(), 29);
        for (i, h) in Hazard::ALL.iter().enumerate() {
            assert_eq!(usize::from(h.number()), i + 1, "{h}");
            assert_eq!(h.slug().parse::<Hazard>(), Ok(*h));
        }
    }

    #[test]
    fn unknown_names_are_refused() {
        assert!("mould".parse::<Hazard>().is_err());
    }
}
