//! Random-input testing of the collector's configuration file (which also holds the hazard
//! worker's `[alerts]` and the landlord API's `[api]`): users' files over the printed
//! defaults, with keys set to values of every type, keys the
//! defaults do not have, and files damaged as text.
//!
//! Properties: reading and checking a file never panics, whatever it holds; a key the
//! defaults do not have is always an error, never silently ignored; and the defaults
//! themselves read and pass the checks.
//!
//! `DAMPWATCH_FUZZ_CASES` sets the inputs per property (see `dampwatch-fuzz`).

use dampwatch_fuzz::proptest::prelude::*;
use dampwatch_fuzz::{check, config_files};

#[test]
fn collector_files_never_panic_and_unknown_keys_are_errors() {
    use dampwatch_collector::config::{default_config, Config};
    Config::default().validate().unwrap();
    check("config/collector", config_files(&default_config()), |file| {
        match Config::from_toml(&file.text) {
            Ok(cfg) => {
                prop_assert!(!file.unknown_key, "an unknown key was accepted:\n{}", file.text);
                let _ = cfg.validate();
                let _ = cfg.alerts.validate();
                let _ = cfg.api.validate();
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
        Ok(())
    });
}

#[test]
fn a_misspelt_key_in_a_configured_rule_is_an_error() {
    use dampwatch_collector::config::Config;
    let rule = |extra: &str| {
        format!(
            "[[alerts.engine.rules]]\nid = \"damp.test\"\nversion = 1\nhazard = \"device_offline\"\nseverity = \"amber\"\n\
             basis = \"test\"\n{extra}[alerts.engine.rules.condition]\nkind = \"no_data\"\nafter = \"6h\"\n"
        )
    };
    let good = Config::from_toml(&rule(""));
    assert!(good.is_ok(), "{:?}", good.err());
    let e = Config::from_toml(&rule("severty = \"red\"\n")).expect_err("a misspelt rule key is refused");
    assert!(e.to_string().contains("severty"), "{e}");
    let e = Config::from_toml(&rule("").replace("after = \"6h\"", "afterr = \"6h\"\nafter = \"6h\""))
        .expect_err("a misspelt condition key is refused");
    assert!(e.to_string().contains("afterr"), "{e}");
    let e = Config::from_toml("[alerts.engine]\nmax_gapp = \"3h\"\n")
        .expect_err("a misspelt engine key is refused");
    assert!(e.to_string().contains("max_gapp"), "{e}");
}
