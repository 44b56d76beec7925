//! The two brokers under test, each a separate process so its memory can be read from
//! `/proc/PID/status`: the `dampwatch-gateway` binary, and Debian's `mosquitto` 2 configured for
//! mutual TLS with the same certificates.

use super::devices::Credentials;
use anyhow::{bail, Context};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Which broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gateway,
    Mosquitto,
}

/// A running broker process.
pub struct Broker {
    pub addr: SocketAddr,
    child: Child,
}

impl Broker {
    pub fn pid(&self) -> anyhow::Result<u32> {
        self.child.id().context("the broker process has exited")
    }

    /// Resident memory of the process, in bytes.
    pub fn rss(&self) -> anyhow::Result<u64> {
        rss_of(self.pid()?)
    }

    pub async fn stop(mut self) {
        // SIGTERM lets both shut down cleanly; kill if they take too long.
        let pid = self.pid().ok().and_then(|p| rustix::process::Pid::from_raw(p as i32));
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
    }
}

/// `VmRSS` of a process, in bytes.
pub fn rss_of(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).context("no VmRSS in /proc status")?;
    let kib: u64 = line.split_whitespace().nth(1).context("VmRSS value")?.parse()?;
    Ok(kib * 1024)
}

/// How to start the gateway in its own process (so its memory is measured apart from the
/// clients): `DAMPWATCH_GATEWAY_BIN`; `dampwatch gateway` when the benchmark runs inside the
/// `dampwatch` command itself (always the same build); else the `dampwatch-gateway` binary
/// next to the running executable (or one directory up, where cargo puts examples).
pub fn gateway_command() -> anyhow::Result<Command> {
    if let Some(p) = std::env::var_os("DAMPWATCH_GATEWAY_BIN") {
        return Ok(Command::new(p));
    }
    let exe = std::env::current_exe()?;
    if exe.file_name().is_some_and(|n| n == "dampwatch") {
        let mut c = Command::new(exe);
        c.arg("gateway");
        return Ok(c);
    }
    let mut candidates = Vec::new();
    for dir in exe.ancestors().skip(1).take(2) {
        candidates.push(dir.join("dampwatch-gateway"));
    }
    let found = candidates.iter().find(|p| p.is_file()).cloned().with_context(|| {
        format!(
            "cannot find the dampwatch-gateway binary (looked at {}); build it with \
             `cargo build --release -p dampwatch-gateway`, run `dampwatch bench gateway`, or set \
             DAMPWATCH_GATEWAY_BIN",
            candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        )
    })?;
    Ok(Command::new(found))
}

/// Debian's mosquitto: `DAMPWATCH_MOSQUITTO_BIN`, else on PATH or in /usr/sbin.
pub fn mosquitto_binary() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("DAMPWATCH_MOSQUITTO_BIN") {
        return Ok(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join("mosquitto"))
        .find(|p| p.is_file())
        .context(
            "mosquitto is not installed (Debian: apt-get install mosquitto), or set DAMPWATCH_MOSQUITTO_BIN",
        )
}

/// `mosquitto version 2.0.11` and the like.
pub async fn mosquitto_version() -> String {
    let Ok(bin) = mosquitto_binary() else { return "Mosquitto".into() };
    let out = Command::new(bin).arg("-h").output().await;
    let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("mosquitto version "))
        .map_or_else(|| "Mosquitto".into(), |v| format!("Mosquitto {}", v.trim()))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port())
}

async fn wait_listening(addr: SocketAddr, child: &mut Child) -> anyhow::Result<()> {
    for _ in 0..500 {
        if let Some(status) = child.try_wait()? {
            bail!("the broker exited at start ({status})");
        }
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("nothing listening on {addr} after 10 s")
}

/// Starts the gateway binary with limits opened up for a load that all comes from one address.
pub async fn start_gateway(
    creds: &Credentials,
    max_connections: usize,
    segments: usize,
) -> anyhow::Result<Broker> {
    let p = creds.paths();
    let config = format!(
        r#"[listen]
address = "127.0.0.1:0"
metrics_address = "127.0.0.1:0"
[tls]
ca = {ca:?}
cert = {cert:?}
key = {key:?}
crl = {crl:?}
[limits]
max_connections = {max_connections}
# Every bench client comes from 127.0.0.x: per-source and per-device limits would measure
# themselves, not the gateway.
connections_per_second_per_source = 1e9
connection_burst_per_source = 1e9
device_messages_per_second = 1e9
device_message_burst = 1e9
device_connects_per_minute = 1000000
[broker]
max_segment_count = {segments}
"#,
        ca = p.ca_cert(),
        cert = p.gateway_cert(),
        key = p.gateway_key(),
        crl = p.crl(),
    );
    let file = creds.dir.path().join("gateway.toml");
    std::fs::write(&file, config)?;
    let mut child = gateway_command()?
        .arg("--config")
        .arg(&file)
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting dampwatch-gateway")?;
    let stdout = child.stdout.take().context("gateway stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .context("the gateway did not report its address within 20 s")??
            .context("the gateway exited at start")?;
        if let Some(a) = line.strip_prefix("dampwatch-gateway listening on ") {
            break a.trim().parse::<SocketAddr>()?;
        }
    };
    // Keep draining its output so it never blocks writing a log line.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    wait_listening(addr, &mut child).await?;
    Ok(Broker { addr, child })
}

/// Starts mosquitto with mutual TLS on the same certificates: client certificate required
/// and checked against the CA and CRL, identity taken from the certificate.
pub async fn start_mosquitto(creds: &Credentials, dir: &Path) -> anyhow::Result<Broker> {
    let p = creds.paths();
    let port = free_port()?;
    let config = format!(
        "per_listener_settings false\n\
         listener {port} 127.0.0.1\n\
         cafile {ca}\ncertfile {cert}\nkeyfile {key}\ncrlfile {crl}\n\
         require_certificate true\nuse_identity_as_username true\nallow_anonymous false\n\
         persistence false\n\
         # As rumqttd: 100 messages in flight to a subscriber, and a burst is queued, not dropped.\n\
         max_inflight_messages 100\nmax_queued_messages 10000000\nmax_queued_bytes 0\n\
         max_connections -1\n\
         user root\nlog_dest stderr\nlog_type error\n",
        ca = p.ca_cert().display(),
        cert = p.gateway_cert().display(),
        key = p.gateway_key().display(),
        crl = p.crl().display(),
    );
    let file = dir.join("mosquitto.conf");
    std::fs::write(&file, config)?;
    let mut child = Command::new(mosquitto_binary()?)
        .arg("-c")
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting mosquitto")?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    wait_listening(addr, &mut child).await?;
    Ok(Broker { addr, child })
}
