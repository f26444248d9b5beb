//! One segment name stays one segment (issue 8, item 2): many runs of one
//! segment name started at once, as separate `pinpoint-import run`
//! processes against one emulator, and as concurrent runs of one
//! [`NodeHost`] in one process.
//!
//! After each burst: exactly one segment of that name is left; every run
//! ended in success with that segment's id or `DuplicateSegmentName` naming
//! it; none in `ImportJobFailed`; nothing is left in the staging bucket.
//!
//! The emulator runs in this test process (the same code and job speed as
//! `pinpoint-import emulator`), so its state is read directly; the runs are
//! child processes that reach it over loopback, as a user's would. The
//! answers to the runs' first `GetSegments` are held back (the emulator's
//! `DelayAnswer`: it lists at once and answers seconds later), so the runs
//! all find the name free and all create a segment: the worst case, not a
//! race left to the scheduler. The figures printed say how many did.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use host_test::emulated::{self, Emulator, Fault, Operation};
use host_test::node::NodeHost;
use pinpoint_segment_import::error::NodeError;
use pinpoint_segment_import::import::ImportOutput;
use pinpoint_segment_import::input::{Format, ImportInput};
use serde_json::Value;

/// Runs started at once in each burst of processes.
const PROCESSES: usize = 20;

/// How long the answers to the runs' first listing are held: longer than it
/// takes to start them all.
const HOLD: Duration = Duration::from_secs(4);

/// One burst at a time in this test binary: each wants the machine's cores.
static ONE_BURST: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Holds the answers to the next `n` `GetSegments` (the runs' first
/// listing) for `hold`: each run lists the name before any run has created
/// a segment, and creates its own.
fn hold_first_listings(emu: &Emulator, n: usize, hold: Duration) {
    for _ in 0..n {
        emu.inject(Operation::GetSegments, Fault::DelayAnswer(hold));
    }
}

async fn emulator() -> Emulator {
    Emulator::start(
        emulated::cli_config(),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .expect("the emulator starts")
}

/// Three endpoints; `variant` changes every address, so each variant is
/// different data.
fn csv(variant: usize) -> String {
    format!(
        "ChannelType,Address\nEMAIL,a{variant}@example.com\nSMS,+1206555{:04}\nEMAIL,b{variant}@example.com\n",
        variant % 10_000
    )
}

fn input(name: &str, data: String) -> ImportInput {
    ImportInput {
        application_id: emulated::SEED_APPLICATION_ID.into(),
        segment_name: name.into(),
        format: Format::Csv,
        data,
    }
}

/// How one run ended, from the CLI's stdout or the host's result.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Success: the segment id and `reused_existing_segment`.
    Imported { segment_id: String, reused: bool },
    /// A node error: its type and the segment id it names, if any.
    Failed {
        kind: String,
        segment_id: Option<String>,
        message: String,
    },
}

impl Outcome {
    fn of_cli(out: &Output) -> Outcome {
        let stdout = String::from_utf8_lossy(&out.stdout);
        let v: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {stdout}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        match out.status.code() {
            Some(0) => Outcome::Imported {
                segment_id: v["segment_id"].as_str().unwrap_or_default().to_owned(),
                reused: v["reused_existing_segment"] == true,
            },
            Some(1) => Outcome::Failed {
                kind: v["error"]["type"].as_str().unwrap_or_default().to_owned(),
                segment_id: v["error"]["segment_id"].as_str().map(str::to_owned),
                message: v["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            },
            other => panic!(
                "exit {other:?}: {stdout}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }

    fn of_host(result: &Result<ImportOutput, NodeError>) -> Outcome {
        match result {
            Ok(out) => Outcome::Imported {
                segment_id: out.segment_id.clone(),
                reused: out.reused_existing_segment,
            },
            Err(e) => Outcome::Failed {
                kind: e.kind.name().to_owned(),
                segment_id: e.details.segment_id.clone(),
                message: e.message.clone(),
            },
        }
    }

    /// `Imported`, `Imported (reused)` or the error type: for the tally.
    fn label(&self) -> String {
        match self {
            Outcome::Imported { reused: false, .. } => "Imported".into(),
            Outcome::Imported { reused: true, .. } => "Imported (reused)".into(),
            Outcome::Failed { kind, .. } => kind.clone(),
        }
    }
}

/// What one burst left and how its runs ended.
struct Burst {
    outcomes: Vec<Outcome>,
    /// Segments of the burst's name left in the emulator.
    segments: Vec<String>,
    /// Objects left in the staging bucket.
    staged: Vec<String>,
    /// Import jobs the burst made.
    jobs: usize,
    took: Duration,
}

impl Burst {
    fn after(emu: &Emulator, name: &str, outcomes: Vec<Outcome>, started: Instant) -> Burst {
        let took = started.elapsed();
        let segments = emu
            .segments(emulated::SEED_APPLICATION_ID)
            .into_iter()
            .filter(|s| s.name == name)
            .map(|s| s.id)
            .collect();
        let jobs = emu
            .import_jobs(emulated::SEED_APPLICATION_ID)
            .iter()
            .filter(|j| j.segment_name.as_deref() == Some(name))
            .count();
        Burst {
            outcomes,
            segments,
            staged: emu.objects(emulated::DEFAULT_BUCKET),
            jobs,
            took,
        }
    }

    fn tally(&self) -> BTreeMap<String, usize> {
        let mut tally = BTreeMap::new();
        for o in &self.outcomes {
            *tally.entry(o.label()).or_default() += 1;
        }
        tally
    }

    /// Prints the figures, then checks the promise: one segment, every run
    /// either that segment's success or a duplicate naming it, nothing
    /// staged. Returns the segment's id.
    fn check(&self, what: &str) -> String {
        println!(
            "{what}: {} runs in {:.1} s: {:?}; {} import job(s) (segments made); {} segment(s) of the name and {} staged object(s) left",
            self.outcomes.len(),
            self.took.as_secs_f64(),
            self.tally(),
            self.jobs,
            self.segments.len(),
            self.staged.len()
        );
        assert!(
            self.jobs >= 2,
            "{what}: the runs raced: {} segment(s) made",
            self.jobs
        );
        assert_eq!(
            self.segments.len(),
            1,
            "{what}: exactly one segment of the name: {:?}; outcomes {:#?}",
            self.segments,
            self.outcomes
        );
        let id = self.segments[0].clone();
        for o in &self.outcomes {
            match o {
                Outcome::Imported { segment_id, .. } => {
                    assert_eq!(
                        segment_id, &id,
                        "{what}: a success names the segment: {o:?}"
                    )
                }
                Outcome::Failed {
                    kind, segment_id, ..
                } => {
                    assert_eq!(kind, "DuplicateSegmentName", "{what}: {o:?}");
                    assert_eq!(
                        segment_id.as_ref(),
                        Some(&id),
                        "{what}: a duplicate names the segment: {o:?}"
                    );
                }
            }
        }
        assert!(
            self.staged.is_empty(),
            "{what}: staged objects left: {:?}",
            self.staged
        );
        id
    }
}

/// `pinpoint-import run --input FILE` against `emu`, with only the
/// environment a user would set (and the test's component cache).
fn run_command(emu: &Emulator, home: &Path, input_file: &Path) -> Command {
    let url = emu.endpoint_url();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pinpoint-import"));
    cmd.args(["run", "--input"])
        .arg(input_file)
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
        .stderr(Stdio::piped());
    cmd
}

/// Starts one process per input, all before waiting for any, and returns
/// how each ended.
async fn processes(emu: &Emulator, inputs: &[ImportInput]) -> Vec<Outcome> {
    let dir = tempfile::tempdir().unwrap();
    let children: Vec<_> = inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let file = dir.path().join(format!("input-{i}.json"));
            std::fs::write(&file, serde_json::to_vec(input).unwrap()).unwrap();
            run_command(emu, dir.path(), &file)
                .spawn()
                .expect("the CLI starts")
        })
        .collect();
    let outputs = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    drop(dir);
    outputs.iter().map(Outcome::of_cli).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_processes_one_name_different_data_leave_one_segment() {
    let _one = ONE_BURST.lock().await;
    let emu = emulator().await;
    let name = "Race: one name, different data";
    let inputs: Vec<_> = (0..PROCESSES).map(|i| input(name, csv(i))).collect();
    hold_first_listings(&emu, PROCESSES, HOLD);
    let started = Instant::now();
    let outcomes = processes(&emu, &inputs).await;
    let burst = Burst::after(&emu, name, outcomes, started);
    let id = burst.check("20 processes, one name, different data");
    // Different data: one import won, every other run is a duplicate.
    assert_eq!(
        burst.tally().get("Imported"),
        Some(&1),
        "{:?}",
        burst.outcomes
    );
    let winner = emu
        .segments(emulated::SEED_APPLICATION_ID)
        .into_iter()
        .find(|s| s.id == id)
        .unwrap();
    assert_eq!(winner.size, 3, "the winner's endpoints were imported");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_processes_one_name_same_data_all_get_the_one_segment() {
    let _one = ONE_BURST.lock().await;
    let emu = emulator().await;
    let name = "Race: one name, same data";
    let inputs: Vec<_> = (0..PROCESSES).map(|_| input(name, csv(7))).collect();
    hold_first_listings(&emu, PROCESSES, HOLD);
    let started = Instant::now();
    let outcomes = processes(&emu, &inputs).await;
    let burst = Burst::after(&emu, name, outcomes, started);
    burst.check("20 processes, one name, same data");
    // The same data: every run succeeds with the one segment; one of them
    // made it, the others found (or lost to) it.
    let tally = burst.tally();
    assert_eq!(
        tally.get("Imported").copied().unwrap_or(0)
            + tally.get("Imported (reused)").copied().unwrap_or(0),
        PROCESSES,
        "{tally:?}"
    );
    assert_eq!(tally.get("Imported"), Some(&1), "{tally:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_in_one_host_leave_one_segment() {
    let _one = ONE_BURST.lock().await;
    let emu = emulator().await;
    let host = NodeHost::shared().expect("the component loads");
    let mut cfg = emulated::run_config(
        &emu,
        &[("poll-interval-ms", "20"), ("poll-max-interval-ms", "200")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
    );
    cfg.deadline = Duration::from_secs(120);
    for (what, name, same) in [
        (
            "8 runs in one host, different data",
            "In one host: different",
            false,
        ),
        ("8 runs in one host, same data", "In one host: same", true),
    ] {
        hold_first_listings(&emu, 8, Duration::from_secs(1));
        let started = Instant::now();
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let input = input(name, csv(if same { 100 } else { 100 + i }));
                let cfg = cfg.clone();
                tokio::spawn(async move { host.run(&input, &cfg).await })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(Outcome::of_host(&task.await.unwrap()));
        }
        let burst = Burst::after(&emu, name, outcomes, started);
        burst.check(what);
        let tally = burst.tally();
        if same {
            assert!(
                !tally.contains_key("DuplicateSegmentName"),
                "{what}: {tally:?}"
            );
        } else {
            assert_eq!(tally.get("Imported"), Some(&1), "{what}: {tally:?}");
        }
    }
}
