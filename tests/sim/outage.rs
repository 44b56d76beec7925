//! A simulated day without network: the devices keep sampling, publish nothing while cut off,
//! and once the network is back everything they queued arrives, nothing twice.

use crate::support::{run_sim, SimStack, Stack};
use dampwatch_sim::physics::time::DAY_MS;
use dampwatch_sim::timeline::Timeline;
use dampwatch_sim::Scenario;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_of_network_cut_queues_readings_that_all_arrive_once() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    // 2 simulated hours a second for 25 s: a 50-hour span, so the cut is a full day (12 s).
    let speed = 7200.0;
    let args = stack.sim_args(Scenario::Outage, 4, speed, Duration::from_secs(25));
    let s = run_sim(args).await?;
    assert_eq!((s.acked, s.queued, s.dropped), (s.sent, 0, 0), "{s}");
    assert_eq!(s.recorded, s.sent);
    let (stored, distinct) = stack.reading_counts().await?;
    assert_eq!(stored, s.sent as i64, "everything queued arrived");
    assert_eq!(distinct, stored, "nothing twice");

    let cut = Timeline::for_scenario(Scenario::Outage, s.span).network_cut.expect("the outage scenario cuts");
    assert_eq!(cut.len_ms(), DAY_MS);
    let cut_real_ms = cut.len_ms() as f64 / speed;
    let db = stack.db().await?;
    for device in ["sim-00001", "sim-00002", "sim-00003", "sim-00004"] {
        let rows = db
            .query(
                "SELECT extract(epoch FROM sampled_at)::float8 * 1000, extract(epoch FROM received_at)::float8 * 1000
                 FROM readings WHERE device_id = $1 ORDER BY seq",
                &[&device],
            )
            .await?;
        let readings: Vec<(f64, f64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let in_cut = |t: f64| (cut.from_ms as f64..cut.to_ms as f64).contains(&t);
        let during: Vec<&(f64, f64)> = readings.iter().filter(|r| in_cut(r.0)).collect();
        // 144 at one per ten minutes; a busy machine takes some samples late (the next is
        // scheduled from the late one), so allow for a little drift.
        assert!(
            (120..=146).contains(&during.len()),
            "{device}: {} readings sampled in the cut",
            during.len()
        );
        // Nothing reached the collector while the device was cut off: its arrivals show a
        // silence as long as the cut (in real time), and everything sampled in the cut arrived
        // after that silence.
        let mut arrivals: Vec<f64> = readings.iter().map(|r| r.1).collect();
        arrivals.sort_by(f64::total_cmp);
        arrivals.dedup();
        let (silence_from, silence_to) = arrivals
            .windows(2)
            .map(|w| (w[0], w[1]))
            .max_by(|a, b| (a.1 - a.0).total_cmp(&(b.1 - b.0)))
            .expect("several uplinks");
        assert!(
            silence_to - silence_from > 0.9 * cut_real_ms,
            "{device}: longest silence {:.1} s; the cut lasted {:.1} s",
            (silence_to - silence_from) / 1000.0,
            cut_real_ms / 1000.0
        );
        assert!(during.iter().all(|r| r.1 >= silence_to), "{device}: readings of the cut arrived after it");
    }
    Ok(())
}
