//! The workspace's binaries for tests that run them as separate processes. Cargo tells a
//! package's tests where that package's own binaries are; these belong to other packages, so
//! they are built here (a no-op when they are fresh) into the same target directory and
//! profile as the test itself.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// Path of binary `bin` of package `package`, built if needed.
pub fn binary(package: &str, bin: &str) -> anyhow::Result<PathBuf> {
    // Concurrent tests wait for one build instead of contending for Cargo's lock.
    static BUILDING: Mutex<()> = Mutex::new(());
    let _one = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    // target/<profile>/deps/<test> -> target/<profile>
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or_else(|| anyhow::anyhow!("unexpected test path {}", exe.display()))?;
    let target_dir = profile_dir.parent().ok_or_else(|| anyhow::anyhow!("no target directory"))?;
    let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    build.args(["build", "--quiet", "-p", package, "--bin", bin]).arg("--target-dir").arg(target_dir);
    match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => {
            build.arg("--release");
        }
        Some(other) => {
            build.args(["--profile", other]);
        }
        None => anyhow::bail!("no profile directory"),
    }
    let status = build.current_dir(env!("CARGO_MANIFEST_DIR")).status()?;
    anyhow::ensure!(status.success(), "cargo build -p {package} --bin {bin} failed");
    Ok(profile_dir.join(bin))
}
