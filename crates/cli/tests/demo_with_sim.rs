//! The newcomer's flow from the README: `dampwatch demo` in one terminal, `dampwatch sim
//! --provision` in another with the same data directory (no database URL: the simulator finds
//! the demo's database through DIR/database-url), then Ctrl-C on the demo.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// A child process killed (and reaped) if the test ends without stopping it.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Forwards every line of `out` to the returned channel.
fn lines(out: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for the child to exit, killing it after `timeout`.
fn wait(child: &mut Guard, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.0.try_wait().expect("wait for child") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.0.kill();
            panic!("{} did not exit within {timeout:?}", child.0.id());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every line still to come from a process that has exited.
fn rest(rx: &Receiver<String>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(10)) {
        out.push(line);
    }
    out
}

/// Stored readings of devices whose id starts with `prefix`: (rows, distinct keys, distinct
/// sample times per device, rows counted by the hourly rollup).
fn stored(url: &str, prefix: &str) -> (i64, i64, i64, i64) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let db = dampwatch_store::connect(url).await.expect("connect to the demo's database");
        let pattern = format!("{prefix}%");
        let r = db
            .query_one(
                "SELECT count(*), count(DISTINCT (device_id, boot, seq)),
                        count(DISTINCT (device_id, device_time)),
                        (SELECT coalesce(sum(readings), 0)::bigint FROM readings_hourly_totals
                         WHERE device_id LIKE $1)
                 FROM readings WHERE device_id LIKE $1",
                &[&pattern],
            )
            .await
            .expect("count readings");
        (r.get(0), r.get(1), r.get(2), r.get(3))
    })
}

fn summary_field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|f| f.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
}

#[test]
fn sim_adds_devices_to_a_running_demo_through_its_data_dir() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path();
    let started = Instant::now();

    // Port 0: the demo's gateway takes a free port and prints it; its metrics ports fall back
    // to free ones when the defaults are taken.
    let mut demo = Guard(
        Command::new(env!("CARGO_BIN_EXE_dampwatch"))
            .args(["demo", "--devices", "1", "--report-every", "5", "--gateway", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("dampwatch demo runs"),
    );
    let demo_out = lines(demo.0.stdout.take().expect("demo stdout"));
    let mut header = Vec::new();
    let gateway = loop {
        let line = demo_out
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("the demo did not print its gateway address: {header:#?}"));
        header.push(line.clone());
        if let Some(addr) = line.strip_prefix("gateway (mTLS):") {
            break addr.trim().to_owned();
        }
    };
    assert!(!gateway.ends_with(":0") && gateway.starts_with("127.0.0.1:"), "{gateway}");
    // The dashboard's address and, on this first start, the administrator's password, which
    // signs in (with curl, trusting the development CA).
    let (mut dashboard, mut password) = (None, None);
    while !header.last().is_some_and(|l| l.starts_with("example cases:")) {
        let line = demo_out.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| {
            panic!("the demo did not print its first sign-in and example cases: {header:#?}")
        });
        header.push(line.clone());
        if let Some(rest) = line.strip_prefix("dashboard:") {
            dashboard = rest.split_whitespace().next().map(str::to_owned);
        }
        if let Some(rest) = line.strip_prefix("first sign-in:") {
            password = rest
                .split(" with the password ")
                .nth(1)
                .and_then(|p| p.split_whitespace().next())
                .map(str::to_owned);
        }
    }
    let dashboard = dashboard.expect("a dashboard line");
    assert!(dashboard.starts_with("https://127.0.0.1:") && dashboard.ends_with('/'), "{dashboard}");
    let password = password.expect("the first sign-in's password");
    let body = serde_json::json!({"email": "admin@demo.example", "password": password}).to_string();
    let signed_in = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-D", "-", "--cacert"])
        .arg(data_dir.join("pki/ca.pem"))
        .args(["-H", "content-type: application/json", "-d", &body])
        .arg(format!("{dashboard}v1/session"))
        .output()
        .expect("curl runs (scripts/setup.sh installs it)");
    let headers = String::from_utf8_lossy(&signed_in.stdout);
    assert!(headers.starts_with("HTTP/") && headers.contains(" 200"), "{headers}");
    assert!(headers.contains("__Host-dampwatch_session="), "a session: {headers}");
    let example = header.last().expect("the example cases line");
    assert!(example.contains("overdue") && example.contains("on track"), "{example}");
    let url_file = data_dir.join("database-url");
    let url = std::fs::read_to_string(&url_file).expect("the running demo publishes DIR/database-url");
    let url = url.trim().to_owned();
    assert!(url.starts_with("postgres://"), "{url}");

    let mut sim = Guard(
        Command::new(env!("CARGO_BIN_EXE_dampwatch"))
            .args(["sim", "--provision", "--devices", "20", "--speed", "600", "--for", "20s"])
            .args(["--drain-timeout", "20s", "--gateway", &gateway])
            .arg("--data-dir")
            .arg(data_dir)
            .env_remove("DAMPWATCH_DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("dampwatch sim runs"),
    );
    let sim_out = lines(sim.0.stdout.take().expect("sim stdout"));
    let status = wait(&mut sim, Duration::from_secs(60));
    let sim_lines = rest(&sim_out);
    let sim_text = sim_lines.join("\n");
    assert!(status.success(), "sim failed ({status}):\n{sim_text}");
    assert!(sim_text.contains("sim: provisioned 20 devices"), "{sim_text}");
    let last = sim_lines.last().map(String::as_str).unwrap_or_default();
    assert!(last.starts_with("sim: devices=20 "), "last line is not the summary: {last:?}\n{sim_text}");
    let (sent, acked) = (summary_field(last, "sent"), summary_field(last, "acked"));
    assert_eq!((summary_field(last, "queued"), summary_field(last, "dropped")), (0, 0), "{last}");
    assert!(sent > 0, "{last}");
    assert_eq!(acked, sent, "every reading sent was confirmed: {last}");

    // The sim's default device prefix is `sim-` (the demo's own devices are `demo-`).
    let (rows, keys, times, rolled_up) = stored(&url, "sim-");
    let sent = i64::try_from(sent).expect("count fits");
    assert_eq!(rows, sent, "the database holds exactly the readings the sim sent");
    assert_eq!(keys, rows, "no (device, boot, seq) twice");
    assert_eq!(times, rows, "no reading stored twice under another key");
    assert_eq!(rolled_up, rows, "each reading counted once in the hourly rollup");

    // Ctrl-C: the demo stops its services and its database and exits successfully.
    let interrupted = Command::new("kill").arg("-INT").arg(demo.0.id().to_string()).status().expect("kill");
    assert!(interrupted.success());
    let status = wait(&mut demo, Duration::from_secs(30));
    let demo_tail = rest(&demo_out);
    assert!(status.success(), "demo exited with {status}:\n{}", demo_tail.join("\n"));
    let final_count: i64 = demo_tail
        .last()
        .and_then(|l| l.strip_prefix("stored readings: "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("last line is not `stored readings: N`: {demo_tail:#?}"));
    assert!(final_count >= rows, "{final_count} < {rows}");
    assert!(!url_file.exists(), "the demo withdraws DIR/database-url when it stops");
    assert_no_postgres_for(data_dir);
    eprintln!("demo + sim: {sent} readings in {:?}", started.elapsed());
}

/// No process (server or watchdog) still names the demo's database directory.
fn assert_no_postgres_for(data_dir: &Path) {
    let needle = data_dir.join("postgres");
    let needle = needle.to_string_lossy();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left: Vec<String> = std::fs::read_dir("/proc")
            .expect("/proc")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .filter(|c| c.contains(needle.as_ref()))
            .collect();
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "processes left for {needle}: {left:#?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
