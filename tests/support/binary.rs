//! The workspace's binaries for tests that run them as separate processes. Cargo tells a
//! package's tests where that package's own binaries are; these belong to other packages, so
//! they are built here (a no-op when they are fresh) into the same target directory and
//! profile as the test itself.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// Path of binary `bin` of package `package`, built if needed: once per test process, so a
/// test that restarts a process (the fault tests) restarts the same binary at once, never
/// waiting on Cargo's lock or a rebuild in the middle of the outage it measures.
pub fn binary(package: &str, bin: &str) -> anyhow::Result<PathBuf> {
    // Concurrent tests wait for one build instead of contending for Cargo's lock.
    static BUILT: Mutex<BTreeMap<(String, String), PathBuf>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let key = (package.to_owned(), bin.to_owned());
    if let Some(path) = built.get(&key) {
        return Ok(path.clone());
    }
    let path = build(package, bin)?;
    built.insert(key, path.clone());
    Ok(path)
}

fn build(package: &str, bin: &str) -> anyhow::Result<PathBuf> {
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
    // No input: Cargo's probe of rustc compiles what arrives on standard input and caches the
    // answer in the target directory, so a test's stray input must never reach it.
    let status = build.current_dir(env!("CARGO_MANIFEST_DIR")).stdin(std::process::Stdio::null()).status()?;
    anyhow::ensure!(status.success(), "cargo build -p {package} --bin {bin} failed");
    Ok(profile_dir.join(bin))
}
