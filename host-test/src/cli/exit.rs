//! How the CLI ends: what it prints (the result on stdout, a usage error or
//! a signal's notice on stderr) and its exit codes (the contract in
//! `main.rs`).

use std::process::ExitCode;
use std::sync::Arc;

use host_test::log::notice;
use host_test::output;
use host_test::signals::{Notice, Signals};
use pinpoint_segment_import::error::{ErrorKind, NodeError};
use serde::Serialize;

/// A failure of the command line itself (exit 2).
pub struct UsageError(pub String);

/// A usage error on stderr; exit 2.
pub fn usage(message: &str) -> ExitCode {
    notice(message);
    ExitCode::from(2)
}

/// A node error on stdout; exit 1.
pub fn print_error(error: &NodeError) -> ExitCode {
    println!("{}", output::render_error(error).text);
    ExitCode::from(1)
}

/// A run's or validation's result on stdout (the text `mcp` returns), and
/// its exit code.
pub fn print_outcome(outcome: &Result<impl Serialize, NodeError>) -> ExitCode {
    let rendered = output::render(outcome);
    println!("{}", rendered.text);
    if rendered.is_error {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Says on stderr what a signal does.
pub fn signal_notice() -> Notice {
    Arc::new(|signal, second| {
        if second {
            notice(&format!("second {}: stopping at once", signal.name()));
        } else {
            notice(&format!(
                "{}: cancelling (a second signal stops at once)",
                signal.name()
            ));
        }
    })
}

/// A run a signal cancelled: its `Cancelled` error on stdout, and the
/// signal's exit code. `None` for any other outcome (a run that finished
/// before it saw the signal reports as usual).
pub fn signal_code<T>(signals: &Signals, outcome: &Result<T, NodeError>) -> Option<ExitCode> {
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
