//! `dampwatch devices add | list | move | revoke`: the device registry from the command line.
//! The `dampwatch` binary embeds [`DevicesCommand`] and hands it to [`run`].
//!
//! `add` issues the device's credentials through the PKI (or takes a public key made
//! elsewhere) and registers it; `revoke` refuses its uplinks in the registry and puts its
//! certificates on the CRL, so the gateway refuses its connections too.

use anyhow::Context as _;
use dampwatch_store::registry::{self, DeviceSummary, NewDevice};
use std::io::Write;
use std::path::PathBuf;

/// The file in which a running `dampwatch demo`, or a collector running its private PostgreSQL
/// (no `database.url`; the file is then in `database.data_dir`), publishes its database URL.
pub use dampwatch_store::DATABASE_URL_FILE;

/// Which registry (database) and which PKI.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Target {
    /// PostgreSQL URL of the registry.
    #[arg(long, env = "DAMPWATCH_DATABASE_URL")]
    pub database_url: Option<String>,
    /// A `dampwatch demo` data directory: its database URL (DIR/database-url) and PKI (DIR/pki).
    /// A collector's data directory works too, while it runs its private PostgreSQL.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The PKI directory (default: DIR/pki with --data-dir, else `certs`).
    #[arg(long)]
    pub pki_dir: Option<PathBuf>,
    /// Where `add` writes the device's provisioning bundle, outside the PKI directory
    /// (default: DIR/device-bundles with --data-dir, else `device-bundles`).
    #[arg(long)]
    pub bundles_dir: Option<PathBuf>,
}

impl Target {
    /// The database URL: given, or read from the demo's data directory.
    pub fn database_url(&self) -> anyhow::Result<String> {
        if let Some(url) = &self.database_url {
            return Ok(url.clone());
        }
        let Some(dir) = &self.data_dir else {
            anyhow::bail!("give --database-url, or --data-dir of a running `dampwatch demo`");
        };
        let file = dir.join(DATABASE_URL_FILE);
        let url = std::fs::read_to_string(&file).with_context(|| {
            format!("cannot read {} (is `dampwatch demo` running there?)", file.display())
        })?;
        Ok(url.trim().to_owned())
    }

    pub fn pki_dir(&self) -> PathBuf {
        match (&self.pki_dir, &self.data_dir) {
            (Some(p), _) => p.clone(),
            (None, Some(d)) => d.join("pki"),
            (None, None) => PathBuf::from(dampwatch_pki::cli::DEFAULT_DIR),
        }
    }

    pub fn bundles_dir(&self) -> PathBuf {
        match (&self.bundles_dir, &self.data_dir) {
            (Some(b), _) => b.clone(),
            (None, Some(d)) => d.join(dampwatch_pki::cli::DEFAULT_BUNDLES_DIR),
            (None, None) => PathBuf::from(dampwatch_pki::cli::DEFAULT_BUNDLES_DIR),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum DevicesCommand {
    /// Issue a device's certificate and signing key (or take its public key) and register it.
    /// Issued keys go into the device's provisioning bundle, not the PKI directory.
    Add {
        #[command(flatten)]
        target: Target,
        /// Landlord id (created if new).
        #[arg(long)]
        landlord: String,
        /// Device id.
        #[arg(long)]
        device: String,
        /// The device's Ed25519 signing public key (64 hex digits), when its keys were made
        /// elsewhere; no certificate is issued then.
        #[arg(long)]
        public_key: Option<String>,
        /// Certificate lifetime in days.
        #[arg(long, default_value_t = dampwatch_pki::DEFAULT_VALIDITY_DAYS)]
        days: u32,
        /// Place it at once: the dwelling's reference ...
        #[arg(long, requires = "room")]
        dwelling: Option<String>,
        /// ... and the room's name.
        #[arg(long, requires = "dwelling")]
        room: Option<String>,
    },
    /// List devices with status, placement, last reading, commit position, drop counters and
    /// what was quarantined of theirs in the last 24 hours.
    List {
        #[command(flatten)]
        target: Target,
        /// Only this landlord's devices.
        #[arg(long)]
        landlord: Option<String>,
    },
    /// Place a device in a room (dwelling and room are created if new).
    Move {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        device: String,
        /// The dwelling's reference (the landlord's own, e.g. a property code).
        #[arg(long)]
        dwelling: String,
        #[arg(long)]
        room: String,
        /// The dwelling's address (kept as given).
        #[arg(long)]
        address: Option<String>,
    },
    /// Refuse a device's uplinks from now on and put its certificates on the CRL.
    Revoke {
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        device: String,
    },
}

/// Runs a `devices` subcommand, writing its report to `out`.
pub async fn run(cmd: DevicesCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    match cmd {
        DevicesCommand::Add { target, landlord, device, public_key, days, dwelling, room } => {
            let db = connect(&target).await?;
            anyhow::ensure!(
                !registry::device_exists(&db, &device).await?,
                "device {device} is already registered; revoke it or use `devices move`"
            );
            let (key, serial) = match public_key {
                Some(hex) => (parse_key(&hex)?, None),
                None => {
                    let (pki, bundles) = (target.pki_dir(), target.bundles_dir());
                    let options = dampwatch_pki::IssueOptions { validity_days: days, force: false };
                    let issued = dampwatch_pki::issue_device(&pki, &bundles, &landlord, &device, options)
                        .with_context(|| format!("cannot issue credentials in {}", pki.display()))?;
                    writeln!(
                        out,
                        "issued certificate serial {} and signing key for {device}; its provisioning bundle \
                         (private keys, certificate, CA) is {}: copy it onto the device, then delete it here",
                        issued.serial,
                        issued.bundle.dir().display()
                    )?;
                    (issued.signing_public_key, Some(issued.serial.to_string()))
                }
            };
            registry::add_device(
                &db,
                &NewDevice {
                    id: &device,
                    landlord: &landlord,
                    public_key: &key,
                    key_id: 1,
                    cert_serial: serial,
                    provisioned_at: None,
                },
            )
            .await?;
            writeln!(out, "registered {device} (landlord {landlord}), signing key {}", hex(&key))?;
            if let (Some(dwelling), Some(room)) = (dwelling, room) {
                let p = registry::place_device(&db, &device, &dwelling, &room, None).await?;
                writeln!(out, "placed {device} in {} / {}", p.dwelling, p.room)?;
            }
        }
        DevicesCommand::List { target, landlord } => {
            let db = connect(&target).await?;
            let devices = registry::list_devices(&db, landlord.as_deref()).await?;
            write_table(out, &devices)?;
        }
        DevicesCommand::Move { target, device, dwelling, room, address } => {
            let db = connect(&target).await?;
            let p = registry::place_device(&db, &device, &dwelling, &room, address.as_deref()).await?;
            writeln!(out, "placed {device} in {} / {}", p.dwelling, p.room)?;
        }
        DevicesCommand::Revoke { target, device } => {
            let db = connect(&target).await?;
            registry::revoke_device(&db, &device).await?;
            writeln!(out, "{device} is revoked in the registry: its uplinks are refused from now on")?;
            let pki = target.pki_dir();
            match dampwatch_pki::revoke(&pki, &device) {
                Ok(dampwatch_pki::Revocation::Revoked { serials, .. }) => {
                    let list: Vec<String> = serials.iter().map(u64::to_string).collect();
                    writeln!(
                        out,
                        "certificate serial {} added to the CRL in {}",
                        list.join(", "),
                        pki.display()
                    )?;
                }
                Ok(dampwatch_pki::Revocation::AlreadyRevoked { serial, .. }) => {
                    writeln!(out, "certificate serial {serial} was already on the CRL")?;
                }
                Err(dampwatch_pki::PkiError::UnknownDevice { .. }) => {
                    writeln!(
                        out,
                        "no certificate for {device} in {}; revoke it where it was issued",
                        pki.display()
                    )?;
                }
                Err(e) => {
                    return Err(e).context("registry revoked, but the certificate could not be revoked")
                }
            }
        }
    }
    Ok(())
}

async fn connect(target: &Target) -> anyhow::Result<tokio_postgres::Client> {
    let url = target.database_url()?;
    let mut db = dampwatch_store::connect(&url).await.with_context(|| format!("cannot connect to {url}"))?;
    // The registry tables are the collector's: make sure they exist (a no-op when they do).
    dampwatch_store::migrate(&mut db).await?;
    Ok(db)
}

fn parse_key(text: &str) -> anyhow::Result<[u8; 32]> {
    let t = text.trim();
    anyhow::ensure!(t.len() == 64 && t.is_ascii(), "the public key must be 64 hex digits");
    let mut key = [0u8; 32];
    for (i, b) in key.iter_mut().enumerate() {
        *b = u8::from_str_radix(&t[2 * i..2 * i + 2], 16).context("the public key must be 64 hex digits")?;
    }
    Ok(key)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `list` table: one device per line, aligned columns.
pub fn write_table(out: &mut dyn Write, devices: &[DeviceSummary]) -> std::io::Result<()> {
    let header = [
        "DEVICE",
        "LANDLORD",
        "STATUS",
        "DWELLING",
        "ROOM",
        "LAST READING (UTC)",
        "POSITION",
        "DROPPED",
        "QUARANTINED 24H",
    ];
    let rows: Vec<[String; 9]> = devices
        .iter()
        .map(|d| {
            [
                d.id.clone(),
                d.landlord.clone(),
                d.status.clone(),
                d.dwelling.clone().unwrap_or_else(|| "-".into()),
                d.room.clone().unwrap_or_else(|| "-".into()),
                d.last_reading.map_or_else(|| "-".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
                d.position.map_or_else(|| "-".into(), |(b, s)| format!("boot {b} seq {s}")),
                format!("{} queue, {} sensor", d.dropped_queue_full, d.dropped_sensor_failed),
                match (d.quarantined_24h, &d.last_quarantine_reason) {
                    (0, _) => "-".into(),
                    (n, Some(reason)) => format!("{n}, last {reason}"),
                    (n, None) => n.to_string(),
                },
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: &[&str]| -> std::io::Result<()> {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        writeln!(out, "{}", s.trim_end())
    };
    line(out, &header)?;
    for r in &rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        line(out, &cells)?;
    }
    writeln!(out, "{} device(s)", devices.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: DevicesCommand,
    }

    #[test]
    fn arguments_parse_and_placement_needs_both_parts() {
        let c = Cli::try_parse_from([
            "x",
            "add",
            "--data-dir",
            "/d",
            "--landlord",
            "acme",
            "--device",
            "k-1",
            "--dwelling",
            "F1",
            "--room",
            "kitchen",
        ])
        .unwrap();
        let DevicesCommand::Add { target, dwelling, .. } = c.cmd else { panic!("not add") };
        assert_eq!(target.pki_dir(), PathBuf::from("/d/pki"));
        assert_eq!(dwelling.as_deref(), Some("F1"));
        assert!(Cli::try_parse_from(["x", "add", "--landlord", "a", "--device", "d", "--dwelling", "F1"])
            .is_err());
        assert!(
            Cli::try_parse_from(["x", "revoke", "--device", "d", "--database-url", "postgres://x"]).is_ok()
        );
    }

    #[test]
    fn public_keys_are_64_hex_digits() {
        assert_eq!(parse_key(&"ab".repeat(32)).unwrap(), [0xab; 32]);
        assert!(parse_key("abc").is_err());
        assert!(parse_key(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn the_table_aligns_columns() {
        let d = DeviceSummary {
            id: "kitchen-1".into(),
            landlord: "acme".into(),
            status: "active".into(),
            dwelling: Some("F1".into()),
            room: None,
            cert_serial: None,
            last_reading: None,
            position: Some((1, 42)),
            dropped_queue_full: 0,
            dropped_sensor_failed: 3,
            quarantined_24h: 7,
            last_quarantine_reason: Some("over_budget".into()),
        };
        let mut out = Vec::new();
        write_table(&mut out, &[d]).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].find("STATUS"), lines[1].find("active"));
        assert!(lines[1].contains("boot 1 seq 42") && lines[1].contains("0 queue, 3 sensor"));
        assert!(lines[1].ends_with("7, last over_budget"));
        assert_eq!(lines[0].find("QUARANTINED"), lines[1].find("7, last"));
        assert_eq!(lines[2], "1 device(s)");
    }
}
