//! The host's lines on stderr, one format for the `pinpoint-import` CLI and
//! its MCP server: `pinpoint-import: {message}`, a log line
//! `pinpoint-import: {level}: {message}` (levels `debug`, `info`,
//! `warning`); warnings always, the rest only when verbose.
//!
//! stdout is never written here: it carries the CLI's result, or the MCP
//! messages.

use std::io::Write;
use std::sync::Arc;

use crate::node::LogLevel;

/// Where log lines go: the CLI gives the MCP server and the credential
/// chain a [`StderrLog`] as one.
pub type Logger = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

/// The prefix of every line of the CLI on stderr.
pub const PROGRAM: &str = "pinpoint-import";

/// Writes `pinpoint-import: {message}` on stderr. A failed write is ignored:
/// there is nowhere else to say it.
pub fn notice(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{PROGRAM}: {message}");
}

/// Log lines on stderr, filtered by verbosity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StderrLog {
    verbose: bool,
}

impl StderrLog {
    /// A log showing every level when `verbose`, else warnings only.
    pub fn new(verbose: bool) -> Self {
        StderrLog { verbose }
    }

    /// Whether every level is shown.
    pub fn verbose(self) -> bool {
        self.verbose
    }

    /// Whether a line of `level` is shown: warnings always, the rest when
    /// verbose.
    pub fn shows(self, level: LogLevel) -> bool {
        self.verbose || matches!(level, LogLevel::Warn)
    }

    /// The text of a log line, without the program's prefix.
    pub fn text(level: LogLevel, message: &str) -> String {
        let tag = match level {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warning",
        };
        format!("{tag}: {message}")
    }

    /// Writes the line on stderr, if [`StderrLog::shows`] its level.
    pub fn write(self, level: LogLevel, message: &str) {
        if self.shows(level) {
            notice(&Self::text(level, message));
        }
    }

    /// This log as a [`Logger`].
    pub fn logger(self) -> Logger {
        Arc::new(move |level, message| self.write(level, message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_always_show_and_the_rest_only_when_verbose() {
        let quiet = StderrLog::new(false);
        let verbose = StderrLog::new(true);
        assert!(quiet.shows(LogLevel::Warn));
        assert!(!quiet.shows(LogLevel::Info));
        assert!(!quiet.shows(LogLevel::Debug));
        assert!(verbose.shows(LogLevel::Info));
        assert!(verbose.shows(LogLevel::Debug));
    }

    #[test]
    fn a_line_names_its_level() {
        assert_eq!(StderrLog::text(LogLevel::Warn, "m"), "warning: m");
        assert_eq!(StderrLog::text(LogLevel::Info, "m"), "info: m");
        assert_eq!(StderrLog::text(LogLevel::Debug, "m"), "debug: m");
    }
}
