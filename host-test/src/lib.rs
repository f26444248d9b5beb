//! The wasmtime host of the `import_pinpoint_segment` component.
//!
//! - [`node`]: engine and its instance pool, precompiled component, linker
//!   and per-run limits;
//!   [`node::NodeHost::run`] is what a runtime that embeds the node calls;
//! - [`egress`]: the policy that lets the component reach only its endpoints;
//! - [`credentials`]: AWS credentials through the AWS SDK's default chain;
//! - [`settings`]: the node's settings from the environment and flags;
//! - [`bindings`] and [`convert`]: the component's WIT types and the mapping
//!   to the node crate's;
//! - [`emulated`] (feature `emulator`, on by default): runs against the
//!   embedded S3 + Pinpoint emulator, the offline default;
//! - [`output`]: the JSON of results and node errors, as the CLI prints them;
//! - [`log`]: the CLI's and the MCP server's lines on stderr;
//! - [`mcp`] (feature `mcp`, on by default): the node as an MCP server;
//! - [`web`] (feature `web`, on by default): the page that checks an import
//!   file in the browser with the portable component.
//!
//! The embedding guide's examples (`docs/embedding.md`) are compiled as
//! doctests of this crate. The binary's own modules (arguments, commands,
//! the progress bar) are under `src/cli/`, outside this library.

// A library reports failures as values: no unwrap, expect, panic or print
// outside tests (clippy.toml allows them in tests); the CLI's stderr lines
// are written by `log` alone.
#![warn(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

pub mod bindings;
pub mod convert;
pub mod credentials;
pub mod egress;
#[cfg(feature = "emulator")]
pub mod emulated;
pub mod log;
#[cfg(feature = "mcp")]
pub mod mcp;
pub mod node;
pub mod output;
pub mod request_bound;
pub mod settings;
pub mod signals;
#[cfg(feature = "web")]
pub mod web;

/// The README's Rust snippets, compiled as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The embedding guide's Rust snippets (`docs/embedding.md`), compiled as
/// doctests.
#[doc = include_str!("../../docs/embedding.md")]
#[cfg(doctest)]
pub struct EmbeddingDoctests;
