//! A real SMTP server for tests: Python's `aiosmtpd` (installed by `scripts/setup.sh` into a
//! virtual environment under `${XDG_CACHE_HOME:-$HOME/.cache}/dampwatch`), started on an
//! ephemeral port of 127.0.0.1 with its own temporary directory, so tests run in parallel.
//! Every message it accepts is kept as received and decoded (`smtp_server.py`); tests wait for
//! messages with [`SmtpServer::wait_for`], polling, never sleeping a fixed time. Recipients
//! containing a [`SmtpServer::start_rejecting`] substring are refused with a permanent 550;
//! [`SmtpServer::start_holding`] makes the server answer each message only a while after it
//! stored it (to stop a sender in between).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::eventually::eventually;

/// The aiosmtpd version `scripts/setup.sh` installs.
pub const AIOSMTPD_VERSION: &str = "1.4.6";

const SCRIPT: &str = include_str!("smtp_server.py");

/// One message the server accepted.
#[derive(Debug, Clone)]
pub struct Mail {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    pub message_id: String,
    pub subject: String,
    pub date: String,
    /// The top-level content type (`multipart/alternative`).
    pub content_type: String,
    /// The decoded text/plain part.
    pub text: String,
    /// The decoded text/html part.
    pub html: String,
    /// The message as received.
    pub raw: Vec<u8>,
    /// When the server had the whole message (wall clock).
    pub received_at: std::time::SystemTime,
}

/// A running SMTP server; stopped when dropped.
pub struct SmtpServer {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

/// The Python of the virtual environment `scripts/setup.sh` makes.
pub fn python() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("dampwatch").join(format!("aiosmtpd-{AIOSMTPD_VERSION}")).join("bin").join("python")
}

impl SmtpServer {
    /// Starts a server accepting every message.
    pub fn start() -> SmtpServer {
        SmtpServer::start_rejecting(&[])
    }

    /// Starts a server refusing (550) recipients that contain any of `reject`.
    pub fn start_rejecting(reject: &[&str]) -> SmtpServer {
        SmtpServer::spawn(reject, Duration::ZERO)
    }

    /// Starts a server that stores each message, then waits `hold` before accepting it (250).
    pub fn start_holding(hold: Duration) -> SmtpServer {
        SmtpServer::spawn(&[], hold)
    }

    /// Starts a server that requires STARTTLS, with the certificate chain and key (PEM files).
    pub fn start_starttls(cert: &Path, key: &Path) -> SmtpServer {
        SmtpServer::spawn_with(&[], Duration::ZERO, Some((cert, key, false)))
    }

    /// Starts a server speaking TLS from the first byte (SMTPS), with the certificate chain and
    /// key (PEM files).
    pub fn start_implicit_tls(cert: &Path, key: &Path) -> SmtpServer {
        SmtpServer::spawn_with(&[], Duration::ZERO, Some((cert, key, true)))
    }

    fn spawn(reject: &[&str], hold: Duration) -> SmtpServer {
        SmtpServer::spawn_with(reject, hold, None)
    }

    fn spawn_with(reject: &[&str], hold: Duration, tls: Option<(&Path, &Path, bool)>) -> SmtpServer {
        let python = python();
        assert!(
            python.exists(),
            "{} is missing: run scripts/setup.sh (it installs aiosmtpd {AIOSMTPD_VERSION} for the e-mail tests)",
            python.display()
        );
        let dir = tempfile::tempdir().expect("a temporary directory for the SMTP server");
        let script = dir.path().join("smtp_server.py");
        std::fs::write(&script, SCRIPT).expect("write the server script");
        let inbox = dir.path().join("inbox");
        std::fs::create_dir(&inbox).expect("inbox directory");
        let mut command = Command::new(&python);
        command.arg(&script).arg("--dir").arg(&inbox);
        for r in reject {
            command.arg("--reject").arg(r);
        }
        command.arg("--hold-data").arg(hold.as_secs_f64().to_string());
        if let Some((cert, key, implicit)) = tls {
            command.arg("--starttls-cert").arg(cert).arg("--starttls-key").arg(key);
            if implicit {
                command.arg("--implicit-tls");
            }
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // The server's own log (a refused TLS handshake is logged with its traceback).
            .stderr(Stdio::from(std::fs::File::create(dir.path().join("server.log")).expect("server log")))
            .spawn()
            .expect("start the SMTP server");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("the server's port");
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the SMTP server did not start: {line:?}"));
        SmtpServer { port, child, dir }
    }

    fn inbox(&self) -> PathBuf {
        self.dir.path().join("inbox")
    }

    /// Every message accepted so far, in arrival order.
    pub fn messages(&self) -> Vec<Mail> {
        read_inbox(&self.inbox())
    }

    /// Waits until at least `count` messages have arrived (at most `limit`); returns them all,
    /// or panics with what did arrive.
    pub async fn wait_for(&self, count: usize, limit: Duration) -> Vec<Mail> {
        let inbox = self.inbox();
        match eventually(limit, || {
            let inbox = inbox.clone();
            async move {
                let mails = read_inbox(&inbox);
                (mails.len() >= count).then_some(mails)
            }
        })
        .await
        {
            Some(mails) => mails,
            None => {
                let got: Vec<String> = self.messages().into_iter().map(|m| m.subject).collect();
                panic!("waited {limit:?} for {count} e-mails; got {}: {got:?}", got.len())
            }
        }
    }
}

fn read_inbox(inbox: &Path) -> Vec<Mail> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(inbox)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    names.retain(|p| p.extension().is_some_and(|e| e == "json"));
    names.sort();
    names
        .into_iter()
        .filter_map(|json| {
            let v: Value = serde_json::from_slice(&std::fs::read(&json).ok()?).ok()?;
            let raw = std::fs::read(json.with_extension("eml")).ok()?;
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
            Some(Mail {
                mail_from: s("mail_from"),
                rcpt_tos: v["rcpt_tos"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
                    .unwrap_or_default(),
                message_id: s("message_id"),
                subject: s("subject"),
                date: s("date"),
                content_type: s("content_type"),
                text: s("text"),
                html: s("html"),
                raw,
                received_at: std::time::UNIX_EPOCH
                    + Duration::from_secs_f64(v["received_at"].as_f64().unwrap_or_default()),
            })
        })
        .collect()
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        // Closing stdin ends the server; kill it if it does not go.
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
