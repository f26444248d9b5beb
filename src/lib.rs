//! `import_pinpoint_segment`: a workflow node that imports endpoint data into
//! Amazon Pinpoint as a new segment, built as a WebAssembly component.
//!
//! The crate is a plain-Rust core that unit-tests natively, plus thin
//! component glue compiled only for `wasm32`:
//! - [`input`] and [`error`]: the node's input and its typed errors;
//! - [`endpoints`]: reading, validating and converting the endpoint data;
//! - [`settings`]: the host-provided settings;
//! - [`aws`]: SigV4 signing, S3 and Pinpoint requests and answers;
//! - [`import`]: the whole flow, generic over an HTTP [`import::Transport`].

// A library reports failures as values: no unwrap, expect, panic or print
// outside tests (clippy.toml allows them in tests).
#![warn(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

pub mod aws;
pub mod describe;
pub mod endpoints;
pub mod error;
pub mod import;
pub mod input;
pub mod settings;

#[cfg(target_arch = "wasm32")]
mod component;

#[cfg(test)]
mod wit_tests;

#[cfg(test)]
mod import_graph_tests;
