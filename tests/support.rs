//! Shared pieces of the end-to-end tests: one compiled component per test
//! binary, an emulator per test, and the seed examples.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

pub use host_test::emulated::{Emulator, EmulatorConfig, Fault, Operation};
use host_test::node::{NodeHost, RunConfig};
pub use pinpoint_segment_import::error::{ErrorKind, NodeError};
pub use pinpoint_segment_import::import::ImportOutput;
pub use pinpoint_segment_import::input::{Format, ImportInput};

/// The node host shared by every test of a binary (the component compiles once).
pub fn node() -> &'static NodeHost {
    NodeHost::shared().expect("the component loads")
}

/// An emulator on an ephemeral loopback port.
pub async fn emulator(config: EmulatorConfig) -> Emulator {
    Emulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("the emulator starts")
}

/// A run config pointing at `emulator`, with extra settings.
pub fn config(emulator: &Emulator, extra: &[(&str, &str)]) -> RunConfig {
    let overrides: BTreeMap<String, String> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    host_test::emulated::run_config(emulator, &overrides)
}

/// The seed example files, in order.
pub fn examples() -> Vec<(String, ImportInput)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("examples/ exists")
        .map(|e| e.expect("readable").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable example");
            let input = serde_json::from_str(&text).expect("an example is the node's input");
            (
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                input,
            )
        })
        .collect()
}

/// An input for the seed application with CSV `data`.
pub fn csv_input(segment_name: &str, data: &str) -> ImportInput {
    ImportInput {
        application_id: host_test::emulated::SEED_APPLICATION_ID.into(),
        segment_name: segment_name.into(),
        format: Format::Csv,
        data: data.into(),
    }
}

/// Three valid CSV endpoints.
pub const VALID_CSV: &str =
    "ChannelType,Address\nEMAIL,a@example.com\nSMS,+12065550100\nEMAIL,b@example.com\n";

/// Settings that make retries and polling nearly instant.
pub const FAST: &[(&str, &str)] = &[
    ("poll-interval-ms", "1"),
    ("retry-base-delay-ms", "1"),
    ("retry-max-delay-ms", "5"),
];

/// [`FAST`] plus `extra` (later keys win).
pub fn fast_config(emulator: &Emulator, extra: &[(&str, &str)]) -> RunConfig {
    let mut all = FAST.to_vec();
    all.extend_from_slice(extra);
    config(emulator, &all)
}

/// How many requests of `operation` the emulator received.
pub fn count(emulator: &Emulator, operation: Operation) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| r.operation == operation)
        .count()
}

/// The keys in the default staging bucket.
pub fn staged(emulator: &Emulator) -> Vec<String> {
    emulator.objects(host_test::emulated::DEFAULT_BUCKET)
}

/// An [`EventSink`](host_test::node::EventSink) that keeps every log line and
/// progress report as text.
#[derive(Default)]
pub struct Recorder {
    lines: std::sync::Mutex<Vec<String>>,
}

impl Recorder {
    /// Everything recorded so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("recorder lock").clone()
    }
}

impl host_test::node::EventSink for Recorder {
    fn log(&self, level: host_test::node::LogLevel, message: &str) {
        self.lines
            .lock()
            .expect("recorder lock")
            .push(format!("log {level:?}: {message}"));
    }

    fn progress(
        &self,
        stage: pinpoint_segment_import::import::Stage,
        completed: u64,
        total: Option<u64>,
    ) {
        self.lines
            .lock()
            .expect("recorder lock")
            .push(format!("progress {} {completed}/{total:?}", stage.name()));
    }
}
