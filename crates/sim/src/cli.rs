//! The `dampwatch sim` arguments. Defaults match `dampwatch demo`, so with the demo running in
//! one terminal, `dampwatch sim --provision` in another adds devices to it.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser};

use crate::scenario::Scenario;

/// The demo's default data directory (its PKI is `DIR/pki`).
///
/// The private PostgreSQL server runs as the `postgres` user when Dampwatch runs as root, and
/// that user must be able to reach the data directory. Root's home is closed to it, so root's
/// default is under /var/lib; other users get their XDG data directory.
pub fn default_data_dir() -> PathBuf {
    if dampwatch_pg::running_as_root() {
        return PathBuf::from("/var/lib/dampwatch");
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(d).join("dampwatch");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".local/share/dampwatch"),
        None => PathBuf::from("dampwatch-data"),
    }
}

/// The file in the data directory where a running demo or collector leaves its database URL.
pub use dampwatch_store::DATABASE_URL_FILE;
/// The demo gateway's address.
pub const DEFAULT_GATEWAY: &str = "127.0.0.1:8883";

/// Run virtual sensors, each with the real firmware core and its own certificate, against a
/// gateway: the demo's devices, a load generator, an end-to-end test driver.
#[derive(Debug, Clone, Args)]
pub struct SimArgs {
    /// How many devices.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub devices: u32,

    /// Simulated seconds per real second (600: ten minutes a second).
    #[arg(long, default_value_t = 600.0)]
    pub speed: f64,

    /// Real time spent sampling (e.g. 60s, 5m); the run then waits for outstanding
    /// acknowledgements.
    #[arg(long = "for", value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    pub duration: Duration,

    /// What the homes are like: healthy, damp-bedroom, cold-home, heat, offline, outage, or
    /// mixed (devices take these in turn).
    #[arg(long, default_value = "mixed", value_parser = parse_scenario)]
    pub scenario: Scenario,

    /// The gateway, HOST:PORT.
    #[arg(long, default_value = DEFAULT_GATEWAY)]
    pub gateway: String,

    /// The demo's data directory: the PKI is DIR/pki, the database URL is in DIR/database-url
    /// while the demo runs, the devices' provisioning bundles are in DIR/device-bundles and
    /// their boot counters in DIR/sim.
    #[arg(long, value_name = "DIR", default_value_os_t = default_data_dir())]
    pub data_dir: PathBuf,

    /// The PKI directory, if not DATA_DIR/pki.
    #[arg(long, value_name = "DIR")]
    pub pki_dir: Option<PathBuf>,

    /// Where the simulated devices keep their provisioning bundles (private keys, certificate,
    /// CA), if not DATA_DIR/device-bundles; outside the PKI directory, as on real devices.
    #[arg(long, value_name = "DIR")]
    pub bundles_dir: Option<PathBuf>,

    /// The collector's database, if not the one named in DATA_DIR/database-url.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,

    /// Issue the devices' certificates and register them with the collector first; devices
    /// that already have either are reused.
    #[arg(long)]
    pub provision: bool,

    /// The landlord the devices belong to.
    #[arg(long, value_name = "ID", default_value = "demo")]
    pub landlord: String,

    /// Device ids are this prefix and a five-digit number.
    #[arg(long, default_value = "sim-")]
    pub device_prefix: String,

    /// Longest wait for outstanding acknowledgements after sampling ends.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    pub drain_timeout: Duration,

    /// New connections per second at most (the gateway admits 50 a second from one address
    /// by default).
    #[arg(long, value_name = "N", default_value_t = 40.0)]
    pub connect_rate: f64,
}

fn parse_scenario(s: &str) -> Result<Scenario, String> {
    s.parse().map_err(|e: crate::scenario::UnknownScenario| e.to_string())
}

#[derive(Parser)]
#[command(name = "sim")]
struct Standalone {
    #[command(flatten)]
    args: SimArgs,
}

impl SimArgs {
    /// Parses arguments as `dampwatch sim` would (the first item is the program name).
    pub fn try_parse_from<I, T>(args: I) -> Result<SimArgs, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Standalone::try_parse_from(args).map(|s| s.args)
    }

    /// Where the PKI is.
    pub fn pki_dir(&self) -> PathBuf {
        self.pki_dir.clone().unwrap_or_else(|| self.data_dir.join("pki"))
    }

    /// Where the simulated devices keep their provisioning bundles.
    pub fn bundles_dir(&self) -> PathBuf {
        self.bundles_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join(dampwatch_pki::cli::DEFAULT_BUNDLES_DIR))
    }

    /// Where the simulated devices keep their boot counters.
    pub fn boot_dir(&self) -> PathBuf {
        self.data_dir.join("sim").join("boot")
    }

    /// Where a running demo leaves its database URL.
    pub fn database_url_file(&self) -> PathBuf {
        self.data_dir.join(DATABASE_URL_FILE)
    }
}

impl Default for SimArgs {
    /// The defaults, as with no arguments.
    fn default() -> Self {
        Standalone::parse_from(["sim"]).args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_demo() {
        let a = SimArgs::default();
        assert_eq!((a.devices, a.speed, a.duration), (10, 600.0, Duration::from_secs(60)));
        assert_eq!((a.scenario, a.gateway.as_str()), (Scenario::Mixed, "127.0.0.1:8883"));
        assert_eq!(a.pki_dir(), default_data_dir().join("pki"));
        assert_eq!(a.bundles_dir(), default_data_dir().join("device-bundles"));
        assert_eq!(a.database_url_file(), default_data_dir().join("database-url"));
        if dampwatch_pg::running_as_root() {
            assert_eq!(default_data_dir(), PathBuf::from("/var/lib/dampwatch"), "reachable by postgres");
        }
        assert!(!a.provision);
        assert_eq!((a.landlord.as_str(), a.device_prefix.as_str()), ("demo", "sim-"));
        assert_eq!(a.drain_timeout, Duration::from_secs(60));
    }

    #[test]
    fn arguments_parse() {
        let a = SimArgs::try_parse_from([
            "sim",
            "--devices",
            "200",
            "--speed",
            "1200",
            "--for",
            "2m",
            "--scenario",
            "damp-bedroom",
            "--data-dir",
            "/tmp/d",
            "--provision",
        ])
        .unwrap();
        assert_eq!((a.devices, a.speed, a.duration), (200, 1200.0, Duration::from_secs(120)));
        assert_eq!(a.scenario, Scenario::DampBedroom);
        assert_eq!(a.pki_dir(), PathBuf::from("/tmp/d/pki"));
        assert_eq!(a.bundles_dir(), PathBuf::from("/tmp/d/device-bundles"));
        assert!(a.provision);
        let err = SimArgs::try_parse_from(["sim", "--scenario", "wet"]).unwrap_err().to_string();
        assert!(err.contains("cold-home"), "{err}");
        assert!(SimArgs::try_parse_from(["sim", "--devices", "0"]).is_err());
    }
}
