//! Serves the API over a throw-away database holding the test fixture (three landlords with
//! alerts, cases and a webhook log), printing the address and a key, for exploring the API by
//! hand or with an OpenAPI-driven fuzzer:
//!
//! ```text
//! cargo run -p dampwatch-api --example fixture_server -- 120
//! st run http://ADDR/openapi.json -H "Authorization: Bearer KEY" --checks all
//! ```
//!
//! The argument is how many seconds to serve (default 300). It serves plain HTTP on loopback,
//! for tools that do not know the development CA.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use dampwatch_api::{serve, ApiConfig, Transport};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(300);
    let f = common::fixture().await;
    let stop = CancellationToken::new();
    let (config, clock) = (ApiConfig::default(), common::clock());
    let addr =
        serve("127.0.0.1:0".parse()?, &f.db_url, config, clock, Transport::Plain, stop.clone()).await?;
    println!("url=http://{addr}");
    println!("key={}", f.north.key);
    println!("case={} alert={}", f.north.case_id, f.north.alert_awaiting_triage);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.cancel();
    Ok(())
}
