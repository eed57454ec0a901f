//! conmon's sync and attach pipe messages: `{"data": <int>[, "message": "<text>"]}\n`.
//!
//! conmon escapes only part of the control range (0x1F is sent raw) and passes bytes of 0x80
//! and above unchanged, so a message can be invalid JSON and invalid UTF-8. The parser here
//! accepts exactly what conmon writes and decodes the text lossily.

/// One message from conmon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncMessage {
    /// The `data` value: a pid (create, exec start), 0 (exec attach ready), an exit code
    /// (exec end), or negative for a failure.
    pub data: i64,
    /// The `message` value, when present: the runtime's error output.
    pub message: Option<String>,
}

fn skip_spaces(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() && matches!(bytes[at], b' ' | b'\t' | b'\r' | b'\n') {
        at += 1;
    }
    at
}

/// Reads a string literal starting after its opening quote; returns the raw decoded bytes and
/// the index after the closing quote.
fn read_string(bytes: &[u8], mut at: usize) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    while at < bytes.len() {
        match bytes[at] {
            b'"' => return Some((out, at + 1)),
            b'\\' => {
                let escaped = *bytes.get(at + 1)?;
                at += 2;
                match escaped {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'b' => out.push(0x08),
                    b'f' => out.push(0x0c),
                    b'/' => out.push(b'/'),
                    b'u' => {
                        let hex = std::str::from_utf8(bytes.get(at..at + 4)?).ok()?;
                        let code = u32::from_str_radix(hex, 16).ok()?;
                        at += 4;
                        let c = char::from_u32(code).unwrap_or('\u{FFFD}');
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                    other => out.push(other),
                }
            }
            other => {
                out.push(other);
                at += 1;
            }
        }
    }
    // An unterminated string (a truncated message) still yields what arrived.
    Some((out, at))
}

/// Parses one message. Unknown keys are skipped; `None` means there is no integer `data`
/// (or legacy `pid` / `exit_code`) value.
pub fn parse(raw: &[u8]) -> Option<SyncMessage> {
    let end = raw.iter().position(|b| *b == b'\n').unwrap_or(raw.len());
    let bytes = &raw[..end];
    let mut at = skip_spaces(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at += 1;
    let mut data = None;
    let mut message = None;
    loop {
        at = skip_spaces(bytes, at);
        match bytes.get(at) {
            Some(b'}') | None => break,
            Some(b',') => {
                at += 1;
                continue;
            }
            Some(b'"') => {}
            Some(_) => return None,
        }
        let (key, next) = read_string(bytes, at + 1)?;
        at = skip_spaces(bytes, next);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        at = skip_spaces(bytes, at + 1);
        match bytes.get(at) {
            Some(b'"') => {
                let (value, next) = read_string(bytes, at + 1)?;
                at = next;
                if key == b"message" {
                    message = Some(String::from_utf8_lossy(&value).into_owned());
                }
            }
            Some(_) => {
                let start = at;
                while at < bytes.len() && !matches!(bytes[at], b',' | b'}' | b' ') {
                    at += 1;
                }
                let token = std::str::from_utf8(&bytes[start..at]).ok()?;
                if matches!(key.as_slice(), b"data" | b"pid" | b"exit_code") {
                    data = Some(token.parse::<i64>().ok()?);
                }
            }
            None => break,
        }
    }
    data.map(|data| SyncMessage { data, message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pid() {
        assert_eq!(
            parse(b"{\"data\": 11066}\n"),
            Some(SyncMessage {
                data: 11066,
                message: None
            })
        );
    }

    #[test]
    fn parses_error_with_escapes_and_raw_bytes() {
        let raw = b"{\"data\": -1, \"message\": \"time=\\\"x\\\" msg=\\\"exec: \\\\\\\"/nope\\\\\\\": no such file\\\"\\n\x1f\xff\"}\n";
        let parsed = parse(raw).unwrap();
        assert_eq!(parsed.data, -1);
        let message = parsed.message.unwrap();
        assert!(message.contains("no such file"), "{}", message);
        assert!(message.contains('\u{1f}'));
        assert!(message.contains('\u{FFFD}'));
    }

    #[test]
    fn accepts_legacy_keys_and_rejects_garbage() {
        assert_eq!(parse(b"{\"pid\": 5}").unwrap().data, 5);
        assert_eq!(parse(b"{\"exit_code\": 3}").unwrap().data, 3);
        assert!(parse(b"").is_none());
        assert!(parse(b"not json").is_none());
        assert!(parse(b"{\"message\": \"no data\"}").is_none());
        assert!(parse(b"{\"data\": x}").is_none());
    }
}
