//! `pinpoint-import mcp` driven by a real MCP client (rmcp's, over the
//! binary's stdin and stdout): tools/list, the seed examples, typed errors,
//! protocol errors, progress, cancellation and concurrent calls. The client
//! reads stdout as MCP messages only, so any other output there fails it.
//! JSON-RPC faults (lines no client library sends) go through [`Raw`], a
//! bare pipe. The recurring imports (issue 16) run against an emulator in
//! the test process, whose state the tests read.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use host_test::emulated::{self, Emulator, Fault, Operation};
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, ClientRequest, ErrorCode, JsonObject,
    ProgressNotificationParam, ServerResult,
};
use rmcp::service::{NotificationContext, PeerRequestOptions, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, RoleClient, ServiceError, ServiceExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A client that records every progress notification.
#[derive(Clone, Default)]
struct Recorder {
    progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
}

impl ClientHandler for Recorder {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(params);
    }
}

struct Server {
    client: RunningService<RoleClient, Recorder>,
    recorder: Recorder,
    stderr: Arc<Mutex<String>>,
    pid: u32,
}

/// `pinpoint-import mcp EXTRA...` with no endpoint in the environment:
/// the embedded emulator.
fn embedded(extra: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_pinpoint-import"));
    cmd.arg("mcp")
        .args(extra)
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env_remove("AWS_ENDPOINT_URL_PINPOINT");
    cmd
}

/// `pinpoint-import mcp EXTRA...` against `emu`, in `home`.
fn against(emu: &Emulator, home: &Path, extra: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_pinpoint-import"));
    cmd.arg("mcp")
        .args(extra)
        .env_clear()
        .envs(support::environment(&emu.endpoint_url(), home));
    cmd
}

/// Collects the lines of `stderr` as they come.
fn collect(stderr: impl tokio::io::AsyncRead + Unpin + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    let mut lines = BufReader::new(stderr).lines();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let mut t = sink.lock().unwrap();
            t.push_str(&line);
            t.push('\n');
        }
    });
    text
}

impl Server {
    /// `pinpoint-import mcp EXTRA...` on the embedded emulator.
    async fn start(extra: &[&str]) -> Server {
        Self::spawn(embedded(extra)).await
    }

    /// `pinpoint-import mcp EXTRA...` against `emu`, in `home`.
    async fn against(emu: &Emulator, home: &Path, extra: &[&str]) -> Server {
        Self::spawn(against(emu, home, extra)).await
    }

    async fn spawn(cmd: tokio::process::Command) -> Server {
        let (transport, stderr) = TokioChildProcess::builder(cmd)
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let pid = transport.id().expect("the server runs");
        let text = collect(stderr.expect("stderr is piped"));
        let recorder = Recorder::default();
        let client = recorder
            .clone()
            .serve(transport)
            .await
            .expect("initialize succeeds");
        Server {
            client,
            recorder,
            stderr: text,
            pid,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    async fn call(&self, tool: &str, arguments: Value) -> Result<CallToolResult, ServiceError> {
        let Value::Object(arguments) = arguments else {
            panic!("arguments are an object")
        };
        self.client
            .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
            .await
    }

    /// Sends a call and returns its handle (its progress token, cancel).
    async fn send(
        &self,
        tool: &str,
        arguments: JsonObject,
    ) -> rmcp::service::RequestHandle<RoleClient> {
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        self.client
            .peer()
            .send_cancellable_request(
                ClientRequest::CallToolRequest(CallToolRequest::new(params)),
                PeerRequestOptions::no_options(),
            )
            .await
            .expect("the request is sent")
    }

    fn progress_of(&self, token: &rmcp::model::ProgressToken) -> Vec<ProgressNotificationParam> {
        self.recorder
            .progress
            .lock()
            .unwrap()
            .iter()
            .filter(|p| &p.progress_token == token)
            .cloned()
            .collect()
    }

    /// Waits until the call of `token` reports `stage` (at most a minute).
    async fn wait_for_stage(&self, token: &rmcp::model::ProgressToken, stage: &str) {
        let start = Instant::now();
        while !self
            .progress_of(token)
            .iter()
            .any(|p| p.message.as_deref() == Some(stage))
        {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the call reaches {stage}: {}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until `f` holds of stderr, at most `limit`.
    async fn wait_for_stderr(&self, limit: Duration, f: impl Fn(&str) -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if f(&self.stderr()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }
}

use support::{example, example_named};

fn object(v: Value) -> JsonObject {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object: {v}"),
    }
}

/// The text content (the only content).
fn text(result: &CallToolResult) -> String {
    assert_eq!(result.content.len(), 1, "one content block");
    result.content[0]
        .as_text()
        .map(|t| t.text.clone())
        .expect("a text content")
}

/// The structured content, after checking the text content is the same JSON.
fn structured(result: &CallToolResult) -> Value {
    let value = result
        .structured_content
        .clone()
        .expect("structured content");
    let from_text: Value = serde_json::from_str(&text(result)).expect("the text is JSON");
    assert_eq!(from_text, value, "the text is the structured content");
    value
}

/// The CLI's own stdout for `args` with the input in a file.
fn cli_stdout(args: &[&str], input: &Value) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("input.json");
    std::fs::write(&file, input.to_string()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pinpoint-import"))
        .args(args)
        .arg("--input")
        .arg(&file)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim_end().to_owned()
}

const SEEDS: [(&str, &str, u64); 3] = [
    ("1-customers-csv.json", "Q4_2024_High_Value_Customers", 3),
    ("2-beta-testers-json.json", "Mobile_App_Beta_Testers", 2),
    (
        "3-newsletter-subscribers-csv.json",
        "Newsletter_Subscribers_2024",
        3,
    ),
];

#[tokio::test]
async fn lists_both_tools_with_the_descriptors_schemas_and_hints() {
    let server = Server::start(&[]).await;
    let info = server.client.peer_info().expect("initialized");
    assert!(info.capabilities.tools.is_some());
    let describe = std::process::Command::new(env!("CARGO_BIN_EXE_pinpoint-import"))
        .arg("describe")
        .output()
        .unwrap();
    let descriptor: Value = serde_json::from_slice(&describe.stdout).unwrap();
    let tools = server.client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(
        names,
        ["import_pinpoint_segment", "validate_pinpoint_segment"]
    );
    // The dry run takes the description's input; the run also its options
    // (optional, with their defaults; nothing more is required). Neither
    // takes other arguments.
    let mut closed = descriptor["input_schema"].clone();
    closed["additionalProperties"] = json!(false);
    assert_eq!(
        Value::Object((*tools[1].input_schema).clone()),
        closed,
        "the validate tool: the descriptor's input schema, closed"
    );
    let mut with_options = closed.clone();
    for (name, property) in descriptor["options_schema"]["properties"]
        .as_object()
        .unwrap()
    {
        with_options["properties"][name] = property.clone();
    }
    let run_schema = Value::Object((*tools[0].input_schema).clone());
    assert_eq!(run_schema, with_options, "the run tool's input schema");
    assert_eq!(
        run_schema["properties"]["on_existing"]["enum"],
        serde_json::json!(["fail", "new_version"])
    );
    assert_eq!(run_schema["properties"]["on_existing"]["default"], "fail");
    assert_eq!(
        run_schema["required"],
        descriptor["input_schema"]["required"]
    );
    let run = &tools[0];
    assert_eq!(
        run.description.as_deref(),
        descriptor["description"].as_str()
    );
    assert_eq!(run.title.as_deref(), descriptor["title"].as_str());
    assert_eq!(
        run.output_schema
            .as_ref()
            .map(|s| Value::Object((**s).clone())),
        Some(descriptor["output_schema"].clone())
    );
    let hints = &descriptor["hints"];
    let a = run.annotations.as_ref().expect("annotations");
    assert_eq!(a.read_only_hint, hints["read_only"].as_bool());
    assert_eq!(a.destructive_hint, hints["destructive"].as_bool());
    assert_eq!(a.idempotent_hint, hints["idempotent"].as_bool());
    assert_eq!(a.open_world_hint, hints["open_world"].as_bool());
    let v = tools[1].annotations.as_ref().expect("annotations");
    assert_eq!(
        (v.read_only_hint, v.open_world_hint),
        (Some(true), Some(false))
    );
    assert!(
        server.stderr().contains("embedded S3 + Pinpoint emulator"),
        "the emulator notice: {}",
        server.stderr()
    );
}

#[tokio::test]
async fn imports_and_validates_the_seed_examples() {
    let server = Server::start(&[]).await;
    for (file, name, endpoints) in SEEDS {
        let input = example(file);
        let report = server
            .call("validate_pinpoint_segment", input.clone())
            .await
            .unwrap();
        assert_eq!(report.is_error, Some(false), "{file}");
        assert_eq!(
            text(&report),
            cli_stdout(&["validate"], &input),
            "{file}: the text is the CLI's validate output"
        );
        let report = structured(&report);
        assert_eq!(report["endpoint_count"], endpoints, "{file}");

        let result = server.call("import_pinpoint_segment", input).await.unwrap();
        let out = structured(&result);
        assert_eq!(result.is_error, Some(false), "{file}: {out}");
        assert_eq!(out["segment_name"], name);
        assert_eq!(out["endpoints_submitted"], endpoints);
        assert_eq!(out["endpoints_imported"], endpoints);
        assert_eq!(out["job_status"], "COMPLETED");
        assert!(out["segment_id"].as_str().is_some_and(|s| !s.is_empty()));
    }
    let stderr = server.stderr();
    assert!(
        stderr.contains("no AWS endpoint given and no --aws"),
        "{stderr}"
    );
}

#[tokio::test]
async fn node_errors_are_tool_errors_with_the_clis_error_object() {
    let server = Server::start(&[]).await;
    let input = json!({
        "application_id": "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6",
        "segment_name": "Bad channel",
        "format": "CSV",
        "data": "ChannelType,Address\nPIGEON,a@example.com\n"
    });
    for tool in ["import_pinpoint_segment", "validate_pinpoint_segment"] {
        let result = server.call(tool, input.clone()).await.unwrap();
        assert_eq!(result.is_error, Some(true), "{tool}");
        let error = structured(&result);
        assert_eq!(
            error["error"]["type"], "InvalidChannelType",
            "{tool}: {error}"
        );
        assert!(error["error"]["message"].is_string());
    }
    let result = server
        .call("validate_pinpoint_segment", input.clone())
        .await
        .unwrap();
    assert_eq!(
        text(&result),
        cli_stdout(&["validate"], &input),
        "the text is the CLI's error object"
    );
    // A segment name taken by other data: the typed duplicate.
    let seed = example("1-customers-csv.json");
    let first = server
        .call("import_pinpoint_segment", seed.clone())
        .await
        .unwrap();
    assert_eq!(first.is_error, Some(false));
    let mut other = seed;
    other["data"] = json!("ChannelType,Address\nEMAIL,other@example.com\n");
    let second = server.call("import_pinpoint_segment", other).await.unwrap();
    assert_eq!(second.is_error, Some(true));
    assert_eq!(structured(&second)["error"]["type"], "DuplicateSegmentName");
}

fn invalid_params(result: Result<CallToolResult, ServiceError>) -> String {
    match result {
        Err(ServiceError::McpError(e)) => {
            assert_eq!(e.code, ErrorCode::INVALID_PARAMS, "{e:?}");
            e.message.into_owned()
        }
        other => panic!("expected a JSON-RPC invalid-params error, got {other:?}"),
    }
}

#[tokio::test]
async fn protocol_errors_are_json_rpc_errors() {
    let server = Server::start(&[]).await;
    let seed = example("1-customers-csv.json");
    let message = invalid_params(server.call("import_everything", seed.clone()).await);
    assert!(message.contains("unknown tool"), "{message}");
    let mut missing = seed.clone();
    missing.as_object_mut().unwrap().remove("data");
    let message = invalid_params(server.call("import_pinpoint_segment", missing).await);
    assert!(message.contains("data"), "{message}");
    let mut xml = seed.clone();
    xml["format"] = json!("XML");
    invalid_params(server.call("validate_pinpoint_segment", xml).await);
    let mut number = seed;
    number["segment_name"] = json!(42);
    invalid_params(server.call("import_pinpoint_segment", number).await);
    // The session goes on.
    let ok = server
        .call("validate_pinpoint_segment", example("1-customers-csv.json"))
        .await
        .unwrap();
    assert_eq!(ok.is_error, Some(false));
}

#[tokio::test]
async fn progress_notifications_name_the_stages_in_order() {
    let server = Server::start(&[]).await;
    let handle = server
        .send(
            "import_pinpoint_segment",
            object(example("2-beta-testers-json.json")),
        )
        .await;
    let token = handle.progress_token.clone();
    let response = handle.await_response().await.unwrap();
    let ServerResult::CallToolResult(result) = response else {
        panic!("a tool result: {response:?}")
    };
    assert_eq!(result.is_error, Some(false));
    // The server sends a call's progress before its result.
    let progress = server.progress_of(&token);
    let stages: Vec<&str> = progress
        .iter()
        .map(|p| p.message.as_deref().unwrap_or(""))
        .collect();
    for stage in [
        "validating",
        "checking-application",
        "staging",
        "creating-job",
        "waiting-for-job",
        "done",
    ] {
        assert!(stages.contains(&stage), "{stage} in {stages:?}");
    }
    assert_eq!(stages.last(), Some(&"done"));
    assert!(
        progress.windows(2).all(|w| w[0].progress < w[1].progress),
        "strictly increasing: {:?}",
        progress.iter().map(|p| p.progress).collect::<Vec<_>>()
    );
    assert!(progress.iter().all(|p| p.total == Some(7.0)));
    assert_eq!(progress.last().map(|p| p.progress), Some(7.0));
}

#[tokio::test]
async fn a_cancelled_call_stops_promptly_and_the_server_goes_on() {
    // The first poll of the import job would come a minute after it is created.
    let server = Server::start(&["--set", "poll-interval-ms=60000", "-v"]).await;
    let handle = server
        .send(
            "import_pinpoint_segment",
            object(example("1-customers-csv.json")),
        )
        .await;
    server
        .wait_for_stage(&handle.progress_token, "waiting-for-job")
        .await;
    let cancelled_at = Instant::now();
    handle.cancel(Some("test".into())).await.unwrap();
    assert!(
        server
            .wait_for_stderr(Duration::from_secs(10), |s| s
                .contains("cancelled by the client"))
            .await,
        "the server stops the run: {}",
        server.stderr()
    );
    // The run stopped by itself, as a signal stops `run`: the job it made
    // keeps running with its staged file, and the log says so.
    assert!(cancelled_at.elapsed() < Duration::from_secs(2));
    let stderr = server.stderr();
    assert!(stderr.contains("Cancelled"), "{stderr}");
    assert!(stderr.contains("keeps running in Pinpoint"), "{stderr}");
    assert!(!stderr.contains("host stopped it"), "{stderr}");
    assert!(
        !stderr.contains("(import_pinpoint_segment): done"),
        "the run did not finish: {stderr}"
    );
    // The session and the server go on.
    assert_eq!(server.client.list_all_tools().await.unwrap().len(), 2);
    let report = server
        .call(
            "validate_pinpoint_segment",
            example("2-beta-testers-json.json"),
        )
        .await
        .unwrap();
    assert_eq!(structured(&report)["endpoint_count"], 2);
}

#[tokio::test]
async fn twelve_concurrent_calls_run_at_once_and_all_succeed() {
    // Each import waits at least 2 s for its first poll: twelve one after
    // another would take 24 s or more.
    let server = Server::start(&["--set", "poll-interval-ms=2000"]).await;
    let server = Arc::new(server);
    let start = Instant::now();
    let calls: Vec<_> = (0..12)
        .map(|i| {
            let server = server.clone();
            tokio::spawn(async move {
                let mut input = example("3-newsletter-subscribers-csv.json");
                input["segment_name"] = json!(format!("Concurrent_{i:02}"));
                let result = server.call("import_pinpoint_segment", input).await.unwrap();
                assert_eq!(result.is_error, Some(false), "call {i}: {result:?}");
                structured(&result)
            })
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for (i, call) in calls.into_iter().enumerate() {
        let out = call.await.unwrap();
        assert_eq!(out["segment_name"], format!("Concurrent_{i:02}"));
        assert_eq!(out["endpoints_imported"], 3);
        ids.insert(out["segment_id"].as_str().unwrap().to_owned());
    }
    let elapsed = start.elapsed();
    assert_eq!(ids.len(), 12, "distinct segments");
    assert!(
        elapsed < Duration::from_secs(16),
        "the calls overlapped: {elapsed:?}"
    );
}

/// The server on a bare pipe, for lines no MCP client sends: it writes
/// lines and reads the answers one by one.
struct Raw {
    _child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    stderr: Arc<Mutex<String>>,
}

impl Raw {
    /// The server of `cmd` (`pinpoint-import mcp ...`), initialized.
    async fn start(mut cmd: tokio::process::Command) -> Raw {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("the server starts");
        let mut raw = Raw {
            stdin: child.stdin.take().unwrap(),
            stdout: BufReader::new(child.stdout.take().unwrap()).lines(),
            stderr: collect(child.stderr.take().unwrap()),
            _child: child,
        };
        raw.send(
            json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}}})
            .to_string(),
        )
        .await;
        let answer = raw.answer().await;
        assert!(answer["result"]["serverInfo"].is_object(), "{answer}");
        raw.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string())
            .await;
        raw
    }

    /// Writes `line` and its newline.
    async fn send(&mut self, line: impl AsRef<[u8]>) {
        self.stdin.write_all(line.as_ref()).await.unwrap();
        self.stdin.write_all(b"\n").await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// The next line of stdout, as JSON (a server that does not answer
    /// within a minute fails the test rather than hangs it).
    async fn answer(&mut self) -> Value {
        let next = tokio::time::timeout(Duration::from_secs(60), self.stdout.next_line());
        let Ok(line) = next.await else {
            panic!("no answer within a minute; stderr: {}", self.stderr())
        };
        let line = line.unwrap();
        let line =
            line.unwrap_or_else(|| panic!("stdout ended; stderr: {}", self.stderr.lock().unwrap()));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Checks that the session goes on: a validate call of seed example 1
    /// with this id gets its report.
    async fn still_serves(&mut self, id: Value) {
        self.send(validate_call(id.clone(), example("1-customers-csv.json")))
            .await;
        let answer = self.answer().await;
        assert_eq!(answer["id"], id, "{answer}");
        assert_eq!(
            answer["result"]["structuredContent"]["endpoint_count"], 3,
            "{answer}"
        );
    }
}

/// A `tools/call` line of the validate tool with these arguments.
fn validate_call(id: Value, arguments: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": "validate_pinpoint_segment", "arguments": arguments}})
    .to_string()
}

#[tokio::test]
async fn json_rpc_faults_get_json_rpc_errors_and_the_session_goes_on() {
    let mut raw = Raw::start(embedded(&[])).await;
    let null = Value::Null;
    let cases: Vec<(Vec<u8>, i64, Value)> = vec![
        // Parse errors.
        (
            br#"{"jsonrpc": "2.0", "id": 1, "method""#.to_vec(),
            -32700,
            null.clone(),
        ),
        (b"this is not JSON".to_vec(), -32700, null.clone()),
        (
            b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\",\"x\":\"\xff\xfe\"}".to_vec(),
            -32700,
            null.clone(),
        ),
        // Invalid requests.
        (b"[]".to_vec(), -32600, null.clone()),
        (b"{}".to_vec(), -32600, null.clone()),
        (
            br#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#.to_vec(),
            -32600,
            null.clone(),
        ),
        (
            br#"{"jsonrpc":"2.0","id":{"n":1},"method":"ping"}"#.to_vec(),
            -32600,
            null.clone(),
        ),
        (br#"{"jsonrpc":"2.0","id":3}"#.to_vec(), -32600, json!(3)),
        // Invalid params: arguments that are not an object.
        (
            validate_call(json!(4), json!("application_id=a1")).into_bytes(),
            -32602,
            json!(4),
        ),
        (
            validate_call(json!("five"), json!([1, 2])).into_bytes(),
            -32602,
            json!("five"),
        ),
    ];
    for (line, code, id) in cases {
        let shown = String::from_utf8_lossy(&line).into_owned();
        raw.send(&line).await;
        let answer = raw.answer().await;
        assert_eq!(answer["jsonrpc"], "2.0", "{shown}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{shown}: {answer}");
        assert!(answer["error"]["message"].is_string(), "{shown}: {answer}");
        assert!(
            answer.as_object().unwrap().contains_key("id"),
            "{shown}: an id, null when unknown: {answer}"
        );
        assert_eq!(answer["id"], id, "{shown}: {answer}");
    }
    // An unknown method is still rmcp's answer.
    raw.send(r#"{"jsonrpc":"2.0","id":6,"method":"no/such/method"}"#)
        .await;
    let answer = raw.answer().await;
    assert_eq!(
        (answer["id"].clone(), answer["error"]["code"].clone()),
        (json!(6), json!(-32601)),
        "{answer}"
    );
    // The session goes on.
    raw.still_serves(json!(7)).await;
    assert!(
        raw.stderr().contains("answered a faulty message"),
        "{}",
        raw.stderr()
    );
}

/// CSV data of about `bytes` bytes: a header and EMAIL rows; the rows.
fn big_csv(bytes: usize) -> (String, u64) {
    use std::fmt::Write;
    let mut data = String::with_capacity(bytes + 64);
    data.push_str("ChannelType,Address\n");
    let mut rows = 0;
    while data.len() < bytes {
        writeln!(data, "EMAIL,user{rows:08}@example.com").unwrap();
        rows += 1;
    }
    (data, rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_over_the_bound_gets_the_limit_error_and_the_session_goes_on() {
    // At most 4 MiB of data: lines of up to 2 * 4 MiB + 1 MiB. (Against an
    // explicit endpoint: the embedded emulator's setup does not apply every
    // setting yet, issue 20 item 4.)
    let max = 4u64 << 20;
    let bound = 2 * max + (1 << 20);
    let emu = support::emulator().await;
    let home = tempfile::tempdir().unwrap();
    let mut cmd = against(&emu, home.path(), &[]);
    cmd.env("PINPOINT_IMPORT_MAX_IMPORT_BYTES", max.to_string());
    let mut raw = Raw::start(cmd).await;
    let (data, _) = big_csv(17 << 20);
    let arguments = json!({"application_id": emulated::SEED_APPLICATION_ID,
        "segment_name": "Big", "format": "CSV", "data": data});
    // The id last, as the TypeScript SDK writes a request.
    let line = format!(
        r#"{{"jsonrpc":"2.0","method":"tools/call","params":{},"id":"big-1"}}"#,
        json!({"name": "validate_pinpoint_segment", "arguments": arguments})
    );
    assert!(line.len() > 16 << 20);
    raw.send(&line).await;
    let answer = raw.answer().await;
    assert_eq!(answer["id"], "big-1", "the call gets its answer: {answer}");
    assert_eq!(answer["error"]["code"], -32600, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&bound.to_string()),
        "names the limit: {message}"
    );
    assert_eq!(answer["error"]["data"]["limit_bytes"], bound);
    assert_eq!(answer["error"]["data"]["actual_bytes"], line.len() as u64);
    assert!(
        raw.stderr()
            .contains(&format!("over the limit of {bound} bytes")),
        "logged: {}",
        raw.stderr()
    );
    // The next request is served.
    raw.still_serves(json!(2)).await;
}

#[tokio::test]
async fn a_call_of_16_mib_or_more_is_answered() {
    // Under the default max-import-bytes (1 GiB), a validate call of 17 MiB
    // (rmcp's own transport dropped any line of 16 MiB without a word).
    let server = Server::start(&[]).await;
    let (data, rows) = big_csv(17 << 20);
    let input = json!({"application_id": emulated::SEED_APPLICATION_ID,
        "segment_name": "Big", "format": "CSV", "data": data});
    // A server that drops the line never answers: fail rather than hang.
    let call = server.call("validate_pinpoint_segment", input);
    let Ok(report) = tokio::time::timeout(Duration::from_secs(120), call).await else {
        panic!("no answer within two minutes: {}", server.stderr())
    };
    let report = structured(&report.unwrap());
    assert_eq!(report["endpoint_count"], rows, "{report}");
}

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

#[tokio::test]
async fn a_signal_ends_every_call_in_progress_with_the_cancelled_result() {
    // Ten rounds: the race this guards against lost about one call in four.
    for round in 0..10 {
        let name = if round % 2 == 0 { "TERM" } else { "INT" };
        // The first poll of each job would come a minute after it is made.
        let server = Server::start(&["--set", "poll-interval-ms=60000"]).await;
        let mut handles = Vec::new();
        for call in 0..2 {
            let input = example_named("1-customers-csv.json", &format!("Signalled_{call}"));
            handles.push(server.send("import_pinpoint_segment", object(input)).await);
        }
        for handle in &handles {
            server
                .wait_for_stage(&handle.progress_token, "waiting-for-job")
                .await;
        }
        signal(server.pid, name);
        for (call, handle) in handles.into_iter().enumerate() {
            let response = handle.await_response().await;
            let Ok(ServerResult::CallToolResult(result)) = response else {
                panic!(
                    "round {round} (SIG{name}), call {call}: not the Cancelled result: {response:?}\n{}",
                    server.stderr()
                );
            };
            assert_eq!(result.is_error, Some(true));
            let error = &structured(&result)["error"];
            assert_eq!(error["type"], "Cancelled", "round {round}: {error}");
            // It names what is left: the job, its segment, the staged file.
            let message = error["message"].as_str().unwrap();
            for detail in ["import_job_id", "segment_id", "staged_object"] {
                let value = error[detail]
                    .as_str()
                    .unwrap_or_else(|| panic!("round {round}: {detail}: {error}"));
                let value = value.rsplit('/').next().unwrap();
                assert!(
                    message.contains(value),
                    "round {round}: {detail}: {message}"
                );
            }
        }
    }
}

/// The answer of a successful import call.
fn imported(result: CallToolResult) -> Value {
    let out = structured(&result);
    assert_eq!(result.is_error, Some(false), "{out}");
    out
}

/// The error object of a failed call.
fn refused(result: CallToolResult) -> Value {
    let out = structured(&result);
    assert_eq!(result.is_error, Some(true), "{out}");
    out["error"].clone()
}

fn new_version(mut input: Value) -> Value {
    input["on_existing"] = "new_version".into();
    input
}

const APP: &str = emulated::SEED_APPLICATION_ID;

/// An emulator in this process, and `pinpoint-import mcp EXTRA...` against
/// it (with its home directory).
async fn with_emulator(extra: &[&str]) -> (Emulator, tempfile::TempDir, Server) {
    let emu = support::emulator().await;
    let home = tempfile::tempdir().unwrap();
    let server = Server::against(&emu, home.path(), extra).await;
    (emu, home, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_version_through_the_tool_creates_then_versions_then_reuses() {
    let (emu, _home, server) = with_emulator(&[]).await;
    let run = |input| server.call("import_pinpoint_segment", input);
    // No segment of the name: created, as without the option.
    let day1 = new_version(example_named("1-customers-csv.json", "Daily_Sync"));
    let first = imported(run(day1).await.unwrap());
    assert_eq!(first["created_segment"], true, "{first}");
    assert_eq!(first["segment_version"], 1, "{first}");
    let id = first["segment_id"].as_str().unwrap().to_owned();
    // The default, `fail`: the described duplicate, naming the segment.
    let day2 = example_named("3-newsletter-subscribers-csv.json", "Daily_Sync");
    let duplicate = refused(run(day2.clone()).await.unwrap());
    assert_eq!(duplicate["type"], "DuplicateSegmentName", "{duplicate}");
    assert_eq!(duplicate["segment_id"], id.as_str());
    // One imported segment of the name: a new version of it.
    let second = imported(run(new_version(day2.clone())).await.unwrap());
    assert_eq!(second["segment_id"], id.as_str(), "{second}");
    assert_eq!(second["created_segment"], false);
    assert_eq!(second["reused_existing_segment"], false);
    assert_eq!(second["segment_version"], 2);
    assert_eq!(second["endpoints_imported"], 3);
    let named: Vec<_> = support::segments_named(&emu, APP, "Daily_Sync");
    assert_eq!(named.len(), 1, "{named:?}");
    assert_eq!((named[0].version, named[0].size), (2, 3));
    // The same data as the latest version: nothing new.
    let third = imported(run(new_version(day2)).await.unwrap());
    assert_eq!(third["segment_id"], id.as_str(), "{third}");
    assert_eq!(third["reused_existing_segment"], true);
    assert_eq!(third["created_segment"], false);
    assert_eq!(third["segment_version"], 2);
    assert_eq!(emu.segment_versions(APP, &id).len(), 2, "no version 3");
    assert!(emu.objects(emulated::DEFAULT_BUCKET).is_empty());
    drop(server);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_version_through_the_tool_takes_the_oldest_of_several_segments_of_the_name() {
    let (emu, _home, server) = with_emulator(&["-v"]).await;
    let oldest = emu.add_imported_segment(APP, "Shared_List", "s3://elsewhere/a.csv", 5);
    let other = emu.add_imported_segment(APP, "Shared_List", "s3://elsewhere/b.csv", 7);
    let input = new_version(example_named("1-customers-csv.json", "Shared_List"));
    let out = imported(server.call("import_pinpoint_segment", input).await.unwrap());
    assert_eq!(out["segment_id"], oldest.as_str(), "{out}");
    assert_eq!(out["created_segment"], false);
    assert_eq!(out["segment_version"], 2);
    let stderr = server.stderr();
    assert!(
        stderr.contains(&format!(
            "segments {other} also have this name; the oldest, {oldest}, takes the new version"
        )),
        "the others named: {stderr}"
    );
    let versions = |id: &str| emu.segment_versions(APP, id).len();
    assert_eq!((versions(&oldest), versions(&other)), (2, 1));
    drop(server);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_version_through_the_tool_refuses_a_dimensional_segment_of_the_name() {
    let (emu, _home, server) = with_emulator(&[]).await;
    let id = emu.add_segment(APP, "Criteria_List");
    let input = new_version(example_named("1-customers-csv.json", "Criteria_List"));
    let error = refused(server.call("import_pinpoint_segment", input).await.unwrap());
    assert_eq!(error["type"], "DuplicateSegmentName", "{error}");
    assert_eq!(error["segment_id"], id.as_str());
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("cannot take a new version") && message.contains("DIMENSIONAL"),
        "says why: {message}"
    );
    assert_eq!(emu.segment_versions(APP, &id).len(), 1);
    assert!(emu.import_jobs(APP).is_empty(), "nothing imported");
    drop(server);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_version_through_the_tool_keeps_the_segment_when_its_job_fails() {
    let (emu, _home, server) = with_emulator(&[]).await;
    let run = |input| server.call("import_pinpoint_segment", input);
    let first = imported(
        run(example_named("1-customers-csv.json", "Weekly_VIPs"))
            .await
            .unwrap(),
    );
    let id = first["segment_id"].as_str().unwrap().to_owned();
    emu.inject(
        Operation::CreateImportJob,
        Fault::FailJob {
            failures: vec!["the role cannot read the bucket".into()],
        },
    );
    let next = new_version(example_named(
        "3-newsletter-subscribers-csv.json",
        "Weekly_VIPs",
    ));
    let error = refused(run(next).await.unwrap());
    assert_eq!(error["type"], "ImportJobFailed", "{error}");
    assert!(
        error
            .to_string()
            .contains("the role cannot read the bucket"),
        "{error}"
    );
    let named: Vec<_> = support::segments_named(&emu, APP, "Weekly_VIPs");
    assert_eq!(named.len(), 1, "the segment is never deleted: {named:?}");
    assert_eq!((named[0].id.as_str(), named[0].version), (id.as_str(), 1));
    drop(server);
    emu.shutdown().await;
}
