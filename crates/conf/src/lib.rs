//! Configuration files for every Dampwatch binary, done one way.
//!
//! Each binary keeps its defaults as a commented TOML document (printed by its `print-config`
//! subcommand), so the documentation and the behaviour cannot drift. A user's file is merged
//! over those defaults: tables merge, values replace. The config structs use
//! `#[serde(deny_unknown_fields)]`, so a misspelt key is an error instead of a silent default.

use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// A TOML syntax or type error.
pub type ParseError = toml::de::Error;

/// A configuration that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Parse { path: PathBuf, source: toml::de::Error },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Parses `text` merged over `defaults`.
pub fn from_toml<T: DeserializeOwned>(defaults: &str, text: &str) -> Result<T, toml::de::Error> {
    let mut base: toml::Table = toml::from_str(defaults)?;
    let over: toml::Table = toml::from_str(text)?;
    merge(&mut base, over);
    base.try_into()
}

/// Reads `path` merged over `defaults`.
pub fn load<T: DeserializeOwned>(defaults: &str, path: &Path) -> Result<T, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
    from_toml(defaults, &text).map_err(|source| ConfigError::Parse { path: path.into(), source })
}

/// Parses the defaults alone. Panics only if the built-in document is broken, which the
/// binaries' tests rule out.
pub fn defaults<T: DeserializeOwned>(defaults: &str) -> T {
    match toml::from_str(defaults) {
        Ok(v) => v,
        Err(e) => panic!("the built-in default configuration does not parse: {e}"),
    }
}

/// Makes a relative path relative to the directory of the configuration file.
pub fn resolve(path: &mut PathBuf, config_file: &Path) {
    if path.is_relative() {
        if let Some(dir) = config_file.parent() {
            *path = dir.join(&*path);
        }
    }
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct C {
        a: A,
    }
    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct A {
        x: u32,
        y: String,
    }
    const D: &str = "[a]\n# the x\nx = 1\ny = \"d\"\n";

    #[test]
    fn overrides_merge_over_defaults() {
        let c: C = from_toml(D, "[a]\nx = 5\n").unwrap();
        assert_eq!((c.a.x, c.a.y.as_str()), (5, "d"));
        let c: C = defaults(D);
        assert_eq!(c.a.x, 1);
    }

    #[test]
    fn unknown_keys_are_errors() {
        let e = from_toml::<C>(D, "[a]\nz = 5\n").unwrap_err();
        assert!(e.to_string().contains('z'), "{e}");
    }
}
