//! Waiting for a condition that another task or process will make true: polled, bounded, and
//! never a fixed sleep that hopes the other side is done.

use std::future::Future;
use std::time::Duration;

/// How often a condition is polled.
const POLL: Duration = Duration::from_millis(50);

/// Polls `check` until it returns `Some`, for at most `limit`; `None` on timeout.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Polls `holds` until it is true, for at most `limit`; false on timeout.
pub async fn eventually_true<F, Fut>(limit: Duration, mut holds: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    eventually(limit, || {
        let fut = holds();
        async move { fut.await.then_some(()) }
    })
    .await
    .is_some()
}
