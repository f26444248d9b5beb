//! Throughput of read + validate + convert, natively and inside the component.
//!
//! `cargo bench -p host-test --bench throughput` generates realistic endpoint
//! data (mixed channels, user ids, custom attributes, multi-valued columns,
//! nested JSON) of about 1 MB and 100 MB, as CSV and as a pretty-printed JSON
//! array, and times:
//! - native: `pinpoint_segment_import::endpoints::prepare`;
//! - component: `NodeHost::validate` (a fresh store and instance per call, the
//!   data copied into the guest, then the same `prepare` compiled to wasm).
//!
//! It prints one table: MB/s (input bytes, 10^6 per MB, median of the
//! iterations) side by side with the ratio, and the peak memory of each: the
//! native run's peak heap above what was allocated before it, and the
//! component run's peak resident memory above the process's before it (the
//! guest's linear memory plus the host's copy of the input; Linux only).
//! A size the component cannot finish (its 4 GiB memory cap) shows as failed.
//!
//! Run without `--bench` (as `cargo test --benches` does) it only checks a
//! small case once. `BENCH_SIZES_MB=1,10` picks other sizes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use host_test::credentials::Static;
use host_test::node::{NodeHost, RunConfig};
use pinpoint_segment_import::endpoints::{Limits, prepare};
use pinpoint_segment_import::input::{Format, ImportInput};
use serde_json::{Map, Value, json};

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let sizes: Vec<f64> = match std::env::var("BENCH_SIZES_MB") {
        Ok(s) => s.split(',').filter_map(|x| x.trim().parse().ok()).collect(),
        Err(_) if bench => vec![1.0, 100.0],
        Err(_) => vec![0.05],
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let started = Instant::now();
    let host = NodeHost::new().expect("the component loads");
    eprintln!(
        "component loaded in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let mut config = RunConfig::new(BTreeMap::new(), Arc::new(Static::new("", "", None)));
    config.memory_limit_bytes = 4 << 30;

    let mut rows = Vec::new();
    for &mb in &sizes {
        let target = (mb * 1e6) as usize;
        let iterations = match (bench, mb >= 50.0) {
            (false, _) => 1,
            (true, false) => 10,
            (true, true) => 2,
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
            rows.push(measure(&runtime, &host, &config, format, data, iterations));
        }
    }
    print_table(&rows);
}

/// One line of the table.
struct Row {
    format: Format,
    bytes: usize,
    endpoints: u64,
    iterations: usize,
    native: Duration,
    component: Duration,
    native_peak: usize,
    component_peak: Option<usize>,
    /// Why the component failed (e.g. its memory cap), if it did.
    component_error: Option<String>,
}

fn measure(
    runtime: &tokio::runtime::Runtime,
    host: &NodeHost,
    config: &RunConfig,
    format: Format,
    data: String,
    iterations: usize,
) -> Row {
    let limits = Limits::default();
    let bytes = data.len();

    // Native: one untimed run that measures the peak heap, then the timed ones.
    let before = PEAK.start();
    let prepared = prepare(format, &data, &limits).expect("the generated data is valid");
    let native_peak = PEAK.stop().saturating_sub(before);
    let endpoints = prepared.endpoint_count;
    let staged = prepared.staged_bytes();
    drop(prepared);
    let native = median(
        (0..iterations)
            .map(|_| {
                let t = Instant::now();
                let p = prepare(format, &data, &limits).expect("valid");
                let elapsed = t.elapsed();
                drop(p);
                elapsed
            })
            .collect(),
    );

    // The component: the same input through `validate`.
    let input = ImportInput {
        application_id: "bench".into(),
        segment_name: "bench".into(),
        format,
        data,
    };
    let validate = || {
        let t = Instant::now();
        let report = runtime.block_on(host.validate(&input, config))?;
        let elapsed = t.elapsed();
        assert_eq!(report.endpoint_count, endpoints);
        assert_eq!(report.bytes_to_stage, staged);
        Ok::<_, pinpoint_segment_import::error::NodeError>(elapsed)
    };
    let rss_before = peak_rss_reset();
    let first = validate();
    let component_peak =
        rss_before.and_then(|before| peak_rss().map(|peak| peak.saturating_sub(before)));
    let (times, component_error) = match first {
        Ok(t) => {
            let mut times = vec![t];
            for _ in 1..iterations {
                times.push(validate().expect("the component passed this data before"));
            }
            (times, None)
        }
        Err(e) => {
            eprintln!("the component failed: {}: {}", e.kind, e.message);
            (vec![Duration::MAX], Some(e.kind.to_string()))
        }
    };
    Row {
        format,
        bytes,
        endpoints,
        iterations,
        native,
        component: median(times),
        native_peak,
        component_peak,
        component_error,
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    let n = times.len();
    if n % 2 == 1 {
        times[n / 2]
    } else {
        (times[n / 2 - 1] + times[n / 2]) / 2
    }
}

fn print_table(rows: &[Row]) {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nread + validate + convert (MB = 10^6 bytes of input; median of the iterations)\n"
    );
    let _ = writeln!(
        out,
        "| data | size MB | endpoints | iters | native MB/s | component MB/s | native/component | native peak heap MB | component peak RSS MB |"
    );
    let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|");
    for r in rows {
        let mb = r.bytes as f64 / 1e6;
        let native = mb / r.native.as_secs_f64();
        let component = mb / r.component.as_secs_f64();
        let (component, ratio) = match &r.component_error {
            Some(kind) => (format!("failed: {kind}"), "-".to_owned()),
            None => (
                format!("{component:.1}"),
                format!("{:.2}x", native / component),
            ),
        };
        let peak = r
            .component_peak
            .map_or_else(|| "n/a".to_owned(), |p| format!("{:.0}", p as f64 / 1e6));
        let _ = writeln!(
            out,
            "| {} | {mb:.1} | {} | {} | {native:.1} | {component} | {ratio} | {:.0} | {peak} |",
            if r.format == Format::Csv {
                "CSV"
            } else {
                "JSON (pretty array)"
            },
            r.endpoints,
            r.iterations,
            r.native_peak as f64 / 1e6,
        );
    }
    print!("{out}");
}

// ---- data --------------------------------------------------------------

/// A small deterministic generator (xorshift64*), so every run measures the
/// same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const FIRST: &[&str] = &[
    "John", "Jane", "Alice", "María", "Li", "Sam", "Zoë", "Omar", "Priya", "Lukas", "Aiko",
    "O'Neil",
];
const LAST: &[&str] = &[
    "Doe", "Smith", "Johnson", "García", "Wei", "Taylor", "Müller", "Haddad", "Patel", "Kowalski",
];
const DOMAINS: &[&str] = &["example.com", "example.org", "mail.example.net"];
const INTERESTS: &[&str] = &[
    "Travel",
    "Food",
    "Technology",
    "Sports",
    "Music",
    "Books",
    "Outdoors",
    "Fashion",
    "Gaming",
    "Film",
    "Art, Design",
    "Finance",
];
const PLANS: &[&str] = &["free", "pro", "enterprise"];
const PLACES: &[(&str, &str, &str)] = &[
    ("US", "New York", "en_US"),
    ("US", "Washington, D.C.", "en_US"),
    ("ES", "Madrid", "es_ES"),
    ("CN", "Shanghai", "zh_CN"),
    ("DE", "München", "de_DE"),
    ("JP", "Tokyo", "ja_JP"),
    ("IN", "Bengaluru", "en_IN"),
    ("BR", "São Paulo", "pt_BR"),
];

/// One endpoint in Pinpoint's JSON shape.
fn endpoint(rng: &mut Rng, i: u64) -> Value {
    let first = rng.pick(FIRST);
    let last = rng.pick(LAST);
    let (channel, address) = match rng.below(20) {
        0..=9 => (
            "EMAIL",
            format!(
                "{}.{}{i}@{}",
                first.to_lowercase().replace('\'', ""),
                last.to_lowercase(),
                rng.pick(DOMAINS)
            ),
        ),
        10..=14 => (
            "SMS",
            format!("+1{}", 2_000_000_000 + rng.below(7_999_999_999)),
        ),
        15..=16 => ("APNS", format!("{:016x}{:016x}", rng.next(), rng.next())),
        17..=18 => ("GCM", format!("{:016x}{:016x}", rng.next(), rng.next())),
        _ => (
            "VOICE",
            format!("+44{}", 7_000_000_000 + rng.below(999_999_999)),
        ),
    };
    let (country, city, locale) = PLACES[rng.below(PLACES.len() as u64) as usize];
    let mut e = Map::new();
    e.insert("ChannelType".into(), json!(channel));
    e.insert("Address".into(), json!(address));
    e.insert(
        "OptOut".into(),
        json!(if rng.below(10) == 0 { "ALL" } else { "NONE" }),
    );
    if rng.below(4) == 0 {
        e.insert("EffectiveDate".into(), json!("2024-10-01T12:00:00Z"));
    }
    let mut demographic = Map::new();
    demographic.insert("Locale".into(), json!(locale));
    if matches!(channel, "APNS" | "GCM") {
        let platform = if channel == "APNS" { "ios" } else { "android" };
        demographic.insert("Platform".into(), json!(platform));
    }
    e.insert("Demographic".into(), Value::Object(demographic));
    e.insert(
        "Location".into(),
        json!({ "City": city, "Country": country }),
    );
    let interests: Vec<&str> = (0..rng.below(4)).map(|_| rng.pick(INTERESTS)).collect();
    let mut attributes = Map::new();
    if !interests.is_empty() {
        attributes.insert("Interests".into(), json!(interests));
    }
    attributes.insert("Plan".into(), json!([rng.pick(PLANS)]));
    e.insert("Attributes".into(), Value::Object(attributes));
    e.insert(
        "Metrics".into(),
        json!({ "purchases": rng.below(200), "score": rng.below(400) as f64 / 4.0 }),
    );
    e.insert(
        "User".into(),
        json!({
            // At most 3 endpoints per user (Pinpoint allows 15).
            "UserId": format!("user_{:07}", i / 3),
            "UserAttributes": { "FirstName": [first], "LastName": [last] },
        }),
    );
    Value::Object(e)
}

/// About `target` bytes of endpoint data in `format`.
fn generate(format: Format, target: usize) -> String {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    match format {
        Format::Json => {
            let mut out = String::with_capacity(target + 4096);
            out.push_str("[\n");
            let mut i = 0;
            while out.len() < target {
                if i > 0 {
                    out.push_str(",\n");
                }
                let text = serde_json::to_string_pretty(&endpoint(&mut rng, i)).expect("JSON");
                // Indent the object as an element of the pretty array.
                for (n, line) in text.lines().enumerate() {
                    if n > 0 {
                        out.push('\n');
                    }
                    out.push_str("  ");
                    out.push_str(line);
                }
                i += 1;
            }
            out.push_str("\n]\n");
            out
        }
        Format::Csv => {
            let header = [
                "ChannelType",
                "Address",
                "OptOut",
                "EffectiveDate",
                "Demographic.Locale",
                "Demographic.Platform",
                "Location.City",
                "Location.Country",
                "User.UserId",
                "User.UserAttributes.FirstName",
                "User.UserAttributes.LastName",
                "Attributes.Interests",
                "Attributes.Interests",
                "Attributes.Interests",
                "Attributes.Plan",
                "Metrics.purchases",
                "Metrics.score",
            ];
            let mut out = String::with_capacity(target + 4096);
            out.push_str(&header.join(","));
            out.push('\n');
            let mut i = 0;
            while out.len() < target {
                let e = endpoint(&mut rng, i);
                let text = |v: &Value| match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                let interests = e["Attributes"]["Interests"].as_array();
                let interest = |n: usize| {
                    interests
                        .and_then(|l| l.get(n))
                        .map(text)
                        .unwrap_or_default()
                };
                let cells = [
                    text(&e["ChannelType"]),
                    text(&e["Address"]),
                    text(&e["OptOut"]),
                    text(&e["EffectiveDate"]),
                    text(&e["Demographic"]["Locale"]),
                    text(&e["Demographic"]["Platform"]),
                    text(&e["Location"]["City"]),
                    text(&e["Location"]["Country"]),
                    text(&e["User"]["UserId"]),
                    text(&e["User"]["UserAttributes"]["FirstName"][0]),
                    text(&e["User"]["UserAttributes"]["LastName"][0]),
                    interest(0),
                    interest(1),
                    interest(2),
                    text(&e["Attributes"]["Plan"][0]),
                    text(&e["Metrics"]["purchases"]),
                    text(&e["Metrics"]["score"]),
                ];
                for (n, cell) in cells.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    if cell.contains([',', '"']) {
                        out.push('"');
                        out.push_str(&cell.replace('"', "\"\""));
                        out.push('"');
                    } else {
                        out.push_str(cell);
                    }
                }
                out.push('\n');
                i += 1;
            }
            out
        }
    }
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
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}
