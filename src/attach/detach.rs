//! Detach keys: podman's key-sequence format and a matcher that works however the input is
//! split into writes.

use crate::error::{Error, Result};

/// The default sequence, `ctrl-p,ctrl-q`.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// A parsed detach sequence; empty means detaching is disabled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetachKeys(Vec<u8>);

fn key_byte(key: &str) -> Option<u8> {
    if key == "DEL" {
        return Some(127);
    }
    if let Some(name) = key.strip_prefix("ctrl-") {
        let mut chars = name.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            return None;
        };
        return match c {
            'a'..='z' => Some(c as u8 - b'a' + 1),
            '@' => Some(0),
            '[' => Some(27),
            '\\' => Some(28),
            ']' => Some(29),
            '^' => Some(30),
            '_' => Some(31),
            _ => None,
        };
    }
    let mut chars = key.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii() => Some(c as u8),
        _ => None,
    }
}

impl DetachKeys {
    /// Parses podman's format: comma-separated keys, each `ctrl-<a-z@[\]^_>`, `DEL` or a single
    /// ASCII character. The empty string disables detaching.
    pub fn parse(text: &str) -> Result<DetachKeys> {
        if text.is_empty() {
            return Ok(DetachKeys(Vec::new()));
        }
        let mut bytes = Vec::new();
        for key in text.split(',') {
            let byte = key_byte(key).ok_or_else(|| {
                Error::invalid(format!(
                    "invalid detach keys {:?}: unknown key {:?}; use comma-separated ctrl-<a-z@[\\]^_> (lower case), DEL or single characters, or \"\" to disable",
                    text, key
                ))
            })?;
            bytes.push(byte);
        }
        Ok(DetachKeys(bytes))
    }

    /// Parses an optional sequence: `None` gives the default `ctrl-p,ctrl-q`.
    pub fn parse_or_default(text: Option<&str>) -> Result<DetachKeys> {
        DetachKeys::parse(text.unwrap_or(DEFAULT_DETACH_KEYS))
    }

    /// Returns the key bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Returns true when detaching is disabled.
    pub fn is_disabled(&self) -> bool {
        self.0.is_empty()
    }
}

/// Finds the detach sequence in a byte stream that arrives in arbitrary pieces.
///
/// Bytes that may start the sequence are held back until the sequence completes or fails to
/// match. Bytes that turn out not to be part of it are forwarded unchanged and in order.
#[derive(Clone, Debug)]
pub struct DetachMatcher {
    keys: Vec<u8>,
    pending: Vec<u8>,
}

impl DetachMatcher {
    /// Creates a matcher for `keys`.
    pub fn new(keys: &DetachKeys) -> DetachMatcher {
        DetachMatcher {
            keys: keys.0.clone(),
            pending: Vec::new(),
        }
    }

    /// Feeds `input`, appending the bytes to forward to `out`. Returns true when the sequence
    /// completed; the input after the sequence is then discarded, as the session ends.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        if self.keys.is_empty() {
            out.extend_from_slice(input);
            return false;
        }
        for &byte in input {
            self.pending.push(byte);
            // Forward from the front until what is held back is a prefix of the sequence.
            while !self.pending.is_empty() && !self.keys.starts_with(&self.pending) {
                out.push(self.pending.remove(0));
            }
            if self.pending.len() == self.keys.len() {
                self.pending.clear();
                return true;
            }
        }
        false
    }

    /// Returns the bytes held back as a possible start of the sequence and clears them. Used
    /// when the input ends.
    pub fn flush(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(keys: &str, pieces: &[&[u8]]) -> (Vec<u8>, bool) {
        let mut matcher = DetachMatcher::new(&DetachKeys::parse(keys).unwrap());
        let mut out = Vec::new();
        for piece in pieces {
            if matcher.feed(piece, &mut out) {
                return (out, true);
            }
        }
        out.extend(matcher.flush());
        (out, false)
    }

    #[test]
    fn parses_podman_format() {
        assert_eq!(
            DetachKeys::parse("ctrl-p,ctrl-q").unwrap().bytes(),
            &[0x10, 0x11]
        );
        assert_eq!(
            DetachKeys::parse("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_")
                .unwrap()
                .bytes(),
            &[0, 27, 28, 29, 30, 31]
        );
        assert_eq!(DetachKeys::parse("a,DEL,,").is_err(), true);
        assert_eq!(DetachKeys::parse("x,DEL").unwrap().bytes(), &[b'x', 127]);
        assert!(DetachKeys::parse("").unwrap().is_disabled());
        assert_eq!(
            DetachKeys::parse_or_default(None).unwrap().bytes(),
            &[0x10, 0x11]
        );
    }

    #[test]
    fn rejects_invalid_keys_by_name() {
        for bad in ["ctrl-C", "ctrl-1", "ab", "ctrl-", "é", "ctrl-p,,ctrl-q"] {
            let err = DetachKeys::parse(bad).unwrap_err();
            assert!(
                err.message().contains("invalid detach keys"),
                "{}",
                err.message()
            );
        }
        let err = DetachKeys::parse("ctrl-p,ctrl-C").unwrap_err();
        assert!(err.message().contains("\"ctrl-C\""), "{}", err.message());
    }

    #[test]
    fn detaches_however_keys_arrive() {
        assert_eq!(run("ctrl-p,ctrl-q", &[b"\x10", b"\x11"]), (vec![], true));
        assert_eq!(run("ctrl-p,ctrl-q", &[b"\x10\x11"]), (vec![], true));
        assert_eq!(
            run("ctrl-p,ctrl-q", &[b"xyz\n\x10\x11"]),
            (b"xyz\n".to_vec(), true)
        );
        assert_eq!(
            run("ctrl-p,ctrl-q", &[b"ab\x10", b"\x11tail"]),
            (b"ab".to_vec(), true)
        );
    }

    #[test]
    fn forwards_partial_matches_in_order() {
        assert_eq!(
            run("ctrl-p,ctrl-q", &[b"\x10a\n"]),
            (b"\x10a\n".to_vec(), false)
        );
        assert_eq!(
            run("ctrl-p,ctrl-q", &[b"\x10", b"a", b"\n"]),
            (b"\x10a\n".to_vec(), false)
        );
        assert_eq!(
            run("ctrl-p,ctrl-q", &[b"\x10\x10\x11"]),
            (b"\x10".to_vec(), true)
        );
        assert_eq!(
            run("a,a,b", &[b"a", b"a", b"a", b"b"]),
            (b"a".to_vec(), true)
        );
        assert_eq!(
            run("ctrl-p,ctrl-q", &[b"end\x10"]),
            (b"end\x10".to_vec(), false)
        );
    }

    #[test]
    fn disabled_keys_forward_everything() {
        assert_eq!(run("", &[b"\x10\x11\n"]), (b"\x10\x11\n".to_vec(), false));
    }
}
