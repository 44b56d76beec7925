//! Checks on how an error reads when its whole cause chain is printed (as `anyhow` and the
//! services' logs print it): each level says something of its own and leaves the rest to its
//! source, so no cause appears twice.

use std::error::Error;

/// The messages of `error` and each of its sources, outermost first.
pub fn messages(error: &(dyn Error + 'static)) -> Vec<String> {
    let mut out = vec![error.to_string()];
    let mut source = error.source();
    while let Some(s) = source {
        out.push(s.to_string());
        source = s.source();
    }
    out
}

/// Fails unless the chain has at least `depth` levels and no level repeats the message of the
/// level below it.
pub fn assert_causes_not_repeated(error: &(dyn Error + 'static), depth: usize) {
    let chain = messages(error);
    assert!(chain.len() >= depth, "expected {depth} levels of cause: {chain:?}");
    for pair in chain.windows(2) {
        assert!(
            !pair[1].is_empty() && !pair[0].contains(&pair[1]),
            "{:?} repeats its cause {:?} (the whole chain: {chain:?})",
            pair[0],
            pair[1]
        );
    }
}
