//! Many concurrent imports in one host against the emulator.
//!
//! `cargo bench -p host-test --bench concurrency` makes one `NodeHost` whose
//! pool has 1,000 slots and, for each case, starts a fresh emulator and N
//! imports of the seed example at once (`examples/1-customers-csv.json`;
//! segment names made unique per run, so every run creates its own
//! segment), on a tokio runtime with one worker per core. The cases:
//! N = 1, 10, 100 and 1,000 with one application (project) per run, and
//! N = 100 and 1,000 all in the seed's one application, where each run's
//! name checks read every segment the others made.
//!
//! It prints one table:
//! - runs/s: runs over the wall time from a round's start to its last
//!   result (small N is repeated, one round after the other, up to 100
//!   runs: the "rounds" column);
//! - latency p50/p99: each run's time from its round's start to its result;
//! - instantiation p50/p99: the host's `instantiate_async` per run
//!   ([`EventSink::instantiated`]);
//! - RSS before and peak RSS: the bench process's resident memory before
//!   the round and its peak during the round (Linux `VmRSS`, and `VmHWM`
//!   reset before the round);
//! - host CPU per run: the bench process's CPU time (user + system, every
//!   thread: tokio, wasmtime, the guest's own code, the epoch ticker) over
//!   the round, divided by the runs;
//! - emulator CPU per run: the emulator process's, for reference.
//!
//! The emulator runs in its own process (this bench's executable started
//! again with `BENCH_EMULATOR_APPS` set: the embedded emulator's library,
//! jobs stepping every 25 ms as the CLI's) so that the host's CPU and memory
//! are the bench process's own, read from the kernel with nothing to
//! subtract (in-process, its threads, its blocking pool and its request log
//! would have to be told apart from the host's).
//!
//! Run without `--bench` (as `cargo test --benches` does) it only does
//! N = 1 and 10. `BENCH_RUNS=1,50,100/1` picks other cases (`N/1`: all in
//! one application); `BENCH_POLL_MS` the node's `poll-interval-ms`
//! (default 10).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use host_test::credentials::Static;
use host_test::emulated::{self, Emulator, EmulatorConfig};
use host_test::node::{EventSink, HostConfig, LogLevel, NodeHost, RunConfig};
use pinpoint_segment_import::import::Stage;
use pinpoint_segment_import::input::ImportInput;

/// The variable that makes this executable the emulator, with this many
/// applications besides the seed's.
const EMULATOR_CHILD: &str = "BENCH_EMULATOR_APPS";

/// One case: N runs, each in its own application or all in the seed's.
#[derive(Clone, Copy)]
struct Case {
    n: usize,
    one_application: bool,
}

fn main() {
    if let Ok(apps) = std::env::var(EMULATOR_CHILD) {
        serve_emulator(apps.parse().expect("a number of applications"));
        return;
    }
    let bench = std::env::args().any(|a| a == "--bench");
    let spec = match std::env::var("BENCH_RUNS") {
        Ok(s) => s,
        Err(_) if bench => "1,10,100,1000,100/1,1000/1".into(),
        Err(_) => "1,10".into(),
    };
    let cases: Vec<Case> = spec
        .split(',')
        .filter_map(|c| {
            let (n, one) = match c.trim().split_once('/') {
                Some((n, "1")) => (n, true),
                Some(_) => return None,
                None => (c.trim(), false),
            };
            Some(Case {
                n: n.parse().ok()?,
                one_application: one,
            })
        })
        .collect();
    let poll_ms: u64 = std::env::var("BENCH_POLL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    raise_open_files_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let slots = cases.iter().map(|c| c.n).max().unwrap_or(1) as u32;
    let started = Instant::now();
    let host = NodeHost::with_config(HostConfig {
        max_concurrent_instances: slots,
        ..HostConfig::default()
    })
    .expect("the component loads");
    eprintln!(
        "host with {slots} slots ready in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let seed: ImportInput = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../examples/1-customers-csv.json"),
        )
        .expect("the seed example"),
    )
    .expect("the seed example is an input");
    let mut rows = Vec::new();
    for &case in &cases {
        let n = case.n;
        // Small N is repeated (one round after the other) up to 100 runs.
        let repeats = if bench { (100 / n).max(1) } else { 1 };
        let applications = if case.one_application {
            0
        } else {
            n * repeats + 1
        };
        let emulator = EmulatorProcess::start(applications);
        let config = run_config(&emulator.url, poll_ms);
        let app = |k: usize| (!case.one_application).then(|| application_id(k));
        // One run first: the TCP stack, the allocator, a slot of the pool.
        let warm = runtime.block_on(round(&host, &seed, &config, "warmup", 1, |_| {
            app(n * repeats)
        }));
        assert_eq!(
            warm.errors, 0,
            "the warm-up run failed: {:?}",
            warm.first_error
        );
        let rss_before = peak_rss_reset();
        let cpu_before = process_cpu();
        let emulator_before = emulator.cpu();
        let mut row = Row {
            n,
            one_application: case.one_application,
            ..Row::default()
        };
        for r in 0..repeats {
            let tag = format!("n{n}r{r}");
            row.add(runtime.block_on(round(&host, &seed, &config, &tag, n, |k| app(r * n + k))));
        }
        row.host_cpu = process_cpu().saturating_sub(cpu_before);
        row.emulator_cpu = emulator
            .cpu()
            .zip(emulator_before)
            .map(|(a, b)| a.saturating_sub(b));
        row.rss_before = rss_before;
        row.peak_rss = rss_before.and(peak_rss());
        eprintln!(
            "N = {n}{}: {} errors in {:.2} s",
            if case.one_application {
                " in one application"
            } else {
                ""
            },
            row.errors,
            row.wall.as_secs_f64()
        );
        if let Some(e) = &row.first_error {
            eprintln!("  first error: {e}");
        }
        rows.push(row);
        emulator.stop();
    }
    print_table(&rows, poll_ms);
}

/// The run config of every run: the emulator's endpoint, bucket, role and
/// keys, and fast polling.
fn run_config(url: &str, poll_ms: u64) -> RunConfig {
    let settings: BTreeMap<String, String> = [
        ("region", emulated::DEFAULT_REGION.to_owned()),
        ("staging-bucket", emulated::DEFAULT_BUCKET.to_owned()),
        ("import-role-arn", emulated::DEFAULT_ROLE_ARN.to_owned()),
        ("pinpoint-endpoint", url.to_owned()),
        ("s3-endpoint", url.to_owned()),
        ("poll-interval-ms", poll_ms.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut config = RunConfig::new(settings, Arc::new(Static(emulated::default_credentials())));
    config.deadline = Duration::from_secs(600);
    config
}

/// One line of the table.
#[derive(Default)]
struct Row {
    n: usize,
    one_application: bool,
    rounds: usize,
    errors: usize,
    first_error: Option<String>,
    wall: Duration,
    latencies: Vec<Duration>,
    instantiations: Vec<Duration>,
    host_cpu: Duration,
    emulator_cpu: Option<Duration>,
    rss_before: Option<usize>,
    peak_rss: Option<usize>,
}

impl Row {
    /// Adds the runs of one more round of `self.n`.
    fn add(&mut self, round: Row) {
        self.rounds += 1;
        self.errors += round.errors;
        if self.first_error.is_none() {
            self.first_error = round.first_error;
        }
        self.wall += round.wall;
        self.latencies.extend(round.latencies);
        self.instantiations.extend(round.instantiations);
    }

    fn runs(&self) -> usize {
        (self.n * self.rounds).max(1)
    }
}

/// Records a run's instantiation time.
#[derive(Default)]
struct Timing {
    instantiated: Mutex<Option<Duration>>,
}

impl EventSink for Timing {
    fn log(&self, _: LogLevel, _: &str) {}
    fn progress(&self, _: Stage, _: u64, _: Option<u64>) {}
    fn instantiated(&self, elapsed: Duration) {
        *self.instantiated.lock().expect("not poisoned") = Some(elapsed);
    }
}

/// Starts `n` runs at once and waits for all of them; run `k` imports into
/// `application(k)`, or the seed's application when that is `None`.
async fn round(
    host: &NodeHost,
    seed: &ImportInput,
    config: &RunConfig,
    tag: &str,
    n: usize,
    application: impl Fn(usize) -> Option<String>,
) -> Row {
    let (go, ready) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::with_capacity(n);
    for k in 0..n {
        let host = host.clone();
        let mut input = seed.clone();
        input.segment_name = format!("{}_{tag}_{k}", seed.segment_name);
        if let Some(app) = application(k) {
            input.application_id = app;
        }
        let timing = Arc::new(Timing::default());
        let mut config = config.clone();
        config.events = timing.clone();
        let mut ready = ready.clone();
        tasks.push(tokio::spawn(async move {
            let _ = ready.wait_for(|go| *go).await;
            let outcome = host.run(&input, &config).await;
            let done = Instant::now();
            let instantiated = *timing.instantiated.lock().expect("not poisoned");
            (outcome, done, instantiated)
        }));
    }
    let start = Instant::now();
    go.send_replace(true);
    let mut row = Row {
        n,
        ..Row::default()
    };
    for task in tasks {
        let (outcome, done, instantiated) = task.await.expect("the run's task");
        row.latencies.push(done.saturating_duration_since(start));
        row.instantiations.extend(instantiated);
        match outcome {
            Ok(out)
                if out.job_status
                    == pinpoint_segment_import::aws::job_status::JobStatus::Completed
                    && out.endpoints_imported == Some(3) => {}
            Ok(out) => {
                row.errors += 1;
                row.first_error
                    .get_or_insert(format!("unexpected output: {out:?}"));
            }
            Err(e) => {
                row.errors += 1;
                row.first_error
                    .get_or_insert(format!("{}: {}", e.kind, e.message));
            }
        }
    }
    row.wall = start.elapsed();
    row
}

fn print_table(rows: &[Row], poll_ms: u64) {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nN concurrent imports of the seed example (3 endpoints) in one NodeHost; emulator in its own process, job step 25 ms, poll-interval-ms {poll_ms}\n"
    );
    let _ = writeln!(
        out,
        "| N | applications | rounds | errors | runs/s | latency p50 ms | latency p99 ms | instantiation p50 ms | instantiation p99 ms | RSS before MiB | peak RSS MiB | host CPU/run ms | emulator CPU/run ms |"
    );
    let _ = writeln!(out, "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for r in rows {
        let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1e3);
        let per_run = |d: Duration| ms(d / r.runs() as u32);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.n,
            if r.one_application { "1" } else { "1 per run" },
            r.rounds,
            r.errors,
            r.runs() as f64 / r.wall.as_secs_f64(),
            ms(percentile(&r.latencies, 50)),
            ms(percentile(&r.latencies, 99)),
            ms(percentile(&r.instantiations, 50)),
            ms(percentile(&r.instantiations, 99)),
            mib(r.rss_before),
            mib(r.peak_rss),
            per_run(r.host_cpu),
            r.emulator_cpu.map_or("n/a".into(), per_run),
        );
    }
    println!("{out}");
}

fn mib(bytes: Option<usize>) -> String {
    bytes.map_or("n/a".into(), |b| {
        format!("{:.0}", b as f64 / (1 << 20) as f64)
    })
}

/// The `p`th percentile (nearest rank) of `values`.
fn percentile(values: &[Duration], p: usize) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// The id of the `k`th application of the emulator (32 letters and digits).
fn application_id(k: usize) -> String {
    format!("benchapp{k:024}")
}

/// The emulator process: this executable with [`EMULATOR_CHILD`] set.
/// It prints its URL on stdout and stops (removing its directory) when its
/// stdin closes.
fn serve_emulator(applications: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let mut config = EmulatorConfig {
            job_step: emulated::CLI_JOB_STEP,
            ..EmulatorConfig::default()
        };
        config
            .applications
            .extend((0..applications).map(application_id));
        let emulator = Emulator::start(config, std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("the emulator starts");
        println!("listening at {}", emulator.endpoint_url());
        let _ = tokio::task::spawn_blocking(|| {
            std::io::copy(&mut std::io::stdin(), &mut std::io::sink())
        })
        .await;
        emulator.shutdown().await;
    });
}

/// The emulator in its own process ([`serve_emulator`]).
struct EmulatorProcess {
    child: Child,
    url: String,
}

impl EmulatorProcess {
    fn start(applications: usize) -> EmulatorProcess {
        let mut child = Command::new(std::env::current_exe().expect("this executable"))
            .env(EMULATOR_CHILD, applications.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the emulator starts");
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("the emulator says where it listens")
                .expect("its stdout");
            if let Some(at) = line.strip_prefix("listening at ") {
                break at.trim().to_owned();
            }
        };
        EmulatorProcess { child, url }
    }

    /// The emulator process's CPU time so far (user + system).
    fn cpu(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // Fields after the command name (which may hold spaces): utime is
        // the 14th field of the line, stime the 15th.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(Duration::from_millis(
            ticks * 1000 / clock_ticks_per_second(),
        ))
    }

    /// Closes its stdin, so that it shuts down, and waits for it.
    fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// `sysconf(_SC_CLK_TCK)`: 100 on Linux.
fn clock_ticks_per_second() -> u64 {
    rustix::param::clock_ticks_per_second()
}

/// The process's CPU time so far, every thread (live or ended).
fn process_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// 1,000 runs hold a few thousand sockets at once: the soft limit of open
/// files goes up to the hard one (the emulator, started after, inherits it).
fn raise_open_files_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    let _ = setrlimit(Resource::Nofile, limit);
}

/// Resets the peak RSS; returns the current RSS (Linux only).
fn peak_rss_reset() -> Option<usize> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    status_kib("VmRSS:").map(|k| k * 1024)
}

/// The process's peak resident bytes since the last reset.
fn peak_rss() -> Option<usize> {
    status_kib("VmHWM:").map(|k| k * 1024)
}

fn status_kib(key: &str) -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}
