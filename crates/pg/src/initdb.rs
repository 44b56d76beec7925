//! Creating a new cluster: `initdb`, the include of our settings file, and the `dampwatch`
//! database, made in single-user mode so no port or client is needed yet. Nothing is synced
//! to disk here: clusters are made once into the template, and a durable copy of it is synced
//! with [`sync_to_disk`].

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
) -> Result<(), PgError> {
    std::fs::create_dir(cluster).map_err(PgError::io("create directory", cluster))?;
    account.hand_over(cluster)?;

    // Every connection needs the password (loopback is reachable by any local account). This
    // one is thrown away: each cluster made from this one gets its own at its first start
    // (`password::set`). The C locale keeps sorting the same everywhere.
    let parent = cluster.parent().unwrap_or(Path::new("/"));
    let pwfile = parent.join("initdb-password");
    write_private(&pwfile, &crate::password::generate()?)?;
    account.hand_over(&pwfile)?;
    let mut initdb = account.command(&bins.initdb());
    initdb.arg("-D").arg(cluster).arg(format!("--pwfile={}", pwfile.display())).args([
        "-U",
        SUPERUSER,
        "-A",
        crate::password::AUTH_METHOD,
        "-E",
        "UTF8",
        "--no-locale",
        "--no-sync",
    ]);
    let made = run(&mut initdb, "initdb", None);
    let _ = std::fs::remove_file(&pwfile);
    made?;

    let conf = cluster.join("postgresql.conf");
    let mut file =
        std::fs::OpenOptions::new().append(true).open(&conf).map_err(PgError::io("open", &conf))?;
    writeln!(
        file,
        "\n# Settings managed by dampwatch-pg (port, loopback, durability)\ninclude '{SETTINGS_FILE}'"
    )
    .map_err(PgError::io("append to", &conf))?;
    // A placeholder port: every start rewrites this file with the real one.
    Settings { port: 5432, durable: false, statement_statistics: false }.write(cluster, account)?;

    let mut single = account.command(&bins.postgres());
    single.arg("--single").arg("-F").arg("-D").arg(cluster).args(["-c", "exit_on_error=true", "template1"]);
    run(&mut single, "postgres --single", Some(&format!("CREATE DATABASE {DATABASE};\n"))).map(drop)
}

/// `text` in a new file only its owner reads.
fn write_private(path: &Path, text: &str) -> Result<(), PgError> {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(PgError::io("create", path))?;
    file.write_all(text.as_bytes()).map_err(PgError::io("write", path))
}

/// Flushes every file of the cluster to disk (`initdb --sync-only`), what initdb does last
/// unless told `--no-sync`.
pub(crate) fn sync_to_disk(
    bins: &PgBinaries,
    account: &ServerAccount,
    cluster: &Path,
) -> Result<(), PgError> {
    let mut sync = account.command(&bins.initdb());
    sync.arg("--sync-only").arg("-D").arg(cluster);
    run(&mut sync, "initdb --sync-only", None).map(drop)
}
