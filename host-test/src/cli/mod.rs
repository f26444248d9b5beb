//! The `pinpoint-import` binary's own modules (not part of the library):
//! one per command, and what the commands share.
//!
//! - [`args`]: the flags `run`, `validate` and `mcp` share;
//! - [`input`]: the node's input from `--input` or the four flags;
//! - [`setup`]: the component and the run config from the environment and
//!   flags, or the embedded emulator;
//! - [`progress`]: the progress bar and the run's log lines on stderr;
//! - [`exit`]: what the CLI prints when it ends, and its exit codes;
//! - the commands: [`run`] (`run`, `validate`), [`serve_mcp`] (`mcp`),
//!   [`emulator`] (`emulator`), [`component`] (`describe`, `component`).
//!
//! None of them refers to `main.rs`, which parses the command line and
//! dispatches to them.

pub mod args;
pub mod component;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod exit;
pub mod input;
pub mod progress;
pub mod run;
#[cfg(feature = "mcp")]
pub mod serve_mcp;
pub mod setup;
