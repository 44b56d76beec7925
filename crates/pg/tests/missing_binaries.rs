//! Without server binaries the error says what to install. Its own test binary, because it
//! changes the process environment.

use dampwatch_pg::{PgError, PrivatePostgres, BINDIR_ENV};

#[test]
fn missing_server_binaries_name_the_package_to_install() {
    let empty = tempfile::tempdir().expect("tempdir");
    // The only test in this process, so no other thread reads the environment meanwhile.
    std::env::set_var(BINDIR_ENV, empty.path());

    let err = PrivatePostgres::temporary().expect_err("no server in an empty directory");
    assert!(matches!(err, PgError::ServerNotInstalled { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("apt-get install postgresql"), "{message}");
    assert!(message.contains("postgresql-server"), "{message}");
    assert!(message.contains(&empty.path().display().to_string()), "names where it looked: {message}");
}
