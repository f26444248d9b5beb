//! A run's progress on stderr: an indicatif bar when stderr is a terminal
//! (bytes validated while validating, bytes uploaded while staging, the
//! job's pieces while waiting, a spinner with the elapsed time otherwise);
//! log lines ([`StderrLog`]) printed above the bar.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use host_test::log::{StderrLog, notice};
use host_test::node::{EventSink, LogLevel};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pinpoint_segment_import::import::Stage;

/// The [`EventSink`] of the CLI's `run` and `validate`; without a terminal,
/// with `--verbose`, one line per stage instead of the bar.
pub struct Progress {
    log: StderrLog,
    bar: Option<ProgressBar>,
    stage: Mutex<Option<Stage>>,
}

impl Progress {
    /// The progress of a run, with every log line when `verbose` (else
    /// warnings only).
    pub fn new(verbose: bool) -> Self {
        // Hidden until the component reports its first stage.
        let bar = std::io::stderr()
            .is_terminal()
            .then(|| ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()));
        Progress {
            log: StderrLog::new(verbose),
            bar,
            stage: Mutex::new(None),
        }
    }

    /// Clears the bar: the run has ended.
    pub fn finish(&self) {
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
        if !self.log.shows(level) {
            return;
        }
        let line = || self.log.write(level, message);
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
            if self.log.verbose() && previous != Some(stage) {
                notice(&format!("stage: {}", stage.name()));
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
