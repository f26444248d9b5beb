//! `pinpoint-import mcp` driven by a real MCP client (rmcp's, over the
//! binary's stdin and stdout): tools/list, the seed examples, typed errors,
//! protocol errors, progress, cancellation and concurrent calls. The client
//! reads stdout as MCP messages only, so any other output there fails it.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, ClientRequest, ErrorCode, JsonObject,
    ProgressNotificationParam, ServerResult,
};
use rmcp::service::{NotificationContext, PeerRequestOptions, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, RoleClient, ServiceError, ServiceExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

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
}

impl Server {
    /// `pinpoint-import mcp EXTRA...` with no endpoint in the environment:
    /// the embedded emulator.
    async fn start(extra: &[&str]) -> Server {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_pinpoint-import"));
        cmd.arg("mcp")
            .args(extra)
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_ENDPOINT_URL_S3")
            .env_remove("AWS_ENDPOINT_URL_PINPOINT");
        let (transport, stderr) = TokioChildProcess::builder(cmd)
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let text = Arc::new(Mutex::new(String::new()));
        let sink = text.clone();
        let mut lines = BufReader::new(stderr.expect("stderr is piped")).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut t = sink.lock().unwrap();
                t.push_str(&line);
                t.push('\n');
            }
        });
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

fn example(name: &str) -> Value {
    let path = format!("{}/../examples/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

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
    // (optional, with their defaults; nothing more is required).
    assert_eq!(
        Value::Object((*tools[1].input_schema).clone()),
        descriptor["input_schema"],
        "the validate tool: the descriptor's input schema"
    );
    let mut with_options = descriptor["input_schema"].clone();
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
    let token = handle.progress_token.clone();
    let start = Instant::now();
    while !server
        .progress_of(&token)
        .iter()
        .any(|p| p.message.as_deref() == Some("waiting-for-job"))
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the job is created: {}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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

#[tokio::test]
async fn a_recurring_import_through_the_tool_keeps_the_segment_id() {
    let server = Server::start(&[]).await;
    let mut day1 = example("1-customers-csv.json");
    day1["segment_name"] = "Daily_Sync".into();
    let mut day2 = example("3-newsletter-subscribers-csv.json");
    day2["segment_name"] = "Daily_Sync".into();
    let first = server.call("import_pinpoint_segment", day1).await.unwrap();
    let first = structured(&first);
    assert_eq!(first["created_segment"], true, "{first}");
    let id = first["segment_id"].as_str().unwrap().to_owned();
    // Without the option, as described: a duplicate naming the segment.
    let duplicate = server
        .call("import_pinpoint_segment", day2.clone())
        .await
        .unwrap();
    assert_eq!(duplicate.is_error, Some(true));
    assert_eq!(
        structured(&duplicate)["error"]["type"],
        "DuplicateSegmentName"
    );
    day2["on_existing"] = "new_version".into();
    let second = server.call("import_pinpoint_segment", day2).await.unwrap();
    assert_eq!(second.is_error, Some(false));
    let second = structured(&second);
    assert_eq!(second["segment_id"], id.as_str(), "{second}");
    assert_eq!(second["created_segment"], false);
    assert_eq!(second["segment_version"], 2);
    assert_eq!(second["endpoints_imported"], 3);
}
