//! As root the server runs as `postgres`, which must be able to walk down to the data
//! directory; the error names the directory in the way instead of chmod-ing it.

mod common;

use std::os::unix::fs::PermissionsExt;

use dampwatch_pg::{PgError, PgOptions, PrivatePostgres};

#[test]
fn an_unreachable_parent_is_named_and_left_alone() {
    if !common::running_as_root() {
        println!("note: not running as root, the server runs as this user; nothing to check here");
        return;
    }
    // Owned by root with mode 0700, like /root: `postgres` cannot pass.
    let blocker = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(blocker.path(), std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let data_dir = blocker.path().join("data");

    let err = PrivatePostgres::start(PgOptions::new(&data_dir)).expect_err("postgres cannot reach it");
    match &err {
        PgError::DataDirNotReachable { blocked, .. } => assert_eq!(blocked, blocker.path()),
        other => panic!("expected DataDirNotReachable, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains(&blocker.path().display().to_string()), "{message}");
    assert!(message.contains("/var/lib") && message.contains("/tmp"), "suggests a place: {message}");
    let mode = std::fs::metadata(blocker.path()).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the blocking directory must not be chmod-ed");
}
