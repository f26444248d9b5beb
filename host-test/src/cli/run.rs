//! `pinpoint-import run` and `validate`: one run of the node on the input
//! from the command line, its result on stdout, cancelled by SIGINT or
//! SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use host_test::log::{Logger, StderrLog};
use host_test::node::{EventSink, LogLevel};
use host_test::signals::Signals;
use pinpoint_segment_import::error::NodeError;

use super::args::RunArgs;
use super::exit::{UsageError, print_error, print_outcome, signal_code, signal_notice, usage};
use super::input::{Reader, read_input};
use super::progress::Progress;
use super::setup::{max_import_bytes, setup};

/// What a command does with the input.
pub enum Mode {
    /// `run`: the import.
    Run,
    /// `validate`: the dry run, without any network.
    Validate {
        /// Where to write the file a run would stage, when the data is valid.
        staged_file: Option<PathBuf>,
    },
}

/// Runs the import, or validates without any network.
pub async fn run(args: RunArgs, mode: Mode) -> ExitCode {
    let dry_run = matches!(mode, Mode::Validate { .. });
    let signals = match Signals::watch(signal_notice()) {
        Ok(s) => s,
        Err(e) => return usage(&format!("cannot watch signals: {e}")),
    };
    // The input is read under a bound the settings give, and a signal
    // cancels the read.
    let max_import_bytes = match max_import_bytes(&args.settings) {
        Ok(bytes) => bytes,
        Err(e) => return print_error(&e),
    };
    let reader = Reader {
        max_import_bytes,
        cancel: &signals.token(),
        log: &StderrLog::new(args.settings.verbose).logger(),
    };
    let input = match read_input(&args.input, &reader).await {
        Ok(Ok(input)) => input,
        Ok(Err(node_error)) => {
            let outcome: Result<(), _> = Err(node_error);
            return signal_code(&signals, &outcome).unwrap_or_else(|| print_outcome(&outcome));
        }
        Err(UsageError(m)) => return usage(&m),
    };
    let progress = Arc::new(Progress::new(args.settings.verbose));
    // The setup's log lines (the credential chain) go above the bar too.
    let above_bar = progress.clone();
    let log: Logger = Arc::new(move |level: LogLevel, m: &str| above_bar.log(level, m));
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
    let code = match mode {
        Mode::Validate { staged_file: None } => {
            let outcome = setup.host.validate_owned(input, &config).await;
            signal_code(&signals, &outcome).unwrap_or_else(|| print_outcome(&outcome))
        }
        Mode::Validate {
            staged_file: Some(path),
        } => {
            let outcome = setup.host.stage_owned(input, &config).await;
            signal_code(&signals, &outcome).unwrap_or_else(|| match outcome {
                Ok(staged) => match std::fs::write(&path, &staged.data) {
                    Ok(()) => print_outcome(&Ok::<_, NodeError>(staged.report)),
                    Err(e) => usage(&format!("cannot write {}: {e}", path.display())),
                },
                Err(e) => print_error(&e),
            })
        }
        Mode::Run => {
            let outcome = setup.host.run_owned(input, &config).await;
            progress.finish();
            signal_code(&signals, &outcome).unwrap_or_else(|| print_outcome(&outcome))
        }
    };
    setup.shutdown().await;
    code
}
