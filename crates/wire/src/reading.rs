//! What a reading's status bits and values mean, for every part that handles one: the
//! firmware sets the device bits, the collector adds the server bits and flags values outside
//! the plausible ranges, the hazard engine refuses the same values and leaves flagged readings
//! out. One definition, so a value the collector stores as believable is never one the engine
//! refuses, and the other way round.

/// Bits of a reading's status word: the device's own (the low 16 bits, the proto's
/// `StatusFlag` values, `dampwatch/v1/uplink.proto`) and the server's above them, as stored in
/// `readings.status`.
pub mod status {
    /// The T/RH sensor answered with a CRC error; temperature and humidity are not valid.
    pub const TRH_CRC: u32 = 1;
    /// The T/RH sensor did not answer on the bus; temperature and humidity are not valid.
    pub const TRH_BUS: u32 = 2;
    /// A temperature or humidity was outside the sensor's range and was clamped.
    pub const TRH_RANGE: u32 = 4;
    /// The surface probe failed; the surface temperature is absent.
    pub const SURFACE_FAILED: u32 = 8;
    /// The CO2 sensor failed; the CO2 value is absent.
    pub const CO2_FAILED: u32 = 16;
    /// The device clock was not set when the sample was taken; the time is device uptime.
    pub const CLOCK_UNSET: u32 = 32;
    /// Every device bit; a device never sends others.
    pub const DEVICE_ALL: u32 = TRH_CRC | TRH_BUS | TRH_RANGE | SURFACE_FAILED | CO2_FAILED | CLOCK_UNSET;
    /// The bits that belong to the device: the server keeps only these of what a device sends,
    /// and adds its own above them.
    pub const DEVICE_MASK: u32 = 0xFFFF;
    /// Device bits that make temperature and humidity unusable (the sample's time too, for
    /// `CLOCK_UNSET`): the hazard rules leave such a reading out.
    pub const TRH_INVALID: u32 = TRH_CRC | TRH_BUS | CLOCK_UNSET;

    /// Server bit: the sample time was implausible and was replaced by the arrival time.
    pub const TIME_CORRECTED: u32 = 1 << 16;
    /// Server bit: a value was outside its plausible range ([`super::Quantity`]) and is stored
    /// as missing.
    pub const OUT_OF_RANGE: u32 = 1 << 17;

    const _: () = assert!(DEVICE_ALL & !DEVICE_MASK == 0);
    const _: () = assert!((TIME_CORRECTED | OUT_OF_RANGE) & DEVICE_MASK == 0);
    // Stored in a signed 32-bit column.
    const _: () = assert!(OUT_OF_RANGE <= i32::MAX as u32);
}

/// A value a reading carries, with the range inside which it is believed.
///
/// The ranges are the measuring ranges of the device's sensors, as specified by their makers:
/// inside one a value is a measurement, however extreme (a 110 °C reading is a real reading of
/// a real heat source, and the heat rules must see it); outside it no working sensor of that
/// kind can produce the value, so it is corrupt or the sensor is broken. The firmware's drivers
/// clamp or drop values to the same ranges, so a healthy device never sends one outside.
///
/// | quantity | sensor | range |
/// |---|---|---|
/// | air temperature | Sensirion SHT4x | −40 … 125 °C |
/// | relative humidity | Sensirion SHT4x | 0 … 100 % |
/// | surface temperature | TI TMP117 | −55 … 150 °C |
/// | CO2 | Sensirion SCD4x | 1 … 40,000 ppm (0 is the sensor's "no value") |
/// | battery | the device's supply | 0 … 6,000 mV |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quantity {
    /// Air temperature, hundredths of a degree Celsius on the wire.
    AirTemperature,
    /// Air relative humidity, hundredths of a percent on the wire.
    RelativeHumidity,
    /// Surface temperature of the coldest wall, hundredths of a degree Celsius on the wire.
    SurfaceTemperature,
    /// CO2 concentration, ppm on the wire.
    Co2,
    /// Battery voltage, millivolts on the wire.
    Battery,
}

impl Quantity {
    /// Every quantity.
    pub const ALL: [Quantity; 5] = [
        Quantity::AirTemperature,
        Quantity::RelativeHumidity,
        Quantity::SurfaceTemperature,
        Quantity::Co2,
        Quantity::Battery,
    ];

    /// The believed range, inclusive, in the wire's fixed-point units.
    pub const fn range(self) -> (i32, i32) {
        match self {
            Quantity::AirTemperature => (-4_000, 12_500),
            Quantity::RelativeHumidity => (0, 10_000),
            Quantity::SurfaceTemperature => (-5_500, 15_000),
            Quantity::Co2 => (1, 40_000),
            Quantity::Battery => (0, 6_000),
        }
    }

    /// Wire units per physical unit (°C, %, ppm, mV).
    pub const fn scale(self) -> i32 {
        match self {
            Quantity::AirTemperature | Quantity::RelativeHumidity | Quantity::SurfaceTemperature => 100,
            Quantity::Co2 | Quantity::Battery => 1,
        }
    }

    /// Whether a value in the wire's fixed-point units is believed.
    pub const fn accepts(self, wire_value: i64) -> bool {
        let (min, max) = self.range();
        wire_value >= min as i64 && wire_value <= max as i64
    }

    /// A wire value in physical units.
    pub fn physical(self, wire_value: i32) -> f64 {
        f64::from(wire_value) / f64::from(self.scale())
    }

    /// The believed range, inclusive, in physical units, for code that computes in floating
    /// point. A wire value is accepted exactly when its physical value is.
    pub fn physical_range(self) -> (f64, f64) {
        let (min, max) = self.range();
        (self.physical(min), self.physical(max))
    }

    /// Whether a value in physical units is believed (never a NaN or an infinity).
    pub fn accepts_physical(self, value: f64) -> bool {
        let (min, max) = self.physical_range();
        value.is_finite() && value >= min && value <= max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_and_physical_ranges_agree_at_their_edges() {
        for q in Quantity::ALL {
            let (min, max) = q.range();
            for (v, believed) in [(min - 1, false), (min, true), (max, true), (max + 1, false)] {
                assert_eq!(q.accepts(i64::from(v)), believed, "{q:?} {v}");
                assert_eq!(q.accepts_physical(q.physical(v)), believed, "{q:?} {v}");
            }
        }
        assert!(!Quantity::AirTemperature.accepts_physical(f64::NAN));
        assert!(Quantity::AirTemperature.accepts_physical(110.0));
        assert!(!Quantity::Co2.accepts(0));
    }
}
