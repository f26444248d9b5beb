//! `pinpoint-import run` and `validate`: one run of the node on the input
//! from the command line, its result on stdout, cancelled by SIGINT or
//! SIGTERM.

use std::process::ExitCode;
use std::sync::Arc;

use host_test::log::{Logger, StderrLog};
use host_test::node::{EventSink, LogLevel};
use host_test::signals::Signals;

use super::args::RunArgs;
use super::exit::{UsageError, print_error, print_outcome, signal_code, signal_notice, usage};
use super::input::{Reader, read_input};
use super::progress::Progress;
use super::setup::{max_import_bytes, setup};

/// Runs the import (or, with `dry_run`, validates without any network).
pub async fn run(args: RunArgs, dry_run: bool) -> ExitCode {
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
