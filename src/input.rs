//! The node's input (the seed's `ImportPinPointSegmentNodeInput`) and its checks.

use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, NodeError, quote};

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

/// Why a JSON object is not an [`ImportRequest`].
#[derive(Debug)]
pub enum RequestError {
    /// A key that is none of [`ImportRequest::KEYS`] (a typo of an optional
    /// field would otherwise do nothing): the first such key and the closest
    /// known one.
    UnknownKey {
        /// The unknown key, as given.
        key: String,
        /// The known key it most likely meant.
        closest: &'static str,
        /// How many other unknown keys there are.
        others: usize,
    },
    /// Not JSON, not an object, a required field missing or a value of the
    /// wrong type: serde_json's message.
    Shape(String),
}

impl RequestError {
    /// The `InvalidInput` error this is; an unknown key is also its `field`.
    pub fn into_node_error(self) -> NodeError {
        let schema = ImportRequest::SHAPE;
        match self {
            RequestError::UnknownKey {
                key,
                closest,
                others,
            } => {
                let more = match others {
                    0 => String::new(),
                    n => format!(" and {n} more unknown keys"),
                };
                NodeError::new(
                    ErrorKind::InvalidInput,
                    format!(
                        "unknown key `{}` (the closest known key is `{closest}`){more}; {schema}",
                        quote(&key)
                    ),
                )
                .with_field(&quote(&key))
            }
            RequestError::Shape(message) => NodeError::new(
                ErrorKind::InvalidInput,
                format!("not the node's input ({schema}): {message}"),
            ),
        }
    }
}

impl ImportRequest {
    /// The JSON form in a sentence, for messages about input that is not it.
    pub const SHAPE: &'static str = "the node's input has application_id, segment_name, format (CSV or JSON) and data, all required, and the optional on_existing (fail or new_version)";

    /// Every key of the JSON form: the seed's four fields, then the options.
    pub const KEYS: [&'static str; 5] = [
        "application_id",
        "segment_name",
        "format",
        "data",
        "on_existing",
    ];

    /// Reads the JSON form from a file's bytes: a UTF-8 byte order mark at
    /// the start is skipped (editors on Windows write one), then as
    /// [`ImportRequest::from_object`].
    pub fn from_json(bytes: &[u8]) -> Result<ImportRequest, RequestError> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        match serde_json::from_slice(bytes) {
            Ok(serde_json::Value::Object(object)) => ImportRequest::from_object(object),
            Ok(other) => Err(RequestError::Shape(format!(
                "expected a JSON object, found {}",
                json_kind(&other)
            ))),
            Err(e) => Err(RequestError::Shape(e.to_string())),
        }
    }

    /// Reads the JSON form from an object (MCP arguments, a parsed file):
    /// every key must be one of [`ImportRequest::KEYS`] (checked here, since
    /// serde's `deny_unknown_fields` does not work with the flattened input).
    pub fn from_object(
        object: serde_json::Map<String, serde_json::Value>,
    ) -> Result<ImportRequest, RequestError> {
        let mut unknown = object
            .keys()
            .filter(|k| !ImportRequest::KEYS.contains(&k.as_str()));
        if let Some(key) = unknown.next() {
            return Err(RequestError::UnknownKey {
                key: key.clone(),
                closest: crate::settings::closest(key, ImportRequest::KEYS.into_iter())
                    .unwrap_or(ImportRequest::KEYS[0]),
                others: unknown.count(),
            });
        }
        serde_json::from_value(serde_json::Value::Object(object))
            .map_err(|e| RequestError::Shape(e.to_string()))
    }
}

/// What kind of JSON value `v` is, for messages.
fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
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

    const SEED: &str = r#"{"application_id":"abc","segment_name":"s","format":"CSV","data":"x"}"#;

    #[test]
    fn keys_are_the_keys_of_the_json_form() {
        let full = ImportRequest {
            input: input("abc", "s"),
            on_existing: OnExisting::NewVersion,
        };
        let value = serde_json::to_value(&full).unwrap();
        let mut keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut known = ImportRequest::KEYS.to_vec();
        keys.sort_unstable();
        known.sort_unstable();
        assert_eq!(keys, known);
    }

    #[test]
    fn a_byte_order_mark_before_the_json_is_skipped() {
        let with_bom = [b"\xEF\xBB\xBF".as_slice(), SEED.as_bytes()].concat();
        let r = ImportRequest::from_json(&with_bom).unwrap();
        assert_eq!(r.input.application_id, "abc");
        assert_eq!(ImportRequest::from_json(SEED.as_bytes()).unwrap(), r);
        // Only at the start, and only once.
        let twice = [b"\xEF\xBB\xBF".as_slice(), &with_bom].concat();
        assert!(matches!(
            ImportRequest::from_json(&twice),
            Err(RequestError::Shape(_))
        ));
    }

    #[test]
    fn an_unknown_key_is_invalid_input_naming_it_and_the_closest_known_key() {
        let typo = SEED.replace("}", r#","on_exsting":"new_version"}"#);
        let err = ImportRequest::from_json(typo.as_bytes())
            .unwrap_err()
            .into_node_error();
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        assert!(
            err.message
                .contains("unknown key `on_exsting` (the closest known key is `on_existing`)"),
            "{}",
            err.message
        );
        assert_eq!(err.details.field.as_deref(), Some("on_exsting"));
        let two = SEED.replace("}", r#","Data":"y","extra":1}"#);
        let err = ImportRequest::from_json(two.as_bytes())
            .unwrap_err()
            .into_node_error();
        assert!(
            err.message
                .contains("`Data` (the closest known key is `data`) and 1 more unknown keys"),
            "{}",
            err.message
        );
        // A huge key is quoted in part.
        let long = SEED.replace("}", &format!(r#","{}":1}}"#, "k".repeat(100_000)));
        let err = ImportRequest::from_json(long.as_bytes())
            .unwrap_err()
            .into_node_error();
        assert!(err.message.len() < 1000, "{}", err.message.len());
    }

    #[test]
    fn what_is_not_an_object_of_the_schema_is_a_shape_error() {
        for bad in ["", "[]", "\"x\"", "{\"application_id\":1}", "not json"] {
            match ImportRequest::from_json(bad.as_bytes()) {
                Err(e @ RequestError::Shape(_)) => {
                    assert_eq!(e.into_node_error().kind, ErrorKind::InvalidInput, "{bad}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn debug_does_not_print_the_data() {
        let mut i = input("abc", "seg");
        i.data = "EMAIL,secret@example.com".into();
        assert!(!format!("{i:?}").contains("secret@example.com"));
    }
}
