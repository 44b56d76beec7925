//! `dampwatch gateway` serves like `dampwatch-gateway` (it is how `dampwatch bench gateway`
//! runs the gateway in its own process), reloads its CRL on SIGHUP and stops cleanly on
//! SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn dampwatch_gateway_serves_reloads_on_sighup_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = dir.path().join("pki");
    let init = Command::new(env!("CARGO_BIN_EXE_dampwatch"))
        .args(["pki", "init", "--dir"])
        .arg(&pki)
        .output()
        .expect("dampwatch runs");
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let config = dir.path().join("gateway.toml");
    // The CRL file is polled only hourly here: a prompt reload can only come from SIGHUP.
    std::fs::write(
        &config,
        "[listen]\naddress = \"127.0.0.1:0\"\nmetrics_address = \"127.0.0.1:0\"\n\
         [tls]\ncrl_poll_interval = \"1h\"\n",
    )
    .expect("config");

    let mut child = Command::new(env!("CARGO_BIN_EXE_dampwatch"))
        .arg("gateway")
        .arg("--config")
        .arg(&config)
        .arg("--pki-dir")
        .arg(&pki)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dampwatch gateway starts");
    // Its log lines and its address share stdout: both must come through.
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let listening = loop {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line.starts_with("dampwatch-gateway listening on 127.0.0.1:") => break line,
            Ok(_) => continue,
            Err(e) => {
                let _ = child.kill();
                panic!("no `listening on` line within 30 s: {e}");
            }
        }
    };
    let port: u16 = listening.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port");
    assert_ne!(port, 0);
    std::net::TcpStream::connect(("127.0.0.1", port)).expect("accepting connections");

    let signal = |name: &str| {
        let sent = Command::new("kill").arg(format!("-{name}")).arg(child.id().to_string()).status();
        assert!(sent.expect("kill").success(), "kill -{name}");
    };
    // SIGHUP: the CRL is read again at once.
    signal("HUP");
    let reloaded = loop {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(line) if line.contains("CRL reloaded") => break true,
            Ok(_) => continue,
            Err(_) => break false,
        }
    };
    if !reloaded {
        let _ = child.kill();
        panic!("no `CRL reloaded` line within 10 s of SIGHUP");
    }

    // SIGTERM: a graceful shutdown and a zero exit.
    signal("TERM");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "still running 30 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
}
