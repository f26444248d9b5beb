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
//!
//! This file parses the command line and dispatches each command to its
//! module under `cli/`.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
#[cfg(feature = "emulator")]
use host_test::emulated;

#[cfg(feature = "mcp")]
use cli::args::SettingsArgs;
use cli::args::{RunArgs, ValidateArgs};
use cli::component::{describe, write_component};
#[cfg(feature = "emulator")]
use cli::emulator::serve_emulator;
use cli::exit::usage;
use cli::run::{Mode, run};
#[cfg(feature = "mcp")]
use cli::serve_mcp::mcp;

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
    Validate(ValidateArgs),
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

impl Command {
    /// Whether the command may start an embedded emulator (or a sibling of
    /// one, `validate`, runs where one ran).
    #[cfg(feature = "emulator")]
    fn may_embed_emulator(&self) -> bool {
        match self {
            Command::Run(_) | Command::Validate(_) | Command::Emulator { .. } => true,
            #[cfg(feature = "mcp")]
            Command::Mcp(_) => true,
            _ => false,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    #[cfg(feature = "emulator")]
    if cli.command.may_embed_emulator() {
        cli::emulator::clean_up_at_start();
    }
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
            Command::Web(args) => host_test::web::command(args, cli::exit::signal_notice()).await,
            Command::Run(args) => run(args, Mode::Run).await,
            Command::Validate(ValidateArgs {
                run: args,
                staged_file,
            }) => run(args, Mode::Validate { staged_file }).await,
            #[cfg(feature = "mcp")]
            Command::Mcp(args) => mcp(args).await,
        }
    });
    // Everything of ours has finished (the emulator's directory is removed);
    // a thread still blocked reading stdin (`mcp`) must not hold the exit.
    runtime.shutdown_background();
    code
}
