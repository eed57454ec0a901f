//! JSON parsing with error messages that name the field at fault.

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

fn describe(path: &str, err: &serde_json::Error, what: &str) -> Error {
    if err.is_syntax() || err.is_eof() {
        return Error::invalid(format!("{} is not valid JSON: {}", what, err));
    }
    if path.is_empty() || path == "." {
        return Error::invalid(format!("invalid {}: {}", what, err));
    }
    Error::invalid(format!("invalid {}: field \"{}\": {}", what, path, err))
}

/// Parses `text`, which must be a JSON object, as `T`. `what` names the document in errors
/// ("container config"); errors of a field name its path ("process.user").
pub fn parse<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|err| describe("", &err, what))?;
    if !value.is_object() {
        let kind = match value {
            serde_json::Value::Null => "null",
            serde_json::Value::Bool(_) => "a boolean",
            serde_json::Value::Number(_) => "a number",
            serde_json::Value::String(_) => "a string",
            serde_json::Value::Array(_) => "an array",
            serde_json::Value::Object(_) => "an object",
        };
        return Err(Error::invalid(format!(
            "{} must be a JSON object, got {}",
            what, kind
        )));
    }
    from_value(value, what)
}

/// Converts a JSON value into `T`, with the same errors as [`parse`].
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value, what: &str) -> Result<T> {
    serde_path_to_error::deserialize(value)
        .map_err(|err| describe(&err.path().to_string(), err.inner(), what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        size: i64,
        inner: Option<Inner>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Inner {
        name: String,
    }

    #[test]
    fn names_the_field_and_the_document() {
        let err = parse::<Sample>(r#"{"size": "10M"}"#, "sample config").unwrap_err();
        assert!(
            err.message()
                .starts_with("invalid sample config: field \"size\""),
            "{}",
            err.message()
        );
        let err = parse::<Sample>(r#"{"size": 1, "inner": {}}"#, "sample config").unwrap_err();
        assert!(err.message().contains("\"inner\""), "{}", err.message());
        assert!(
            err.message().contains("missing field `name`"),
            "{}",
            err.message()
        );
        let err = parse::<Sample>("not json", "sample config").unwrap_err();
        assert!(
            err.message().starts_with("sample config is not valid JSON"),
            "{}",
            err.message()
        );
        let err = parse::<Sample>(r#"{"size": 1} trailing"#, "sample config").unwrap_err();
        assert!(
            err.message().contains("not valid JSON"),
            "{}",
            err.message()
        );
        let err = parse::<Sample>("[1]", "sample config").unwrap_err();
        assert_eq!(
            err.message(),
            "sample config must be a JSON object, got an array"
        );
    }
}
