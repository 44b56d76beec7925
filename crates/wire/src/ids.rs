//! Landlord and device ids. They appear in certificate subjects, MQTT topics, file names and
//! database keys, so they are deliberately plain: 1 to 32 characters of lowercase ASCII letters,
//! digits and `-`, starting and ending with a letter or digit. That excludes the MQTT wildcards
//! `+` and `#`, the topic separator `/`, path traversal and any case confusion.

/// Longest landlord or device id, in bytes.
pub const MAX_ID_LEN: usize = 32;

/// The rule, for error messages.
pub const ID_RULE: &str =
    "1 to 32 characters: lowercase letters a-z, digits 0-9 and '-', starting and ending with a letter or digit";

/// Why an id is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdError {
    Empty,
    TooLong,
    /// The byte offset of the first character outside the rule.
    BadCharacter(usize),
    /// Starts or ends with '-'.
    BadEdge,
}

impl core::fmt::Display for IdError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            IdError::Empty => write!(f, "is empty; an id must be {ID_RULE}"),
            IdError::TooLong => write!(f, "is longer than {MAX_ID_LEN} characters; an id must be {ID_RULE}"),
            IdError::BadCharacter(at) => {
                write!(f, "has a character not allowed at position {}; an id must be {ID_RULE}", at + 1)
            }
            IdError::BadEdge => write!(f, "starts or ends with '-'; an id must be {ID_RULE}"),
        }
    }
}

fn validate(id: &str) -> Result<(), IdError> {
    let b = id.as_bytes();
    if b.is_empty() {
        return Err(IdError::Empty);
    }
    if b.len() > MAX_ID_LEN {
        return Err(IdError::TooLong);
    }
    if let Some(at) = b.iter().position(|c| !matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'-')) {
        return Err(IdError::BadCharacter(at));
    }
    if b[0] == b'-' || b[b.len() - 1] == b'-' {
        return Err(IdError::BadEdge);
    }
    Ok(())
}

/// Checks a device id against [`ID_RULE`].
pub fn validate_device_id(id: &str) -> Result<(), IdError> {
    validate(id)
}

/// Checks a landlord id against [`ID_RULE`].
pub fn validate_landlord_id(id: &str) -> Result<(), IdError> {
    validate(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_ids() {
        for id in ["a", "dev-001", "landlord42", "0123456789abcdef0123456789abcdef"] {
            assert_eq!(validate_device_id(id), Ok(()), "{id}");
        }
    }

    #[test]
    fn rejects_what_would_break_topics_paths_or_subjects() {
        assert_eq!(validate_device_id(""), Err(IdError::Empty));
        assert_eq!(validate_device_id(&"a".repeat(33)), Err(IdError::TooLong));
        assert_eq!(validate_device_id("dev/1"), Err(IdError::BadCharacter(3)));
        assert_eq!(validate_device_id("dev+"), Err(IdError::BadCharacter(3)));
        assert_eq!(validate_device_id("#"), Err(IdError::BadCharacter(0)));
        assert_eq!(validate_device_id("Dev"), Err(IdError::BadCharacter(0)));
        assert_eq!(validate_device_id("../x"), Err(IdError::BadCharacter(0)));
        assert_eq!(validate_landlord_id("-x"), Err(IdError::BadEdge));
        assert_eq!(validate_landlord_id("x-"), Err(IdError::BadEdge));
    }
}
