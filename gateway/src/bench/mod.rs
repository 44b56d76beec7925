//! `dampwatch bench gateway`: the gateway and Mosquitto 2, side by side in one run, on the same
//! certificates and the same client load.
//!
//! Self-contained: it makes a temporary PKI, starts the gateway in its own process (see
//! [`brokers::gateway_command`]) and Debian's `mosquitto` (mutual TLS, client certificate
//! required, identity from the certificate) as separate processes on loopback, and measures for each, as medians over several runs:
//!
//! - idle device connections held (each subscribed to its ack and config topics, then checked
//!   with a ping) and memory per idle connection: (RSS with N connections − RSS before) / N;
//! - complete connections per second (TCP, TLS handshake with client certificate, MQTT CONNECT);
//! - QoS 1 publish throughput from many devices, end to end to a subscriber that acknowledges
//!   every message.
//!
//! It prints a Markdown table and a last line saying which targets were met; progress goes to
//! stderr. It must never touch a real deployment: everything it starts listens on 127.0.0.1 and
//! is stopped at the end.

mod brokers;
mod client;
mod devices;
mod measure;

use brokers::Kind;
use measure::{Idle, Load};
use std::io::Write;

/// Targets on a 2-core machine.
pub const TARGET_CONNECTIONS: usize = 100_000;
pub const TARGET_BYTES_PER_CONNECTION: f64 = 8.0 * 1024.0;

/// Options of `dampwatch bench gateway`.
#[derive(Debug, Clone, clap::Args)]
pub struct GatewayBenchArgs {
    /// Runs of every measurement; the table shows medians.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Concurrent idle device connections to open and hold (default: the target, or as many
    /// as the open-file limit allows where this process cannot raise it that far).
    #[arg(long)]
    pub connections: Option<usize>,
    /// QoS 1 messages published in the throughput measurement.
    #[arg(long, default_value_t = 100_000)]
    pub publishes: usize,
    /// Devices publishing at once in the throughput measurement.
    #[arg(long, default_value_t = 100)]
    pub publishers: usize,
    /// Connections opened (and closed) in the handshake measurement.
    #[arg(long, default_value_t = 3_000)]
    pub handshakes: usize,
    /// A quick smoke run: one run, 500 connections, 300 handshakes, 10,000 publishes.
    #[arg(long)]
    pub quick: bool,
}

impl GatewayBenchArgs {
    fn effective(&self) -> GatewayBenchArgs {
        let mut a = self.clone();
        let mut connections = a.connections();
        if a.quick {
            a.runs = 1;
            connections = connections.min(500);
            a.handshakes = a.handshakes.min(300);
            a.publishes = a.publishes.min(10_000);
        }
        a.runs = a.runs.max(1);
        a.set_connections(connections);
        a
    }

    /// The idle connections to hold.
    fn connections(&self) -> usize {
        self.connections.unwrap_or(TARGET_CONNECTIONS)
    }

    fn set_connections(&mut self, n: usize) {
        let n = n.max(1);
        self.connections = Some(n);
        self.publishers = self.publishers.clamp(1, n);
        self.publishes = self.publishes.max(self.publishers);
    }
}

/// Open files a process needs beyond one per idle connection (broker links, the handshake and
/// throughput clients, the runtime's own).
const FD_HEADROOM: u64 = 256;

/// One run's figures for one broker.
#[derive(Debug, Clone, Copy)]
struct Figures {
    idle: Idle,
    handshakes_per_s: f64,
    messages_per_s: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// Medians over runs.
struct Summary {
    held: f64,
    per_connection: f64,
    baseline_rss: f64,
    handshakes_per_s: f64,
    messages_per_s: f64,
}

impl Summary {
    fn of(runs: &[Figures]) -> Summary {
        let m = |f: fn(&Figures) -> f64| median(runs.iter().map(f).collect());
        Summary {
            held: m(|f| f.idle.held as f64),
            per_connection: m(|f| f.idle.per_connection()),
            baseline_rss: m(|f| f.idle.baseline_rss as f64),
            handshakes_per_s: m(|f| f.handshakes_per_s),
            messages_per_s: m(|f| f.messages_per_s),
        }
    }
}

/// `12,345` for whole numbers.
fn thousands(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    let s = format!("{:.0}", x);
    let (sign, digits) = s.split_at(usize::from(s.starts_with('-')));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

fn kib(bytes: f64) -> String {
    if bytes.is_finite() {
        format!("{:.1} KiB", bytes / 1024.0)
    } else {
        "n/a".into()
    }
}

fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

fn progress(msg: &str) {
    eprintln!("bench gateway: {msg}");
}

/// Runs the benchmark and writes the table to `out`.
pub async fn run(args: GatewayBenchArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut a = args.effective();
    crate::tls::install_crypto_provider();
    brokers::gateway_command()?;
    brokers::mosquitto_binary()?;
    // The brokers, started from here, inherit the limit.
    let needed = a.connections() as u64 + FD_HEADROOM;
    let open_files = crate::rlimit::raise_open_files_limit_to(needed)?;
    let mut limited_by = None;
    if open_files < needed {
        let allowed = open_files.saturating_sub(FD_HEADROOM) as usize;
        if args.connections.is_some() || allowed == 0 {
            anyhow::bail!(
                "--connections {} needs about {needed} open files in this process and in each broker, \
                 but the limit is {open_files} and this process may not raise it (raising the hard \
                 limit needs CAP_SYS_RESOURCE, or `ulimit -Hn` in a shell that has it)",
                a.connections()
            );
        }
        progress(&format!(
            "warning: the open-file limit is {open_files} and this process may not raise it, so it \
             holds {allowed} idle connections, not the target's {}",
            thousands(TARGET_CONNECTIONS as f64)
        ));
        a.set_connections(allowed);
        limited_by = Some(open_files);
    }
    let mosquitto_name = brokers::mosquitto_version().await;
    progress(&format!("issuing {} device certificates", a.connections()));
    let creds = devices::create(a.connections())?;
    let scratch = tempfile::tempdir()?;
    let load = Load { publishes: a.publishes, publishers: a.publishers, window: 16, payload: 200 };
    // rumqttd drops what a subscriber has not read once its log is full: size the log for the
    // whole burst (plus headroom) so both brokers deliver every message.
    let segments = (a.publishes * (load.payload + 64)) / (4 << 20) + 4;
    let mut results: [Vec<Figures>; 2] = [Vec::new(), Vec::new()];
    for run in 1..=a.runs {
        for (slot, kind) in [Kind::Gateway, Kind::Mosquitto].into_iter().enumerate() {
            let name = if kind == Kind::Gateway { "dampwatch-gateway" } else { mosquitto_name.as_str() };
            progress(&format!("run {run}/{}: {name}", a.runs));
            let broker = match kind {
                Kind::Gateway => brokers::start_gateway(&creds, a.connections() + 1024, segments).await?,
                Kind::Mosquitto => brokers::start_mosquitto(&creds, scratch.path()).await?,
            };
            let figures = measure_one(&broker, &creds, &a, load).await;
            broker.stop().await;
            let figures = figures?;
            progress(&format!(
                "  held {} connections, {} per connection, {} handshakes/s, {} messages/s",
                figures.idle.held,
                kib(figures.idle.per_connection()),
                thousands(figures.handshakes_per_s),
                thousands(figures.messages_per_s)
            ));
            results[slot].push(figures);
        }
    }
    let (g, m) = (Summary::of(&results[0]), Summary::of(&results[1]));
    write_table(out, &a, limited_by, load, &mosquitto_name, &g, &m)?;
    Ok(())
}

async fn measure_one(
    broker: &brokers::Broker,
    creds: &devices::Credentials,
    a: &GatewayBenchArgs,
    load: Load,
) -> anyhow::Result<Figures> {
    progress(&format!("  opening {} idle device connections", a.connections()));
    let idle = measure::idle(broker, creds, a.connections()).await?;
    progress(&format!("  {} connections opened and closed, one after another", a.handshakes));
    let handshakes_per_s = measure::handshakes(broker, creds, a.handshakes).await?;
    progress(&format!("  {} QoS 1 messages from {} devices", load.publishes, load.publishers));
    let messages_per_s = measure::throughput(broker, creds, load).await?;
    Ok(Figures { idle, handshakes_per_s, messages_per_s })
}

fn write_table(
    out: &mut dyn Write,
    a: &GatewayBenchArgs,
    limited_by: Option<u64>,
    load: Load,
    mosquitto: &str,
    g: &Summary,
    m: &Summary,
) -> std::io::Result<()> {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let limit = limited_by.map_or(String::new(), |n| {
        format!(" (as many as an open-file limit of {} per process allows)", thousands(n as f64))
    });
    writeln!(
        out,
        "Gateway benchmark: medians of {} run(s) on {cores} cores; {} idle device connections{limit}, each \
         subscribed to its ack and config topics, from 200 loopback source addresses; {} \
         connect+handshake cycles, {} at a time, each a full handshake (no session resumption on \
         either side: the gateway refuses it, the clients offer none); \
         {} QoS 1 messages of {} bytes from {} devices ({} in flight each) to one subscriber.\n",
        a.runs,
        a.connections(),
        a.handshakes,
        measure::HANDSHAKE_CONCURRENCY,
        load.publishes,
        load.payload,
        load.publishers,
        load.window
    )?;
    writeln!(out, "| Measure | dampwatch-gateway | {mosquitto} | Target (gateway) |")?;
    writeln!(out, "|---|---:|---:|---|")?;
    writeln!(
        out,
        "| Idle device connections held | {} | {} | ≥ {} |",
        thousands(g.held),
        thousands(m.held),
        thousands(TARGET_CONNECTIONS as f64)
    )?;
    writeln!(
        out,
        "| Memory per idle connection | {} | {} | ≤ {} |",
        kib(g.per_connection),
        kib(m.per_connection),
        kib(TARGET_BYTES_PER_CONNECTION)
    )?;
    writeln!(
        out,
        "| Memory with no connections (RSS) | {} | {} | |",
        mib(g.baseline_rss),
        mib(m.baseline_rss)
    )?;
    writeln!(
        out,
        "| Connections per second (TLS handshake + MQTT CONNECT) | {} | {} | |",
        thousands(g.handshakes_per_s),
        thousands(m.handshakes_per_s)
    )?;
    writeln!(
        out,
        "| Publish throughput, QoS 1 end to end (messages/s) | {} | {} | ≥ {mosquitto} |",
        thousands(g.messages_per_s),
        thousands(m.messages_per_s)
    )?;
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let connections_ok = g.held >= TARGET_CONNECTIONS as f64;
    let memory_ok = g.per_connection <= TARGET_BYTES_PER_CONNECTION;
    let throughput_ok = g.messages_per_s >= m.messages_per_s;
    writeln!(
        out,
        "\nTargets: {} idle connections (≥ {}: {}), {} per idle connection (≤ {}: {}), {} messages/s \
         against {}'s {} (≥: {}).",
        thousands(g.held),
        thousands(TARGET_CONNECTIONS as f64),
        verdict(connections_ok),
        kib(g.per_connection),
        kib(TARGET_BYTES_PER_CONNECTION),
        verdict(memory_ok),
        thousands(g.messages_per_s),
        mosquitto,
        thousands(m.messages_per_s),
        verdict(throughput_ok)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_number_formats() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(vec![f64::NAN]).is_nan());
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(kib(16.0 * 1024.0), "16.0 KiB");
    }

    #[test]
    fn quick_shrinks_the_load() {
        let a = GatewayBenchArgs {
            runs: 3,
            connections: Some(10_000),
            publishes: 100_000,
            publishers: 100,
            handshakes: 3_000,
            quick: true,
        }
        .effective();
        assert_eq!((a.runs, a.connections(), a.handshakes, a.publishes), (1, 500, 300, 10_000));
        let default = GatewayBenchArgs { connections: None, quick: false, ..a.clone() }.effective();
        assert_eq!(default.connections(), TARGET_CONNECTIONS, "the target unless told otherwise");
    }
}
