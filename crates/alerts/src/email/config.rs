//! The `[email]` configuration section: the SMTP server, the sender's address, the dashboard's
//! public address for links, the daily digest's time and the sender's retries. E-mail is off
//! while `smtp_host` is empty. The defaults are the commented document [`DEFAULT_CONFIG`],
//! which a service appends to its own default configuration.

use std::time::Duration;

use chrono::NaiveTime;
use dampwatch_wire::Backoff;
use serde::{Deserialize, Serialize};

/// The commented default `[email]` section.
pub const DEFAULT_CONFIG: &str = r#"
# E-mail notifications to people (landlord admins, housing officers, contractors): at once for
# anything that starts or changes a legal clock, and a daily digest of advisory alerts and of
# deadlines due in the next two working days, as each person chooses (GET/PUT
# /v1/me/notifications). Off while smtp_host is empty.
[email]
# The SMTP server (a relay or submission server), e.g. "smtp.example.org". Empty: no e-mail.
smtp_host = ""
# 587 for STARTTLS, 465 for implicit TLS.
smtp_port = 587
# "starttls": plain connection upgraded with STARTTLS, which is required (never falls back);
# "implicit": TLS from the first byte (SMTPS);
# "plain": no TLS at all, only to a relay on this machine (smtp_host a loopback address).
tls = "starttls"
# SMTP AUTH credentials; both empty: no authentication.
username = ""
password = ""
# A PEM file of extra CA certificates the server's certificate may chain to (besides the
# Mozilla roots compiled in; a relative path is resolved against this file). Empty: the
# compiled-in roots only.
ca_file = ""
# The name this host gives in EHLO.
hello_name = "localhost"
# The From address of every e-mail. Its domain also names every Message-ID.
from = "Dampwatch <alerts@dampwatch.invalid>"
# The dashboard's address as people reach it: links read "{public_url}/cases/{id}".
public_url = "https://localhost:8443"
# When each day's digest is composed (Europe/London time).
digest_time = "07:00"
# Outbox rows claimed per round, and sent at the same time.
batch_size = 20
concurrency = 4
# Poll interval when no notification arrives.
poll_interval = "1s"
# Time limit of one SMTP conversation (connect, greeting, every command).
timeout = "30s"
# Retry back-off after a temporary failure (4xx, connection refused, time-out): first retry
# after `backoff_initial`, doubling up to `backoff_max`. A permanent refusal (5xx) is not
# retried: it is recorded as a failure for the landlord's admins.
backoff_initial = "30s"
backoff_max = "1h"
# After this many attempts the e-mail is given up and recorded as a failure.
max_attempts = 10
# A claimed e-mail whose sender vanished is tried again after this long (with the same
# Message-ID).
lease = "5m"
"#;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// STARTTLS, required.
    Starttls,
    /// TLS from the first byte.
    Implicit,
    /// No TLS: only to a loopback relay.
    Plain,
}

/// The `[email]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    pub smtp_host: String,
    pub smtp_port: u16,
    pub tls: SmtpTls,
    pub username: String,
    pub password: String,
    pub ca_file: String,
    pub hello_name: String,
    pub from: String,
    pub public_url: String,
    /// "HH:MM", Europe/London.
    pub digest_time: String,
    pub batch_size: u32,
    pub concurrency: u32,
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub backoff_initial: Duration,
    #[serde(with = "humantime_serde")]
    pub backoff_max: Duration,
    pub max_attempts: u32,
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
}

/// A document holding only the `[email]` section.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    email: EmailConfig,
}

impl Default for EmailConfig {
    fn default() -> Self {
        dampwatch_conf::defaults::<Document>(DEFAULT_CONFIG).email
    }
}

/// A configuration the sender refuses to run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid email configuration: {0}")]
pub struct EmailConfigError(pub String);

impl EmailConfig {
    /// Parses a document's `[email]` section merged over the defaults.
    pub fn from_toml(text: &str) -> Result<Self, dampwatch_conf::ParseError> {
        dampwatch_conf::from_toml::<Document>(DEFAULT_CONFIG, text).map(|d| d.email)
    }

    /// Whether e-mail is sent at all (an SMTP server is configured).
    pub fn enabled(&self) -> bool {
        !self.smtp_host.trim().is_empty()
    }

    /// The wait after failed attempt number `attempt` (1 for the first).
    pub fn backoff(&self) -> Backoff {
        Backoff::doubling(self.backoff_initial, self.backoff_max)
    }

    /// The digest's time of day.
    pub fn digest_time(&self) -> Result<NaiveTime, EmailConfigError> {
        NaiveTime::parse_from_str(&self.digest_time, "%H:%M")
            .map_err(|_| EmailConfigError(format!("email.digest_time {:?} is not HH:MM", self.digest_time)))
    }

    /// The domain of the From address, which names every Message-ID.
    pub fn from_domain(&self) -> Result<String, EmailConfigError> {
        let mailbox: lettre::message::Mailbox =
            self.from.parse().map_err(|e| EmailConfigError(format!("email.from: {e}")))?;
        Ok(mailbox.email.domain().to_owned())
    }

    /// The dashboard's base address without a trailing slash.
    pub fn public_base(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }

    /// Checks values no type can rule out.
    pub fn validate(&self) -> Result<(), EmailConfigError> {
        let bad = |m: &str| Err(EmailConfigError(m.to_owned()));
        self.digest_time()?;
        self.from_domain()?;
        if !(self.public_url.starts_with("https://") || self.public_url.starts_with("http://")) {
            return bad("email.public_url must be an http:// or https:// address");
        }
        if self.batch_size == 0 || self.concurrency == 0 || self.max_attempts == 0 {
            return bad("email batch_size, concurrency and max_attempts must be at least 1");
        }
        if self.poll_interval.is_zero() || self.timeout.is_zero() {
            return bad("email poll_interval and timeout must be above zero");
        }
        if self.backoff_initial.is_zero() || self.backoff_max < self.backoff_initial {
            return bad("email.backoff_initial must be above zero and not above backoff_max");
        }
        if self.lease <= self.timeout {
            return bad("email.lease must be longer than timeout");
        }
        if self.username.is_empty() != self.password.is_empty() {
            return bad("email.username and password are given together or not at all");
        }
        if self.enabled() && self.tls == SmtpTls::Plain && !is_loopback(&self.smtp_host) {
            return bad("email.tls = \"plain\" only to a relay on this machine (a loopback smtp_host)");
        }
        Ok(())
    }
}

/// Whether `host` names this machine's loopback interface.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commented_default_parses_is_valid_and_sends_nothing() {
        let c = EmailConfig::default();
        c.validate().expect("defaults are valid");
        assert!(!c.enabled(), "no SMTP server, no e-mail");
        assert_eq!(c.tls, SmtpTls::Starttls);
        assert_eq!(c.from_domain().expect("domain"), "dampwatch.invalid");
    }

    #[test]
    fn plain_smtp_only_to_loopback() {
        let c =
            EmailConfig::from_toml("[email]\nsmtp_host = \"127.0.0.1\"\ntls = \"plain\"\n").expect("parses");
        c.validate().expect("loopback relay");
        let c = EmailConfig::from_toml("[email]\nsmtp_host = \"mail.example.org\"\ntls = \"plain\"\n")
            .expect("parses");
        assert!(c.validate().is_err());
        assert!(EmailConfig::from_toml("[email]\ntls = \"ssl\"\n").is_err());
        assert!(EmailConfig::from_toml("[email]\nsmtp_hots = \"x\"\n").is_err());
    }
}
