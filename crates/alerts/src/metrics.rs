//! What every part that reports on the collector's `/metrics` (the collector itself, the
//! hazard worker, the API) shares to build its Prometheus metrics: counters labelled from a
//! closed set, and the text format every scraper reads.

use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// One label with a value from a closed set (a reason, a table, a source).
pub type Label = [(&'static str, &'static str); 1];

/// A counter per value of a closed set, every one present from the start, so a reason that
/// never happened still shows as 0.
pub fn counters_by(
    key: &'static str,
    values: impl IntoIterator<Item = &'static str>,
) -> Family<Label, Counter> {
    let family = Family::default();
    for value in values {
        family.get_or_create_owned(&[(key, value)]);
    }
    family
}

/// `registry` in the Prometheus text format (version 0.0.4).
pub fn text(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing to a String fails only if a metric's own encoding does, and none here can.
    let _ = prometheus_text::encode(&mut out, registry);
    out
}

/// What `register` registers, alone, in the Prometheus text format.
pub fn render(register: impl FnOnce(&mut Registry)) -> String {
    let mut registry = Registry::default();
    register(&mut registry);
    text(&registry)
}
