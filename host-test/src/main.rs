//! `pinpoint-import`: run the `import_pinpoint_segment` node from the command
//! line, against AWS or the embedded emulator.
//!
//! Contract (scripts rely on it):
//! - success: stdout is one JSON object (`segment_id`, `import_job_id`, counts), exit 0;
//! - node error: stdout is `{"error": {"type": T, "message": ..., ...}}`, exit 1;
//! - bad command line or unreadable files: a message on stderr, exit 2;
//! - SIGINT or SIGTERM during `run`/`validate`: the run is cancelled and
//!   stops within 2 s; stdout is the `Cancelled` error object, exit 130
//!   (SIGINT) or 143 (SIGTERM). A second signal exits at once.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
#[cfg(feature = "emulator")]
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use host_test::credentials::StandardChain;
#[cfg(feature = "emulator")]
use host_test::emulated::{self, Emulator};
#[cfg(feature = "mcp")]
use host_test::mcp::{self, McpServer};
use host_test::node::{EventSink, LogLevel, NodeHost, RunConfig};
use host_test::signals::Signals;
use host_test::{output, settings};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pinpoint_segment_import::error::{ErrorKind, NodeError};
use pinpoint_segment_import::import::Stage;
use pinpoint_segment_import::input::{Format, ImportInput};
use pinpoint_segment_import::settings::environment;
use serde::Serialize;

#[derive(Parser)]
#[command(
    name = "pinpoint-import",
    version,
    about = "Import endpoint data into Amazon Pinpoint as a new segment (the import_pinpoint_segment node)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Import the data as a new segment and print its id.
    Run(RunArgs),
    /// Check the input and data as `run` would, without any network.
    Validate(RunArgs),
    /// Serve the node as an MCP server on stdio: tools `import_pinpoint_segment`
    /// (run) and `validate_pinpoint_segment` (validate). Settings and
    /// credentials come from the environment and these flags, as for `run`.
    #[cfg(feature = "mcp")]
    Mcp(SettingsArgs),
    /// Print the node's descriptor (JSON).
    Describe,
    /// Write the node's component (`.wasm`), embedded in this binary, to a file.
    Component {
        /// The WASI-only component (world `node-portable`) for other runtimes,
        /// instead of the full one this host runs (world `node-component`).
        #[arg(long)]
        portable: bool,
        /// Where to write it (`-` for stdout).
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Serve the page that checks an import file in the browser, on loopback
    /// until interrupted (or write its files with --output).
    #[cfg(feature = "web")]
    Web(host_test::web::WebArgs),
    /// Serve the S3 + Pinpoint emulator on loopback until interrupted.
    #[cfg(feature = "emulator")]
    Emulator {
        /// Port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 4566)]
        port: u16,
        /// How long import jobs take per status step, in milliseconds.
        #[arg(long, default_value_t = emulated::CLI_JOB_STEP.as_millis() as u64, value_name = "MS")]
        job_step_ms: u64,
    },
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    settings: SettingsArgs,
}

/// The node's input: a JSON file, or the four fields as flags.
#[derive(Args)]
struct InputArgs {
    /// The seed's input as a JSON file (`-` for stdin).
    #[arg(long, conflicts_with_all = ["application_id", "segment_name", "format", "data_file"])]
    input: Option<PathBuf>,
    /// Pinpoint project (application) id.
    #[arg(long, requires_all = ["segment_name", "format", "data_file"])]
    application_id: Option<String>,
    /// Name of the new segment.
    #[arg(long)]
    segment_name: Option<String>,
    /// Format of the data file.
    #[arg(long, value_parser = ["CSV", "JSON"])]
    format: Option<String>,
    /// File with the endpoint data (`-` for stdin).
    #[arg(long)]
    data_file: Option<PathBuf>,
}

/// Settings, credentials and limits of runs: shared by `run`, `validate` and `mcp`.
#[derive(Args)]
struct SettingsArgs {
    /// AWS region [env: AWS_REGION, AWS_DEFAULT_REGION, or the profile's].
    #[arg(long)]
    region: Option<String>,
    /// Staging bucket [env: PINPOINT_IMPORT_BUCKET].
    #[arg(long)]
    bucket: Option<String>,
    /// IAM role Pinpoint assumes to read the staged file [env: PINPOINT_IMPORT_ROLE_ARN].
    #[arg(long)]
    role_arn: Option<String>,
    /// Key prefix of staged files [env: PINPOINT_IMPORT_PREFIX].
    #[arg(long)]
    prefix: Option<String>,
    /// Endpoint for both services [env: AWS_ENDPOINT_URL].
    #[arg(long)]
    endpoint_url: Option<String>,
    /// Pinpoint endpoint [env: AWS_ENDPOINT_URL_PINPOINT].
    #[arg(long)]
    pinpoint_endpoint: Option<String>,
    /// S3 endpoint [env: AWS_ENDPOINT_URL_S3].
    #[arg(long)]
    s3_endpoint: Option<String>,
    /// Shared-config profile for credentials and region [env: AWS_PROFILE].
    #[arg(long)]
    profile: Option<String>,
    /// Use AWS even though no endpoint is set (otherwise the embedded emulator runs).
    #[arg(long, conflicts_with = "emulator")]
    aws: bool,
    /// Use the embedded emulator even if endpoints are set.
    #[arg(long)]
    emulator: bool,
    /// Return right after the import job is created.
    #[arg(long)]
    no_wait: bool,
    /// Any node setting, as KEY=VALUE (repeatable): see `describe`.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    set: Vec<(String, String)>,
    /// Host deadline for the whole run, in seconds.
    #[arg(long, default_value_t = 3600)]
    deadline_seconds: u64,
    /// Memory cap of the component, in MiB.
    #[arg(long, default_value_t = 4096)]
    memory_limit_mib: usize,
    /// Show log lines (and, when stderr is not a terminal, each stage) on stderr.
    #[arg(long, short)]
    verbose: bool,
    /// How long the embedded emulator's import jobs take per status step, in
    /// milliseconds (a job has about a dozen steps).
    #[cfg(feature = "emulator")]
    #[arg(long, default_value_t = emulated::CLI_JOB_STEP.as_millis() as u64, value_name = "MS")]
    emulator_job_step_ms: u64,
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

/// A failure of the command line itself (exit 2).
struct UsageError(String);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return usage(&format!("cannot start the async runtime: {e}")),
    };
    let code = runtime.block_on(async move {
        match cli.command {
            Command::Describe => describe().await,
            Command::Component { portable, output } => write_component(portable, &output),
            #[cfg(feature = "emulator")]
            Command::Emulator { port, job_step_ms } => serve_emulator(port, job_step_ms).await,
            #[cfg(feature = "web")]
            Command::Web(args) => host_test::web::command(args, signal_notice()).await,
            Command::Run(args) => run(args, false).await,
            Command::Validate(args) => run(args, true).await,
            #[cfg(feature = "mcp")]
            Command::Mcp(args) => mcp(args).await,
        }
    });
    // Everything of ours has finished (the emulator's directory is removed);
    // a thread still blocked reading stdin (`mcp`) must not hold the exit.
    runtime.shutdown_background();
    code
}

fn usage(message: &str) -> ExitCode {
    eprintln!("pinpoint-import: {message}");
    ExitCode::from(2)
}

fn print_error(error: &NodeError) -> ExitCode {
    println!("{}", output::render_error(error).text);
    ExitCode::from(1)
}

/// A run's or validation's result on stdout (the text `mcp` returns), and
/// its exit code.
fn print_outcome(outcome: &Result<impl Serialize, NodeError>) -> ExitCode {
    let rendered = output::render(outcome);
    println!("{}", rendered.text);
    if rendered.is_error {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

async fn describe() -> ExitCode {
    match NodeHost::new() {
        Ok(host) => match host.describe().await {
            Ok(text) => {
                match serde_json::from_str::<serde_json::Value>(&text)
                    .and_then(|v| serde_json::to_string_pretty(&v))
                {
                    Ok(pretty) => println!("{pretty}"),
                    Err(_) => println!("{text}"),
                }
                ExitCode::SUCCESS
            }
            Err(e) => usage(&format!("the component failed: {e:#}")),
        },
        Err(e) => usage(&format!("cannot load the component: {e:#}")),
    }
}

/// Writes the embedded component: exactly the bytes the host builds with.
fn write_component(portable: bool, output: &PathBuf) -> ExitCode {
    let bytes = if portable {
        host_test::node::PORTABLE_COMPONENT
    } else {
        host_test::node::COMPONENT
    };
    let written = if output.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes).and_then(|()| out.flush())
    } else {
        std::fs::write(output, bytes)
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => usage(&format!("cannot write {}: {e}", output.display())),
    }
}

#[cfg(feature = "emulator")]
async fn serve_emulator(port: u16, job_step_ms: u64) -> ExitCode {
    let signals = match Signals::watch(signal_notice()) {
        Ok(s) => s,
        Err(e) => return usage(&format!("cannot watch signals: {e}")),
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let emulator = match Emulator::start(emulator_config(job_step_ms), addr).await {
        Ok(e) => e,
        Err(e) => return usage(&format!("cannot start the emulator on {addr}: {e:#}")),
    };
    signals.remove_on_exit(emulator.data_dir().to_owned());
    let url = emulator.endpoint_url();
    eprintln!("pinpoint-import: emulator of S3 and Pinpoint listening at {url}");
    // The emulator's keys are fixed test values, public in its source and
    // the README: printing them is how a user points a client at it.
    eprintln!(
        "  export AWS_ENDPOINT_URL={url} AWS_REGION={}",
        emulated::DEFAULT_REGION
    );
    eprintln!(
        "  export AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={}",
        emulated::DEFAULT_ACCESS_KEY_ID,
        emulated::DEFAULT_SECRET_ACCESS_KEY
    );
    eprintln!(
        "  export PINPOINT_IMPORT_BUCKET={} PINPOINT_IMPORT_ROLE_ARN={}",
        emulated::DEFAULT_BUCKET,
        emulated::DEFAULT_ROLE_ARN
    );
    eprintln!("  application id: {}", emulated::SEED_APPLICATION_ID);
    let signal = signals.first().await;
    // Stops the server and removes its data directory.
    emulator.shutdown().await;
    ExitCode::from(signal.exit_code())
}

fn read_source(path: &PathBuf) -> Result<Vec<u8>, UsageError> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| UsageError(format!("cannot read stdin: {e}")))?;
        return Ok(buf);
    }
    std::fs::read(path).map_err(|e| UsageError(format!("cannot read {}: {e}", path.display())))
}

/// The input from `--input` or the four flags; data that is not JSON or not
/// UTF-8 is a node error, a missing file a usage error.
fn read_input(args: &InputArgs) -> Result<Result<ImportInput, NodeError>, UsageError> {
    if let Some(path) = &args.input {
        let bytes = read_source(path)?;
        return Ok(serde_json::from_slice::<ImportInput>(&bytes).map_err(|e| {
            NodeError::new(
                ErrorKind::InvalidInput,
                format!("{} is not the node's input (application_id, segment_name, format CSV|JSON, data): {e}", path.display()),
            )
        }));
    }
    let (Some(id), Some(name), Some(format), Some(file)) = (
        &args.application_id,
        &args.segment_name,
        &args.format,
        &args.data_file,
    ) else {
        return Err(UsageError(
            "give --input FILE, or --application-id, --segment-name, --format and --data-file"
                .into(),
        ));
    };
    let bytes = read_source(file)?;
    let format = if format == "CSV" {
        Format::Csv
    } else {
        Format::Json
    };
    Ok(match String::from_utf8(bytes) {
        Ok(data) => Ok(ImportInput {
            application_id: id.clone(),
            segment_name: name.clone(),
            format,
            data,
        }),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            Err(NodeError::new(
                ErrorKind::MalformedData,
                format!(
                    "{} is not UTF-8 (invalid byte at offset {at}); Pinpoint imports UTF-8 files only",
                    file.display()
                ),
            ))
        }
    })
}

/// Settings from the environment, then the flags.
fn settings_from(args: &SettingsArgs) -> BTreeMap<String, String> {
    let mut s = settings::from_environment(|k| std::env::var(k).ok());
    let flags = [
        ("region", &args.region),
        ("staging-bucket", &args.bucket),
        ("import-role-arn", &args.role_arn),
        ("staging-prefix", &args.prefix),
        ("pinpoint-endpoint", &args.endpoint_url),
        ("s3-endpoint", &args.endpoint_url),
        ("pinpoint-endpoint", &args.pinpoint_endpoint),
        ("s3-endpoint", &args.s3_endpoint),
    ];
    for (key, value) in flags {
        if let Some(v) = value {
            s.insert(key.to_owned(), v.clone());
        }
    }
    if args.no_wait {
        s.insert("wait-for-completion".into(), "false".into());
    }
    s.extend(args.set.iter().cloned());
    s
}

/// What `run`, `validate` and `mcp` run with: the component, and the run
/// config from the environment and flags (or the node error every run
/// reports, an invalid environment), and the embedded emulator it points at
/// when no endpoint is set and there is no `--aws`.
struct Setup {
    host: NodeHost,
    config: Result<RunConfig, NodeError>,
    #[cfg(feature = "emulator")]
    emulator: Option<Emulator>,
}

impl Setup {
    async fn shutdown(self) {
        #[cfg(feature = "emulator")]
        if let Some(e) = self.emulator {
            e.shutdown().await;
        }
    }
}

/// Where log lines of the setup (the credential chain) go.
type LogFn = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

/// Loads the component and makes the run config: settings from the
/// environment then the flags, credentials from the AWS SDK's chain, or the
/// embedded emulator (started here; not for a dry run). The config's
/// `events` are the caller's to set.
async fn setup(args: &SettingsArgs, dry_run: bool, log: LogFn) -> Result<Setup, UsageError> {
    let host =
        NodeHost::new().map_err(|e| UsageError(format!("cannot load the component: {e:#}")))?;
    let variables: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .collect();
    if let Err(e) = environment::check_environment(variables.iter().map(String::as_str)) {
        return Ok(Setup {
            host,
            config: Err(e),
            #[cfg(feature = "emulator")]
            emulator: None,
        });
    }
    let settings = settings_from(args);
    #[cfg(feature = "emulator")]
    let (emulator, config) = {
        let use_emulator =
            !dry_run && (args.emulator || (!args.aws && !settings::has_endpoint(&settings)));
        if use_emulator {
            let (emulator, config) = start_emulator(args).await?;
            (Some(emulator), config)
        } else {
            (None, aws_config(args, settings, log).await)
        }
    };
    #[cfg(not(feature = "emulator"))]
    let config = {
        let _ = dry_run;
        aws_config(args, settings, log).await
    };
    let mut config = config;
    config.deadline = Duration::from_secs(args.deadline_seconds);
    config.memory_limit_bytes = args.memory_limit_mib.saturating_mul(1 << 20);
    Ok(Setup {
        host,
        config: Ok(config),
        #[cfg(feature = "emulator")]
        emulator,
    })
}

async fn run(args: RunArgs, dry_run: bool) -> ExitCode {
    let signals = match Signals::watch(signal_notice()) {
        Ok(s) => s,
        Err(e) => return usage(&format!("cannot watch signals: {e}")),
    };
    let input = match read_input(&args.input) {
        Ok(Ok(input)) => input,
        Ok(Err(node_error)) => return print_error(&node_error),
        Err(UsageError(m)) => return usage(&m),
    };
    let progress = Arc::new(Progress::new(args.settings.verbose));
    let log = progress.clone();
    let log: LogFn = Arc::new(move |level: LogLevel, m: &str| log.log(level, m));
    let setup = match setup(&args.settings, dry_run, log).await {
        Ok(setup) => setup,
        Err(UsageError(m)) => return usage(&m),
    };
    #[cfg(feature = "emulator")]
    if let Some(emulator) = &setup.emulator {
        signals.remove_on_exit(emulator.data_dir().to_owned());
    }
    let mut config = match &setup.config {
        Ok(config) => config.clone(),
        Err(e) => {
            let code = print_error(e);
            setup.shutdown().await;
            return code;
        }
    };
    config.events = progress.clone();
    config.cancellation = signals.token();
    let code = if dry_run {
        let outcome = setup.host.validate_owned(input, &config).await;
        signal_code(&signals, &outcome).unwrap_or_else(|| print_outcome(&outcome))
    } else {
        let outcome = setup.host.run_owned(input, &config).await;
        progress.finish();
        signal_code(&signals, &outcome).unwrap_or_else(|| print_outcome(&outcome))
    };
    setup.shutdown().await;
    code
}

/// Says on stderr what a signal does.
fn signal_notice() -> host_test::signals::Notice {
    Arc::new(|signal, second| {
        if second {
            eprintln!(
                "pinpoint-import: second {}: stopping at once",
                signal.name()
            );
        } else {
            eprintln!(
                "pinpoint-import: {}: cancelling (a second signal stops at once)",
                signal.name()
            );
        }
    })
}

/// A run a signal cancelled: its `Cancelled` error on stdout, and the
/// signal's exit code. `None` for any other outcome (a run that finished
/// before it saw the signal reports as usual).
fn signal_code<T>(signals: &Signals, outcome: &Result<T, NodeError>) -> Option<ExitCode> {
    let signal = signals.received()?;
    match outcome {
        Err(e) if e.kind == ErrorKind::Cancelled => {
            let mut e = e.clone();
            e.message = format!("{} received: {}", signal.name(), e.message);
            print_error(&e);
            Some(ExitCode::from(signal.exit_code()))
        }
        _ => None,
    }
}

/// `pinpoint-import mcp`: the MCP server on stdio. stdout carries only MCP
/// messages; the emulator notice and log lines (`-v`; warnings always) go
/// to stderr.
#[cfg(feature = "mcp")]
async fn mcp(args: SettingsArgs) -> ExitCode {
    let signals = match Signals::watch(signal_notice()) {
        Ok(s) => s,
        Err(e) => return usage(&format!("cannot watch signals: {e}")),
    };
    let verbose = args.verbose;
    let log: LogFn = Arc::new(move |level: LogLevel, m: &str| log_line(verbose, level, m));
    let setup = match setup(&args, false, log.clone()).await {
        Ok(setup) => setup,
        Err(UsageError(m)) => return usage(&m),
    };
    #[cfg(feature = "emulator")]
    if let Some(emulator) = &setup.emulator {
        signals.remove_on_exit(emulator.data_dir().to_owned());
    }
    if let Err(e) = &setup.config {
        eprintln!(
            "pinpoint-import: warning: every call will fail with {}: {}",
            e.kind.name(),
            e.message
        );
    }
    // A signal cancels every call in progress.
    let config = setup.config.clone().map(|mut c| {
        c.cancellation = signals.token();
        c
    });
    let server = match McpServer::new(setup.host.clone(), config, log).await {
        Ok(server) => server,
        Err(e) => {
            setup.shutdown().await;
            return usage(&e.to_string());
        }
    };
    eprintln!(
        "pinpoint-import: MCP server on stdio: tools {} and {}",
        mcp::RUN_TOOL,
        mcp::VALIDATE_TOOL
    );
    let served = tokio::select! {
        served = server.serve_stdio() => served,
        signal = signals.first() => {
            // The calls were cancelled with the signal: give them the time
            // a cancelled run takes to clean up.
            tokio::time::sleep(host_test::node::CANCEL_GRACE).await;
            setup.shutdown().await;
            return ExitCode::from(signal.exit_code());
        }
    };
    setup.shutdown().await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => usage(&e.to_string()),
    }
}

/// Whether a log line of `level` is shown: warnings always, the rest with
/// `--verbose`.
fn shown(verbose: bool, level: LogLevel) -> bool {
    verbose || matches!(level, LogLevel::Warn)
}

/// A log line on stderr, if [`shown`].
fn log_line(verbose: bool, level: LogLevel, message: &str) {
    if shown(verbose, level) {
        let tag = match level {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warning",
        };
        eprintln!("pinpoint-import: {tag}: {message}");
    }
}

/// A run config for AWS (or the endpoints set): the AWS SDK's credential
/// chain for `--profile` (else `AWS_PROFILE`); the region, when neither a
/// flag nor the environment gives one, from the SDK's region chain.
async fn aws_config(
    args: &SettingsArgs,
    mut settings: BTreeMap<String, String>,
    log: LogFn,
) -> RunConfig {
    if !settings.contains_key("region")
        && let Some(region) = host_test::credentials::resolve_region(args.profile.as_deref()).await
    {
        settings.insert("region".to_owned(), region.to_string());
    }
    let credentials = StandardChain::new(args.profile.clone())
        .region(settings.get("region").cloned())
        .on_log(Arc::new(move |m: &str| log(LogLevel::Debug, m)));
    RunConfig::new(settings, Arc::new(credentials))
}

/// The CLI's emulator configuration with jobs moving one step per `job_step_ms`.
#[cfg(feature = "emulator")]
fn emulator_config(job_step_ms: u64) -> emulated::EmulatorConfig {
    emulated::EmulatorConfig {
        job_step: Duration::from_millis(job_step_ms),
        ..emulated::cli_config()
    }
}

/// Starts the embedded emulator and a run config pointing at it.
#[cfg(feature = "emulator")]
async fn start_emulator(args: &SettingsArgs) -> Result<(Emulator, RunConfig), UsageError> {
    let started = Emulator::start(
        emulator_config(args.emulator_job_step_ms),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .map_err(|e| UsageError(format!("cannot start the embedded emulator: {e:#}")))?;
    eprintln!(
        "pinpoint-import: no AWS endpoint given and no --aws: running against the embedded S3 + Pinpoint emulator at {}",
        started.endpoint_url()
    );
    // Only explicit node settings carry over; the emulator supplies the rest.
    let mut overrides: BTreeMap<String, String> = args.set.iter().cloned().collect();
    if args.no_wait {
        overrides.insert("wait-for-completion".into(), "false".into());
    }
    let config = emulated::run_config(&started, &overrides);
    Ok((started, config))
}

/// Progress on stderr: an indicatif bar when stderr is a terminal (bytes
/// validated while validating, bytes uploaded while staging, the job's
/// pieces while waiting, a spinner with the elapsed time otherwise); log
/// lines with `--verbose`, printed above the bar.
struct Progress {
    verbose: bool,
    bar: Option<ProgressBar>,
    stage: Mutex<Option<Stage>>,
}

impl Progress {
    fn new(verbose: bool) -> Self {
        // Hidden until the component reports its first stage.
        let bar = std::io::stderr()
            .is_terminal()
            .then(|| ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()));
        Progress {
            verbose,
            bar,
            stage: Mutex::new(None),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn style(stage: Stage, total: Option<u64>) -> ProgressStyle {
        let template = match (stage, total) {
            (Stage::Validating | Stage::Staging, Some(_)) => {
                "{spinner} {prefix:<16} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {elapsed}"
            }
            (Stage::WaitingForJob, Some(_)) => {
                "{spinner} {prefix:<16} [{bar:30}] {pos}/{len} pieces {elapsed}"
            }
            (Stage::Validating, _) => "{spinner} {prefix:<16} {msg} {elapsed}",
            _ => "{spinner} {prefix:<16} {elapsed}",
        };
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .progress_chars("#>.")
    }
}

impl EventSink for Progress {
    fn log(&self, level: LogLevel, message: &str) {
        if !shown(self.verbose, level) {
            return;
        }
        let line = || log_line(self.verbose, level, message);
        match &self.bar {
            Some(bar) => bar.suspend(line),
            None => line(),
        }
    }

    fn progress(&self, stage: Stage, completed: u64, total: Option<u64>) {
        let previous = match self.stage.lock() {
            Ok(mut current) => current.replace(stage),
            Err(_) => return,
        };
        let Some(bar) = &self.bar else {
            // Not a terminal: with --verbose, one line per stage.
            if self.verbose && previous != Some(stage) {
                eprintln!("pinpoint-import: stage: {}", stage.name());
            }
            return;
        };
        if previous.is_none() {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        if previous != Some(stage) {
            bar.set_style(Self::style(stage, total));
            bar.set_prefix(stage.name());
            bar.set_message("");
            bar.reset_elapsed();
        }
        match total {
            Some(t) => bar.set_length(t),
            None => bar.unset_length(),
        }
        bar.set_position(completed);
    }

    fn bytes_sent(&self, sent: u64) {
        let Some(bar) = &self.bar else { return };
        let staging = self
            .stage
            .lock()
            .map(|s| *s == Some(Stage::Staging))
            .unwrap_or(false);
        if staging {
            bar.set_position(sent);
        }
    }
}
