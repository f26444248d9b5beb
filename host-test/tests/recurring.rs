//! Recurring imports (issue 16) through the CLI, against one emulator: the
//! issue's "Done when". A daily sync named `Daily_Sync` is imported from
//! seed example 1; the next day's export (seed example 3's data) with
//! `on_existing: new_version` becomes version 2 of the same segment; the
//! same run again makes no version 3; without `on_existing` the second
//! day's run is `DuplicateSegmentName`, as the described node has it.
//!
//! The emulator runs in this test process, so its state is read directly;
//! each run is a `pinpoint-import run` child process that reaches it over
//! loopback, as a user's would.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use host_test::emulated::{self, Emulator};
use serde_json::Value;

const NAME: &str = "Daily_Sync";

async fn emulator() -> Emulator {
    Emulator::start(
        emulated::cli_config(),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .expect("the emulator starts")
}

/// Seed example `file` as JSON, renamed to [`NAME`].
fn example_as_daily_sync(file: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(file);
    let mut input: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    input["segment_name"] = NAME.into();
    input
}

/// `pinpoint-import run ARGS` against `emu`, in `home`.
fn run(emu: &Emulator, home: &Path, args: &[&str]) -> Output {
    let url = emu.endpoint_url();
    Command::new(env!("CARGO_BIN_EXE_pinpoint-import"))
        .arg("run")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env(
            "PINPOINT_IMPORT_CACHE_DIR",
            host_test::node::cache_dir().unwrap_or_else(|| "off".into()),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", &url)
        .env("AWS_REGION", emulated::DEFAULT_REGION)
        .env("AWS_ACCESS_KEY_ID", emulated::DEFAULT_ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", emulated::DEFAULT_SECRET_ACCESS_KEY)
        .env("PINPOINT_IMPORT_BUCKET", emulated::DEFAULT_BUCKET)
        .env("PINPOINT_IMPORT_ROLE_ARN", emulated::DEFAULT_ROLE_ARN)
        .env("PINPOINT_IMPORT_POLL_INTERVAL_MS", "20")
        .env("PINPOINT_IMPORT_POLL_MAX_INTERVAL_MS", "200")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("the CLI runs")
}

/// `run --input FILE` of `input`, written to `dir`.
fn run_input(emu: &Emulator, dir: &Path, input: &Value) -> Output {
    let file = dir.join("input.json");
    std::fs::write(&file, serde_json::to_vec(input).unwrap()).unwrap();
    let file = file.display().to_string();
    // The emulator answers on this runtime: the child is waited for
    // without blocking it.
    tokio::task::block_in_place(|| run(emu, dir, &["--input", &file]))
}

/// stdout as JSON, with the exit code expected.
fn answer(out: &Output, code: i32) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_sync_keeps_its_segment_id_across_versions() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let app = emulated::SEED_APPLICATION_ID;

    // Day 1: seed example 1 as Daily_Sync.
    let first = answer(
        &run_input(
            &emu,
            dir.path(),
            &example_as_daily_sync("1-customers-csv.json"),
        ),
        0,
    );
    let id = first["segment_id"].as_str().unwrap().to_owned();
    assert_eq!(first["created_segment"], true);
    assert_eq!(first["segment_version"], 1);

    // Day 2 without `on_existing`: as described, a duplicate naming it.
    let day2 = example_as_daily_sync("3-newsletter-subscribers-csv.json");
    let duplicate = answer(&run_input(&emu, dir.path(), &day2), 1);
    assert_eq!(duplicate["error"]["type"], "DuplicateSegmentName");
    assert_eq!(duplicate["error"]["segment_id"], id.as_str());

    // Day 2 with `on_existing: new_version`: the same segment, version 2,
    // the new file's 3 endpoints.
    let mut recurring = day2.clone();
    recurring["on_existing"] = "new_version".into();
    let second = answer(&run_input(&emu, dir.path(), &recurring), 0);
    assert_eq!(second["segment_id"], id.as_str());
    assert_eq!(second["created_segment"], false);
    assert_eq!(second["reused_existing_segment"], false);
    assert_eq!(second["segment_version"], 2);
    assert_eq!(second["endpoints_imported"], 3);
    let named: Vec<_> = emu
        .segments(app)
        .into_iter()
        .filter(|s| s.name == NAME)
        .collect();
    assert_eq!(named.len(), 1, "one segment of the name: {named:?}");
    assert_eq!(named[0].id, id);
    assert_eq!(named[0].version, 2);
    assert_eq!(named[0].size, 3);
    assert_eq!(
        named[0].s3_url.as_deref(),
        second["staged_object"].as_str(),
        "version 2 is the new file"
    );

    // The same run again, through the flag: nothing new, no version 3.
    let data = dir.path().join("day2.csv");
    std::fs::write(&data, day2["data"].as_str().unwrap()).unwrap();
    let args = [
        "--application-id",
        app,
        "--segment-name",
        NAME,
        "--format",
        "CSV",
        "--data-file",
        data.to_str().unwrap(),
        "--on-existing",
        "new_version",
    ];
    let third = answer(
        &tokio::task::block_in_place(|| run(&emu, dir.path(), &args)),
        0,
    );
    assert_eq!(third["segment_id"], id.as_str());
    assert_eq!(third["reused_existing_segment"], true);
    assert_eq!(third["created_segment"], false);
    assert_eq!(third["segment_version"], 2);
    assert_eq!(emu.segment_versions(app, &id).len(), 2, "no version 3");
    assert!(
        emu.objects(emulated::DEFAULT_BUCKET).is_empty(),
        "nothing left staged: {:?}",
        emu.objects(emulated::DEFAULT_BUCKET)
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flag_value_outside_the_enum_is_a_usage_error() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let args = ["--input", "-", "--on-existing", "replace"];
    let out = tokio::task::block_in_place(|| run(&emu, dir.path(), &args));
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    emu.shutdown().await;
}
