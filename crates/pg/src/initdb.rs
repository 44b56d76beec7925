//! Creating a new cluster: `initdb`, the include of our settings file, and the `dampwatch`
//! database, made in single-user mode so no port or client is needed yet.

use std::io::Write;
use std::path::Path;

use crate::account::ServerAccount;
use crate::binaries::PgBinaries;
use crate::command::run;
use crate::error::PgError;
use crate::layout::SETTINGS_FILE;
use crate::settings::Settings;
use crate::{DATABASE, SUPERUSER};

/// Creates a cluster in the directory `cluster`, which must not exist yet.
pub(crate) fn create_cluster(
    bins: &PgBinaries,
    account: &ServerAccount,
    cluster: &Path,
    durable: bool,
) -> Result<(), PgError> {
    std::fs::create_dir(cluster).map_err(PgError::io("create directory", cluster))?;
    account.hand_over(cluster)?;

    let mut initdb = account.command(&bins.initdb());
    // trust is safe only because the server listens on loopback alone and initdb's pg_hba.conf
    // lists only local, 127.0.0.1/32 and ::1/128. The C locale keeps sorting the same everywhere.
    initdb.arg("-D").arg(cluster).args(["-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-locale"]);
    if !durable {
        initdb.arg("--no-sync");
    }
    run(&mut initdb, "initdb", None)?;

    let conf = cluster.join("postgresql.conf");
    let mut file =
        std::fs::OpenOptions::new().append(true).open(&conf).map_err(PgError::io("open", &conf))?;
    writeln!(
        file,
        "\n# Settings managed by dampwatch-pg (port, loopback, durability)\ninclude '{SETTINGS_FILE}'"
    )
    .map_err(PgError::io("append to", &conf))?;
    // A placeholder port: every start rewrites this file with the real one.
    Settings { port: 5432, durable }.write(cluster, account)?;

    let mut single = account.command(&bins.postgres());
    single.arg("--single").arg("-D").arg(cluster).args(["-c", "exit_on_error=true"]);
    if !durable {
        single.arg("-F");
    }
    single.arg("template1");
    run(&mut single, "postgres --single", Some(&format!("CREATE DATABASE {DATABASE};\n"))).map(drop)
}
