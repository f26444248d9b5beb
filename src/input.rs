//! The node's input (the seed's `ImportPinPointSegmentNodeInput`) and its checks.

use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, NodeError};

/// The format of the endpoint data, as the seed's `format` dropdown names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Format {
    /// Comma-separated values with a header row of Pinpoint attribute names.
    #[serde(rename = "CSV")]
    Csv,
    /// JSON: an array of endpoint objects, newline-delimited objects, or one object.
    #[serde(rename = "JSON")]
    Json,
}

impl Format {
    /// The value Pinpoint's `ImportJobRequest.Format` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "CSV",
            Format::Json => "JSON",
        }
    }

    /// The file extension of a staged object in this format.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

/// The node's input, field for field the seed's input schema.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportInput {
    /// The Pinpoint application (project) id.
    pub application_id: String,
    /// The name of the segment to create.
    pub segment_name: String,
    /// The format of `data`.
    pub format: Format,
    /// The endpoint definitions.
    pub data: String,
}

/// What a run does when the project already has a segment of its name
/// (made from other data: a segment made from this data is always a re-run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnExisting {
    /// `DuplicateSegmentName`, as the seed's node does (the default).
    #[default]
    Fail,
    /// Import into that segment as a new version of it: its id stays.
    NewVersion,
}

impl OnExisting {
    /// The name the JSON input and the CLI use.
    pub fn as_str(self) -> &'static str {
        match self {
            OnExisting::Fail => "fail",
            OnExisting::NewVersion => "new_version",
        }
    }

    /// Whether this is the default (left out of serialised input).
    pub fn is_default(&self) -> bool {
        *self == OnExisting::Fail
    }
}

/// What a run is asked: the seed's input (its four fields, all required)
/// and the node's options beyond it, each optional with a default that
/// behaves as the seed's node does. As JSON, one object: the seed's fields
/// and `on_existing`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRequest {
    /// The seed's input.
    #[serde(flatten)]
    pub input: ImportInput,
    /// What to do with an existing segment of the name.
    #[serde(default, skip_serializing_if = "OnExisting::is_default")]
    pub on_existing: OnExisting,
}

impl From<ImportInput> for ImportRequest {
    /// The seed's input with every option at its default.
    fn from(input: ImportInput) -> Self {
        ImportRequest {
            input,
            on_existing: OnExisting::default(),
        }
    }
}

impl std::fmt::Debug for ImportInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportInput")
            .field("application_id", &self.application_id)
            .field("segment_name", &self.segment_name)
            .field("format", &self.format)
            .field("data_bytes", &self.data.len())
            .finish()
    }
}

/// The longest segment name accepted. Pinpoint models no limit; this one keeps
/// error messages and logs bounded and is far above any name a console shows.
pub const MAX_SEGMENT_NAME_CHARS: usize = 1024;

impl ImportInput {
    /// Checks the fields that go into URLs and requests.
    ///
    /// The application id goes into a URL path, so it must be non-empty ASCII
    /// letters and digits (plus `-` and `_`): never a `/`, `?`, `%` or space that
    /// could change the request. Pinpoint ids are 32 hex characters, but the
    /// seed's own example is not hex, so the check stays lenient and Pinpoint's
    /// `GetApp` answers for ids that look right but do not exist.
    pub fn check(&self) -> Result<(), NodeError> {
        let id = &self.application_id;
        if id.trim().is_empty() {
            return Err(invalid_id("application_id is empty"));
        }
        if id.len() > 128 {
            return Err(invalid_id("application_id is longer than 128 characters"));
        }
        if let Some(c) = id
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(invalid_id(&format!(
                "application_id contains {c:?}; a Pinpoint project id has only letters and digits"
            )));
        }
        let name = &self.segment_name;
        if name.trim().is_empty() {
            return Err(
                NodeError::new(ErrorKind::InvalidInput, "segment_name is empty")
                    .with_field("segment_name"),
            );
        }
        if name.chars().count() > MAX_SEGMENT_NAME_CHARS {
            return Err(NodeError::new(
                ErrorKind::InvalidInput,
                format!("segment_name is longer than {MAX_SEGMENT_NAME_CHARS} characters"),
            )
            .with_field("segment_name"));
        }
        if name.chars().any(char::is_control) {
            return Err(NodeError::new(
                ErrorKind::InvalidInput,
                "segment_name contains a control character",
            )
            .with_field("segment_name"));
        }
        Ok(())
    }
}

fn invalid_id(message: &str) -> NodeError {
    NodeError::new(ErrorKind::InvalidApplicationId, message).with_field("application_id")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(id: &str, name: &str) -> ImportInput {
        ImportInput {
            application_id: id.into(),
            segment_name: name.into(),
            format: Format::Csv,
            data: String::new(),
        }
    }

    #[test]
    fn accepts_hex_ids_and_the_seed_example_id() {
        assert!(
            input("d5ecad8e417d498389e1d5b9454d4e0c", "a")
                .check()
                .is_ok()
        );
        assert!(
            input("a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6", "a")
                .check()
                .is_ok()
        );
    }

    #[test]
    fn rejects_ids_that_could_change_the_path() {
        for id in ["", "  ", "abc/def", "abc?x=1", "a%2F", "../x", "a b"] {
            let err = input(id, "seg").check().unwrap_err();
            assert_eq!(err.kind, ErrorKind::InvalidApplicationId, "{id:?}");
        }
    }

    #[test]
    fn rejects_empty_or_control_segment_names() {
        assert_eq!(
            input("abc", "").check().unwrap_err().kind,
            ErrorKind::InvalidInput
        );
        assert_eq!(
            input("abc", "a\nb").check().unwrap_err().kind,
            ErrorKind::InvalidInput
        );
        assert!(input("abc", "Q4 2024 — high value").check().is_ok());
    }

    #[test]
    fn on_existing_is_optional_and_fail_by_default() {
        let seed = r#"{"application_id":"abc","segment_name":"s","format":"CSV","data":"x"}"#;
        let r: ImportRequest = serde_json::from_str(seed).unwrap();
        assert_eq!(r.on_existing, OnExisting::Fail);
        assert_eq!(r.input.segment_name, "s");
        // The default is left out: the seed's input round-trips as it was.
        let back: serde_json::Value = serde_json::to_value(&r).unwrap();
        assert_eq!(
            back,
            serde_json::from_str::<serde_json::Value>(seed).unwrap()
        );
        let with = r#"{"application_id":"abc","segment_name":"s","format":"CSV","data":"x","on_existing":"new_version"}"#;
        let r: ImportRequest = serde_json::from_str(with).unwrap();
        assert_eq!(r.on_existing, OnExisting::NewVersion);
        assert_eq!(serde_json::to_value(r.on_existing).unwrap(), "new_version");
        assert_eq!(OnExisting::NewVersion.as_str(), "new_version");
        // Another value, or a seed field missing, is not an input.
        let bad = with.replace("new_version", "replace");
        assert!(serde_json::from_str::<ImportRequest>(&bad).is_err());
        assert!(
            serde_json::from_str::<ImportRequest>(
                r#"{"application_id":"abc","segment_name":"s","format":"CSV","on_existing":"fail"}"#
            )
            .is_err()
        );
    }

    #[test]
    fn debug_does_not_print_the_data() {
        let mut i = input("abc", "seg");
        i.data = "EMAIL,secret@example.com".into();
        assert!(!format!("{i:?}").contains("secret@example.com"));
    }
}
