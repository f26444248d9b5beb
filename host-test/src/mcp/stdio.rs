//! The MCP server's stdio transport: a bounded line reader in front of
//! rmcp, which answers protocol faults itself, as JSON-RPC 2.0 has them.
//!
//! rmcp's own stdio transport drops a line of 16 MiB or more without a
//! word, ignores a line that is not JSON and answers `arguments` of the
//! wrong type with "method not found". This one reads stdin on its own
//! thread, line by line, never holding more than [`line_bound`] bytes of a
//! line, and hands rmcp only well-formed JSON-RPC messages
//! ([`classify`]). It answers, on stdout, in order with rmcp's messages:
//!
//! - a line over the bound: `-32600` naming the limit (the rest of the line
//!   is read and discarded; the id is found as the line goes by, so the
//!   client's call gets its answer), and a warning on stderr;
//! - not UTF-8, not JSON: `-32700` Parse error, `"id": null`;
//! - not a request, notification or response (`[]`, `{}`, a fractional or
//!   object id, no method, `jsonrpc` other than `"2.0"`): `-32600` Invalid
//!   Request, with the id when it is a valid one, else `"id": null`;
//! - a request of a method the server serves whose params do not fit it
//!   (`arguments` of a `tools/call` that is not an object, say): `-32602`
//!   Invalid params.
//!
//! A notification that does not fit its method is logged and dropped
//! (notifications get no answer).

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read};

use rmcp::RoleServer;
use rmcp::model::{
    CallToolRequest, ClientRequest, CustomRequest, ErrorCode, InitializeRequest, JsonRpcMessage,
    ListToolsRequest, PingRequest,
};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use serde_json::{Map, Value, json};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::log::Logger;
use crate::node::LogLevel;

/// How [`line_bound`] follows from `max-import-bytes`, for messages.
const BOUND_RULE: &str = crate::request_bound::RULE;

/// The longest line (one JSON-RPC message, without its newline) the server
/// reads: [`crate::request_bound::json_request_bound`], so that a
/// `validate`/`run` call whose data is at the limit fits with its data
/// escaped.
pub fn line_bound(max_import_bytes: u64) -> u64 {
    crate::request_bound::json_request_bound(max_import_bytes)
}

/// One line of the input, as [`LineReader::next_line`] reads it.
#[derive(Debug, PartialEq)]
pub enum Line {
    /// A whole line, without its `\n` (or `\r\n`).
    Complete(Vec<u8>),
    /// A line over the bound, read to its end and discarded.
    Oversized {
        /// Its length, without the newline.
        bytes: u64,
        /// Its top-level `"id"`, when it had a valid one.
        id: Option<Value>,
    },
    /// The input ended (a last line without a newline is dropped, as an
    /// incomplete message).
    End,
}

/// Reads lines of at most `bound` bytes; the rest of a longer line is read
/// and discarded, never held.
pub struct LineReader<R> {
    input: R,
    bound: u64,
    /// Told once when a line goes over the bound (before it has ended).
    on_oversized: Box<dyn FnMut(u64) + Send>,
}

impl<R: BufRead> LineReader<R> {
    /// A reader of `input` with lines of at most `bound` bytes.
    pub fn new(input: R, bound: u64, on_oversized: Box<dyn FnMut(u64) + Send>) -> Self {
        LineReader {
            input,
            bound,
            on_oversized,
        }
    }

    /// The next line.
    pub fn next_line(&mut self) -> std::io::Result<Line> {
        let mut line = Vec::new();
        // Set once the line went over the bound: what is read is scanned
        // for the id, and counted, but not kept.
        let mut over: Option<(IdScanner, u64)> = None;
        loop {
            let available = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok(Line::End);
            }
            let newline = available.iter().position(|&b| b == b'\n');
            let chunk = &available[..newline.unwrap_or(available.len())];
            match &mut over {
                Some((scanner, bytes)) => {
                    scanner.feed(chunk);
                    *bytes += chunk.len() as u64;
                }
                None if line.len() as u64 + chunk.len() as u64 > self.bound => {
                    let mut scanner = IdScanner::default();
                    scanner.feed(&line);
                    scanner.feed(chunk);
                    let bytes = line.len() as u64 + chunk.len() as u64;
                    line = Vec::new();
                    (self.on_oversized)(bytes);
                    over = Some((scanner, bytes));
                }
                None => line.extend_from_slice(chunk),
            }
            let consumed = newline.map_or(available.len(), |i| i + 1);
            self.input.consume(consumed);
            if newline.is_some() {
                return Ok(match over {
                    Some((scanner, bytes)) => Line::Oversized {
                        bytes,
                        id: scanner.id(),
                    },
                    None => {
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                        Line::Complete(line)
                    }
                });
            }
        }
    }
}

/// Finds the top-level `"id"` of a JSON object going by in pieces, holding
/// only the id's own text (at most [`IdScanner::MAX_ID`] bytes).
#[derive(Default)]
struct IdScanner {
    /// Nesting depth: 1 inside the top-level object.
    depth: usize,
    in_string: bool,
    escaped: bool,
    at: Place,
    /// The key being read, when it is still short enough to be `id`.
    key: Vec<u8>,
    /// The text of the id's value so far.
    value: Vec<u8>,
    id: Option<Value>,
    /// Not an object, or the object ended.
    done: bool,
}

/// Where the scanner is within the top-level object.
#[derive(Default, Clone, Copy, PartialEq)]
enum Place {
    /// Before a key.
    #[default]
    Key,
    /// Inside a key.
    InKey,
    /// After a key, before its `:`; whether the key is `id`.
    Colon(bool),
    /// Inside a value; whether it is the id's.
    Value(bool),
}

impl IdScanner {
    /// The longest id text kept.
    const MAX_ID: usize = 1024;

    fn feed(&mut self, mut bytes: &[u8]) {
        while let Some((&b, rest)) = bytes.split_first() {
            if self.done {
                return;
            }
            // Inside a string that is not kept (the data, mostly): on to
            // its next quote or backslash.
            if self.in_string
                && !self.escaped
                && !matches!(self.at, Place::InKey | Place::Value(true))
                && b != b'"'
                && b != b'\\'
            {
                match bytes.iter().position(|&c| c == b'"' || c == b'\\') {
                    Some(i) => bytes = &bytes[i..],
                    None => return,
                }
                continue;
            }
            self.byte(b);
            bytes = rest;
        }
    }

    fn keep(&mut self, b: u8) {
        if self.at == Place::Value(true) && self.value.len() <= Self::MAX_ID {
            self.value.push(b);
        }
    }

    fn byte(&mut self, b: u8) {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
                if self.at == Place::InKey {
                    self.at = Place::Colon(self.key == b"id");
                    return;
                }
            }
            if self.at == Place::InKey {
                if self.key.len() <= 2 {
                    self.key.push(b);
                }
            } else {
                self.keep(b);
            }
            return;
        }
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => {}
            b'{' if self.depth == 0 => self.depth = 1,
            _ if self.depth == 0 => self.done = true,
            b'"' if self.depth == 1 && self.at == Place::Key => {
                self.in_string = true;
                self.key.clear();
                self.at = Place::InKey;
            }
            b':' if self.depth == 1 && matches!(self.at, Place::Colon(_)) => {
                let Place::Colon(is_id) = self.at else { return };
                self.at = Place::Value(is_id);
                self.value.clear();
            }
            b',' | b'}' if self.depth == 1 => {
                if self.at == Place::Value(true) {
                    self.id = serde_json::from_slice(&self.value).ok().filter(valid_id);
                }
                self.at = Place::Key;
                if b == b'}' {
                    self.done = true;
                }
            }
            _ => {
                match b {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' => self.depth = self.depth.saturating_sub(1),
                    _ => {}
                }
                self.keep(b);
            }
        }
    }

    fn id(&self) -> Option<Value> {
        self.id.clone()
    }
}

/// A JSON-RPC id MCP accepts: a string or an integer.
fn valid_id(id: &Value) -> bool {
    match id {
        Value::String(_) => true,
        Value::Number(n) => n.is_i64(),
        _ => false,
    }
}

/// What to do with one line.
#[derive(Debug)]
pub enum Classified {
    /// A message for rmcp.
    Message(Box<RxJsonRpcMessage<RoleServer>>),
    /// A fault: this JSON-RPC error answers it.
    Reply(Value),
    /// Nothing to answer (an empty line, a notification that fits no
    /// method): logged when there is a reason.
    Drop(Option<String>),
}

/// A JSON-RPC error response.
pub fn error_response(
    id: Option<&Value>,
    code: ErrorCode,
    message: &str,
    data: Option<Value>,
) -> Value {
    let mut error = json!({"code": code.0, "message": message});
    if let Some(data) = data {
        error["data"] = data;
    }
    json!({"jsonrpc": "2.0", "id": id.cloned().unwrap_or(Value::Null), "error": error})
}

/// The answer to a line over the bound.
pub fn oversized_response(id: Option<&Value>, bytes: u64, bound: u64) -> Value {
    error_response(
        id,
        ErrorCode::INVALID_REQUEST,
        &format!(
            "the message is {bytes} bytes, over the server's limit of {bound} bytes per line ({BOUND_RULE}); it was not read"
        ),
        Some(json!({"limit_bytes": bound, "actual_bytes": bytes})),
    )
}

fn invalid_request(id: Option<&Value>, message: &str) -> Classified {
    Classified::Reply(error_response(
        id,
        ErrorCode::INVALID_REQUEST,
        message,
        None,
    ))
}

fn invalid_params(id: &Value, message: &str) -> Classified {
    Classified::Reply(error_response(
        Some(id),
        ErrorCode::INVALID_PARAMS,
        message,
        None,
    ))
}

/// The kind of a JSON value, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a fractional number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Why the params of a request rmcp took for a custom one do not fit its
/// method, when the server serves that method (`None`: it does not, and
/// rmcp answers "method not found").
fn params_error(custom: &CustomRequest) -> Option<String> {
    let method = custom.method.as_str();
    let mut request = Map::new();
    request.insert("method".into(), Value::String(method.to_owned()));
    if let Some(params) = &custom.params {
        request.insert("params".into(), params.clone());
    }
    let request = Value::Object(request);
    let fits = match method {
        "tools/call" => serde_json::from_value::<CallToolRequest>(request).err(),
        "tools/list" => serde_json::from_value::<ListToolsRequest>(request).err(),
        "initialize" => serde_json::from_value::<InitializeRequest>(request).err(),
        "ping" => serde_json::from_value::<PingRequest>(request).err(),
        _ => None,
    };
    fits.map(|e| format!("the params do not fit {method}: {e}"))
}

/// Sorts one line (without its newline) into a message for rmcp, a fault
/// to answer, or nothing.
pub fn classify(line: &[u8]) -> Classified {
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Classified::Drop(None);
    }
    let text = match std::str::from_utf8(line) {
        Ok(t) => t,
        Err(e) => {
            return Classified::Reply(error_response(
                None,
                ErrorCode::PARSE_ERROR,
                &format!(
                    "Parse error: the message is not UTF-8 (an invalid byte at offset {})",
                    e.valid_up_to()
                ),
                None,
            ));
        }
    };
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Classified::Reply(error_response(
                None,
                ErrorCode::PARSE_ERROR,
                &format!("Parse error: the message is not JSON: {e}"),
                None,
            ));
        }
    };
    let message = match value {
        Value::Object(m) => m,
        Value::Array(_) => {
            return invalid_request(
                None,
                "Invalid Request: a batch (an array) is not a message; MCP sends one JSON-RPC object per line",
            );
        }
        other => {
            return invalid_request(
                None,
                &format!(
                    "Invalid Request: a message is a JSON-RPC object, not {}",
                    kind(&other)
                ),
            );
        }
    };
    let id = match message.get("id") {
        None => None,
        Some(id) if valid_id(id) => Some(id),
        Some(other) => {
            return invalid_request(
                None,
                &format!(
                    "Invalid Request: the id is {}; it must be a string or an integer",
                    kind(other)
                ),
            );
        }
    };
    if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return invalid_request(id, "Invalid Request: \"jsonrpc\" must be \"2.0\"");
    }
    if let Some(params) = message.get("params")
        && !params.is_object()
    {
        return invalid_request(
            id,
            &format!(
                "Invalid Request: params are {}; they must be an object",
                kind(params)
            ),
        );
    }
    let method = match message.get("method") {
        Some(Value::String(m)) => Some(m.clone()),
        None => None,
        Some(other) => {
            return invalid_request(
                id,
                &format!(
                    "Invalid Request: the method is {}; it must be a string",
                    kind(other)
                ),
            );
        }
    };
    let is_response = message.contains_key("result") || message.contains_key("error");
    match (&method, id) {
        (None, Some(_)) if is_response => {}
        (None, _) => return invalid_request(id, "Invalid Request: the message has no method"),
        (Some(m), Some(id)) => {
            if m == "tools/call"
                && let Some(arguments) = message.get("params").and_then(|p| p.get("arguments"))
                && !arguments.is_object()
                && !arguments.is_null()
            {
                return invalid_params(
                    id,
                    &format!(
                        "Invalid params: the arguments of tools/call are {}; they must be an object of the tool's arguments",
                        kind(arguments)
                    ),
                );
            }
        }
        (Some(_), None) => {}
    }
    let id = id.cloned();
    match serde_json::from_value::<RxJsonRpcMessage<RoleServer>>(Value::Object(message)) {
        Ok(m) => {
            // A method the server serves whose params do not fit it: rmcp
            // would take it for a custom request, "method not found".
            if let JsonRpcMessage::Request(request) = &m
                && let ClientRequest::CustomRequest(custom) = &request.request
                && let Some(why) = params_error(custom)
            {
                return invalid_params(
                    &request.id.clone().into_json_value(),
                    &format!("Invalid params: {why}"),
                );
            }
            Classified::Message(Box::new(m))
        }
        Err(e) => match (method, id) {
            (Some(m), Some(id)) => invalid_params(
                &id,
                &format!("Invalid params: the params do not fit {m}: {e}"),
            ),
            (Some(m), None) => Classified::Drop(Some(format!(
                "dropped a notification {m} that does not fit its method: {e}"
            ))),
            (None, _) => {
                Classified::Drop(Some(format!("dropped a response that does not fit: {e}")))
            }
        },
    }
}

/// A line for the writer, and who waits for it to be written.
type Outgoing = (Vec<u8>, Option<oneshot::Sender<std::io::Result<()>>>);

/// The transport: messages from the reader thread, lines to the writer
/// task (rmcp's answers and the reader's fault answers, in order).
pub struct BoundedStdio {
    incoming: mpsc::Receiver<RxJsonRpcMessage<RoleServer>>,
    outgoing: mpsc::Sender<Outgoing>,
}

impl BoundedStdio {
    /// The server's stdin and stdout, lines of at most `bound` bytes.
    pub fn stdio(bound: u64, log: Logger) -> Self {
        Self::new(std::io::stdin(), tokio::io::stdout(), bound, log)
    }

    /// Messages read from `input` (on a thread of its own: a read never
    /// holds the runtime), written to `output`.
    pub fn new(
        input: impl Read + Send + 'static,
        output: impl AsyncWrite + Send + Unpin + 'static,
        bound: u64,
        log: Logger,
    ) -> Self {
        // Both bounded: a client that sends faster than rmcp takes its
        // messages (each up to the bound), or does not read its answers,
        // holds the reader off stdin.
        let (incoming_tx, incoming) = mpsc::channel(1);
        let (outgoing, outgoing_rx) = mpsc::channel::<Outgoing>(32);
        tokio::spawn(write_lines(output, outgoing_rx));
        let replies = outgoing.clone();
        let reader_log = log.clone();
        let spawned = std::thread::Builder::new()
            .name("mcp-stdin".into())
            .spawn(move || read_lines(input, bound, reader_log, incoming_tx, replies));
        if let Err(e) = spawned {
            // No reader: the session ends as if stdin had closed.
            log(
                LogLevel::Warn,
                &format!("cannot start the stdin reader: {e}"),
            );
        }
        BoundedStdio { incoming, outgoing }
    }
}

async fn write_lines(mut output: impl AsyncWrite + Unpin, mut lines: mpsc::Receiver<Outgoing>) {
    while let Some((line, done)) = lines.recv().await {
        let written = async {
            output.write_all(&line).await?;
            output.flush().await
        }
        .await;
        if let Some(done) = done {
            let _ = done.send(written);
        }
    }
}

fn read_lines(
    input: impl Read,
    bound: u64,
    log: Logger,
    messages: mpsc::Sender<RxJsonRpcMessage<RoleServer>>,
    replies: mpsc::Sender<Outgoing>,
) {
    let warn = log.clone();
    let mut reader = LineReader::new(
        BufReader::with_capacity(64 << 10, input),
        bound,
        Box::new(move |bytes| {
            warn(
                LogLevel::Warn,
                &format!(
                    "a message of {bytes} bytes or more is over the limit of {bound} bytes per line ({BOUND_RULE}): discarding the rest of the line"
                ),
            );
        }),
    );
    let reply = |value: Value| {
        let mut line = value.to_string().into_bytes();
        line.push(b'\n');
        let _ = replies.blocking_send((line, None));
    };
    loop {
        match reader.next_line() {
            Ok(Line::End) => return,
            Err(e) => {
                log(LogLevel::Warn, &format!("cannot read stdin: {e}"));
                return;
            }
            Ok(Line::Oversized { bytes, id }) => {
                log(
                    LogLevel::Warn,
                    &format!(
                        "answered a message of {bytes} bytes (id {}) with an error: over the limit of {bound} bytes",
                        id.as_ref().map_or("unknown".to_owned(), Value::to_string)
                    ),
                );
                reply(oversized_response(id.as_ref(), bytes, bound));
            }
            Ok(Line::Complete(line)) => match classify(&line) {
                Classified::Message(m) => {
                    if messages.blocking_send(*m).is_err() {
                        return;
                    }
                }
                Classified::Reply(error) => {
                    log(
                        LogLevel::Warn,
                        &format!("answered a faulty message with {}", error["error"]),
                    );
                    reply(error);
                }
                Classified::Drop(Some(why)) => log(LogLevel::Warn, &why),
                Classified::Drop(None) => {}
            },
        }
    }
}

/// Why a message could not be sent.
fn closed() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::BrokenPipe, "stdout is closed")
}

impl Transport<RoleServer> for BoundedStdio {
    type Error = std::io::Error;

    fn name() -> Cow<'static, str> {
        "bounded stdio".into()
    }

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let outgoing = self.outgoing.clone();
        async move {
            let mut line = serde_json::to_vec(&item)?;
            line.push(b'\n');
            let (done, written) = oneshot::channel();
            outgoing
                .send((line, Some(done)))
                .await
                .map_err(|_| closed())?;
            written.await.map_err(|_| closed())?
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        self.incoming.recv().await
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        // Everything sent before is written once this empty line's turn
        // comes.
        let (done, written) = oneshot::channel();
        self.outgoing
            .send((Vec::new(), Some(done)))
            .await
            .map_err(|_| closed())?;
        written.await.map_err(|_| closed())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request of `method` with these params, as a line.
    fn request(id: Value, method: &str, params: Value) -> Vec<u8> {
        json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
            .to_string()
            .into_bytes()
    }

    fn reply(line: &[u8]) -> Value {
        match classify(line) {
            Classified::Reply(v) => v,
            other => panic!(
                "expected a reply to {:?}, got {other:?}",
                String::from_utf8_lossy(line)
            ),
        }
    }

    fn code(v: &Value) -> i64 {
        v["error"]["code"].as_i64().unwrap()
    }

    #[test]
    fn parse_errors_have_a_null_id() {
        for line in [
            &b"{\"jsonrpc\": \"2.0\", \"id\": 1,"[..],
            b"not json",
            b"{\"a\":\"\xff\"}",
        ] {
            let r = reply(line);
            assert_eq!(code(&r), -32700, "{r}");
            assert_eq!(r["id"], Value::Null);
            assert!(r.as_object().unwrap().contains_key("id"));
        }
    }

    #[test]
    fn invalid_requests_carry_the_id_only_when_it_is_valid() {
        for (line, id) in [
            ("[]", Value::Null),
            (
                "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]",
                Value::Null,
            ),
            ("{}", Value::Null),
            ("7", Value::Null),
            (r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#, Value::Null),
            (
                r#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#,
                Value::Null,
            ),
            (
                r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
                Value::Null,
            ),
            (r#"{"jsonrpc":"2.0","id":4}"#, json!(4)),
            (r#"{"jsonrpc":"1.0","id":"x","method":"ping"}"#, json!("x")),
            (r#"{"id":"x","method":"ping"}"#, json!("x")),
            (r#"{"jsonrpc":"2.0","id":5,"method":7}"#, json!(5)),
            (
                r#"{"jsonrpc":"2.0","id":5,"method":"ping","params":"p"}"#,
                json!(5),
            ),
            (
                r#"{"jsonrpc":"2.0","method":"notifications/x","params":[1]}"#,
                Value::Null,
            ),
        ] {
            let r = reply(line.as_bytes());
            assert_eq!(code(&r), -32600, "{line}: {r}");
            assert_eq!(r["id"], id, "{line}: {r}");
        }
    }

    #[test]
    fn arguments_that_are_not_an_object_are_invalid_params() {
        for arguments in [json!("a=b"), json!([1, 2]), json!(3)] {
            let line = request(
                json!(9),
                "tools/call",
                json!({"name": "validate_pinpoint_segment", "arguments": arguments}),
            );
            let r = reply(&line);
            assert_eq!(code(&r), -32602, "{r}");
            assert_eq!(r["id"], 9);
            assert!(
                r["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("arguments"),
                "{r}"
            );
        }
        let r = reply(&request(json!("n"), "tools/call", json!({"name": 5})));
        assert_eq!((code(&r), &r["id"]), (-32602, &json!("n")), "{r}");
        let r = reply(&request(
            json!(1),
            "initialize",
            json!({"protocolVersion": 5}),
        ));
        assert_eq!(code(&r), -32602, "{r}");
    }

    #[test]
    fn well_formed_messages_go_to_rmcp() {
        for line in [
            request(
                json!(1),
                "tools/call",
                json!({"name": "x", "arguments": {"a": 1}}),
            ),
            request(json!("s"), "tools/call", json!({"name": "x"})),
            request(json!(2), "tools/list", json!({})),
            br#"{"jsonrpc":"2.0","id":3,"method":"ping"}"#.to_vec(),
            br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_vec(),
            br#"{"jsonrpc":"2.0","id":3,"method":"no/such/method"}"#.to_vec(),
            br#"{"jsonrpc":"2.0","id":3,"result":{}}"#.to_vec(),
            b"\xEF\xBB\xBF{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}".to_vec(),
        ] {
            assert!(
                matches!(classify(&line), Classified::Message(_)),
                "{}: {:?}",
                String::from_utf8_lossy(&line),
                classify(&line)
            );
        }
        assert!(matches!(classify(b"  "), Classified::Drop(None)));
        assert!(matches!(
            classify(br#"{"jsonrpc":"2.0","id":3,"error":5}"#),
            Classified::Drop(Some(_))
        ));
    }

    fn lines(input: &[u8], bound: u64) -> (Vec<Line>, Vec<u64>) {
        let told = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let t = told.clone();
        // A small buffer: lines cross many reads.
        let mut reader = LineReader::new(
            BufReader::with_capacity(7, input),
            bound,
            Box::new(move |b| t.lock().unwrap().push(b)),
        );
        let mut out = Vec::new();
        loop {
            match reader.next_line().unwrap() {
                Line::End => break,
                l => out.push(l),
            }
        }
        let told = told.lock().unwrap().clone();
        (out, told)
    }

    #[test]
    fn a_line_over_the_bound_is_discarded_and_its_id_found() {
        let long = format!(
            r#"{{"jsonrpc":"2.0","method":"tools/call","params":{{"arguments":{{"data":"{}\"id\":1,}}"}}}},"id":"call-7"}}"#,
            "x".repeat(200)
        );
        let input = format!("{{\"a\":1}}\r\n{long}\n{}\nlast", "y".repeat(40));
        let (got, told) = lines(input.as_bytes(), 40);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0], Line::Complete(b"{\"a\":1}".to_vec()));
        assert_eq!(
            got[1],
            Line::Oversized {
                bytes: long.len() as u64,
                id: Some(json!("call-7"))
            }
        );
        assert_eq!(
            got[2],
            Line::Complete("y".repeat(40).into_bytes()),
            "at the bound is fine"
        );
        assert_eq!(told.len(), 1);
        assert!(
            told[0] > 40 && told[0] < 48,
            "told when it went over: {told:?}"
        );
    }

    #[test]
    fn the_id_scanner_takes_only_a_top_level_valid_id() {
        let id = |text: &str| {
            let mut s = IdScanner::default();
            s.feed(text.as_bytes());
            s.id()
        };
        assert_eq!(id(r#"{"id": 12, "method": "x"}"#), Some(json!(12)));
        assert_eq!(
            id(r#"{"params": {"id": 3, "a": [{"id": 4}]}, "id" : "q\"}"}"#),
            Some(json!("q\"}"))
        );
        assert_eq!(id(r#"{"params": {"id": 3}}"#), None);
        assert_eq!(id(r#"{"id": 1.5}"#), None);
        assert_eq!(id(r#"{"id": {"n": 1}}"#), None);
        assert_eq!(id(r#"[{"id": 1}]"#), None);
        assert_eq!(id(r#"{"ids": 1, "xid": 2}"#), None);
        // Cut off before the id's end: not found.
        assert_eq!(id(r#"{"id": 12"#), None);
    }

    #[test]
    fn the_bound_fits_data_at_the_limit_escaped() {
        let data = "\"\n".repeat(500);
        let line = request(
            json!(1),
            "tools/call",
            json!({"name": "validate_pinpoint_segment", "arguments": {"application_id": "a", "segment_name": "s", "format": "CSV", "data": data}}),
        );
        assert!(line.len() as u64 <= line_bound(data.len() as u64));
        assert_eq!(line_bound(u64::MAX), u64::MAX);
    }
}
