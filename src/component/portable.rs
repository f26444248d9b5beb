//! The `node-portable` world: WASI imports only, for runtimes nobody here
//! wrote (the wasmtime CLI, jco in Node.js, wassette, ...).
//!
//! Settings and credentials come from the environment (`wasi:cli/environment`)
//! under the names of the README's settings table (`AWS_REGION`,
//! `PINPOINT_IMPORT_BUCKET`, `PINPOINT_IMPORT_POLL_INTERVAL_MS`, ...), read
//! afresh for every signature. Log lines and progress go to stderr, one line
//! each, never a secret.

use std::sync::Mutex;

use super::bindings::wasi::cli::{environment, stderr};
use super::bindings::wasi::io::poll::Pollable;
use crate::aws::sign::{self, Credentials};
use crate::endpoints::Limits;
use crate::error::{ErrorKind, NodeError};
use crate::import::{Level, Stage};
use crate::settings::{self, Settings, environment as env_settings};

/// The WASI-only world.
pub(super) struct World;

/// The environment the runtime gives the component, now.
fn environment() -> Vec<(String, String)> {
    environment::get_environment()
}

/// A lookup of one variable in `vars`.
fn lookup(vars: &[(String, String)]) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// The settings the environment gives, after checking that every
/// `PINPOINT_IMPORT_*` variable is one the node knows.
fn setting_lookup() -> Result<impl Fn(&str) -> Option<String>, NodeError> {
    let vars = environment();
    env_settings::check_environment(vars.iter().map(|(k, _)| k.as_str()))?;
    let settings = env_settings::from_environment(lookup(&vars));
    Ok(move |key: &str| settings.get(key).cloned())
}

/// A credential variable: trimmed, empty meaning unset.
fn variable(vars: &[(String, String)], name: &str) -> Option<String> {
    lookup(vars)(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// `AWS_ACCESS_KEY_ID` or `AWS_SECRET_ACCESS_KEY` is missing.
fn missing_credentials(name: &str) -> NodeError {
    NodeError::new(
        ErrorKind::InvalidSettings,
        format!(
            "the environment variable {name} is not set: give the component AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and, for temporary credentials, AWS_SESSION_TOKEN"
        ),
    )
    .with_setting(name)
}

impl super::host::Host for World {
    fn settings() -> Result<Settings, NodeError> {
        Settings::from_lookup(setting_lookup()?).map_err(env_settings::name_variable)
    }

    fn data_limits() -> Result<Limits, NodeError> {
        settings::data_limits(setting_lookup()?).map_err(env_settings::name_variable)
    }

    fn credentials() -> Result<Credentials, NodeError> {
        let vars = environment();
        let access_key_id = variable(&vars, "AWS_ACCESS_KEY_ID")
            .ok_or_else(|| missing_credentials("AWS_ACCESS_KEY_ID"))?;
        let secret_access_key = variable(&vars, "AWS_SECRET_ACCESS_KEY")
            .ok_or_else(|| missing_credentials("AWS_SECRET_ACCESS_KEY"))?;
        Ok(sign::credentials(
            access_key_id,
            secret_access_key,
            variable(&vars, "AWS_SESSION_TOKEN"),
            None,
        ))
    }

    fn log(level: Level, message: &str) {
        let tag = match level {
            // Debug lines are for brokering hosts that filter them.
            Level::Debug => return,
            Level::Info => "info",
            Level::Warn => "warning",
        };
        write_line(&format!("pinpoint-segment-import: {tag}: {message}"));
    }

    fn progress(stage: Stage, completed: u64, total: Option<u64>) {
        // One line when a stage starts, one at each further tenth of a
        // known total (a page's progress bar reads them; a new run of the
        // stage starts again from its first tenth), and one when it reaches
        // its total: stderr is a log here, not a terminal to redraw.
        static LAST: Mutex<Option<(Stage, u64)>> = Mutex::new(None);
        let Ok(mut last) = LAST.lock() else { return };
        let tenth = match total {
            Some(t) if t > 0 => completed.min(t).saturating_mul(10) / t,
            _ => 0,
        };
        if *last == Some((stage, tenth)) {
            return;
        }
        *last = Some((stage, tenth));
        let amount = match total {
            Some(t) => format!(" {completed}/{t}"),
            None if completed > 0 => format!(" {completed}"),
            None => String::new(),
        };
        write_line(&format!(
            "pinpoint-segment-import: progress: {}{amount}",
            stage.name()
        ));
    }

    /// None: a runtime stops a portable run by dropping the call.
    fn cancellation() -> Option<Pollable> {
        None
    }
}

/// Writes `line` to stderr as one line: control characters (a newline in a
/// message included) become spaces. Output errors are ignored: logging never
/// fails a run.
fn write_line(line: &str) {
    let mut text: String = line
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    text.push('\n');
    let stream = stderr::get_stderr();
    for chunk in text.as_bytes().chunks(4096) {
        if stream.blocking_write_and_flush(chunk).is_err() {
            return;
        }
    }
}
