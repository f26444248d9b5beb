//! SIGINT and SIGTERM: `run` is cancelled within 2 s with the `Cancelled`
//! error and exit 130 or 143; `pinpoint-import emulator` and `mcp` stop with
//! the same codes; the embedded emulator's temporary directory is gone on
//! every one of these exits.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::{leftovers, wait_for_stderr};

/// The CLI with `args`, its temporary files in `tmp`, stdout and stderr piped.
fn start(args: &[&str], tmp: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pinpoint-import"))
        .args(args)
        .env("TMPDIR", tmp)
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env_remove("AWS_ENDPOINT_URL_PINPOINT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the CLI starts")
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// Waits for `child` to exit: its code, stdout and how long it took.
fn finish(mut child: Child) -> (Option<i32>, String, Duration) {
    let started = Instant::now();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let status = child.wait().unwrap();
    (status.code(), stdout, started.elapsed())
}

fn example(name: &str) -> String {
    format!("{}/../examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A run whose import job takes a minute, signalled while it waits for it.
fn cancel_a_waiting_run(signal_name: &str, code: i32) {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = start(
        &[
            "run",
            "-v",
            "--emulator-job-step-ms",
            "60000",
            "--input",
            &example("1-customers-csv.json"),
        ],
        tmp.path(),
    );
    let stderr = wait_for_stderr(&mut child, "stage: waiting-for-job");
    assert_eq!(leftovers(tmp.path()).len(), 1, "the emulator's directory");
    signal(&child, signal_name);
    let (exit, stdout, took) = finish(child);
    let stderr = stderr.recv().unwrap();
    assert_eq!(exit, Some(code), "{stdout}\n{stderr}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is JSON");
    let error = &v["error"];
    assert_eq!(error["type"], "Cancelled", "{v}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("SIG{signal_name} received")),
        "{message}"
    );
    assert!(error["import_job_id"].is_string(), "{v}");
    assert!(error["segment_id"].is_string(), "{v}");
    assert!(error["staged_object"].is_string(), "{v}");
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new());
}

#[test]
fn sigint_cancels_a_run_with_exit_130() {
    cancel_a_waiting_run("INT", 130);
}

#[test]
fn sigterm_cancels_a_run_with_exit_143() {
    cancel_a_waiting_run("TERM", 143);
}

/// A run stuck where the component cannot notice a cancellation: waiting on
/// the host for credentials (a `credential_process` whose first credentials
/// have expired and which hangs when it is asked again). The first SIGINT would stop it only after the host's grace period;
/// the second stops it at once.
#[test]
fn a_second_signal_exits_at_once() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    std::fs::create_dir_all(dir.join(".aws")).unwrap();
    let script = dir.join("creds.sh");
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
echo x >> '{runs}'
if [ "$(wc -l < '{runs}' | tr -d ' ')" -gt 1 ]; then sleep 20; fi
expires=$(date -u -d "@$(( $(date +%s) - 60 ))" +%Y-%m-%dT%H:%M:%SZ)
printf '{{"Version": 1, "AccessKeyId": "AKIDSTUCK", "SecretAccessKey": "stuck-secret", "Expiration": "%s"}}\n' "$expires"
"#,
            runs = dir.join("runs").display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join(".aws/config"),
        format!(
            "[profile stuck]\ncredential_process = sh {}\n",
            script.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pinpoint-import"))
        .args(["run", "--aws", "-v", "--profile", "stuck", "--input"])
        .arg(example("1-customers-csv.json"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("TMPDIR", dir)
        .env(
            "PINPOINT_IMPORT_CACHE_DIR",
            host_test::node::cache_dir().unwrap_or_else(|| "off".into()),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        // Never reached: the run is stuck before its first request.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("PINPOINT_IMPORT_BUCKET", "bucket")
        .env(
            "PINPOINT_IMPORT_ROLE_ARN",
            "arn:aws:iam::123456789012:role/Import",
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = wait_for_stderr(&mut child, "stage: checking-application");
    // The component is now waiting on the host for its credentials.
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, "INT");
    let first = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, "INT");
    let (exit, stdout, _) = finish(child);
    let took = first.elapsed();
    let stderr = stderr.recv().unwrap();
    assert_eq!(exit, Some(130), "{stdout}\n{stderr}");
    assert!(stderr.contains("SIGINT: cancelling"), "{stderr}");
    assert!(
        stderr.contains("second SIGINT: stopping at once"),
        "{stderr}"
    );
    // Sooner than the grace period the first signal alone would have taken.
    assert!(took < host_test::node::CANCEL_GRACE, "{took:?}");
}

#[test]
fn the_emulator_command_stops_on_sigterm_and_removes_its_directory() {
    for (name, code) in [("TERM", 143), ("INT", 130)] {
        let tmp = tempfile::tempdir().unwrap();
        let mut child = start(&["emulator", "--port", "0"], tmp.path());
        let _stderr = wait_for_stderr(&mut child, "listening at");
        assert_eq!(leftovers(tmp.path()).len(), 1);
        signal(&child, name);
        let (exit, _stdout, took) = finish(child);
        assert_eq!(exit, Some(code), "SIG{name}");
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert_eq!(leftovers(tmp.path()), Vec::<String>::new(), "SIG{name}");
    }
}

#[test]
fn the_mcp_server_removes_the_emulator_directory_on_every_exit() {
    // `mcp`, stdin piped, no client yet.
    let start_mcp = |tmp: &Path| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pinpoint-import"))
            .arg("mcp")
            .env("TMPDIR", tmp)
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_ENDPOINT_URL_S3")
            .env_remove("AWS_ENDPOINT_URL_PINPOINT")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = wait_for_stderr(&mut child, "MCP server on stdio");
        assert_eq!(leftovers(tmp).len(), 1);
        (child, stderr)
    };

    // Stdin closed before any client spoke: the session never started (exit 2).
    let tmp = tempfile::tempdir().unwrap();
    let (mut child, _stderr) = start_mcp(tmp.path());
    drop(child.stdin.take());
    let (exit, _, _) = finish(child);
    assert_eq!(exit, Some(2));
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new());

    // SIGTERM: exit 143.
    let tmp = tempfile::tempdir().unwrap();
    let (child, _stderr) = start_mcp(tmp.path());
    signal(&child, "TERM");
    let (exit, _, took) = finish(child);
    assert_eq!(exit, Some(143));
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new());
}
