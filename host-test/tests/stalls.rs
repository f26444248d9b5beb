//! Network waits end on the component's own clock: a server that accepts the
//! TCP connection and never answers the TLS handshake ends a run in a
//! `ServiceError` within the request's retry budget, through the CLI (the
//! full world) and through the stock wasmtime CLI (the portable world),
//! whatever the host's own time-outs cover.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use host_test::emulated;

/// The longest a stalled run may take here: the budget (2 s) with room for
/// starting the process and compiling the component on a loaded machine.
const BOUND: Duration = Duration::from_secs(40);

/// A loopback server that accepts every connection and says nothing, ever:
/// no TLS handshake, no HTTP. The connections stay open while it lives.
struct Silent {
    addr: SocketAddr,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl Silent {
    fn start() -> Silent {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let held = Arc::new(Mutex::new(Vec::new()));
        let keep = held.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                keep.lock().unwrap().push(stream);
            }
        });
        Silent { addr, held }
    }

    /// How many connections it has accepted.
    fn accepted(&self) -> usize {
        self.held.lock().unwrap().len()
    }
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/1-customers-csv.json")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `command`, killing it past [`BOUND`]; its output and how long it took.
fn bounded(mut command: Command) -> (Output, Duration) {
    let started = Instant::now();
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(BOUND) {
        Ok(out) => (out.unwrap(), started.elapsed()),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("still waiting after {BOUND:?}: the stalled handshake was not bounded");
        }
    }
}

#[test]
fn a_stalled_tls_handshake_ends_the_cli_run_in_a_service_error() {
    let server = Silent::start();
    let url = format!("https://{}", server.addr);
    let mut command = Command::new(env!("CARGO_BIN_EXE_pinpoint-import"));
    command
        .args(["run", "--aws", "--input"])
        .arg(example())
        .args(["--endpoint-url", &url])
        .args(["--set", "retry-max-total-seconds=2"])
        .args(["--set", "retry-max-attempts=1"])
        .args(["--bucket", emulated::DEFAULT_BUCKET])
        .args(["--role-arn", emulated::DEFAULT_ROLE_ARN])
        .args(["--region", emulated::DEFAULT_REGION])
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env_remove("AWS_ENDPOINT_URL_PINPOINT")
        .env_remove("AWS_PROFILE")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", emulated::DEFAULT_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", emulated::DEFAULT_SECRET_ACCESS_KEY);
    let (out, took) = bounded(command);
    let stdout = text(&out.stdout);
    assert!(server.accepted() >= 1, "the CLI connected: {stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout}\n{}", text(&out.stderr)));
    assert_eq!(v["error"]["type"], "ServiceError", "{stdout}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("TLS handshake"),
        "names the stage: {message}"
    );
    assert_ne!(out.status.code(), Some(0));
    // The 2 s budget, not the hour of --deadline-seconds; the rest is
    // starting the process.
    assert!(took < BOUND, "took {took:?}");
}

#[test]
fn a_stalled_tls_handshake_ends_the_portable_component_in_the_wasmtime_cli() {
    let server = Silent::start();
    let url = format!("https://{}", server.addr);
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("node-portable.wasm");
    let out = Command::new(env!("CARGO_BIN_EXE_pinpoint-import"))
        .args(["component", "--portable", "--output"])
        .arg(&wasm)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut env = emulated::environment(&url);
    env.extend([
        ("PINPOINT_IMPORT_RETRY_MAX_TOTAL_SECONDS", "2".to_owned()),
        ("PINPOINT_IMPORT_RETRY_MAX_ATTEMPTS", "1".to_owned()),
    ]);
    let mut command = Command::new("wasmtime");
    command.args(["run", "-S", "http"]);
    for (k, v) in &env {
        command.arg("--env").arg(format!("{k}={v}"));
    }
    command
        .arg("--invoke")
        .arg(
            "run({application-id: \"a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6\", segment-name: \"s\", \
             format: csv, data: \"ChannelType,Address\\nEMAIL,a@example.com\\n\"})",
        )
        .arg(&wasm);
    let (out, took) = bounded(command);
    let stdout = text(&out.stdout);
    assert!(server.accepted() >= 1, "the component connected: {stdout}");
    assert!(
        stdout.starts_with("err(service-error({"),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("TLS handshake"),
        "names the stage: {stdout}"
    );
    assert!(took < BOUND, "took {took:?}");
}
