//! A fresh PKI directory for one test, with its devices' bundles beside it.

#![allow(dead_code)]

use std::path::PathBuf;

use dampwatch_pki::{init, issue_device, InitOptions, IssueOptions, IssuedDevice, Paths, PkiError};

pub fn initialised() -> (tempfile::TempDir, Paths) {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = Paths::new(dir.path().join("pki"));
    init(paths.dir(), InitOptions::default()).expect("init");
    (dir, paths)
}

/// Where the devices' provisioning bundles go: beside the PKI directory, not in it.
pub fn bundles(paths: &Paths) -> PathBuf {
    paths.dir().with_file_name("bundles")
}

/// Issues `device` of `landlord` in `paths`, its bundle in [`bundles`].
pub fn issue(
    paths: &Paths,
    landlord: &str,
    device: &str,
    options: IssueOptions,
) -> Result<IssuedDevice, PkiError> {
    issue_device(paths.dir(), &bundles(paths), landlord, device, options)
}
