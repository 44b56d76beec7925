//! Random-input testing of everything in Dampwatch that reads untrusted bytes: the gateway's
//! MQTT reader, signed uplinks and downlinks, configuration files, the `dampwatch mould` CSV
//! import and the API's request bodies. Each crate's `tests/fuzz_*.rs` uses this crate.
//!
//! A property runs [`cases`] random inputs (`DAMPWATCH_FUZZ_CASES`, default
//! [`DEFAULT_CASES`], enough to run in seconds in CI; `scripts/fuzz.sh` runs a million). The
//! inputs come from a seed (`DAMPWATCH_FUZZ_SEED`, random when unset) that a failure reports,
//! so any failure can be replayed exactly; proptest shrinks a failing input to a small one.
//! After each property one line goes to standard error: `fuzz NAME: N inputs in S s`.
//!
//! Linking this crate installs a counting global allocator in the test binary
//! (`allocation-counter`; counts are per thread), so a property can check with [`measured`]
//! that a parser refuses a declared length beyond its limit before allocating for it.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::time::Instant;

pub use allocation_counter::AllocationInfo;
pub use proptest;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseResult, TestRunner};

/// Inputs per property.
pub const CASES_VAR: &str = "DAMPWATCH_FUZZ_CASES";
/// The seed of the random inputs (a `u64`).
pub const SEED_VAR: &str = "DAMPWATCH_FUZZ_SEED";
/// Inputs per property when `DAMPWATCH_FUZZ_CASES` is unset.
pub const DEFAULT_CASES: u32 = 1_000;

/// Inputs per property: `DAMPWATCH_FUZZ_CASES`, else [`DEFAULT_CASES`]. A value that is not a
/// positive number is a mistake worth stopping for, not a reason to test less.
pub fn cases() -> u32 {
    match std::env::var(CASES_VAR) {
        Err(_) => DEFAULT_CASES,
        Ok(text) => match text.trim().replace('_', "").parse::<u32>() {
            Ok(n) if n > 0 => n,
            _ => panic!("{CASES_VAR}={text:?} is not a positive number of inputs"),
        },
    }
}

/// The seed of this run: `DAMPWATCH_FUZZ_SEED`, else a random one (the same for every
/// property of the process).
pub fn seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| match std::env::var(SEED_VAR) {
        Ok(text) => {
            text.trim().parse().unwrap_or_else(|_| panic!("{SEED_VAR}={text:?} is not a 64-bit number"))
        }
        Err(_) => RandomState::new().build_hasher().finish(),
    })
}

/// Each property gets its own stream of inputs from the run's seed (FNV-1a of its name).
fn property_seed(name: &str) -> u64 {
    name.bytes()
        .fold(seed() ^ 0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Runs `test` on [`cases`] inputs drawn from `strategy`. A failure (an `Err`, or a panic in
/// the code under test) is shrunk to a small input and reported with the seed that replays it.
pub fn check<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> TestCaseResult) {
    let cases = cases();
    let config = Config {
        cases,
        rng_seed: RngSeed::Fixed(property_seed(name)),
        failure_persistence: None,
        // Random bytes are rarely rejected, but a filter must never end a run early.
        max_global_rejects: cases.saturating_mul(4),
        max_shrink_iters: 100_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let inputs = Cell::new(0u64);
    let started = Instant::now();
    let result = runner.run(&strategy, |value| {
        inputs.set(inputs.get() + 1);
        test(value)
    });
    let secs = started.elapsed().as_secs_f64();
    eprintln!("fuzz {name}: {} inputs in {secs:.2} s", inputs.get());
    if let Err(e) = result {
        panic!("{name}: {e}\nreplay with {SEED_VAR}={} {CASES_VAR}={cases}", seed());
    }
}

/// Runs `f` and returns what it returned with the heap use of this thread while it ran.
pub fn measured<T>(f: impl FnOnce() -> T) -> (T, AllocationInfo) {
    let mut out = None;
    let info = allocation_counter::measure(|| out = Some(f()));
    match out {
        Some(v) => (v, info),
        None => unreachable!("measure runs the closure once"),
    }
}

/// Whether the counting allocator is the one in use (so a measurement of zero means
/// something).
pub fn counting_allocator_active() -> bool {
    let ((), info) = measured(|| drop(std::hint::black_box(Box::new(7u64))));
    info.count_total == 1 && info.bytes_total == 8
}

/// Random bytes, up to `max_len` long.
pub fn bytes(max_len: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..=max_len)
}

/// One change to a valid message.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Cut the message here.
    Truncate(usize),
    /// Flip one bit.
    FlipBit(usize, u8),
    /// Replace a byte, often by a boundary value (0, 1, 0x7F, 0x80, 0xFF).
    SetByte(usize, u8),
    /// Write 0xFF over up to five bytes: a length field (a varint, a big-endian u16 or u32)
    /// that claims far more than follows.
    HugeLength(usize, u8),
    /// Write 0 over up to five bytes: a length that claims nothing.
    ZeroLength(usize, u8),
    /// Insert random bytes.
    Insert(usize, Vec<u8>),
    /// Remove a stretch.
    Remove(usize, u8),
    /// Repeat a stretch right after itself.
    Repeat(usize, u8),
}

impl Mutation {
    /// Changes `m` (a no-op where the message is too short for it).
    pub fn apply(&self, m: &mut Vec<u8>) {
        let at = |i: &usize, len: usize| if len == 0 { 0 } else { i % len };
        match self {
            Mutation::Truncate(i) => m.truncate(at(i, m.len() + 1)),
            Mutation::FlipBit(i, bit) if !m.is_empty() => {
                let p = at(i, m.len());
                m[p] ^= 1 << (bit % 8);
            }
            Mutation::SetByte(i, b) if !m.is_empty() => {
                let p = at(i, m.len());
                m[p] = *b;
            }
            Mutation::HugeLength(i, n) | Mutation::ZeroLength(i, n) if !m.is_empty() => {
                let fill = if matches!(self, Mutation::HugeLength(..)) { 0xFF } else { 0x00 };
                let p = at(i, m.len());
                let end = (p + 1 + usize::from(n % 5)).min(m.len());
                m[p..end].fill(fill);
                if fill == 0xFF && end < m.len() {
                    m[end] &= 0x7F; // end a varint there, so it reads as a large number
                }
            }
            Mutation::Insert(i, extra) => {
                let p = at(i, m.len() + 1);
                m.splice(p..p, extra.iter().copied());
            }
            Mutation::Remove(i, n) if !m.is_empty() => {
                let p = at(i, m.len());
                let end = (p + 1 + usize::from(*n)).min(m.len());
                m.drain(p..end);
            }
            Mutation::Repeat(i, n) if !m.is_empty() => {
                let p = at(i, m.len());
                let end = (p + 1 + usize::from(*n)).min(m.len());
                let copy = m[p..end].to_vec();
                m.splice(end..end, copy);
            }
            _ => {}
        }
    }
}

fn boundary_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => prop::sample::select(vec![0x00u8, 0x01, 0x02, 0x7F, 0x80, 0x81, 0xFE, 0xFF]),
        1 => any::<u8>(),
    ]
}

/// One random [`Mutation`].
pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        2 => any::<usize>().prop_map(Mutation::Truncate),
        3 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        2 => (any::<usize>(), boundary_byte()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(i, n)| Mutation::HugeLength(i, n)),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(i, n)| Mutation::ZeroLength(i, n)),
        1 => (any::<usize>(), bytes(16)).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => (any::<usize>(), 0..16u8).prop_map(|(i, n)| Mutation::Remove(i, n)),
        1 => (any::<usize>(), 0..32u8).prop_map(|(i, n)| Mutation::Repeat(i, n)),
    ]
}

/// Valid messages from `valid`, each changed by one to four [`Mutation`]s.
pub fn mutated<S>(valid: S) -> impl Strategy<Value = Vec<u8>>
where
    S: Strategy<Value = Vec<u8>>,
{
    (valid, proptest::collection::vec(mutation(), 1..=4)).prop_map(|(mut message, mutations)| {
        for m in &mutations {
            m.apply(&mut message);
        }
        message
    })
}

/// A configuration file for a binary whose defaults are a TOML document.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub text: String,
    /// The file names a key the defaults do not have (so a strict reader must refuse it).
    pub unknown_key: bool,
}

/// One change a user's file makes over the defaults.
#[derive(Debug, Clone)]
enum Edit {
    /// Give the key at this path (an index into the defaults' paths) this value.
    Set(usize, toml::Value),
    /// Add a key the defaults do not have to the table at this path (an index into the
    /// defaults' tables).
    Unknown(usize, String),
}

/// The path of every value (and every table) in `table`.
fn paths(
    table: &toml::Table,
    prefix: &[String],
    values: &mut Vec<Vec<String>>,
    tables: &mut Vec<Vec<String>>,
) {
    tables.push(prefix.to_vec());
    for (k, v) in table {
        let mut path = prefix.to_vec();
        path.push(k.clone());
        values.push(path.clone());
        if let toml::Value::Table(t) = v {
            paths(t, &path, values, tables);
        }
    }
}

/// A TOML value of any type: boundary numbers, durations and addresses as strings, nested
/// arrays and tables.
pub fn toml_value() -> impl Strategy<Value = toml::Value> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(toml::Value::Boolean),
        prop_oneof![
            Just(0i64),
            Just(-1),
            Just(1),
            Just(i64::MAX),
            Just(i64::MIN),
            Just(u32::MAX as i64 + 1),
            any::<i64>()
        ]
        .prop_map(toml::Value::Integer),
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            Just(1e300),
            any::<f64>()
        ]
        .prop_map(toml::Value::Float),
        prop_oneof![
            "[0-9]{1,25}(ns|us|ms|s|m|h|d|w|y)",
            "-[0-9]{1,3}s",
            "([0-9]{1,3}\\.){3}[0-9]{1,3}:[0-9]{1,6}",
            "\\[::1?\\]:[0-9]{1,6}",
            "[a-z_./-]{0,12}",
            "\\PC{0,24}",
        ]
        .prop_map(toml::Value::String),
        "19[0-9]{2}-0[1-9]-[0-2][1-9]T0[0-9]:[0-5][0-9]:00Z".prop_map(|s| s
            .parse::<toml::value::Datetime>()
            .map_or(toml::Value::String(s), toml::Value::Datetime)),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
        ]
    })
}

fn insert(table: &mut toml::Table, path: &[String], value: toml::Value) -> bool {
    match path {
        [] => false,
        [key] => {
            table.insert(key.clone(), value);
            true
        }
        [key, rest @ ..] => {
            let entry = table.entry(key.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => insert(t, rest, value),
                _ => false,
            }
        }
    }
}

/// Users' files over the document `defaults`: a few of its keys set to values of any type, and
/// sometimes a key it does not have; as written by a TOML writer, or damaged as text.
pub fn config_files(defaults: &str) -> impl Strategy<Value = ConfigFile> {
    let doc: toml::Table = match toml::from_str(defaults) {
        Ok(t) => t,
        Err(e) => panic!("the default document does not parse: {e}"),
    };
    let (mut values, mut tables) = (Vec::new(), Vec::new());
    paths(&doc, &[], &mut values, &mut tables);
    let (n_values, n_tables) = (values.len().max(1), tables.len());
    let edit = prop_oneof![
        4 => (0..n_values, toml_value()).prop_map(|(i, v)| Edit::Set(i, v)),
        1 => (0..n_tables, "[a-z_]{1,12}").prop_map(|(i, k)| Edit::Unknown(i, format!("zz_{k}"))),
    ];
    let file = proptest::collection::vec(edit, 0..5).prop_map(move |edits| {
        let mut over = toml::Table::new();
        let mut unknown_key = false;
        // Values first, then unknown keys, so a later value cannot replace a table that holds one.
        for e in &edits {
            if let Edit::Set(i, v) = e {
                if let Some(path) = values.get(*i) {
                    insert(&mut over, path, v.clone());
                }
            }
        }
        for e in &edits {
            if let Edit::Unknown(i, key) = e {
                let mut path = tables[*i].clone();
                path.push(key.clone());
                unknown_key |= insert(&mut over, &path, toml::Value::Integer(1));
            }
        }
        let text = toml::to_string(&over).unwrap_or_default();
        ConfigFile { text, unknown_key }
    });
    prop_oneof![
        3 => file.clone(),
        1 => file.prop_flat_map(|f| mutated(Just(f.text.into_bytes())))
            .prop_map(|b| ConfigFile { text: String::from_utf8_lossy(&b).into_owned(), unknown_key: false }),
        1 => bytes(200).prop_map(|b| ConfigFile { text: String::from_utf8_lossy(&b).into_owned(), unknown_key: false }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counting_allocator_is_installed() {
        assert!(counting_allocator_active());
        let ((), info) = measured(|| {});
        assert_eq!(info.count_total, 0);
    }

    #[test]
    fn mutations_stay_in_bounds_on_every_length() {
        check(
            "fuzz_support/mutations",
            (bytes(8), proptest::collection::vec(mutation(), 0..8)),
            |(mut m, ms)| {
                for x in &ms {
                    x.apply(&mut m);
                }
                Ok(())
            },
        );
    }

    #[test]
    fn a_huge_length_ends_as_a_large_varint() {
        let mut m = vec![0x0A, 0x02, b'h', b'i', 0x10, 0x01];
        Mutation::HugeLength(1, 2).apply(&mut m);
        assert_eq!(m, [0x0A, 0xFF, 0xFF, 0xFF, 0x10 & 0x7F, 0x01]);
    }
}
