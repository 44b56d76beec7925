//! Material sensitivity classes of the updated VTT mould model and their constants.
//!
//! Every number here is copied from the sources below and nowhere else in the code; change them
//! only together with [`crate::mould::MOULD_MODEL_VERSION`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where the class constants come from.
pub const MATERIAL_SOURCE: &str = "Ojanen T., Viitanen H., Peuhkuri R., Lähdesmäki K., Vinha J., \
Salminen K. (2010), Mould growth modeling of building structures using sensitivity classes of \
materials, Thermal Performance of the Exterior Envelopes of Whole Buildings XI (ASHRAE), tables of \
k1, M_max (A, B, C), RH_min and the decline factor C_mat";

/// How readily a surface material grows mould (updated VTT model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum MaterialClass {
    /// Untreated wood, lots of nutrients (pine sapwood).
    VerySensitive,
    /// Planed wood, paper-coated products, wood-based boards. The default: room surfaces in
    /// homes (papered plasterboard, painted paper, furniture backs) behave like this.
    #[default]
    Sensitive,
    /// Cement- or plastic-based materials, mineral fibres.
    MediumResistant,
    /// Glass and metal products, materials with strong biocides.
    Resistant,
}

/// The per-class constants of the updated model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaterialConstants {
    pub class: MaterialClass,
    /// k1 while M < 1 (growth intensity relative to pine).
    pub k1_below_one: f64,
    /// k1 once M ≥ 1.
    pub k1_from_one: f64,
    /// M_max = A + B·x − C·x², x = (RH − RH_crit)/(100 − RH_crit).
    pub m_max_a: f64,
    pub m_max_b: f64,
    pub m_max_c: f64,
    /// Lowest critical relative humidity, percent.
    pub rh_min_pct: f64,
    /// C_mat: decline relative to pine.
    pub decline_factor: f64,
}

/// The constants table, one row per class (Ojanen et al. 2010).
pub const MATERIAL_TABLE: [MaterialConstants; 4] = [
    MaterialConstants {
        class: MaterialClass::VerySensitive,
        k1_below_one: 1.0,
        k1_from_one: 2.0,
        m_max_a: 1.0,
        m_max_b: 7.0,
        m_max_c: 2.0,
        rh_min_pct: 80.0,
        decline_factor: 1.0,
    },
    MaterialConstants {
        class: MaterialClass::Sensitive,
        k1_below_one: 0.578,
        k1_from_one: 0.386,
        m_max_a: 0.3,
        m_max_b: 6.0,
        m_max_c: 1.0,
        rh_min_pct: 80.0,
        decline_factor: 0.5,
    },
    MaterialConstants {
        class: MaterialClass::MediumResistant,
        k1_below_one: 0.072,
        k1_from_one: 0.097,
        m_max_a: 0.0,
        m_max_b: 5.0,
        m_max_c: 1.5,
        rh_min_pct: 85.0,
        decline_factor: 0.25,
    },
    MaterialConstants {
        class: MaterialClass::Resistant,
        k1_below_one: 0.033,
        k1_from_one: 0.014,
        m_max_a: 0.0,
        m_max_b: 3.0,
        m_max_c: 1.0,
        rh_min_pct: 85.0,
        decline_factor: 0.1,
    },
];

impl MaterialClass {
    /// Every class, from most to least sensitive.
    pub const ALL: [MaterialClass; 4] = [
        MaterialClass::VerySensitive,
        MaterialClass::Sensitive,
        MaterialClass::MediumResistant,
        MaterialClass::Resistant,
    ];

    /// This class's row of [`MATERIAL_TABLE`].
    pub fn constants(self) -> &'static MaterialConstants {
        let index = match self {
            MaterialClass::VerySensitive => 0,
            MaterialClass::Sensitive => 1,
            MaterialClass::MediumResistant => 2,
            MaterialClass::Resistant => 3,
        };
        &MATERIAL_TABLE[index]
    }

    /// The name used in configuration, JSON and on the command line.
    pub fn slug(self) -> &'static str {
        match self {
            MaterialClass::VerySensitive => "very-sensitive",
            MaterialClass::Sensitive => "sensitive",
            MaterialClass::MediumResistant => "medium-resistant",
            MaterialClass::Resistant => "resistant",
        }
    }
}

impl fmt::Display for MaterialClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

/// A material class name that is not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown material class {0:?}: expected very-sensitive, sensitive, medium-resistant or resistant")]
pub struct UnknownMaterialClass(pub String);

impl FromStr for MaterialClass {
    type Err = UnknownMaterialClass;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MaterialClass::ALL
            .into_iter()
            .find(|c| c.slug() == s)
            .ok_or_else(|| UnknownMaterialClass(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_finds_its_own_row() {
        for class in MaterialClass::ALL {
            assert_eq!(class.constants().class, class);
            assert_eq!(class.slug().parse::<MaterialClass>(), Ok(class));
        }
    }

    #[test]
    fn default_is_sensitive() {
        assert_eq!(MaterialClass::default(), MaterialClass::Sensitive);
    }
}
