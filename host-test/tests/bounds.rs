//! Every door of the CLI bounded (issue 20): `--data-file`, `--input` and
//! stdin are read under a bound (`ImportSizeExceeded`, the child's peak
//! memory measured) and a signal ends the read; `run` on the embedded
//! emulator applies every setting as against an endpoint; the input JSON may
//! start with a byte order mark and refuses unknown keys, in the CLI and in
//! MCP arguments; stale emulator directories of dead processes are removed
//! at start.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod support;
use support::{leftovers, wait_for_stderr};

/// `max-import-bytes` of the bounded-read tests: the data bound is this plus
/// 1 MiB.
const SMALL_MAX: u64 = 1000;
/// Where the watchdog stops a child whose memory grows (as an unbounded
/// read of `/dev/zero` does), so a failing test does not exhaust the
/// machine: far above what a bounded read needs.
const RSS_CAP_KIB: u64 = 1 << 20;
/// Where the watchdog stops a child that does not end (an unbounded read of
/// stdin).
const TIME_CAP: Duration = Duration::from_secs(60);

fn example(name: &str) -> String {
    format!("{}/../examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The CLI with `args`, its temporary files in `tmp`, no endpoint in the
/// environment, stdout and stderr piped, stdin null.
fn cli(args: &[&str], tmp: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pinpoint-import"));
    command
        .args(args)
        .env("TMPDIR", tmp)
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env_remove("AWS_ENDPOINT_URL_PINPOINT")
        .env_remove("PINPOINT_IMPORT_MAX_IMPORT_BYTES")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// How a child ended.
#[derive(Debug)]
struct Ended {
    /// Its exit code (`None` when a signal ended it).
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// Its peak resident memory (`ru_maxrss` of `wait4`), KiB.
    peak_kib: u64,
    /// From the start of [`watch`] to its exit.
    took: Duration,
    /// Why the watchdog killed it, if it did.
    killed: Option<String>,
}

impl Ended {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }
}

fn drain(stream: Option<impl Read + Send + 'static>) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut s) = stream {
            let _ = s.read_to_string(&mut text);
        }
        text
    })
}

/// The resident memory of live process `pid`, KiB (0 once it is gone).
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// `wait4(pid, WNOHANG)`: the exit status and peak memory (KiB) once the
/// child has ended, `None` while it runs.
// unsafe: libc's wait4 is the only way to get one child's rusage (std's
// `Child::wait` drops it); both out-pointers are to initialised locals.
#[allow(unsafe_code)]
fn try_wait4(pid: u32) -> Option<(libc::c_int, u64)> {
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data; zeroed is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to locals; pid is our own child.
    let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, libc::WNOHANG, &mut usage) };
    assert!(r >= 0, "wait4: {}", std::io::Error::last_os_error());
    (r != 0).then_some((status, usage.ru_maxrss as u64))
}

/// Waits for `child` to end (its stdout and stderr read meanwhile), killing
/// it if its memory passes [`RSS_CAP_KIB`] or it outlives [`TIME_CAP`].
fn watch(mut child: Child) -> Ended {
    let pid = child.id();
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let started = Instant::now();
    let mut killed = None;
    let (status, peak_kib) = loop {
        if let Some(ended) = try_wait4(pid) {
            break ended;
        }
        if killed.is_none() {
            let rss = rss_kib(pid);
            if rss > RSS_CAP_KIB {
                killed = Some(format!("its memory grew past {rss} KiB"));
            } else if started.elapsed() > TIME_CAP {
                killed = Some(format!("it ran for {:?}", started.elapsed()));
            }
            if killed.is_some() {
                let _ = child.kill();
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = started.elapsed();
    Ended {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        peak_kib,
        took,
        killed,
    }
}

/// `validate EXTRA... FLAG SOURCE`: with `--data-file`, the other three
/// fields as flags too.
fn validate_args<'a>(extra: &[&'a str], flag: &'a str, source: &'a str) -> Vec<&'a str> {
    let mut args = vec!["validate"];
    args.extend(extra);
    if flag == "--data-file" {
        args.extend(["--application-id", "a1", "--segment-name", "s"]);
        args.extend(["--format", "CSV"]);
    }
    args.extend([flag, source]);
    args
}

/// The CLI reading `source` as `flag` (`--data-file` or `--input`) under
/// `max-import-bytes` [`SMALL_MAX`]: `ImportSizeExceeded` naming the bound
/// and what was read, in bounded memory (the figure printed).
fn refused_as_too_large(flag: &str, source: &str, bound: u64) -> Ended {
    let tmp = tempfile::tempdir().unwrap();
    let child = cli(&validate_args(&[], flag, source), tmp.path())
        .env("PINPOINT_IMPORT_MAX_IMPORT_BYTES", SMALL_MAX.to_string())
        .spawn()
        .unwrap();
    let ended = watch(child);
    println!(
        "{flag} {source}: peak RSS {} KiB, {:?}",
        ended.peak_kib, ended.took
    );
    assert_eq!(ended.killed, None, "{ended:?}");
    assert_eq!(ended.code, Some(1), "{ended:?}");
    let error = &ended.json()["error"];
    assert_eq!(error["type"], "ImportSizeExceeded", "{error}");
    assert_eq!(error["limit_bytes"], bound, "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains(&format!("{bound} bytes")), "{message}");
    assert!(message.contains(flag), "{message}");
    ended
}

#[test]
fn a_data_file_of_dev_zero_is_import_size_exceeded_in_bounded_memory() {
    let bound = SMALL_MAX + (1 << 20);
    let ended = refused_as_too_large("--data-file", "/dev/zero", bound);
    assert_eq!(ended.json()["error"]["actual_bytes"], bound + 1);
    // The bound is 1 MiB; the process with its runtime stays far below the cap.
    assert!(ended.peak_kib < RSS_CAP_KIB / 4, "{} KiB", ended.peak_kib);
}

#[test]
fn an_input_of_dev_zero_is_import_size_exceeded_in_bounded_memory() {
    let bound = 2 * SMALL_MAX + (1 << 20);
    let ended = refused_as_too_large("--input", "/dev/zero", bound);
    assert_eq!(ended.json()["error"]["actual_bytes"], bound + 1);
    assert!(ended.peak_kib < RSS_CAP_KIB / 4, "{} KiB", ended.peak_kib);
}

#[test]
fn a_regular_file_over_the_bound_is_refused_by_its_size_unread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.csv");
    // Sparse: 64 GiB on no disk, which no read of it could hold.
    File::create(&path).unwrap().set_len(64 << 30).unwrap();
    let bound = SMALL_MAX + (1 << 20);
    let ended = refused_as_too_large("--data-file", path.to_str().unwrap(), bound);
    assert_eq!(ended.json()["error"]["actual_bytes"], 64u64 << 30);
}

#[test]
fn data_within_the_bound_from_a_pipe_is_read_whole() {
    // Many small writes through a pipe, more than one read's chunk.
    let tmp = tempfile::tempdir().unwrap();
    let mut writer = Command::new("sh")
        .args([
            "-c",
            "printf 'ChannelType,Address\\n'; i=0; while [ $i -lt 5000 ]; do echo EMAIL,user$i@example.com; i=$((i+1)); done",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let child = cli(
        &[
            "validate",
            "--application-id",
            "a1",
            "--segment-name",
            "s",
            "--format",
            "CSV",
            "--data-file",
            "-",
        ],
        tmp.path(),
    )
    .stdin(Stdio::from(writer.stdout.take().unwrap()))
    .spawn()
    .unwrap();
    let ended = watch(child);
    writer.wait().unwrap();
    assert_eq!(ended.code, Some(0), "{ended:?}");
    assert_eq!(ended.json()["endpoint_count"], 5000);
}

/// A shell writing a CSV header, then a row every 200 ms, forever.
fn endless_writer() -> Child {
    Command::new("sh")
        .args([
            "-c",
            "printf 'ChannelType,Address\\n'; while :; do echo EMAIL,a@example.com || exit; sleep .2; done",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Data still arriving on stdin: the signal ends the read within 2 s with
/// `Cancelled` on stdout and the signal's exit code.
fn a_signal_cancels_a_read_of_stdin(flag: &str, signal: &str, code: i32) {
    let tmp = tempfile::tempdir().unwrap();
    let mut writer = endless_writer();
    let mut child = cli(&validate_args(&["-v"], flag, "-"), tmp.path())
        .stdin(Stdio::from(writer.stdout.take().unwrap()))
        .spawn()
        .unwrap();
    let stderr = wait_for_stderr(&mut child, &format!("reading {flag} -"));
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut ended = watch(child);
    ended.stderr = stderr.recv().unwrap();
    let _ = writer.kill();
    let _ = writer.wait();
    assert_eq!(ended.killed, None, "{ended:?}");
    assert_eq!(ended.code, Some(code), "{ended:?}");
    assert!(ended.took < Duration::from_secs(2), "{:?}", ended.took);
    let error = &ended.json()["error"];
    assert_eq!(error["type"], "Cancelled", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "SIG{signal} received: cancelled while reading {flag} -"
        )),
        "{message}"
    );
}

#[test]
fn sigterm_cancels_a_read_of_data_still_arriving_on_stdin() {
    a_signal_cancels_a_read_of_stdin("--data-file", "TERM", 143);
}

#[test]
fn sigint_cancels_a_read_of_an_input_still_arriving_on_stdin() {
    a_signal_cancels_a_read_of_stdin("--input", "INT", 130);
}

/// `run` of the first example on the embedded emulator, with `env` and
/// `extra` flags: how it ended (no emulator directory is left, whatever the
/// outcome).
fn run_on_the_emulator(env: &[(&str, &str)], extra: &[&str]) -> Ended {
    let tmp = tempfile::tempdir().unwrap();
    let input = example("1-customers-csv.json");
    let mut args = vec!["run"];
    args.extend(extra);
    args.extend(["--input", &input]);
    let mut command = cli(&args, tmp.path());
    command.envs(env.iter().copied());
    let ended = watch(command.spawn().unwrap());
    assert!(
        ended.stderr.contains("embedded S3 + Pinpoint emulator"),
        "{ended:?}"
    );
    assert_eq!(leftovers(tmp.path()), Vec::<String>::new());
    ended
}

#[test]
fn run_on_the_embedded_emulator_applies_max_import_bytes() {
    let ended = run_on_the_emulator(&[("PINPOINT_IMPORT_MAX_IMPORT_BYTES", "100")], &[]);
    assert_eq!(ended.code, Some(1), "{ended:?}");
    let error = &ended.json()["error"];
    assert_eq!(error["type"], "ImportSizeExceeded", "{error}");
    assert_eq!(error["limit_bytes"], 100, "{error}");
}

#[test]
fn run_on_the_embedded_emulator_checks_every_setting_of_the_environment() {
    for (variable, value, setting) in [
        ("PINPOINT_IMPORT_MAX_WAIT_SECONDS", "-1", "max-wait-seconds"),
        (
            "PINPOINT_IMPORT_POLL_INTERVAL_MS",
            "abc",
            "poll-interval-ms",
        ),
        (
            "PINPOINT_IMPORT_WAIT_FOR_COMPLETION",
            "yes",
            "wait-for-completion",
        ),
    ] {
        let ended = run_on_the_emulator(&[(variable, value)], &[]);
        assert_eq!(ended.code, Some(1), "{variable}: {ended:?}");
        let error = &ended.json()["error"];
        assert_eq!(error["type"], "InvalidSettings", "{variable}: {error}");
        assert_eq!(error["setting"], setting, "{variable}: {error}");
    }
}

#[test]
fn run_on_the_embedded_emulator_stages_under_the_prefix_given() {
    let ended = run_on_the_emulator(&[], &["--prefix", "custom/"]);
    assert_eq!(ended.code, Some(0), "{ended:?}");
    let staged = ended.json()["staged_object"].as_str().unwrap().to_owned();
    let key = staged.splitn(4, '/').nth(3).unwrap();
    assert!(key.starts_with("custom/"), "{staged}");
}

#[test]
fn the_embedded_emulator_sets_its_own_bucket_region_and_role_and_says_so() {
    let ended = run_on_the_emulator(
        &[("AWS_REGION", "eu-west-3")],
        &[
            "--bucket",
            "my-bucket",
            "--role-arn",
            "arn:aws:iam::1:role/R",
        ],
    );
    assert_eq!(ended.code, Some(0), "{ended:?}");
    assert!(
        ended
            .stderr
            .contains("it sets import-role-arn, region, staging-bucket itself"),
        "{}",
        ended.stderr
    );
}

#[test]
fn an_input_file_may_start_with_a_byte_order_mark() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bom.json");
    let seed = std::fs::read(example("2-beta-testers-json.json")).unwrap();
    std::fs::write(&path, [b"\xEF\xBB\xBF".as_slice(), &seed].concat()).unwrap();
    let ended = watch(
        cli(&["validate", "--input", path.to_str().unwrap()], dir.path())
            .spawn()
            .unwrap(),
    );
    assert_eq!(ended.code, Some(0), "{ended:?}");
    assert_eq!(ended.json()["endpoint_count"], 2);
}

#[test]
fn an_unknown_key_in_the_input_is_invalid_input_naming_the_closest_known_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.json");
    let mut seed: Value =
        serde_json::from_slice(&std::fs::read(example("1-customers-csv.json")).unwrap()).unwrap();
    seed["on_exsting"] = json!("new_version");
    std::fs::write(&path, seed.to_string()).unwrap();
    let ended = watch(
        cli(&["validate", "--input", path.to_str().unwrap()], dir.path())
            .spawn()
            .unwrap(),
    );
    assert_eq!(ended.code, Some(1), "{ended:?}");
    let error = &ended.json()["error"];
    assert_eq!(error["type"], "InvalidInput", "{error}");
    assert_eq!(error["field"], "on_exsting", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("unknown key `on_exsting` (the closest known key is `on_existing`)"),
        "{message}"
    );
}

#[tokio::test]
async fn an_unknown_mcp_argument_is_invalid_input_naming_the_closest_known_one() {
    use rmcp::ServiceExt;
    use rmcp::model::CallToolRequestParams;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_pinpoint-import"));
    cmd.arg("mcp")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env_remove("AWS_ENDPOINT_URL_PINPOINT");
    let (transport, _stderr) = rmcp::transport::TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .expect("the server starts");
    let client = ().serve(transport).await.expect("initialize succeeds");
    let mut arguments: Value =
        serde_json::from_slice(&std::fs::read(example("1-customers-csv.json")).unwrap()).unwrap();
    arguments["on_exsting"] = json!("new_version");
    let Value::Object(arguments) = arguments else {
        unreachable!()
    };
    let result = client
        .call_tool(
            CallToolRequestParams::new("validate_pinpoint_segment").with_arguments(arguments),
        )
        .await
        .expect("a tool result");
    assert_eq!(result.is_error, Some(true), "{result:?}");
    let error = &result.structured_content.expect("structured")["error"];
    assert_eq!(error["type"], "InvalidInput", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("unknown key `on_exsting` (the closest known key is `on_existing`)"),
        "{message}"
    );
    client.cancel().await.unwrap();
}

#[test]
fn a_start_removes_emulator_directories_of_dead_processes_only() {
    let tmp = tempfile::tempdir().unwrap();
    let make = |name: &str| {
        let dir = tmp.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("customer-data.csv"), "EMAIL,a@example.com\n").unwrap();
        let mut lock = File::create(dir.join(host_test::emulated::OWNER_LOCK)).unwrap();
        writeln!(lock, "1").unwrap();
        lock
    };
    // Its owner is gone: nobody holds the lock.
    drop(make("pinpoint-emulator-dead"));
    // Its owner lives (this process holds the lock).
    let live = make("pinpoint-emulator-live");
    live.try_lock().unwrap();
    let ended = watch(
        cli(
            &["validate", "--input", &example("1-customers-csv.json")],
            tmp.path(),
        )
        .spawn()
        .unwrap(),
    );
    assert_eq!(ended.code, Some(0), "{ended:?}");
    assert_eq!(
        leftovers(tmp.path()),
        vec!["pinpoint-emulator-live".to_owned()]
    );
    assert!(
        tmp.path()
            .join("pinpoint-emulator-live/customer-data.csv")
            .exists()
    );
    assert!(
        ended.stderr.contains("removed 1 data directories"),
        "{}",
        ended.stderr
    );
    drop(live);
}
