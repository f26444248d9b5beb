//! The wasmtime host of the `import_pinpoint_segment` component.
//!
//! - [`node`]: engine, precompiled component, linker and per-run limits;
//!   [`node::NodeHost::run`] is what a runtime that embeds the node calls;
//! - [`egress`]: the policy that lets the component reach only its endpoints;
//! - [`credentials`]: AWS credentials from the environment and profile files;
//! - [`settings`]: the node's settings from the environment and flags;
//! - [`emulator`]: an embedded S3 + Pinpoint emulator, the offline default;
//! - [`convert`]: between the component's WIT types and the node crate's.

#![warn(missing_docs)]

pub mod convert;
pub mod credentials;
pub mod egress;
pub mod emulator;
pub mod node;
pub mod settings;
