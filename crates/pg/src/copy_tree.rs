//! Copying a stopped cluster directory: how a template becomes a fresh cluster in a fraction
//! of initdb's time.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::account::ServerAccount;
use crate::error::PgError;

/// Copies `from` to `to` (which must not exist), keeping modes and giving every entry to the
/// server account. `fs::copy` uses `copy_file_range`, so file systems that can share extents
/// do so.
pub(crate) fn copy_tree(from: &Path, to: &Path, account: &ServerAccount) -> Result<(), PgError> {
    let mode = fs::metadata(from).map_err(PgError::io("read", from))?.permissions().mode();
    fs::create_dir(to).map_err(PgError::io("create directory", to))?;
    fs::set_permissions(to, fs::Permissions::from_mode(mode)).map_err(PgError::io("set mode of", to))?;
    account.hand_over(to)?;
    for entry in fs::read_dir(from).map_err(PgError::io("read directory", from))? {
        let entry = entry.map_err(PgError::io("read directory", from))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().map_err(PgError::io("read", &source))?;
        if kind.is_dir() {
            copy_tree(&source, &target, account)?;
            continue;
        }
        if kind.is_symlink() {
            let link = fs::read_link(&source).map_err(PgError::io("read link", &source))?;
            std::os::unix::fs::symlink(link, &target).map_err(PgError::io("create link", &target))?;
        } else {
            fs::copy(&source, &target).map_err(PgError::io("copy to", &target))?;
        }
        account.hand_over(&target)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_files_dirs_links_and_modes() {
        let root = tempfile::tempdir().expect("tempdir");
        let from = root.path().join("from");
        fs::create_dir_all(from.join("base/1")).expect("mkdir");
        fs::write(from.join("base/1/112"), b"page").expect("write");
        fs::write(from.join("PG_VERSION"), b"15\n").expect("write");
        fs::set_permissions(&from, fs::Permissions::from_mode(0o700)).expect("chmod");
        fs::set_permissions(from.join("PG_VERSION"), fs::Permissions::from_mode(0o600)).expect("chmod");
        std::os::unix::fs::symlink("base", from.join("link")).expect("symlink");

        let to = root.path().join("to");
        copy_tree(&from, &to, &ServerAccount::Caller).expect("copy");

        assert_eq!(fs::read(to.join("base/1/112")).expect("read"), b"page");
        assert_eq!(fs::metadata(&to).expect("meta").permissions().mode() & 0o777, 0o700);
        assert_eq!(fs::metadata(to.join("PG_VERSION")).expect("meta").permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read_link(to.join("link")).expect("link"), Path::new("base"));
    }
}
