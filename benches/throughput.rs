//! Throughput and memory of the check, natively and inside the component,
//! beside a bare parse of the same bytes; and the peak memory of the
//! `pinpoint-import` processes.
//!
//! `cargo bench -p host-test --bench throughput` generates realistic endpoint
//! data (mixed channels, user ids, custom attributes, multi-valued columns,
//! nested JSON) of about 1 MB and 100 MB, as CSV and as a pretty-printed JSON
//! array, and times (MB = 10^6 bytes of input, median of the iterations):
//! - bare parse: the `csv` crate's reader over every record, or
//!   `serde_json::from_str::<Value>` of the whole text: the cost of reading
//!   alone, so the cost of the rules shows beside it;
//! - native: `import::validate` (the streaming check of every rule, counting
//!   the staged file without writing it);
//! - component: `NodeHost::validate_owned` (a fresh store and instance per
//!   call, the data copied into the guest, then the same check compiled to
//!   wasm);
//!
//! with the component/native time ratio, the native run's peak heap, and how
//! far the process's resident memory grew during the component's last run
//! (Linux: the guest's linear memory, what the host allocates for it), also
//! as a multiple of the data. What the bench held before (its own copies of
//! the data, what its native passes left in the allocator) is not counted:
//! the peak resident memory of a `pinpoint-import` process is the CLI
//! table's (below).
//!
//! When `python3` is on the `PATH`, the same file is also read by what a user
//! would script instead, timed inside Python (median of the iterations, the
//! interpreter's start left out): a bare `csv.reader` loop over every row (no
//! checks at all), or a `json.load`; the table beside it gives the
//! component's time as a multiple of Python's, against issue 17's targets
//! (CSV at most 0.33x, JSON at most 0.2x). `BENCH_BASELINE_WASM=PATH`
//! also times the component at `PATH` (an earlier build) on the same data,
//! beside this one: a before-and-after in one run.
//!
//! Then the `pinpoint-import` binary itself: `validate` and `run` (against
//! the embedded emulator, which the CLI starts when no endpoint is set) of a
//! CSV file of 100 MB and of exactly 1,000,000,000 bytes, and `validate` of
//! a pretty JSON file of about the same size, each a child
//! process whose peak resident memory (`/usr/bin/time`'s maximum resident
//! set size, else `VmHWM` polled) and time are printed, as a multiple of the
//! data too, and each `run`'s time split by stage (validate, hash, look-ups,
//! upload, job: see `throughput/run_stages.rs`). Up to 100 MB, the same
//! `run` is also timed against a `pinpoint-import emulator` beside the AWS
//! CLI doing the same import (`aws s3 cp`, `aws pinpoint create-import-job`,
//! a `get-import-job` loop) against it, the two taking turns for
//! `BENCH_RUN_ROUNDS` rounds (default 3), with the median ratio; without `python3`
//! (to install the pinned AWS CLI under `target/`) the bench says it skipped
//! that comparison. `BENCH_SIZES_MB=1,10` and `BENCH_CLI_SIZES_MB=100` pick
//! other sizes (`BENCH_CLI_SIZES_MB=` none).
//!
//! Run without `--bench` (as `cargo test --benches` does) it only checks
//! small cases once.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use host_test::credentials::Static;
use host_test::node::{NodeHost, RunConfig};
use pinpoint_segment_import::endpoints::Limits;
use pinpoint_segment_import::import;
use pinpoint_segment_import::input::{Format, ImportInput};
use serde_json::Value;

#[path = "throughput/data.rs"]
mod data;
#[path = "throughput/run_stages.rs"]
mod run_stages;

use data::{exact_csv, generate};

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let small: &[f64] = &[0.05];
    let sizes_mb = env_sizes("BENCH_SIZES_MB", if bench { &[1.0, 100.0] } else { small });
    let cli_sizes = env_sizes(
        "BENCH_CLI_SIZES_MB",
        if bench { &[100.0, 1000.0] } else { small },
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let started = Instant::now();
    let host = NodeHost::new().expect("the component loads");
    let baseline = std::env::var_os("BENCH_BASELINE_WASM").map(|path| {
        let bytes = std::fs::read(&path).expect("the baseline component is read");
        let host = NodeHost::from_component(&bytes).expect("the baseline component loads");
        (Path::new(&path).display().to_string(), host)
    });
    eprintln!(
        "component loaded in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let mut config = RunConfig::new(BTreeMap::new(), Arc::new(Static::new("", "", None)));
    config.memory_limit_bytes = 4 << 30;

    let mut rows = Vec::new();
    for &mb in &sizes_mb {
        let target = (mb * 1e6) as usize;
        let iterations = match (bench, mb >= 50.0) {
            (false, _) => 1,
            (true, false) => 10,
            (true, true) => 3,
        };
        for format in [Format::Csv, Format::Json] {
            let t = Instant::now();
            let data = generate(format, target);
            eprintln!(
                "{} {:.1} MB generated in {:.1} s; measuring {iterations} iteration(s) each",
                format.as_str(),
                data.len() as f64 / 1e6,
                t.elapsed().as_secs_f64()
            );
            let baseline = baseline.as_ref().map(|(_, host)| host);
            rows.push(measure(
                &runtime, &host, baseline, &config, format, data, iterations,
            ));
        }
    }
    print_table(&rows, baseline.as_ref().map(|(path, _)| path.as_str()));

    // A copy of the binary: the shared target directory's may be rebuilt
    // by another build while this one runs.
    let bin_dir = tempfile::tempdir().expect("a temporary directory");
    let exe = bin_dir.path().join("pinpoint-import");
    std::fs::copy(env!("CARGO_BIN_EXE_pinpoint-import"), &exe).expect("the binary is copied");
    let mut cli = Vec::new();
    for &mb in &cli_sizes {
        cli.extend(measure_cli(&exe, mb, bench));
    }
    print_cli_table(&cli);
}

/// Sizes in MB from the environment variable `key`, else `default`.
fn env_sizes(key: &str, default: &[f64]) -> Vec<f64> {
    match std::env::var(key) {
        Ok(s) => s.split(',').filter_map(|x| x.trim().parse().ok()).collect(),
        Err(_) => default.to_vec(),
    }
}

/// One line of the table.
struct Row {
    format: Format,
    bytes: usize,
    endpoints: u64,
    iterations: usize,
    bare: Duration,
    native: Duration,
    component: Duration,
    native_peak: usize,
    component_peak: Option<usize>,
    /// Why the component failed (e.g. its memory cap), if it did.
    component_error: Option<String>,
    /// Python's time for the same file (`csv.reader` loop or `json.load`),
    /// or why there is none.
    python: Result<Duration, String>,
    /// The baseline component's time (`BENCH_BASELINE_WASM`), if asked.
    baseline: Option<Duration>,
}

fn measure(
    runtime: &tokio::runtime::Runtime,
    host: &NodeHost,
    baseline: Option<&NodeHost>,
    config: &RunConfig,
    format: Format,
    data: String,
    iterations: usize,
) -> Row {
    let limits = Limits::default();
    let bytes = data.len();
    let input = ImportInput {
        application_id: "bench".into(),
        segment_name: "bench".into(),
        format,
        data,
    };

    let bare = median_time(
        (0..iterations)
            .map(|_| bare_parse(format, &input.data))
            .collect(),
    );
    let python = python_parse(format, &input.data, iterations);

    // Native: one untimed run that measures the peak heap, then the timed ones.
    let before = PEAK.start();
    let report = import::validate(&input, &limits).expect("the generated data is valid");
    let native_peak = PEAK.stop().saturating_sub(before);
    let endpoints = report.endpoint_count;
    let staged = report.bytes_to_stage;
    let native = median_time(
        (0..iterations)
            .map(|_| {
                let t = Instant::now();
                let r = import::validate(&input, &limits).expect("valid");
                let elapsed = t.elapsed();
                assert_eq!(r.bytes_to_stage, staged);
                elapsed
            })
            .collect(),
    );

    // The component: the same input through `validate`, the data moved into
    // the component's input. The timed runs take copies; the last run takes
    // the original, the host's only copy then: its peak is what the CLI's
    // would be, and is the one measured.
    let validate = |input: ImportInput| {
        let t = Instant::now();
        let report = runtime.block_on(host.validate_owned(input, config))?;
        let elapsed = t.elapsed();
        assert_eq!(report.endpoint_count, endpoints);
        assert_eq!(report.bytes_to_stage, staged);
        Ok::<_, pinpoint_segment_import::error::NodeError>(elapsed)
    };
    let baseline = baseline.map(|base| {
        median_time(
            (0..iterations)
                .map(|_| {
                    let t = Instant::now();
                    let report = runtime
                        .block_on(base.validate_owned(input.clone(), config))
                        .expect("the baseline component validates");
                    let elapsed = t.elapsed();
                    assert_eq!(report.endpoint_count, endpoints);
                    elapsed
                })
                .collect(),
        )
    });
    let mut times = Vec::new();
    let mut component_error = None;
    for _ in 1..iterations {
        match validate(input.clone()) {
            Ok(t) => times.push(t),
            Err(e) => {
                component_error = Some(e);
                break;
            }
        }
    }
    let mut component_peak = None;
    if component_error.is_none() {
        let before = peak_rss_reset();
        match validate(input) {
            Ok(t) => times.push(t),
            Err(e) => component_error = Some(e),
        }
        // What the bench holds already (its copies of the data, what its
        // native passes left in the allocator) is not the component's.
        component_peak = peak_rss()
            .zip(before)
            .map(|(peak, before)| peak.saturating_sub(before));
    }
    let component_error = component_error.map(|e| {
        eprintln!("the component failed: {}: {}", e.kind, e.message);
        times = vec![Duration::MAX];
        e.kind.to_string()
    });
    Row {
        format,
        bytes,
        endpoints,
        iterations,
        bare,
        native,
        component: median_time(times.clone()),
        native_peak,
        component_peak,
        component_error,
        python,
        baseline,
    }
}

/// What a user would script instead of the node, timed inside Python.
const PYTHON_SCRIPT: &str = r#"
import csv, json, sys, time
path, kind, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
times = []
for _ in range(n):
    t = time.perf_counter()
    if kind == "csv":
        rows = 0
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.reader(f):
                rows += 1
    else:
        with open(path, encoding="utf-8") as f:
            json.load(f)
    times.append(time.perf_counter() - t)
times.sort()
print(times[len(times) // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) / 2)
"#;

/// The median time of `iterations` Python reads of `data` from a file: a
/// bare `csv.reader` loop or a `json.load`; why not, when there is no `python3`.
fn python_parse(format: Format, data: &str, iterations: usize) -> Result<Duration, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("data");
    std::fs::write(&path, data).map_err(|e| e.to_string())?;
    let kind = match format {
        Format::Csv => "csv",
        Format::Json => "json",
    };
    let output = Command::new("python3")
        .args(["-c", PYTHON_SCRIPT])
        .arg(&path)
        .arg(kind)
        .arg(iterations.to_string())
        .output()
        .map_err(|e| format!("no python3 ({e})"))?;
    if !output.status.success() {
        return Err(format!(
            "python3 failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("python3 printed {text:?}"))?;
    Ok(Duration::from_secs_f64(seconds))
}

/// The time of a bare parse of `data`: every CSV record, or the whole JSON.
fn bare_parse(format: Format, data: &str) -> Duration {
    let t = Instant::now();
    match format {
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .from_reader(data.as_bytes());
            let mut record = csv::StringRecord::new();
            let mut fields = 0usize;
            while reader.read_record(&mut record).expect("CSV") {
                fields += record.len();
            }
            std::hint::black_box(fields);
        }
        Format::Json => {
            let value: Value = serde_json::from_str(data).expect("JSON");
            std::hint::black_box(&value);
        }
    }
    t.elapsed()
}

/// The median of `times` (see [`median`]).
fn median_time(times: Vec<Duration>) -> Duration {
    median(times, |a, b| (a + b) / 2)
}

/// The median of `values` (one or more): the middle one, or `mean` of the
/// middle two of an even count.
fn median<T: Copy + PartialOrd>(mut values: Vec<T>, mean: impl Fn(T, T) -> T) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        mean(values[n / 2 - 1], values[n / 2])
    }
}

fn print_table(rows: &[Row], baseline: Option<&str>) {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nvalidate: read + every rule + the staged file counted (MB = 10^6 bytes of input; median of the iterations)\n"
    );
    let _ = writeln!(
        out,
        "| data | size MB | endpoints | iters | bare parse MB/s | native MB/s | component MB/s | component/native time | native peak heap MB | component's RSS growth MB (x data) |"
    );
    let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
    for r in rows {
        let mb = r.bytes as f64 / 1e6;
        let rate = |d: Duration| mb / d.as_secs_f64();
        let (component, ratio) = match &r.component_error {
            Some(kind) => (format!("failed: {kind}"), "-".to_owned()),
            None => (
                format!("{:.1}", rate(r.component)),
                format!("{:.2}x", r.component.as_secs_f64() / r.native.as_secs_f64()),
            ),
        };
        let peak = r.component_peak.map_or_else(
            || "n/a".to_owned(),
            |p| format!("{:.0} ({:.1}x)", p as f64 / 1e6, p as f64 / r.bytes as f64),
        );
        let _ = writeln!(
            out,
            "| {} | {mb:.1} | {} | {} | {:.1} | {:.1} | {component} | {ratio} | {:.1} | {peak} |",
            if r.format == Format::Csv {
                "CSV"
            } else {
                "JSON (pretty array)"
            },
            r.endpoints,
            r.iterations,
            rate(r.bare),
            rate(r.native),
            r.native_peak as f64 / 1e6,
        );
    }
    print_python_table(&mut out, rows, baseline);
    print!("{out}");
}

/// The component's `validate` beside Python reading the same file, with the
/// ratio and issue 17's target for it.
fn print_python_table(out: &mut String, rows: &[Row], baseline: Option<&str>) {
    let _ = writeln!(
        out,
        "\nthe component's validate beside Python reading the same file (python3 {}; median of the same iterations)\n",
        python_version()
    );
    let _ = writeln!(
        out,
        "| data | size MB | component validate s | Python | Python s | component / Python | target | met |"
    );
    let _ = writeln!(out, "|---|--:|--:|---|--:|--:|--:|---|");
    let mut before = String::new();
    for r in rows {
        let (data, what, target) = match r.format {
            Format::Csv => ("CSV", "`csv.reader` loop", 0.33),
            Format::Json => ("JSON (pretty array)", "`json.load`", 0.2),
        };
        let component = r.component.as_secs_f64();
        let (python, ratio, met) = match (&r.python, &r.component_error) {
            (Err(why), _) => (why.clone(), "-".to_owned(), "-"),
            (Ok(p), Some(_)) => (format!("{:.3}", p.as_secs_f64()), "-".to_owned(), "no"),
            (Ok(p), None) => {
                let ratio = component / p.as_secs_f64();
                (
                    format!("{:.3}", p.as_secs_f64()),
                    format!("{ratio:.2}x"),
                    if ratio <= target { "yes" } else { "no" },
                )
            }
        };
        let component = match &r.component_error {
            Some(kind) => format!("failed: {kind}"),
            None => format!("{component:.3}"),
        };
        let _ = writeln!(
            out,
            "| {data} | {:.1} | {component} | {what} | {python} | {ratio} | <= {target}x | {met} |",
            r.bytes as f64 / 1e6
        );
        if let Some(b) = r.baseline {
            let against = match &r.python {
                Ok(p) => format!("{:.2}x", b.as_secs_f64() / p.as_secs_f64()),
                Err(_) => "-".to_owned(),
            };
            let _ = writeln!(
                before,
                "| {data} | {:.1} | {:.3} | {component} | {:.2}x | {against} |",
                r.bytes as f64 / 1e6,
                b.as_secs_f64(),
                r.component.as_secs_f64() / b.as_secs_f64(),
            );
        }
    }
    if let Some(path) = baseline {
        let _ = writeln!(
            out,
            "\nthe baseline component ({path}) on the same data, same run\n"
        );
        let _ = writeln!(
            out,
            "| data | size MB | baseline validate s | this build s | this / baseline | baseline / Python |"
        );
        let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|");
        out.push_str(&before);
    }
}

/// `python3 --version`'s number, or `n/a`.
fn python_version() -> String {
    Command::new("python3")
        .arg("--version")
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .trim_start_matches("Python ")
                .to_owned()
        })
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "n/a".to_owned())
}

// ---- the CLI processes ------------------------------------------------

/// One CLI measurement.
struct CliRow {
    command: &'static str,
    format: Format,
    bytes: u64,
    peak: Option<u64>,
    seconds: f64,
    outcome: String,
    /// `run`: its time split by stage.
    stages: Vec<run_stages::Split>,
}

/// `validate` and `run` of a CSV file of `mb` MB (1000 MB: exactly 10^9
/// bytes) by the `pinpoint-import` binary, and `validate` of a pretty JSON
/// file of about the same size; with `compare`, up to 100 MB, also the AWS
/// CLI's import of the CSV file beside the node's.
fn measure_cli(exe: &Path, mb: f64, compare: bool) -> Vec<CliRow> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("endpoints.csv");
    let bytes = {
        let t = Instant::now();
        let data = exact_csv((mb * 1e6) as usize);
        std::fs::write(&path, data.as_bytes()).expect("the data file is written");
        eprintln!(
            "CSV file of {} bytes written in {:.1} s",
            data.len(),
            t.elapsed().as_secs_f64()
        );
        data.len() as u64
    };
    let mut rows: Vec<CliRow> = ["validate", "run"]
        .into_iter()
        .map(|command| run_cli(exe, command, Format::Csv, &path, bytes))
        .collect();
    if compare && mb <= 100.0 {
        print_aws_comparison(exe, &path, bytes);
    }
    let json = dir.path().join("endpoints.json");
    let json_bytes = {
        let data = generate(Format::Json, (mb * 1e6) as usize);
        std::fs::write(&json, data.as_bytes()).expect("the data file is written");
        data.len() as u64
    };
    rows.push(run_cli(exe, "validate", Format::Json, &json, json_bytes));
    rows
}

/// The node's `run` beside the AWS CLI's import of the same file against one
/// `pinpoint-import emulator` (see [`run_stages`]), or why it was skipped.
fn print_aws_comparison(exe: &Path, path: &Path, bytes: u64) {
    let mut out = format!(
        "\n`run` of the {bytes}-byte CSV beside the AWS CLI doing the same import, both against one `pinpoint-import emulator` on loopback\n\n"
    );
    match run_stages::compare(exe, path, bytes) {
        Err(why) => {
            let _ = writeln!(out, "skipped the AWS CLI comparison: {why}");
        }
        Ok(c) => {
            let total = |splits: &[run_stages::Split]| splits.iter().map(|s| s.seconds).sum();
            let _ = writeln!(
                out,
                "{} rounds, taking turns (the node first in rounds 1, 3, ...):\n",
                c.rounds.len()
            );
            let _ = writeln!(
                out,
                "| round | pinpoint-import run s | the AWS CLI s | ratio |"
            );
            let _ = writeln!(out, "|--:|--:|--:|--:|");
            let mut ratios = Vec::new();
            for (i, (node, aws)) in c.rounds.iter().enumerate() {
                let (node, aws): (f64, f64) = (total(node), total(aws));
                let ratio = node / aws.max(1e-9);
                ratios.push(ratio);
                let _ = writeln!(out, "| {} | {node:.2} | {aws:.2} | {ratio:.2}x |", i + 1);
            }
            let (nodes, awss): (Vec<_>, Vec<_>) = c.rounds.iter().cloned().unzip();
            let _ = writeln!(out, "\npinpoint-import run, each stage's median:\n");
            run_stages::split_table(&mut out, &run_stages::median_splits(&nodes));
            let _ = writeln!(
                out,
                "\nthe AWS CLI ({}), each step's median:\n",
                c.aws_version
            );
            run_stages::split_table(&mut out, &run_stages::median_splits(&awss));
            let ratio = median(ratios, |a, b| (a + b) / 2.0);
            let _ = writeln!(
                out,
                "\nrun / AWS CLI, the median of the rounds' ratios: {ratio:.2}x (target <= 1.00x: {})",
                if ratio <= 1.0 { "met" } else { "not met" }
            );
        }
    }
    print!("{out}");
}

/// Runs `pinpoint-import COMMAND` on the `format` file at `path`, measuring
/// the process's peak resident memory.
fn run_cli(exe: &Path, command: &'static str, format: Format, path: &Path, bytes: u64) -> CliRow {
    let mut args: Vec<String> = vec![
        command.into(),
        // One line per stage (stderr is a pipe), to split the run's time.
        "-v".into(),
        "--application-id".into(),
        host_test::emulated::SEED_APPLICATION_ID.into(),
        "--segment-name".into(),
        format!("bench-{bytes}"),
        "--format".into(),
        format.as_str().into(),
        "--data-file".into(),
        path.display().to_string(),
    ];
    let cache = run_stages::component_cache(exe);
    let time = Path::new("/usr/bin/time");
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.args(["-f", "maxrss_kib=%M"]).arg(exe);
        c
    } else {
        Command::new(exe)
    };
    // No endpoint in the environment: `run` starts the embedded emulator.
    cmd.args(args.drain(..))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env(cache.0, cache.1)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let t = Instant::now();
    let mut child = cmd.spawn().expect("pinpoint-import starts");
    let lines = run_stages::stamped_lines(&mut child, t);
    let pid = child.id();
    let (polled, output) = poll_peak(pid, child);
    let seconds = t.elapsed().as_secs_f64();
    let lines = lines.join().unwrap_or_default();
    let stderr: String = lines.iter().map(|(_, l)| format!("{l}\n")).collect();
    let stages = match command {
        "run" => run_stages::split(&lines, seconds),
        _ => Vec::new(),
    };
    let peak = stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("maxrss_kib="))
        .and_then(|k| k.trim().parse::<u64>().ok())
        .map(|k| k * 1024)
        .or(polled);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let outcome = match serde_json::from_str::<Value>(&stdout) {
        Ok(v) if v.get("error").is_some() => format!("error {}", v["error"]["type"]),
        Ok(v) if command == "run" => format!(
            "ok, {} imported",
            v["endpoints_imported"].as_u64().unwrap_or(0)
        ),
        Ok(v) => format!(
            "ok, {} endpoints",
            v["endpoint_count"].as_u64().unwrap_or(0)
        ),
        Err(_) => format!("exit {:?}: {}", output.status.code(), stderr.trim()),
    };
    eprintln!(
        "pinpoint-import {command} of {bytes} bytes of {}: {outcome} in {seconds:.1} s",
        format.as_str()
    );
    CliRow {
        command,
        format,
        bytes,
        peak,
        seconds,
        outcome,
        stages,
    }
}

/// Waits for `child`, polling `VmHWM` of process `pid` (the fallback when
/// there is no `/usr/bin/time`; with it, `pid` is `time` itself).
fn poll_peak(pid: u32, child: std::process::Child) -> (Option<u64>, std::process::Output) {
    let status_file = format!("/proc/{pid}/status");
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicUsize::new(0));
    let watcher = {
        let (done, peak) = (done.clone(), peak.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Some(kib) = std::fs::read_to_string(&status_file)
                    .ok()
                    .and_then(|s| status_value(&s, "VmHWM:"))
                {
                    peak.fetch_max(kib * 1024, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let output = child.wait_with_output().expect("pinpoint-import ends");
    done.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    let p = peak.load(Ordering::Relaxed) as u64;
    ((p > 0).then_some(p), output)
}

fn print_cli_table(rows: &[CliRow]) {
    if rows.is_empty() {
        return;
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\npinpoint-import (this build of it), each a process of its own, `run` against the embedded emulator\n"
    );
    let _ = writeln!(
        out,
        "| command | data | data bytes | outcome | seconds | peak RSS MB | peak RSS / data |"
    );
    let _ = writeln!(out, "|---|---|--:|---|--:|--:|--:|");
    for r in rows {
        let (peak, ratio) = match r.peak {
            Some(p) => (
                format!("{:.0}", p as f64 / 1e6),
                format!("{:.2}x", p as f64 / r.bytes as f64),
            ),
            None => ("n/a".into(), "n/a".into()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.1} | {peak} | {ratio} |",
            r.command,
            r.format.as_str(),
            r.bytes,
            r.outcome,
            r.seconds
        );
    }
    for r in rows.iter().filter(|r| !r.stages.is_empty()) {
        let _ = writeln!(
            out,
            "\n`run` of {} bytes into the embedded emulator, by stage (from its `-v` stage lines)\n",
            r.bytes
        );
        run_stages::split_table(&mut out, &r.stages);
    }
    print!("{out}");
}

// ---- memory ------------------------------------------------------------

/// The system allocator, counting the peak of live heap bytes while on.
struct PeakAlloc {
    on: AtomicBool,
    live: AtomicUsize,
    peak: AtomicUsize,
}

#[global_allocator]
static PEAK: PeakAlloc = PeakAlloc {
    on: AtomicBool::new(false),
    live: AtomicUsize::new(0),
    peak: AtomicUsize::new(0),
};

impl PeakAlloc {
    /// Starts counting; returns the live bytes now.
    fn start(&self) -> usize {
        let live = self.live.load(Ordering::SeqCst);
        self.peak.store(live, Ordering::SeqCst);
        self.on.store(true, Ordering::SeqCst);
        live
    }

    /// Stops counting; returns the peak since [`PeakAlloc::start`].
    fn stop(&self) -> usize {
        self.on.store(false, Ordering::SeqCst);
        self.peak.load(Ordering::SeqCst)
    }

    fn grew(&self, n: usize) {
        let live = self.live.fetch_add(n, Ordering::Relaxed) + n;
        if self.on.load(Ordering::Relaxed) {
            self.peak.fetch_max(live, Ordering::Relaxed);
        }
    }

    fn shrank(&self, n: usize) {
        self.live.fetch_sub(n, Ordering::Relaxed);
    }
}

// SAFETY: every call is passed on to `System` unchanged; only counters change.
// A counting allocator is the benchmark's way to measure peak memory.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            self.grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            self.grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) };
        self.shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            self.shrank(layout.size());
            self.grew(new_size);
        }
        p
    }
}

/// Resets the process's peak resident size to the current one (Linux:
/// `/proc/self/clear_refs`); returns the current resident bytes.
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
    status_value(&status, key)
}

/// The value in KiB of `key` in a `/proc/PID/status` text.
fn status_value(status: &str, key: &str) -> Option<usize> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}
