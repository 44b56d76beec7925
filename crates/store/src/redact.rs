//! A database URL fit to print or log: the password is replaced, everything else kept so an
//! operator still sees which server and database are meant.

/// `url` with any password replaced by `***`: in a URL's user information
/// (`postgres://user:secret@host/db`), in a `password=` query parameter, or in a key-value
/// connection string (`host=h password=secret`).
pub fn redacted(url: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let mut out = url[..scheme_end + 3].to_owned();
        match rest[..authority_end].rfind('@') {
            Some(at) => {
                let userinfo = &rest[..at];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..colon]);
                        out.push_str(":***");
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&rest[at..authority_end]);
            }
            None => out.push_str(&rest[..authority_end]),
        }
        let tail = &rest[authority_end..];
        match tail.split_once('?') {
            Some((path, query)) => {
                out.push_str(path);
                out.push('?');
                out.push_str(&redact_pairs(query, '&'));
            }
            None => out.push_str(tail),
        }
        out
    } else {
        redact_pairs(url, ' ')
    }
}

/// Replaces the value of every `password=` pair in `text`, pairs separated by `separator`.
fn redact_pairs(text: &str, separator: char) -> String {
    text.split(separator)
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.trim().eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(&separator.to_string())
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_are_hidden_and_the_rest_is_kept() {
        assert_eq!(
            redacted("postgres://dw:s3cret@db.example:5432/dampwatch"),
            "postgres://dw:***@db.example:5432/dampwatch"
        );
        assert_eq!(redacted("postgres://dw@127.0.0.1:5432/x"), "postgres://dw@127.0.0.1:5432/x");
        assert_eq!(
            redacted("postgresql://h/db?sslmode=require&password=abc"),
            "postgresql://h/db?sslmode=require&password=***"
        );
        assert_eq!(redacted("postgres://h/db?password=abc"), "postgres://h/db?password=***");
        assert_eq!(redacted("host=h user=dw password=abc dbname=x"), "host=h user=dw password=*** dbname=x");
        // An @ in the password does not leak its tail.
        assert_eq!(redacted("postgres://dw:a@b@h/db"), "postgres://dw:***@h/db");
    }
}
