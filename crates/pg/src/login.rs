//! Passwords of login roles besides the superuser. The services connect as roles the schema's
//! migrations create without LOGIN (they own nothing and hold only what was granted); on a
//! private cluster each such role gets a password of its own, generated once and kept in
//! `DATA_DIR/logins/ROLE` (0600, the caller's) like the superuser's. Setting it on the role
//! (`ALTER ROLE .. LOGIN PASSWORD`) is the schema's business: `dampwatch_store::roles`.

use std::os::unix::fs::DirBuilderExt;

use crate::error::PgError;
use crate::server::PrivatePostgres;

/// A login role of a private cluster: its password, and the URL that connects with it.
#[derive(Clone)]
pub struct Login {
    pub role: String,
    /// Hex: needs no quoting in SQL or a URL.
    pub password: String,
    /// Carries the password: print it only through `dampwatch_store::redacted`.
    pub url: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login").field("role", &self.role).finish_non_exhaustive()
    }
}

impl PrivatePostgres {
    /// Login `role` to database `db`: the password in its file, made at the first call.
    pub fn login(&self, role: &str, db: &str) -> Result<Login, PgError> {
        if !crate::sql::is_plain_name(role) {
            return Err(PgError::InvalidRoleName { name: role.to_owned() });
        }
        let file = self.layout().login_password(role);
        let password = match crate::password::read(&file)? {
            Some(password) if !password.is_empty() => password,
            _ => {
                let dir = file.parent().expect("logins/ROLE has a parent");
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(PgError::io("create", dir))?;
                let password = crate::password::generate()?;
                crate::password::keep(&file, &password)?;
                password
            }
        };
        let url = crate::url::url_as(role, self.port(), db, &password);
        Ok(Login { role: role.to_owned(), password, url })
    }
}
