//! The node as an MCP server (feature `mcp`, on by default; rmcp, the
//! official Rust SDK): `pinpoint-import mcp` serves it on stdio.
//!
//! Two tools, both described by the node's own `describe()`:
//!
//! - `import_pinpoint_segment` ([`RUN_TOOL`]): [`NodeHost::run`]; name,
//!   title, description, input and output schema and annotations (from the
//!   descriptor's `hints`) are the descriptor's;
//! - `validate_pinpoint_segment` ([`VALIDATE_TOOL`]): [`NodeHost::validate`],
//!   the dry run without any network; the descriptor's input schema.
//!
//! A result is the CLI's JSON ([`crate::output`]): on success the structured
//! content is the CLI's success object, on a node error `isError` is set and
//! the structured content is `{"error": {"type": ...}}`; the text content is
//! the same JSON. An unknown tool or arguments that do not fit the input
//! schema are JSON-RPC errors (invalid params).
//!
//! Settings and credentials are the server's, never the caller's: one
//! [`RunConfig`] made at start (from the environment and flags) serves every
//! call. rmcp handles each request in its own task, so calls run
//! concurrently, each in a fresh store of the shared [`NodeHost`].
//!
//! A call's `notifications/cancelled` cancels its run the way a signal
//! cancels the CLI's ([`RunConfig::cancellation`]): the run stops within
//! 2 s, deletes a staged file no import job reads and ends in `Cancelled`
//! (logged on stderr); no answer follows, as MCP allows. Cancelling the
//! server's config's token (the CLI's signal) cancels every call, and each
//! answers with its `Cancelled` result before the session ends
//! ([`McpServer::serve_stdio`]).
//!
//! stdin and stdout are [`stdio::BoundedStdio`]: lines of at most
//! [`stdio::line_bound`] bytes, and JSON-RPC's answers to protocol faults
//! (parse errors, invalid requests, invalid params).
//!
//! When a request carries a progress token, the node's
//! progress becomes `notifications/progress`: the stage's name as the
//! message, and the progress through the node's stages (of
//! [`PROGRESS_TOTAL`]) as the number, strictly increasing.

pub mod stdio;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pinpoint_segment_import::error::NodeError;
use pinpoint_segment_import::import::Stage;
use pinpoint_segment_import::input::{ImportRequest, RequestError};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    Implementation, JsonObject, ListToolsResult, PaginatedRequestParams, ProgressNotificationParam,
    ProgressToken, ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{Peer, RoleServer, ServerHandler, ServiceExt};
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::node::{CANCEL_GRACE, EventSink, LogLevel, NodeHost, RunConfig};
use crate::output::{self, Rendered};

/// The name of the import tool: the node's action id.
pub const RUN_TOOL: &str = pinpoint_segment_import::describe::ACTION_ID;
/// The name of the dry-run tool.
pub const VALIDATE_TOOL: &str = "validate_pinpoint_segment";

/// The `total` of progress notifications: the node's stages, from
/// `validating` (0) to `done` (7).
pub const PROGRESS_TOTAL: f64 = 7.0;

/// Where the server's log lines go (the CLI: stderr; never stdout, which
/// carries only MCP messages).
pub use crate::log::Logger;

/// The server could not start.
#[derive(Debug)]
pub struct McpError(pub String);

impl std::fmt::Display for McpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for McpError {}

/// The MCP server of the node: cheap to clone, shared by all calls.
#[derive(Clone)]
pub struct McpServer {
    inner: Arc<Inner>,
}

struct Inner {
    host: NodeHost,
    /// The settings and credentials of every call, or the error every call
    /// reports (an invalid environment is the node's `InvalidSettings`, as
    /// for `run`).
    config: Result<RunConfig, NodeError>,
    tools: Vec<Tool>,
    title: String,
    log: Logger,
    /// The calls in progress.
    in_flight: watch::Sender<usize>,
}

/// How long the server waits, after its cancellation (a signal), for the
/// calls in progress to answer: a cancelled run ends within
/// [`CANCEL_GRACE`] and its clean-up requests, within 2 s.
pub const SHUTDOWN_WAIT: Duration = Duration::from_millis(CANCEL_GRACE.as_millis() as u64 + 1000);

/// Counts a call in progress while it lives.
struct InFlight(watch::Sender<usize>);

impl InFlight {
    fn enter(calls: &watch::Sender<usize>) -> InFlight {
        calls.send_modify(|n| *n += 1);
        InFlight(calls.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Run,
    Validate,
}

impl McpServer {
    /// A server running `host` with `config` (its `events` are replaced per
    /// call); the tools come from the component's descriptor.
    pub async fn new(
        host: NodeHost,
        config: Result<RunConfig, NodeError>,
        log: Logger,
    ) -> Result<Self, McpError> {
        let text = host
            .describe()
            .await
            .map_err(|e| McpError(format!("the component's describe() failed: {e:#}")))?;
        let descriptor: Value = serde_json::from_str(&text)
            .map_err(|e| McpError(format!("the component's descriptor is not JSON: {e}")))?;
        let tools = tools_from(&descriptor)?;
        let title = descriptor["title"].as_str().unwrap_or(RUN_TOOL).to_owned();
        Ok(McpServer {
            inner: Arc::new(Inner {
                host,
                config,
                tools,
                title,
                log,
                in_flight: watch::Sender::new(0),
            }),
        })
    }

    /// The tools as `tools/list` lists them.
    pub fn tools(&self) -> &[Tool] {
        &self.inner.tools
    }

    /// The longest request line the server reads: [`stdio::line_bound`]
    /// of the settings' `max-import-bytes` (its default when the settings
    /// are invalid).
    pub fn line_bound(&self) -> u64 {
        let limits = self.inner.config.as_ref().ok().and_then(|c| {
            pinpoint_segment_import::settings::data_limits(|k| c.settings.get(k).cloned()).ok()
        });
        stdio::line_bound(limits.map_or(
            pinpoint_segment_import::settings::DEFAULT_MAX_IMPORT_BYTES,
            |l| l.max_import_bytes,
        ))
    }

    /// Serves MCP on stdin and stdout ([`stdio::BoundedStdio`]) until the
    /// client closes stdin, or `shutdown` is cancelled. The calls in
    /// progress are cancelled with `shutdown` (it is the config's
    /// cancellation): the session stays open until each has answered with
    /// its `Cancelled` result (at most [`SHUTDOWN_WAIT`]), then closes.
    pub async fn serve_stdio(self, shutdown: CancellationToken) -> Result<(), McpError> {
        let transport = stdio::BoundedStdio::stdio(self.line_bound(), self.inner.log.clone());
        let mut idle = self.inner.in_flight.subscribe();
        let running = tokio::select! {
            running = self.serve(transport) => running
                .map_err(|e| McpError(format!("the MCP session did not start: {e}")))?,
            () = shutdown.cancelled() => return Ok(()),
        };
        let stop = running.cancellation_token();
        // Dropping the session would cancel every call's request context
        // and close it before the calls answer: it is kept until they have.
        let waiting = running.waiting();
        tokio::pin!(waiting);
        tokio::select! {
            quit = &mut waiting => {
                quit.map_err(|e| McpError(format!("the MCP session failed: {e}")))?;
                return Ok(());
            }
            () = shutdown.cancelled() => {}
        }
        let _ = tokio::time::timeout(SHUTDOWN_WAIT, idle.wait_for(|n| *n == 0)).await;
        // rmcp writes the answers still on their way (for at most 2 s),
        // then closes.
        stop.cancel();
        let _ = tokio::time::timeout(SHUTDOWN_WAIT, waiting).await;
        Ok(())
    }

    fn log(&self, level: LogLevel, message: &str) {
        (self.inner.log)(level, message);
    }

    async fn call(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let _in_flight = InFlight::enter(&self.inner.in_flight);
        let action = match request.name.as_ref() {
            RUN_TOOL => Action::Run,
            VALIDATE_TOOL => Action::Validate,
            other => {
                return Err(ErrorData::invalid_params(
                    format!("unknown tool {other:?}; the tools are {RUN_TOOL} and {VALIDATE_TOOL}"),
                    None,
                ));
            }
        };
        // An unknown argument is the node's InvalidInput (naming the closest
        // known one); any other misfit is invalid params.
        let input = match ImportRequest::from_object(request.arguments.unwrap_or_default()) {
            Ok(input) => input,
            Err(e @ RequestError::UnknownKey { .. }) => {
                return Ok(tool_result(output::render_error(&e.into_node_error())));
            }
            Err(RequestError::Shape(e)) => {
                return Err(ErrorData::invalid_params(
                    format!(
                        "the arguments do not fit the input schema of {}: {e} ({})",
                        request.name,
                        ImportRequest::SHAPE
                    ),
                    None,
                ));
            }
        };
        let mut config = match &self.inner.config {
            Ok(config) => config.clone(),
            Err(e) => return Ok(tool_result(output::render_error(e))),
        };
        let label = format!("call {} ({})", context.id, request.name);
        let (events, forwarder) = CallEvents::new(
            label.clone(),
            self.inner.log.clone(),
            context.meta.get_progress_token(),
            context.peer.clone(),
        );
        config.events = events.clone();
        // The client's cancellation (or the server's) cancels this run only.
        let server_cancel = config.cancellation.clone();
        let cancel = server_cancel.child_token();
        config.cancellation = cancel.clone();
        let client_cancel = context.ct.clone();
        let link = tokio::spawn(async move {
            client_cancel.cancelled().await;
            cancel.cancel();
        });
        self.log(LogLevel::Info, &format!("{label}: started"));
        let host = &self.inner.host;
        let rendered = match action {
            Action::Run => output::render(&host.run_owned(input, &config).await),
            Action::Validate => output::render(&host.validate_owned(input, &config).await),
        };
        link.abort();
        // Cancelled by the client alone: the server's cancellation (a
        // signal) also cancels the request's context in rmcp, and then the
        // call answers with its result.
        let by_client = config.cancellation.is_cancelled()
            && !server_cancel.is_cancelled()
            && context.ct.is_cancelled();
        // The run (and its store) is gone: no more events.
        drop(config);
        events.close();
        if by_client {
            if let Some(forwarder) = forwarder {
                forwarder.abort();
            }
            self.log(
                LogLevel::Warn,
                &format!("{label}: cancelled by the client: {}", rendered.text),
            );
            // rmcp drops the answer to a cancelled request.
            return Err(ErrorData::internal_error("the call was cancelled", None));
        }
        // Every progress notification goes out before the result.
        if let Some(forwarder) = forwarder {
            let _ = forwarder.await;
        }
        self.log(
            LogLevel::Info,
            &format!(
                "{label}: {}",
                if rendered.is_error {
                    "node error"
                } else {
                    "done"
                }
            ),
        );
        Ok(tool_result(rendered))
    }
}

/// A tool result: the JSON as structured content, and as text exactly as
/// the CLI prints it.
fn tool_result(rendered: Rendered) -> CallToolResult {
    let mut result = if rendered.is_error {
        CallToolResult::structured_error(rendered.value)
    } else {
        CallToolResult::structured(rendered.value)
    };
    result.content = vec![ContentBlock::text(rendered.text)];
    result
}

fn object(value: &Value, what: &str) -> Result<Arc<JsonObject>, McpError> {
    match value {
        Value::Object(m) => Ok(Arc::new(m.clone())),
        _ => Err(McpError(format!("the descriptor has no {what} object"))),
    }
}

/// The run tool's input schema: the description's `input_schema` with the
/// properties of the descriptor's `options_schema` added, none required
/// (each has its default). A descriptor without options gives the
/// description's schema as it is.
fn with_options(
    input_schema: &serde_json::Map<String, Value>,
    options: &Value,
) -> Result<serde_json::Map<String, Value>, McpError> {
    let mut schema = input_schema.clone();
    let Some(extra) = options["properties"].as_object() else {
        return Ok(schema);
    };
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return Err(McpError(
            "the component's input_schema has no properties".into(),
        ));
    };
    for (name, property) in extra {
        properties.insert(name.clone(), property.clone());
    }
    Ok(schema)
}

/// `schema` with `additionalProperties: false`: a tool takes no arguments
/// besides its schema's (the input's parsing refuses others by name).
fn closed(mut schema: serde_json::Map<String, Value>) -> serde_json::Map<String, Value> {
    schema.insert("additionalProperties".into(), Value::Bool(false));
    schema
}

/// The two tools from the node's descriptor.
fn tools_from(descriptor: &Value) -> Result<Vec<Tool>, McpError> {
    let input_schema = object(&descriptor["input_schema"], "input_schema")?;
    let run_schema = closed(with_options(&input_schema, &descriptor["options_schema"])?);
    let input_schema = Arc::new(closed((*input_schema).clone()));
    let output_schema = object(&descriptor["output_schema"], "output_schema")?;
    let title = descriptor["title"].as_str().unwrap_or(RUN_TOOL).to_owned();
    let description = descriptor["description"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let name = descriptor["action_id"].as_str().unwrap_or(RUN_TOOL);
    if name != RUN_TOOL {
        return Err(McpError(format!(
            "the component's action id is {name:?}, not {RUN_TOOL:?}"
        )));
    }
    let hints = &descriptor["hints"];
    let hint = |key: &str| hints[key].as_bool();
    let run = Tool::new(RUN_TOOL, description, Arc::new(run_schema))
        .with_title(title.clone())
        .with_raw_output_schema(output_schema)
        .with_annotations(ToolAnnotations::from_raw(
            Some(title.clone()),
            hint("read_only"),
            hint("destructive"),
            hint("idempotent"),
            hint("open_world"),
        ));
    let validate_title = format!("Validate: {title}");
    let validate = Tool::new(
        VALIDATE_TOOL,
        format!(
            "Checks the input of {RUN_TOOL} as the import would (every problem with its record, line and field) without any network: nothing is staged or imported. Returns the endpoint count, the endpoints per channel type and the bytes that would be staged."
        ),
        input_schema,
    )
    .with_title(validate_title.clone())
    .with_annotations(ToolAnnotations::from_raw(
        Some(validate_title),
        Some(true),
        Some(false),
        Some(true),
        Some(false),
    ));
    Ok(vec![run, validate])
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("pinpoint-import", env!("CARGO_PKG_VERSION"))
                    .with_title(self.inner.title.clone()),
            )
            .with_instructions(format!(
                "{RUN_TOOL} imports endpoint data (CSV or JSON) into Amazon Pinpoint as a new segment and returns its id; {VALIDATE_TOOL} checks the same input without any network. Settings and credentials are the server's (its environment and flags)."
            ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.inner.tools.clone()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.inner.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.call(request, context)
            .await
            .map(CallToolResponse::from)
    }
}

/// The position of a stage in the flow: 0 (`validating`) to 7 (`done`).
fn stage_index(stage: Stage) -> f64 {
    match stage {
        Stage::Validating => 0.0,
        Stage::CheckingApplication => 1.0,
        Stage::CheckingSegments => 2.0,
        Stage::Staging => 3.0,
        Stage::CreatingJob => 4.0,
        Stage::WaitingForJob => 5.0,
        Stage::CleaningUp => 6.0,
        Stage::Done => 7.0,
    }
}

/// The events of one call: log lines to the server's logger, progress to
/// the client (when it asked, with a progress token) through a forwarding
/// task that keeps their order.
struct CallEvents {
    label: String,
    log: Logger,
    progress: Mutex<Option<ProgressState>>,
}

struct ProgressState {
    token: ProgressToken,
    sender: mpsc::UnboundedSender<ProgressNotificationParam>,
    /// The last progress sent: notifications only go out when it grows.
    last: f64,
    stage: Option<Stage>,
    /// The staged file's size, for the bytes uploaded while staging.
    staging_total: Option<u64>,
}

impl CallEvents {
    fn new(
        label: String,
        log: Logger,
        token: Option<ProgressToken>,
        peer: Peer<RoleServer>,
    ) -> (Arc<Self>, Option<tokio::task::JoinHandle<()>>) {
        let (progress, forwarder) = match token {
            Some(token) => {
                let (sender, mut receiver) = mpsc::unbounded_channel();
                let forwarder = tokio::spawn(async move {
                    while let Some(param) = receiver.recv().await {
                        // A client that went away ends the session anyway.
                        if peer.notify_progress(param).await.is_err() {
                            break;
                        }
                    }
                });
                let state = ProgressState {
                    token,
                    sender,
                    last: -1.0,
                    stage: None,
                    staging_total: None,
                };
                (Some(state), Some(forwarder))
            }
            None => (None, None),
        };
        let events = CallEvents {
            label,
            log,
            progress: Mutex::new(progress),
        };
        (Arc::new(events), forwarder)
    }

    /// No more progress: the forwarder ends once it has sent what is queued.
    fn close(&self) {
        if let Ok(mut progress) = self.progress.lock() {
            *progress = None;
        }
    }

    fn with_progress(&self, f: impl FnOnce(&mut ProgressState)) {
        if let Ok(mut guard) = self.progress.lock()
            && let Some(state) = guard.as_mut()
        {
            f(state);
        }
    }
}

impl ProgressState {
    fn send(&mut self, stage: Stage, progress: f64) {
        if progress <= self.last {
            return;
        }
        self.last = progress;
        let param = ProgressNotificationParam::new(self.token.clone(), progress)
            .with_total(PROGRESS_TOTAL)
            .with_message(stage.name());
        let _ = self.sender.send(param);
    }
}

impl EventSink for CallEvents {
    fn log(&self, level: LogLevel, message: &str) {
        (self.log)(level, &format!("{}: {message}", self.label));
    }

    fn progress(&self, stage: Stage, completed: u64, total: Option<u64>) {
        self.with_progress(|state| {
            state.stage = Some(stage);
            if stage == Stage::Staging {
                state.staging_total = total;
            }
            // Within a stage: the share done when the total is known, else
            // a share that grows with each step (pages, polls) below 1.
            let within = match total {
                _ if stage == Stage::Done => 0.0,
                Some(t) if t > 0 => (completed as f64 / t as f64).min(0.99),
                _ => completed as f64 / (completed as f64 + 1.0) * 0.99,
            };
            state.send(stage, stage_index(stage) + within);
        });
    }

    fn bytes_sent(&self, sent: u64) {
        self.with_progress(|state| {
            let (Some(Stage::Staging), Some(total)) = (state.stage, state.staging_total) else {
                return;
            };
            if total == 0 {
                return;
            }
            // In steps of 1% of the file, not one notification per chunk.
            let share = ((sent as f64 / total as f64) * 100.0).floor() / 100.0;
            let progress = stage_index(Stage::Staging) + share.min(0.99);
            if progress >= state.last + 0.01 {
                state.send(Stage::Staging, progress);
            }
        });
    }
}
