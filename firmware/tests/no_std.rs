//! The crate stays `no_std`: the library declares it, and no crate in its normal dependency
//! tree enables `std` (the same check CI runs through `check-no-std.sh`).
use std::process::Command;

#[test]
fn the_library_is_declared_no_std() {
    let lib = include_str!("../src/lib.rs");
    let first_attribute = lib.lines().find(|l| l.starts_with("#![")).unwrap();
    assert_eq!(first_attribute, "#![no_std]");
    assert!(!lib.contains("extern crate alloc"), "the firmware has no allocator");
}

#[test]
fn no_dependency_enables_std() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/check-no-std.sh");
    let out =
        Command::new("bash").arg(script).env("CARGO", env!("CARGO")).output().expect("bash runs the check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "check-no-std.sh failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("micropb") && stdout.contains("ed25519-compact"), "{stdout}");
}
