//! The `pinpoint-import` command-line contract: stdout JSON and exit codes.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn cli(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pinpoint-import"))
        .args(args)
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env_remove("AWS_ENDPOINT_URL_PINPOINT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the CLI starts");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn stdout_json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn example(name: &str) -> String {
    format!("{}/../examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn run_prints_the_segment_id_and_exits_0() {
    let out = cli(&["run", "--input", &example("1-customers-csv.json")], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = stdout_json(&out);
    assert!(v["segment_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(v["import_job_id"].is_string());
    assert_eq!(v["endpoints_submitted"], 3);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("embedded"),
        "says it uses the emulator: {stderr}"
    );
}

#[test]
fn run_with_flags_and_data_on_stdin() {
    let data = "ChannelType,Address\nEMAIL,a@example.com\n";
    let args = [
        "run",
        "--application-id",
        "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6",
        "--segment-name",
        "From stdin",
        "--format",
        "CSV",
        "--data-file",
        "-",
    ];
    let out = cli(&args, Some(data));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout_json(&out)["endpoints_imported"], 1);
}

#[test]
fn a_node_error_is_json_on_stdout_and_exit_1() {
    let input = r#"{"application_id":"a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6","segment_name":"S","format":"CSV",
        "data":"ChannelType,Address\nFAX,+12065550100\nEMAIL,\n"}"#;
    let out = cli(&["run", "--input", "-"], Some(input));
    assert_eq!(out.status.code(), Some(1));
    let v = stdout_json(&out);
    assert_eq!(v["error"]["type"], "MissingRequiredFields");
    let problems = v["error"]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2, "every problem is listed: {v}");
    assert_eq!(problems[0]["record"], 1);
    assert_eq!(problems[0]["field"], "ChannelType");
}

#[test]
fn an_unknown_application_is_invalid_application_id() {
    let input = r#"{"application_id":"d5ecad8e417d498389e1d5b9454d4e0c","segment_name":"S","format":"JSON",
        "data":"{\"ChannelType\":\"EMAIL\",\"Address\":\"a@example.com\"}"}"#;
    let out = cli(&["run", "--input", "-"], Some(input));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout_json(&out)["error"]["type"], "InvalidApplicationId");
}

#[test]
fn input_that_is_not_the_schema_is_invalid_input() {
    let out = cli(
        &["run", "--input", "-"],
        Some(r#"{"application_id":"x","format":"XML"}"#),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout_json(&out)["error"]["type"], "InvalidInput");
}

#[test]
fn validate_needs_no_network_or_settings() {
    let out = cli(
        &["validate", "--input", &example("2-beta-testers-json.json")],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = stdout_json(&out);
    assert_eq!(v["endpoint_count"], 2);
    assert_eq!(v["channel_counts"]["APNS"], 1);
}

#[test]
fn validate_writes_the_file_a_run_would_stage() {
    let dir = tempfile::tempdir().unwrap();
    let staged = dir.path().join("staged.json");
    let path = staged.to_str().unwrap();
    let seed = example("2-beta-testers-json.json");
    let out = cli(&["validate", "--staged-file", path, "--input", &seed], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The report as without the flag, and the pretty JSON array as NDJSON:
    // one endpoint object per line, `bytes_to_stage` bytes in all.
    let report = stdout_json(&out);
    assert_eq!(
        report,
        stdout_json(&cli(&["validate", "--input", &seed], None))
    );
    let text = std::fs::read_to_string(&staged).unwrap();
    assert_eq!(
        text.len() as u64,
        report["bytes_to_stage"].as_u64().unwrap()
    );
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(
        lines.len() as u64,
        report["endpoint_count"].as_u64().unwrap()
    );
    assert_eq!(lines[0]["User"]["UserId"], "user_101");

    // Invalid data (and data over the limit) writes nothing.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "ChannelType,Address\nPIGEON,a@example.com\n").unwrap();
    let nothing = dir.path().join("nothing.csv");
    let args = [
        "validate",
        "--staged-file",
        nothing.to_str().unwrap(),
        "--application-id",
        "a1",
        "--segment-name",
        "s",
        "--format",
        "CSV",
        "--data-file",
        bad.to_str().unwrap(),
    ];
    let out = cli(&args, None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout_json(&out)["error"]["type"], "InvalidChannelType");
    assert!(!nothing.exists());
}

#[test]
fn aws_mode_without_settings_is_invalid_settings() {
    let out = Command::new(env!("CARGO_BIN_EXE_pinpoint-import"))
        .args(["run", "--aws", "--input", &example("1-customers-csv.json")])
        .env_clear()
        .env("HOME", "/nonexistent")
        // The SDK's region and credential chains end at instance metadata:
        // never reached from a test.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = stdout_json(&out);
    assert_eq!(v["error"]["type"], "InvalidSettings");
    assert_eq!(v["error"]["setting"], "region");
}

#[test]
fn a_bad_command_line_exits_2() {
    assert_eq!(
        cli(&["run", "--format", "XML"], None).status.code(),
        Some(2)
    );
    assert_eq!(
        cli(&["run", "--input", "/nonexistent/input.json"], None)
            .status
            .code(),
        Some(2)
    );
    assert_eq!(cli(&["frobnicate"], None).status.code(), Some(2));
}

#[test]
fn describe_prints_the_descriptor() {
    let out = cli(&["describe"], None);
    assert_eq!(out.status.code(), Some(0));
    let described = stdout_json(&out);
    assert_eq!(described["action_id"], "import_pinpoint_segment");
    // This host runs the full component.
    assert_eq!(described["world"], "node-component");
}

#[test]
fn component_writes_the_embedded_components_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full.wasm");
    let portable = dir.path().join("portable.wasm");
    let out = cli(&["component", "--output", full.to_str().unwrap()], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(
        &[
            "component",
            "--portable",
            "--output",
            portable.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&full).unwrap(), host_test::node::COMPONENT);
    assert_eq!(
        std::fs::read(&portable).unwrap(),
        host_test::node::PORTABLE_COMPONENT
    );
    assert_ne!(
        host_test::node::COMPONENT,
        host_test::node::PORTABLE_COMPONENT
    );
    // To stdout, for pipes.
    let out = cli(&["component", "--portable", "--output", "-"], None);
    assert_eq!(out.stdout, host_test::node::PORTABLE_COMPONENT);
    // A path that cannot be written is a usage error, exit 2.
    let out = cli(&["component", "--output", "/nonexistent/dir/x.wasm"], None);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_emulator_prints_how_to_point_a_client_at_it() {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_pinpoint-import"))
        .args(["emulator", "--port", "0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines: Vec<String> = std::io::BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .take_while(|l| !l.contains("application id"))
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    let text = lines.join("\n");
    // Every value a client needs is printed, the test secret included (it is
    // a fixed public value of the emulator, not a credential).
    assert!(
        text.contains("AWS_SECRET_ACCESS_KEY=emulator/secret/key/"),
        "{text}"
    );
    assert!(!text.contains("README"), "{text}");
}

#[test]
fn an_unknown_pinpoint_import_variable_is_invalid_settings() {
    let out = Command::new(env!("CARGO_BIN_EXE_pinpoint-import"))
        .args(["run", "--input", &example("1-customers-csv.json")])
        .env("PINPOINT_IMPORT_POLL_INTERVALL_MS", "100")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = stdout_json(&out);
    assert_eq!(v["error"]["type"], "InvalidSettings");
    assert_eq!(v["error"]["setting"], "PINPOINT_IMPORT_POLL_INTERVALL_MS");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("PINPOINT_IMPORT_POLL_INTERVAL_MS"),
        "{v}"
    );
}
