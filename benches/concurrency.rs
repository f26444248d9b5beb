//! Many concurrent imports in one host against the emulator.
//!
//! `cargo bench -p host-test --bench concurrency` makes one `NodeHost` whose
//! pool has 1,000 slots and, for N = 1, 10, 100 and 1,000, starts a fresh
//! emulator (`pinpoint-import emulator --port 0`, the CLI's emulator: jobs
//! step every 25 ms) and N imports of the seed example at once (segment
//! names made unique per run, so every run creates its own segment in the
//! seed's one application), on a tokio runtime with one worker per core.
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
//!   the round, divided by N;
//! - emulator CPU per run: the emulator process's, for reference;
//! - GetSegments pages per run (mean): the duplicate-name check reads every
//!   segment of the application, 100 per page, so the runs of a round read
//!   more pages as the round's segments pile up.
//!
//! The emulator runs in its own process so that the host's CPU and memory
//! are the bench process's own, read from the kernel with nothing to
//! subtract (in-process, its threads, its blocking pool and its request log
//! would have to be told apart from the host's).
//!
//! Run without `--bench` (as `cargo test --benches` does) it only does
//! N = 1 and 10. `BENCH_RUNS=1,50` picks other N; `BENCH_POLL_MS` the
//! node's `poll-interval-ms` (default 10).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use host_test::credentials::Static;
use host_test::emulated;
use host_test::node::{EventSink, HostConfig, LogLevel, NodeHost, RunConfig};
use pinpoint_segment_import::import::Stage;
use pinpoint_segment_import::input::ImportInput;

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let rounds: Vec<usize> = match std::env::var("BENCH_RUNS") {
        Ok(s) => s.split(',').filter_map(|x| x.trim().parse().ok()).collect(),
        Err(_) if bench => vec![1, 10, 100, 1000],
        Err(_) => vec![1, 10],
    };
    let poll_ms: u64 = std::env::var("BENCH_POLL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    raise_open_files_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let slots = rounds.iter().copied().max().unwrap_or(1) as u32;
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
    for &n in &rounds {
        let emulator = EmulatorProcess::start();
        let config = run_config(&emulator.url, poll_ms);
        // One run first: the TCP stack, the allocator, a slot of the pool.
        let warm = runtime.block_on(round(&host, &seed, &config, "warmup", 1));
        assert_eq!(
            warm.errors, 0,
            "the warm-up run failed: {:?}",
            warm.first_error
        );
        // Small N is repeated (one round after the other) up to 100 runs.
        let repeats = if bench { (100 / n).max(1) } else { 1 };
        let rss_before = peak_rss_reset();
        let cpu_before = process_cpu();
        let emulator_before = emulator.cpu();
        let mut row = Row {
            n,
            ..Row::default()
        };
        for r in 0..repeats {
            let tag = format!("n{n}r{r}");
            row.add(runtime.block_on(round(&host, &seed, &config, &tag, n)));
        }
        row.host_cpu = process_cpu().saturating_sub(cpu_before);
        row.emulator_cpu = emulator
            .cpu()
            .zip(emulator_before)
            .map(|(a, b)| a.saturating_sub(b));
        row.rss_before = rss_before;
        row.peak_rss = rss_before.and(peak_rss());
        eprintln!(
            "N = {n}: {} errors in {:.2} s",
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
    rounds: usize,
    errors: usize,
    first_error: Option<String>,
    wall: Duration,
    latencies: Vec<Duration>,
    instantiations: Vec<Duration>,
    pages: Vec<u64>,
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
        self.pages.extend(round.pages);
    }

    fn runs(&self) -> usize {
        (self.n * self.rounds).max(1)
    }
}

/// Records a run's instantiation time and GetSegments pages.
#[derive(Default)]
struct Timing {
    instantiated: Mutex<Option<Duration>>,
    pages: Mutex<u64>,
}

impl EventSink for Timing {
    fn log(&self, _: LogLevel, _: &str) {}
    fn progress(&self, stage: Stage, completed: u64, _: Option<u64>) {
        if stage == Stage::CheckingSegments {
            let mut pages = self.pages.lock().expect("not poisoned");
            *pages = (*pages).max(completed);
        }
    }
    fn instantiated(&self, elapsed: Duration) {
        *self.instantiated.lock().expect("not poisoned") = Some(elapsed);
    }
}

/// Starts `n` runs at once and waits for all of them.
async fn round(
    host: &NodeHost,
    seed: &ImportInput,
    config: &RunConfig,
    tag: &str,
    n: usize,
) -> Row {
    let (go, ready) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::with_capacity(n);
    for k in 0..n {
        let host = host.clone();
        let mut input = seed.clone();
        input.segment_name = format!("{}_{tag}_{k}", seed.segment_name);
        let timing = Arc::new(Timing::default());
        let mut config = config.clone();
        config.events = timing.clone();
        let mut ready = ready.clone();
        tasks.push(tokio::spawn(async move {
            let _ = ready.wait_for(|go| *go).await;
            let outcome = host.run(&input, &config).await;
            let done = Instant::now();
            let instantiated = *timing.instantiated.lock().expect("not poisoned");
            let pages = *timing.pages.lock().expect("not poisoned");
            (outcome, done, instantiated, pages)
        }));
    }
    let start = Instant::now();
    go.send_replace(true);
    let mut row = Row {
        n,
        ..Row::default()
    };
    for task in tasks {
        let (outcome, done, instantiated, pages) = task.await.expect("the run's task");
        row.pages.push(pages);
        row.latencies.push(done.saturating_duration_since(start));
        row.instantiations.extend(instantiated);
        match outcome {
            Ok(out) if out.job_status == "COMPLETED" && out.endpoints_imported == Some(3) => {}
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
        "| N | rounds | errors | runs/s | latency p50 ms | latency p99 ms | instantiation p50 ms | instantiation p99 ms | RSS before MiB | peak RSS MiB | host CPU/run ms | emulator CPU/run ms | GetSegments pages/run |"
    );
    let _ = writeln!(out, "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for r in rows {
        let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1e3);
        let per_run = |d: Duration| ms(d / r.runs() as u32);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} |",
            r.n,
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
            r.pages.iter().sum::<u64>() as f64 / r.runs() as f64,
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

/// `pinpoint-import emulator --port 0`, built with this bench.
struct EmulatorProcess {
    child: Child,
    url: String,
}

impl EmulatorProcess {
    fn start() -> EmulatorProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pinpoint-import"))
            .args(["emulator", "--port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the emulator starts");
        let stderr = child.stderr.take().expect("piped");
        let mut lines = BufReader::new(stderr).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("the emulator says where it listens")
                .expect("its stderr");
            if let Some(at) = line.split("listening at ").nth(1) {
                break at.trim().to_owned();
            }
        };
        // Keep reading its stderr, so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
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

    /// Stops it as a user would (SIGINT), so that it removes its directory.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
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
