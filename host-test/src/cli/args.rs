//! The flags of `run`, `validate` and `mcp`: the node's input, its settings,
//! credentials and the limits of runs.

use std::path::PathBuf;

use clap::Args;
#[cfg(feature = "emulator")]
use host_test::emulated;

/// The flags of `run` and `validate`.
#[derive(Args)]
pub struct RunArgs {
    /// The node's input.
    #[command(flatten)]
    pub input: InputArgs,
    /// Settings, credentials and limits.
    #[command(flatten)]
    pub settings: SettingsArgs,
}

/// The flags of `validate`: those of `run`, and where to write the staged file.
#[derive(Args)]
pub struct ValidateArgs {
    /// The node's input, settings and limits, as for `run`.
    #[command(flatten)]
    pub run: RunArgs,
    /// When the data is valid, also write the file a run would stage in S3
    /// (CSV, or newline-delimited JSON for JSON data) to this path.
    #[arg(long, value_name = "PATH")]
    pub staged_file: Option<PathBuf>,
}

/// The node's input: a JSON file, or the four fields as flags.
#[derive(Args)]
pub struct InputArgs {
    /// The seed's input as a JSON file (`-` for stdin).
    #[arg(long, conflicts_with_all = ["application_id", "segment_name", "format", "data_file"])]
    pub input: Option<PathBuf>,
    /// Pinpoint project (application) id.
    #[arg(long, requires_all = ["segment_name", "format", "data_file"])]
    pub application_id: Option<String>,
    /// Name of the new segment.
    #[arg(long)]
    pub segment_name: Option<String>,
    /// Format of the data file.
    #[arg(long, value_parser = ["CSV", "JSON"])]
    pub format: Option<String>,
    /// File with the endpoint data (`-` for stdin).
    #[arg(long)]
    pub data_file: Option<PathBuf>,
    /// What to do when a segment of the name exists, made from other data:
    /// `fail` (DuplicateSegmentName) or `new_version` (import into it as a
    /// new version, keeping its id). Overrides the input's `on_existing`
    /// [default: the input's, else fail].
    #[arg(long, value_parser = ["fail", "new_version"])]
    pub on_existing: Option<String>,
}

/// Settings, credentials and limits of runs: shared by `run`, `validate` and `mcp`.
#[derive(Args)]
pub struct SettingsArgs {
    /// AWS region [env: AWS_REGION, AWS_DEFAULT_REGION, or the profile's].
    #[arg(long)]
    pub region: Option<String>,
    /// Staging bucket [env: PINPOINT_IMPORT_BUCKET].
    #[arg(long)]
    pub bucket: Option<String>,
    /// IAM role Pinpoint assumes to read the staged file [env: PINPOINT_IMPORT_ROLE_ARN].
    #[arg(long)]
    pub role_arn: Option<String>,
    /// Key prefix of staged files [env: PINPOINT_IMPORT_PREFIX].
    #[arg(long)]
    pub prefix: Option<String>,
    /// Endpoint for both services [env: AWS_ENDPOINT_URL].
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// Pinpoint endpoint [env: AWS_ENDPOINT_URL_PINPOINT].
    #[arg(long)]
    pub pinpoint_endpoint: Option<String>,
    /// S3 endpoint [env: AWS_ENDPOINT_URL_S3].
    #[arg(long)]
    pub s3_endpoint: Option<String>,
    /// Shared-config profile for credentials and region [env: AWS_PROFILE].
    #[arg(long)]
    pub profile: Option<String>,
    /// Use AWS even though no endpoint is set (otherwise the embedded emulator runs).
    #[arg(long, conflicts_with = "emulator")]
    pub aws: bool,
    /// Use the embedded emulator even if endpoints are set.
    #[arg(long)]
    pub emulator: bool,
    /// Return right after the import job is created.
    #[arg(long)]
    pub no_wait: bool,
    /// Any node setting, as KEY=VALUE (repeatable): see `describe`.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub set: Vec<(String, String)>,
    /// Host deadline for the whole run, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub deadline_seconds: u64,
    /// Memory cap of the component, in MiB.
    #[arg(long, default_value_t = 4096)]
    pub memory_limit_mib: usize,
    /// Show log lines (and, when stderr is not a terminal, each stage) on stderr.
    #[arg(long, short)]
    pub verbose: bool,
    /// How long the embedded emulator's import jobs take per status step, in
    /// milliseconds (a job has about a dozen steps).
    #[cfg(feature = "emulator")]
    #[arg(long, default_value_t = emulated::CLI_JOB_STEP.as_millis() as u64, value_name = "MS")]
    pub emulator_job_step_ms: u64,
}

/// A `--set KEY=VALUE`: the key trimmed, the value as given.
fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}
