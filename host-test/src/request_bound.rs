//! The one rule for how many bytes of a JSON request the host reads: an
//! `--input` file of the CLI and a request line of the MCP server both hold
//! the data as a JSON string, which escapes it (a quote, a backslash or a
//! line end takes two bytes), beside a small envelope.

/// What a request may hold beyond its escaped data: the other fields and
/// the JSON-RPC envelope.
pub const ENVELOPE_BYTES: u64 = 1 << 20;

/// How [`json_request_bound`] follows from `max-import-bytes`, for messages.
pub const RULE: &str = "twice max-import-bytes plus 1 MiB";

/// The most bytes of one JSON request: twice `max_import_bytes`, so that a
/// request whose data is at the limit fits with its data escaped, plus
/// [`ENVELOPE_BYTES`].
pub fn json_request_bound(max_import_bytes: u64) -> u64 {
    max_import_bytes
        .saturating_mul(2)
        .saturating_add(ENVELOPE_BYTES)
}
