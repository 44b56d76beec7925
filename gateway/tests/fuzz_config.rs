//! Random-input testing of the gateway's configuration file: users' files over the printed
//! defaults, with keys set to values of every type, keys the defaults do not have, and files
//! damaged as text.
//!
//! Properties: reading and checking a file never panics, whatever it holds; a key the
//! defaults do not have is always an error, never silently ignored; and the defaults
//! themselves read and pass the checks.
//!
//! `DAMPWATCH_FUZZ_CASES` sets the inputs per property (see `dampwatch-fuzz`).

use dampwatch_fuzz::proptest::prelude::*;
use dampwatch_fuzz::{check, config_files};

#[test]
fn gateway_files_never_panic_and_unknown_keys_are_errors() {
    use dampwatch_gateway::config::{default_config, Config};
    Config::default().validate().unwrap();
    check("config/gateway", config_files(&default_config()), |file| {
        match Config::from_toml(&file.text) {
            Ok(cfg) => {
                prop_assert!(!file.unknown_key, "an unknown key was accepted:\n{}", file.text);
                let _ = cfg.validate();
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
        Ok(())
    });
}
