//! `dampwatch bench upstreams`: the shape-1 search of `bench ingest` (one reading per signed
//! uplink, paced up until a step is no longer lossless) with each upstream in turn, in the same
//! invocation on the same machine: the gateway's embedded MQTT broker, and a three-node NATS
//! JetStream cluster on loopback (`docs/message-layer.md`) that the gateway publishes into and
//! the collector consumes from. Each run builds a fresh world per upstream (PostgreSQL durable
//! unless `--non-durable`, PKI, gateway, collector, load devices), alternating, so both see the
//! machine in the same state.
//!
//! Server CPU counts every server process: this process but the load generator (gateway,
//! collector, hazard worker; with the embedded broker, the broker too), PostgreSQL, and with
//! the cluster its three `nats-server` processes, reported apart as well.

use crate::host::Hosted;
use crate::world::World;
use crate::{median, search_shape_one, whole, SearchArgs, Settings, Step};
use dampwatch_cluster::NatsCluster;
use std::io::Write;
use std::time::Duration;

#[derive(Debug, Clone, clap::Args)]
pub struct UpstreamsBenchArgs {
    /// Each run searches once per upstream.
    #[command(flatten)]
    pub search: SearchArgs,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Upstream {
    Broker,
    Cluster,
}

impl Upstream {
    fn label(self) -> &'static str {
        match self {
            Upstream::Broker => "embedded broker",
            Upstream::Cluster => "NATS JetStream cluster (3 nodes, R3)",
        }
    }
}

/// How long the cluster's nodes may take to elect their leaders.
const CLUSTER_READY: Duration = Duration::from_secs(60);

pub async fn run(args: UpstreamsBenchArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let s = Settings::new(&args.search, false);
    let mut results: Vec<(Upstream, Step)> = Vec::new();
    for run in 0..s.runs {
        for upstream in [Upstream::Broker, Upstream::Cluster] {
            writeln!(out, "run {}, {}: setting up {} devices ...", run + 1, upstream.label(), s.devices)?;
            out.flush()?;
            let cluster = match upstream {
                Upstream::Broker => None,
                Upstream::Cluster => Some(NatsCluster::start(3, CLUSTER_READY).await?),
            };
            let mut world = World::build(s.devices, s.durable, false, cluster).await?;
            let collector = Hosted::start(world.collector_config(), 2)?;
            let mut boot = run as u32 * 1000;
            let mut next_boot = || {
                boot += 1;
                boot
            };
            let search = search_shape_one(&mut world, &collector, &mut next_boot, &s, out).await;
            let _ = tokio::task::spawn_blocking(move || collector.stop()).await;
            world.shutdown().await;
            let search = search?;
            anyhow::ensure!(
                search.lost == 0 && search.stored_twice == 0,
                "{}: {} readings lost, {} stored twice",
                upstream.label(),
                search.lost,
                search.stored_twice
            );
            writeln!(
                out,
                "run {}, {}: {} uplinks/s lossless, {} µs server CPU per uplink",
                run + 1,
                upstream.label(),
                whole(search.best.uplinks_per_s),
                whole(search.best.server_us_per_uplink)
            )?;
            results.push((upstream, search.best));
        }
    }
    report(out, &results, &s)
}

fn report(out: &mut dyn Write, results: &[(Upstream, Step)], s: &Settings) -> anyhow::Result<()> {
    let durable = if s.durable { "on" } else { "off" };
    writeln!(out)?;
    writeln!(
        out,
        "shape 1 (one reading per uplink), highest lossless step; {} load devices on this machine with the servers; \
         PostgreSQL durable={durable}; the cluster acknowledges a publish once 2 of its 3 nodes hold it \
         (nats-server flushes its files to disk in the background, not per message); {}-second steps; medians of {} runs",
        s.devices,
        s.seconds,
        s.runs
    )?;
    writeln!(out)?;
    writeln!(out, "| measure | embedded broker | NATS JetStream cluster |")?;
    writeln!(out, "|---|---:|---:|")?;
    type Get = fn(&Step) -> f64;
    let rows: [(&str, Get); 5] = [
        ("uplinks/s (= readings/s)", |s| s.uplinks_per_s),
        ("server CPU per uplink, µs (all server processes)", |s| s.server_us_per_uplink),
        ("of which PostgreSQL, µs", |s| s.postgres_us_per_uplink),
        ("of which nats-server (3 processes), µs", |s| s.message_layer_us_per_uplink),
        ("p99 sample to commit acknowledgement at that step, ms", |s| s.p99_ms()),
    ];
    let median_of = |u: Upstream, get: Get| {
        median(results.iter().filter(|(k, _)| *k == u).map(|(_, s)| get(s)).collect())
    };
    for (name, get) in rows {
        writeln!(
            out,
            "| {name} | {} | {} |",
            whole(median_of(Upstream::Broker, get)),
            whole(median_of(Upstream::Cluster, get))
        )?;
    }
    for u in [Upstream::Broker, Upstream::Cluster] {
        writeln!(
            out,
            "upstreams: upstream={} shape=1 uplinks_per_s={} server_us_per_uplink={} durable={durable} runs={}",
            match u {
                Upstream::Broker => "broker",
                Upstream::Cluster => "cluster",
            },
            whole(median_of(u, |s| s.uplinks_per_s)),
            whole(median_of(u, |s| s.server_us_per_uplink)),
            s.runs
        )?;
    }
    Ok(())
}
