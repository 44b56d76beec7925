//! Connection URLs for the private server.

use crate::SUPERUSER;

/// `postgres://dampwatch:PASSWORD@127.0.0.1:PORT/DB`, with `db` percent-encoded (the password
/// is hex, which needs no encoding).
pub(crate) fn url(port: u16, db: &str, password: &str) -> String {
    url_as(SUPERUSER, port, db, password)
}

/// The same for login `user` (a plain identifier, as [`crate::login`] accepts).
pub(crate) fn url_as(user: &str, port: u16, db: &str, password: &str) -> String {
    format!("postgres://{user}:{password}@127.0.0.1:{port}/{}", percent_encode(db))
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_loopback_urls() {
        assert_eq!(url(5999, "dampwatch", "ab12"), "postgres://dampwatch:ab12@127.0.0.1:5999/dampwatch");
        assert_eq!(url(1, "a b/é", "ab12"), "postgres://dampwatch:ab12@127.0.0.1:1/a%20b%2F%C3%A9");
    }
}
