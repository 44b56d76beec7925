//! Random-input testing of configuration layering: a user's file merged over a binary's
//! defaults, read into a strict struct.
//!
//! Properties: any file, written by a TOML writer or damaged as text, is read or refused
//! without panic; a key the defaults do not have is always an error; tables merge and values
//! replace, at every depth; every value a file sets is the value read, and every key it leaves
//! out keeps its default.
//!
//! `DAMPWATCH_FUZZ_CASES` sets the inputs per property (see `dampwatch-fuzz`).

use dampwatch_conf::from_toml;
use dampwatch_fuzz::proptest::prelude::*;
use dampwatch_fuzz::{check, config_files, toml_value};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    name: String,
    limits: Limits,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Limits {
    count: i64,
    ratio: f64,
    inner: Inner,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Inner {
    on: bool,
    list: Vec<i64>,
}

const DEFAULTS: &str = "# a commented default document\nname = \"d\"\n\n[limits]\n# how many\ncount = 3\nratio = 0.5\n\n[limits.inner]\non = true\nlist = [1, 2]\n";

#[test]
fn any_file_is_read_or_refused_and_unknown_keys_are_errors() {
    let defaults: Doc = dampwatch_conf::defaults(DEFAULTS);
    check("conf/layering random files", config_files(DEFAULTS), |file| {
        match from_toml::<Doc>(DEFAULTS, &file.text) {
            Ok(doc) => {
                prop_assert!(!file.unknown_key, "an unknown key was accepted:\n{}", file.text);
                // An empty file changes nothing.
                if file.text.trim().is_empty() {
                    prop_assert_eq!(doc, defaults.clone());
                }
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
        Ok(())
    });
}

#[test]
fn every_value_set_is_read_and_the_rest_keep_their_defaults() {
    let strategy = (
        prop::option::of("\\PC{0,20}"),
        prop::option::of(any::<i64>()),
        prop::option::of(-1e9..1e9f64),
        prop::option::of(any::<bool>()),
        prop::option::of(prop::collection::vec(any::<i64>(), 0..5)),
    );
    check("conf/layering round trip", strategy, |(name, count, ratio, on, list)| {
        let mut over = toml::Table::new();
        let mut limits = toml::Table::new();
        let mut inner = toml::Table::new();
        if let Some(n) = &name {
            over.insert("name".into(), n.clone().into());
        }
        if let Some(c) = count {
            limits.insert("count".into(), c.into());
        }
        if let Some(r) = ratio {
            limits.insert("ratio".into(), r.into());
        }
        if let Some(o) = on {
            inner.insert("on".into(), o.into());
        }
        if let Some(l) = &list {
            inner.insert("list".into(), toml::Value::Array(l.iter().map(|&v| v.into()).collect()));
        }
        if !inner.is_empty() {
            limits.insert("inner".into(), inner.into());
        }
        if !limits.is_empty() {
            over.insert("limits".into(), limits.into());
        }
        let text = toml::to_string(&over).unwrap();
        let doc: Doc = from_toml(DEFAULTS, &text).unwrap();
        prop_assert_eq!(doc.name, name.unwrap_or_else(|| "d".into()));
        prop_assert_eq!(doc.limits.count, count.unwrap_or(3));
        prop_assert_eq!(doc.limits.ratio, ratio.unwrap_or(0.5));
        prop_assert_eq!(doc.limits.inner.on, on.unwrap_or(true));
        prop_assert_eq!(doc.limits.inner.list, list.unwrap_or_else(|| vec![1, 2]));
        Ok(())
    });
}

/// The merge the layering promises: tables merge, values replace.
fn merged(mut base: toml::Table, over: toml::Table) -> toml::Table {
    for (k, v) in over {
        let next = match (base.remove(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => toml::Value::Table(merged(b, o)),
            (_, v) => v,
        };
        base.insert(k, next);
    }
    base
}

/// The value as text, with datetimes as strings: a whole file read into a `toml::Table` through
/// serde gives its datetimes back as strings (no configuration has a datetime key).
fn plain(v: toml::Value) -> String {
    fn strip(v: toml::Value) -> toml::Value {
        match v {
            toml::Value::Datetime(d) => toml::Value::String(d.to_string()),
            toml::Value::Array(a) => toml::Value::Array(a.into_iter().map(strip).collect()),
            toml::Value::Table(t) => toml::Value::Table(t.into_iter().map(|(k, v)| (k, strip(v))).collect()),
            v => v,
        }
    }
    toml::to_string(&strip(v)).unwrap_or_default()
}

fn table() -> impl Strategy<Value = toml::Table> {
    prop::collection::btree_map("[a-c]{1,2}", toml_value(), 0..5).prop_map(|m| m.into_iter().collect())
}

#[test]
fn tables_merge_and_values_replace_at_every_depth() {
    check("conf/layering merge", (table(), table()), |(base, over)| {
        let (Ok(base_text), Ok(over_text)) = (toml::to_string(&base), toml::to_string(&over)) else {
            return Ok(()); // a table a TOML writer cannot write (e.g. a NaN it refuses)
        };
        // Compare through the text, as the files are: what a writer wrote is what a reader reads.
        let reread = |t: &str| toml::from_str::<toml::Table>(t).unwrap();
        let expected = merged(reread(&base_text), reread(&over_text));
        let got: toml::Table = from_toml(&base_text, &over_text).unwrap();
        prop_assert_eq!(plain(toml::Value::Table(got)), plain(toml::Value::Table(expected)));
        Ok(())
    });
}
