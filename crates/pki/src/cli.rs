//! The `dampwatch pki` subcommands. The `dampwatch` binary embeds [`PkiCommand`] and hands it to
//! [`run`]; output is one readable line per fact, and never contains a private key.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use chrono::Utc;

use crate::{
    audit_keys, init, issue_device, issue_service, issue_web, list, move_device_keys, revoke,
    rotate_audit_key, rotate_downlink_key, trusted_downlink_keys, Credential, InitOptions, IssueOptions,
    Revocation, WebNames, DEFAULT_VALIDITY_DAYS,
};

/// Where development credentials live unless `--dir` says otherwise (ignored by git).
pub const DEFAULT_DIR: &str = "certs";
/// Where devices' provisioning bundles are written unless `--bundles` says otherwise (ignored
/// by git), and their directory's name in a demo's data directory (beside `pki`); it must lie
/// outside the PKI directory.
pub const DEFAULT_BUNDLES_DIR: &str = "device-bundles";

#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum PkiCommand {
    /// Create a development CA, the gateway's server certificate, the landlord API's HTTPS
    /// certificate (for localhost, 127.0.0.1 and ::1), the collector's client certificate and
    /// downlink signing key, and an empty CRL.
    Init {
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: PathBuf,
        /// Replace an existing CA (every certificate it signed stops being trusted).
        #[arg(long)]
        force: bool,
        /// Seal the CA key under the passphrase in DAMPWATCH_CA_PASSPHRASE (at least 12
        /// characters); issuing and revoking then need it there too.
        #[arg(long)]
        seal_ca_key: bool,
    },
    /// Issue a device's TLS client certificate and Ed25519 signing key. The private keys go
    /// into the device's provisioning bundle (BUNDLES/DEVICE: copy it onto the device, then
    /// delete it); the PKI keeps the certificate and the public key.
    IssueDevice {
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: PathBuf,
        /// Where the device's provisioning bundle is written, outside the PKI directory.
        #[arg(long, default_value = DEFAULT_BUNDLES_DIR)]
        bundles: PathBuf,
        /// Landlord id (becomes the certificate's O).
        #[arg(long)]
        landlord: String,
        /// Device id (becomes the certificate's CN).
        #[arg(long)]
        device: String,
        /// Certificate lifetime in days.
        #[arg(long, default_value_t = DEFAULT_VALIDITY_DAYS)]
        days: u32,
        /// Re-issue an existing device with new keys (rotation).
        #[arg(long)]
        force: bool,
    },
    /// Issue a client certificate for a Dampwatch service.
    IssueService {
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: PathBuf,
        /// Service name (becomes the certificate's CN).
        #[arg(long)]
        name: String,
        /// Certificate lifetime in days.
        #[arg(long, default_value_t = DEFAULT_VALIDITY_DAYS)]
        days: u32,
        /// Re-issue an existing service certificate with a new key.
        #[arg(long)]
        force: bool,
    },
    /// Issue the HTTPS server certificate of the landlord API listener (DIR/web/cert.pem,
    /// key.pem) for the host names and addresses clients reach it by. The collector reads it
    /// when it starts.
    IssueWeb {
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: PathBuf,
        /// A DNS name of the API (repeat for several), e.g. api.example.org.
        #[arg(long = "dns", value_name = "NAME")]
        dns: Vec<String>,
        /// An IP address of the API (repeat for several), e.g. 127.0.0.1.
        #[arg(long = "ip", value_name = "ADDRESS")]
        ips: Vec<std::net::IpAddr>,
        /// Certificate lifetime in days.
        #[arg(long, default_value_t = DEFAULT_VALIDITY_DAYS)]
        days: u32,
        /// Replace the existing certificate (e.g. the loopback one `init` made) with a new key.
        #[arg(long)]
        force: bool,
    },
    /// Add a device's certificates to the CRL.
    Revoke {
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: PathBuf,
        #[arg(long)]
        device: String,
    },
    /// Move the device private keys an earlier release kept in the PKI directory into each
    /// device's provisioning bundle, and delete them from the PKI directory.
    MoveDeviceKeys {
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: PathBuf,
        /// Where the devices' provisioning bundles are written, outside the PKI directory.
        #[arg(long, default_value = DEFAULT_BUNDLES_DIR)]
        bundles: PathBuf,
    },
    /// Show every credential with its age, expiry and rotation status.
    List {
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: PathBuf,
    },
    /// Make the next generation of the collector's downlink signing key. Give devices the new
    /// public key (they hold the newest two) before restarting the collectors, which sign with
    /// the newest key from their next start.
    RotateDownlinkKey {
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: PathBuf,
    },
    /// Print the collector's downlink public keys a device must be provisioned with.
    DownlinkKeys {
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: PathBuf,
    },
    /// Make the next generation of the platform's audit checkpoint key (the services sign with
    /// it from their next start); the previous private key is deleted, its public key kept.
    RotateAuditKey {
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: PathBuf,
    },
    /// Print every audit checkpoint public key (hex and PEM): what `dampwatch audit verify
    /// --public-key` is given.
    AuditKeys {
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: PathBuf,
    },
}

/// Runs one `pki` subcommand, writing its confirmation to `out`.
pub fn run(cmd: PkiCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    match cmd {
        PkiCommand::Init { dir, force, seal_ca_key } => {
            let ca_passphrase = if seal_ca_key {
                let env = crate::ca_key::CA_PASSPHRASE_ENV;
                Some(
                    std::env::var(env)
                        .map_err(|_| anyhow::anyhow!("--seal-ca-key reads the passphrase from {env}"))?,
                )
            } else {
                None
            };
            let report = init(&dir, InitOptions { force, ca_passphrase, ..InitOptions::default() })?;
            let verb = if report.replaced { "replaced" } else { "created" };
            writeln!(out, "{verb} CA {}", report.ca_cert.display())?;
            writeln!(out, "issued gateway certificate {}", report.gateway_cert.display())?;
            writeln!(out, "issued API HTTPS certificate {}", report.web_cert.display())?;
            writeln!(out, "issued collector certificate {}", report.collector_cert.display())?;
            writeln!(out, "wrote CRL {}", report.crl.display())?;
            let key = &report.downlink_key;
            writeln!(
                out,
                "collector downlink key {}: {} (public key {})",
                key.key_id,
                key.key.display(),
                key.public_key_hex()
            )?;
            let key = &report.audit_key;
            writeln!(
                out,
                "audit checkpoint key {}: {} (public key {})",
                key.key_id,
                key.key.display(),
                key.public_key_hex()
            )?;
        }
        PkiCommand::IssueDevice { dir, bundles, landlord, device, days, force } => {
            let options = IssueOptions { validity_days: days, force };
            let issued = issue_device(&dir, &bundles, &landlord, &device, options)?;
            writeln!(
                out,
                "issued device {} of landlord {} (serial {}, {} days): {}",
                issued.device,
                issued.landlord,
                issued.serial,
                days,
                issued.cert.display()
            )?;
            if let Some(old) = issued.superseded_serial {
                writeln!(out, "superseded serial {old}; revoke it once the device uses the new one")?;
            }
            writeln!(out, "signing public key: {}", issued.signing_public_key_hex())?;
            writeln!(
                out,
                "provisioning bundle (private keys, certificate, CA): {}; copy it onto the device, \
                 then delete it here",
                issued.bundle.dir().display()
            )?;
        }
        PkiCommand::MoveDeviceKeys { dir, bundles } => {
            let moved = move_device_keys(&dir, &bundles)?;
            if moved.is_empty() {
                writeln!(out, "no device private keys in {}", dir.display())?;
            } else {
                writeln!(
                    out,
                    "moved the private keys of {} devices from {} into their bundles in {}: {}",
                    moved.len(),
                    dir.display(),
                    bundles.display(),
                    moved.join(", ")
                )?;
            }
        }
        PkiCommand::IssueService { dir, name, days, force } => {
            let issued = issue_service(&dir, &name, IssueOptions { validity_days: days, force })?;
            writeln!(
                out,
                "issued service {} (serial {}): {}",
                issued.name,
                issued.serial,
                issued.cert.display()
            )?;
        }
        PkiCommand::IssueWeb { dir, dns, ips, days, force } => {
            let names = WebNames { dns, ips };
            let issued = issue_web(&dir, &names, IssueOptions { validity_days: days, force })?;
            let mut listed = issued.names.dns.clone();
            listed.extend(issued.names.ips.iter().map(ToString::to_string));
            writeln!(
                out,
                "issued API HTTPS certificate for {} (serial {}, {} days): {}",
                listed.join(", "),
                issued.serial,
                days,
                issued.cert.display()
            )?;
        }
        PkiCommand::Revoke { dir, device } => match revoke(&dir, &device)? {
            Revocation::Revoked { device, serials, at } => {
                let serials = serials.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
                writeln!(out, "revoked device {device} (serial {serials}) at {}", at.to_rfc3339())?;
            }
            Revocation::AlreadyRevoked { device, serial, at } => {
                writeln!(out, "device {device} already revoked (serial {serial}) at {}", at.to_rfc3339())?;
            }
        },
        PkiCommand::List { dir } => {
            let credentials = list(&dir, Utc::now())
                .with_context(|| format!("cannot list credentials in {}", dir.display()))?;
            write_table(&credentials, out)?;
            let keys_left = crate::device_keys_in_pki(&dir)?;
            if !keys_left.is_empty() {
                writeln!(
                    out,
                    "warning: {} devices' private keys are still in {}; move them into their bundles with \
                     `dampwatch pki move-device-keys --dir {}`",
                    keys_left.len(),
                    dir.display(),
                    dir.display()
                )?;
            }
        }
        PkiCommand::RotateDownlinkKey { dir } => {
            let rotation = rotate_downlink_key(&dir)?;
            let key = &rotation.created;
            writeln!(
                out,
                "created collector downlink key {}: {} (public key {})",
                key.key_id,
                key.key.display(),
                key.public_key_hex()
            )?;
            if let Some(old) = rotation.retired {
                writeln!(
                    out,
                    "deleted the private key of downlink key {old}, which devices no longer trust"
                )?;
            }
            writeln!(
                out,
                "give devices the keys below, then restart the collectors: they sign with key {} from then on",
                key.key_id
            )?;
            write_downlink_keys(&dir, out)?;
        }
        PkiCommand::DownlinkKeys { dir } => write_downlink_keys(&dir, out)?,
        PkiCommand::RotateAuditKey { dir } => {
            let key = rotate_audit_key(&dir)?;
            writeln!(
                out,
                "created audit checkpoint key {}: {} (public key {})",
                key.key_id,
                key.key.display(),
                key.public_key_hex()
            )?;
            writeln!(
                out,
                "give verifiers its public key {} too; keep the old ones",
                key.public_key_file.display()
            )?;
        }
        PkiCommand::AuditKeys { dir } => {
            let keys = audit_keys(&dir)?;
            if keys.is_empty() {
                anyhow::bail!(
                    "no audit checkpoint key in {}; `dampwatch pki rotate-audit-key` makes one",
                    dir.display()
                );
            }
            for key in keys {
                writeln!(
                    out,
                    "audit key {}: {} ({})",
                    key.key_id,
                    key.public_key_hex(),
                    key.public_key_file.display()
                )?;
                write!(out, "{}", key.public_key_pem())?;
            }
        }
    }
    Ok(())
}

/// One line per downlink public key a device is provisioned with: `key id` and hex.
fn write_downlink_keys(dir: &std::path::Path, out: &mut dyn Write) -> anyhow::Result<()> {
    for key in trusted_downlink_keys(dir)? {
        writeln!(out, "downlink key {}: {}", key.key_id, key.public_key_hex())?;
    }
    Ok(())
}

/// Prints credentials as an aligned table.
pub fn write_table(credentials: &[Credential], out: &mut dyn Write) -> std::io::Result<()> {
    let header = ["KIND", "NAME", "SERIAL", "ISSUED", "EXPIRES", "AGE", "STATUS", "SUBJECT"];
    let rows: Vec<[String; 8]> = credentials
        .iter()
        .map(|c| {
            [
                c.kind.to_string(),
                c.name.clone(),
                c.serial.to_string(),
                c.issued.format("%Y-%m-%d").to_string(),
                c.expires.map_or_else(|| "-".to_owned(), |e| e.format("%Y-%m-%d").to_string()),
                format!("{}d", c.age_days),
                c.status.to_string(),
                c.subject.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let header = header.map(String::from);
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row.iter().zip(widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        writeln!(out, "{}", cells.join("  ").trim_end())?;
    }
    Ok(())
}
