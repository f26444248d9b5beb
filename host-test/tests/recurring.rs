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

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use std::time::Duration;

use host_test::emulated::{self, Emulator, Fault, Operation};
use serde_json::Value;

const NAME: &str = "Daily_Sync";

/// Seed example `file` as JSON, renamed to [`NAME`].
fn example_as_daily_sync(file: &str) -> Value {
    support::example_named(file, NAME)
}

/// `pinpoint-import run ARGS` against `emu`, in `home`.
fn run(emu: &Emulator, home: &Path, args: &[&str]) -> Output {
    command(&emu.endpoint_url(), home)
        .args(args)
        .output()
        .expect("the CLI runs")
}

/// `pinpoint-import run` against the emulator at `url`, in `home`.
fn command(url: &str, home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pinpoint-import"));
    command
        .arg("run")
        .env_clear()
        .envs(support::environment(url, home))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
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
    let emu = support::emulator().await;
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
    let named: Vec<_> = support::segments_named(&emu, app, NAME);
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
    let emu = support::emulator().await;
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

/// Three endpoints; each `variant` is different data.
fn csv(variant: usize) -> String {
    format!(
        "ChannelType,Address\nEMAIL,a{variant}@example.com\nSMS,+1206555{:04}\nEMAIL,b{variant}@example.com\n",
        variant % 10_000
    )
}

/// Runs of `name`, one process per data variant, all started before any is
/// waited for, with `on_existing: new_version`; their answers (exit 0).
fn at_once(emu: &Emulator, dir: &Path, name: &str, variants: std::ops::Range<usize>) -> Vec<Value> {
    let url = emu.endpoint_url();
    let children: Vec<_> = variants
        .map(|v| {
            let file = dir.join(format!("{name}-{v}.json"));
            let input = serde_json::json!({"application_id": emulated::SEED_APPLICATION_ID,
                "segment_name": name, "format": "CSV", "data": csv(v), "on_existing": "new_version"});
            std::fs::write(&file, input.to_string()).unwrap();
            command(&url, dir)
                .args(["--input", file.to_str().unwrap()])
                .spawn()
                .expect("the CLI starts")
        })
        .collect();
    tokio::task::block_in_place(|| {
        children
            .into_iter()
            .map(|c| answer(&c.wait_with_output().unwrap(), 0))
            .collect()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_at_once_of_an_existing_name_each_make_their_version() {
    let emu = support::emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let app = emulated::SEED_APPLICATION_ID;
    let first = at_once(&emu, dir.path(), "Weekly", 0..1).remove(0);
    let id = first["segment_id"].as_str().unwrap().to_owned();
    let runs = 4;
    let answers = at_once(&emu, dir.path(), "Weekly", 1..1 + runs);
    let mut versions: Vec<u64> = answers
        .iter()
        .map(|a| {
            assert_eq!(a["segment_id"], id.as_str(), "{a}");
            assert_eq!(a["created_segment"], false, "{a}");
            a["segment_version"].as_u64().unwrap()
        })
        .collect();
    versions.sort();
    println!("{runs} runs at once on one segment: versions {versions:?}");
    assert_eq!(
        versions,
        (2..2 + runs as u64).collect::<Vec<_>>(),
        "each run its own version"
    );
    let named: Vec<_> = support::segments_named(&emu, app, "Weekly");
    assert_eq!(named.len(), 1);
    assert_eq!(u64::from(named[0].version), 1 + runs as u64);
    assert!(emu.objects(emulated::DEFAULT_BUCKET).is_empty());
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_at_once_of_a_new_name_leave_one_segment_with_every_version() {
    let emu = support::emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let app = emulated::SEED_APPLICATION_ID;
    let runs = 4;
    // Each run's first listing is answered late: they all find the name
    // free and all create a segment (the worst case).
    for _ in 0..runs {
        emu.inject(
            Operation::GetSegments,
            Fault::DelayAnswer(Duration::from_secs(3)),
        );
    }
    let answers = at_once(&emu, dir.path(), "Fresh", 0..runs);
    let named: Vec<_> = support::segments_named(&emu, app, "Fresh");
    assert_eq!(named.len(), 1, "one segment of the name: {named:?}");
    let id = named[0].id.clone();
    let created = answers
        .iter()
        .filter(|a| a["created_segment"] == true)
        .count();
    println!(
        "{runs} new_version runs of a new name at once: {} import jobs, {created} run(s) kept the segment made, version {}",
        emu.import_jobs(app).len(),
        named[0].version
    );
    assert!(
        emu.import_jobs(app).len() > runs,
        "the runs raced: more than one of them made a segment"
    );
    for a in &answers {
        assert_eq!(a["segment_id"], id.as_str(), "{a}");
    }
    assert_eq!(created, 1, "one run made the segment that stays");
    assert_eq!(
        u64::from(named[0].version),
        runs as u64,
        "every run's data is a version"
    );
    assert!(emu.objects(emulated::DEFAULT_BUCKET).is_empty());
    emu.shutdown().await;
}
