//! The proto's `StatusFlag` values are the device bits `dampwatch_wire::reading::status`
//! defines, which the collector and the hazard engine read.
use dampwatch_proto::v1::StatusFlag;
use dampwatch_wire::reading::status;

#[test]
fn the_proto_status_flags_are_the_wire_device_bits() {
    let pairs = [
        (StatusFlag::StatusTrhCrc, status::TRH_CRC),
        (StatusFlag::StatusTrhBus, status::TRH_BUS),
        (StatusFlag::StatusTrhRange, status::TRH_RANGE),
        (StatusFlag::StatusSurfaceFailed, status::SURFACE_FAILED),
        (StatusFlag::StatusCo2Failed, status::CO2_FAILED),
        (StatusFlag::StatusClockUnset, status::CLOCK_UNSET),
    ];
    assert_eq!(StatusFlag::StatusOk as i32, 0);
    let mut all = 0;
    for (flag, bit) in pairs {
        assert_eq!(flag as i32 as u32, bit, "{}", flag.as_str_name());
        all |= bit;
    }
    assert_eq!(all, status::DEVICE_ALL, "every device bit has a proto flag and no other");
    for v in 0..64 {
        if let Ok(flag) = StatusFlag::try_from(v) {
            assert!(flag == StatusFlag::StatusOk || pairs.iter().any(|(f, _)| *f == flag), "{v}");
        }
    }
}
