//! Validation of container and exec session ids.
//!
//! Ids become file names under the state, exit and socket directories and the last argument of
//! runtime commands, so they must not escape a directory or read as a command-line flag.

use crate::error::{Error, Result};

/// Maximum length of a container or exec session id in bytes. Podman's ids are 64 hex digits.
/// The bound keeps socket paths built from ids (`<socket dir>/<id>/attach`) within reach of
/// the 108-byte `sun_path` for ordinary directories.
pub const OCIRT_MAX_ID_LEN: usize = 128;

/// Checks that `id` is usable as a container or exec session id: 1 to 128 bytes of ASCII
/// letters, digits, `_`, `.`, `+` and `-`, not starting with `.` or `-` (so `.`, `..` and
/// flag-like ids are rejected). `what` names the id in the error message.
pub fn validate(id: &str, what: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid(format!("{} must not be empty", what)));
    }
    if id.len() > OCIRT_MAX_ID_LEN {
        return Err(Error::invalid(format!(
            "{} is {} bytes long, the maximum is {}: \"{}...\"",
            what,
            id.len(),
            OCIRT_MAX_ID_LEN,
            id.chars().take(32).collect::<String>().escape_debug()
        )));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '+' | '-')))
    {
        return Err(Error::invalid(format!(
            "{} \"{}\" contains the character {:?}; only ASCII letters, digits, '_', '.', '+' and '-' are allowed",
            what,
            id.escape_debug(),
            bad
        )));
    }
    if id.starts_with('.') || id.starts_with('-') {
        return Err(Error::invalid(format!(
            "{} \"{}\" must not start with '.' or '-'",
            what, id
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_podman_style_ids() {
        validate(&"a".repeat(64), "id").unwrap();
        validate("web-1", "id").unwrap();
        validate("a.b_c+d", "id").unwrap();
        validate(&"x".repeat(OCIRT_MAX_ID_LEN), "id").unwrap();
    }

    #[test]
    fn rejects_unsafe_ids() {
        for bad in [
            "", ".", "..", "../x", "a/b", "a\0b", "-rf", ".hidden", "sp ace", "é",
        ] {
            let err = validate(bad, "container id").unwrap_err();
            assert_eq!(
                err.kind(),
                crate::error::ocirt_result::OCIRT_ERR_INVALID_ARGUMENT,
                "{:?}",
                bad
            );
            assert!(
                err.message().starts_with("container id"),
                "{}",
                err.message()
            );
        }
        let long = "y".repeat(300);
        let err = validate(&long, "container id").unwrap_err();
        assert!(err.message().contains("300 bytes"), "{}", err.message());
    }
}
