//! `dampwatch bench dashboard`: how long the dashboard's heaviest pages take to make, for a
//! landlord of the issue's size, on the real collector's HTTPS listener.
//!
//! It makes its own private PostgreSQL (durable, on disk, unless `--non-durable`), temporary
//! PKI, gateway and collector (with its API listener and hazard worker), seeds one landlord
//! (`--homes` homes with a room each, `--cases` open cases at every stage of the clock, one
//! room with `--days` of 10-minute readings and their hourly rollups and alert windows),
//! creates a housing officer and signs them in through the dashboard's sign-in form. Then,
//! after two warm-up rounds, each of `--runs` rounds fetches the SLA board (`GET /`) and the
//! room page over a year (`?range=1y`, from the rollups) and over a week (`?range=7d`, from
//! every reading).
//!
//! Two times per page: the **server time** each answer states in its `Server-Timing` header
//! (from the request reaching the dashboard's router to the whole page rendered: the session
//! lookup, the database reads and the HTML; not TLS or the network), which is what the targets
//! are about, and the **request time** the client sees over loopback HTTPS (the server time
//! plus transfer). The client, the collector and PostgreSQL share this machine's cores.

pub mod browser;
pub(crate) mod landlord;

use std::io::Write;
use std::time::Duration;

use chrono::Utc;
use dampwatch_accounts::reset::{self, RESET_TOKEN_LIFETIME};
use dampwatch_accounts::users::{self, NewUser};
use dampwatch_accounts::{Password, Role};
use dampwatch_stack::Stack;

use super::latency::Latencies;
use browser::{Browser, Fetched};

#[derive(Debug, Clone, clap::Args)]
pub struct DashboardBenchArgs {
    /// Rounds measured (after two warm-up rounds); each fetches every page once.
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
    /// Homes of the landlord, one room each.
    #[arg(long, default_value_t = 100_000)]
    pub homes: i64,
    /// Open cases, one per home, at every stage of the clock.
    #[arg(long, default_value_t = 5_000)]
    pub cases: usize,
    /// Days of 10-minute readings in the charted room (365: 52,560 readings).
    #[arg(long, default_value_t = 365)]
    pub days: i64,
    /// PostgreSQL in memory with fsync, synchronous commit and full-page writes off (labelled
    /// `durable=off`).
    #[arg(long)]
    pub non_durable: bool,
    /// A short check of the benchmark itself: 300 homes, 40 cases, 3 days, 3 rounds.
    #[arg(long)]
    pub quick: bool,
}

/// The issue's targets, in server time.
const BOARD_TARGET: Duration = Duration::from_millis(200);
const YEAR_CHART_TARGET: Duration = Duration::from_millis(300);
/// Rounds fetched before measuring (connections, caches, prepared plans).
const WARM_UP_ROUNDS: usize = 2;
const OFFICER: &str = "officer@bench-dashboard.example";
const PASSWORD: &str = "velvet thunder over the moor";

/// The figures of one page over the rounds.
#[derive(Default)]
struct PageTimes {
    server: Latencies,
    request: Latencies,
    /// The parts of the server time the page's handler reported, by name, in its order.
    parts: Vec<(String, Latencies)>,
    bytes: usize,
}

impl PageTimes {
    fn record(&mut self, page: &Fetched) -> anyhow::Result<()> {
        let server = page.server_time.ok_or_else(|| anyhow::anyhow!("the page sent no Server-Timing"))?;
        self.server.record(server);
        self.request.record(page.request_time);
        for (name, took) in &page.server_parts {
            match self.parts.iter_mut().find(|(n, _)| n == name) {
                Some((_, l)) => l.record(*took),
                None => {
                    let mut l = Latencies::default();
                    l.record(*took);
                    self.parts.push((name.clone(), l));
                }
            }
        }
        self.bytes = page.body.len();
        Ok(())
    }
}

/// The median of a handful of values.
fn median_ms(l: &Latencies) -> f64 {
    l.quantile_ms(0.5)
}

pub async fn run(args: DashboardBenchArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let (runs, homes, cases, days) = if args.quick {
        (3, args.homes.min(300), args.cases.min(40), args.days.min(3))
    } else {
        (args.runs.max(1), args.homes.max(2), args.cases, args.days.max(1))
    };
    let durable = !args.non_durable;
    let durability = if durable {
        "durable: fsync and synchronous commit on, on disk"
    } else {
        "NON-DURABLE: fsync, synchronous commit and full-page writes off, in memory"
    };
    eprintln!("bench dashboard: private PostgreSQL ({durability}), PKI, gateway, collector with its HTTPS listener ...");
    let mut builder = Stack::builder().dir_prefix("dampwatch-bench-dashboard-").collector_config(|c| {
        c.http.address = "127.0.0.1:0".into();
    });
    if durable {
        builder = builder.durable_database();
    }
    let stack = builder.start().await?;
    let result = measure(&stack, runs, homes, cases, days, durable, out).await;
    stack.shutdown().await;
    result
}

async fn measure(
    stack: &Stack,
    runs: usize,
    homes: i64,
    cases: usize,
    days: i64,
    durable: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let api =
        stack.collector().api_addr().ok_or_else(|| anyhow::anyhow!("the collector has no API listener"))?;
    let mut db = stack.db().await?;
    let now = Utc::now();
    eprintln!("bench dashboard: seeding {homes} homes, {cases} open cases, {days} days of readings ...");
    let seeding = std::time::Instant::now();
    let seeded = landlord::seed(&mut db, homes, cases, days, now).await?;
    eprintln!("bench dashboard: seeded in {:.0} s", seeding.elapsed().as_secs_f64());
    let officer = NewUser {
        landlord_id: Some(landlord::LANDLORD.into()),
        email: OFFICER.into(),
        display_name: "Benchmark Officer".into(),
        role: Role::HousingOfficer,
    };
    let id = users::create(&db, &officer).await?.id;
    let token = reset::issue(&db, id, now, RESET_TOKEN_LIFETIME).await?;
    reset::redeem(&db, &token, &Password::new(PASSWORD), now).await?;
    let browser = Browser::sign_in(&stack.pki(), api, OFFICER, PASSWORD).await?;

    let room = seeded.chart_room;
    let pages = [
        ("SLA board, GET /".to_owned(), "/".to_owned()),
        (
            "room page, a year from the rollups, GET /rooms/{id}?range=1y".to_owned(),
            format!("/rooms/{room}?range=1y"),
        ),
        (
            "room page, 7 days from every reading, GET /rooms/{id}?range=7d".to_owned(),
            format!("/rooms/{room}?range=7d"),
        ),
    ];
    let mut times: Vec<PageTimes> = pages.iter().map(|_| PageTimes::default()).collect();
    for round in 0..WARM_UP_ROUNDS + runs {
        for ((_, path), t) in pages.iter().zip(times.iter_mut()) {
            let page = browser.get(path).await?;
            anyhow::ensure!(page.status == 200, "{path} answered {}: {}", page.status, page.body);
            if path == "/" {
                let shown = page.body.matches("<a href=\"/cases/").count() as i64;
                anyhow::ensure!(
                    shown == seeded.open_cases,
                    "the board shows {shown} of {} open cases",
                    seeded.open_cases
                );
            } else {
                anyhow::ensure!(page.body.matches("<svg").count() == 5, "{path} drew no five charts");
            }
            if round >= WARM_UP_ROUNDS {
                t.record(&page)?;
            }
        }
    }
    report(out, &pages, &times, &seeded, runs, durable)
}

fn cpu() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!("{cores} cores of {model}")
}

fn report(
    out: &mut dyn Write,
    pages: &[(String, String)],
    times: &[PageTimes],
    s: &landlord::Seeded,
    runs: usize,
    durable: bool,
) -> anyhow::Result<()> {
    let durable_word = if durable { "on" } else { "off" };
    writeln!(
        out,
        "Dashboard benchmark: {runs} rounds after {WARM_UP_ROUNDS} warm-up rounds, one request per page per round, \
         one signed-in housing officer, HTTPS over loopback to the collector's API listener.\n\
         Data: one landlord with {} homes (a room each), {} open cases at every stage of the clock; the charted room \
         has {} readings 10 minutes apart ({} hourly rollup rows) and {} damp alert windows.\n\
         PostgreSQL: private cluster, fsync {durable_word}. CPU: {}, shared by the client, the collector and PostgreSQL.\n\
         Server time: the page's Server-Timing header (request reaching the dashboard's router to the whole page \
         rendered: session, database reads, HTML). Request time: the client's, sending the request to holding the \
         whole body.\n",
        s.homes,
        s.open_cases,
        s.readings,
        s.hourly_rows,
        s.alert_windows,
        cpu()
    )?;
    writeln!(out, "| page | server median | server p95 | server max | request median | request p95 | page size | target (server p95) |")?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---|")?;
    let targets = [Some(BOARD_TARGET), Some(YEAR_CHART_TARGET), None];
    for (((name, _), t), target) in pages.iter().zip(times).zip(targets) {
        let verdict = match target {
            Some(limit) if t.server.quantile_ms(0.95) <= limit.as_millis() as f64 => {
                format!("≤ {} ms: met", limit.as_millis())
            }
            Some(limit) => format!("≤ {} ms: MISSED", limit.as_millis()),
            None => "none".into(),
        };
        writeln!(
            out,
            "| {name} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {} KiB | {verdict} |",
            median_ms(&t.server),
            t.server.quantile_ms(0.95),
            t.server.max_ms(),
            median_ms(&t.request),
            t.request.quantile_ms(0.95),
            t.bytes / 1024,
        )?;
    }
    writeln!(
        out,
        "\nWhere the server time goes (medians of the parts each page reports in Server-Timing; the rest is \
                    the session lookup and routing):"
    )?;
    for ((name, _), t) in pages.iter().zip(times) {
        if t.parts.is_empty() {
            continue;
        }
        let parts: Vec<String> =
            t.parts.iter().map(|(part, l)| format!("{part} {:.1} ms", median_ms(l))).collect();
        writeln!(out, "- {name}: {}", parts.join(", "))?;
    }
    let met = |t: &PageTimes, limit: Duration| t.server.quantile_ms(0.95) <= limit.as_millis() as f64;
    writeln!(
        out,
        "\ndashboard: board_p95_ms={:.0} year_chart_p95_ms={:.0} week_chart_p95_ms={:.0} board_target_met={} \
         year_chart_target_met={} homes={} cases={} readings={} runs={runs} durable={durable_word}",
        times[0].server.quantile_ms(0.95),
        times[1].server.quantile_ms(0.95),
        times[2].server.quantile_ms(0.95),
        met(&times[0], BOARD_TARGET),
        met(&times[1], YEAR_CHART_TARGET),
        s.homes,
        s.open_cases,
        s.readings,
    )?;
    Ok(())
}
