//! The JSON the node's results become, one code path for every front end:
//! the CLI prints [`Rendered::text`] (`run`, `validate`), and the MCP server
//! returns the same text as a tool's text content and [`Rendered::value`]
//! as its structured content (`pinpoint-import mcp`).
//!
//! - success: the serialised [`ImportOutput`](pinpoint_segment_import::import::ImportOutput)
//!   or [`ValidationReport`](pinpoint_segment_import::import::ValidationReport),
//!   fields in their declared order;
//! - a node error: `{"error": {"type": T, "message": ..., ...details}}`.

use pinpoint_segment_import::error::{ErrorKind, NodeError};
use serde::Serialize;
use serde_json::Value;

/// A result as JSON: pretty text and the same as a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Whether it is a node error (`{"error": ...}`; the CLI's exit code 1).
    pub is_error: bool,
    /// The JSON text, pretty-printed: what the CLI prints.
    pub text: String,
    /// The same JSON as a value.
    pub value: Value,
}

#[derive(Serialize)]
struct Wrapped<'a> {
    error: &'a NodeError,
}

fn render_value(value: &impl Serialize) -> Result<(String, Value), serde_json::Error> {
    Ok((
        serde_json::to_string_pretty(value)?,
        serde_json::to_value(value)?,
    ))
}

/// A node error as `{"error": {...}}`.
pub fn render_error(error: &NodeError) -> Rendered {
    let (text, value) = render_value(&Wrapped { error }).unwrap_or_else(|_| {
        // A NodeError is strings, numbers and lists: not expected, but the
        // type and message still reach the caller.
        let mut inner = serde_json::Map::new();
        inner.insert("type".into(), error.kind.name().into());
        inner.insert("message".into(), error.message.clone().into());
        let mut wrapped = serde_json::Map::new();
        wrapped.insert("error".into(), Value::Object(inner));
        let value = Value::Object(wrapped);
        (value.to_string(), value)
    });
    Rendered {
        is_error: true,
        text,
        value,
    }
}

/// The outcome of a run or a validation.
pub fn render<T: Serialize>(outcome: &Result<T, NodeError>) -> Rendered {
    match outcome {
        Ok(value) => match render_value(value) {
            Ok((text, value)) => Rendered {
                is_error: false,
                text,
                value,
            },
            Err(e) => render_error(&NodeError::new(
                ErrorKind::ServiceError,
                format!("the node's result could not be written as JSON: {e}"),
            )),
        },
        Err(e) => render_error(e),
    }
}
