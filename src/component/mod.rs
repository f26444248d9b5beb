//! The component glue, compiled only for `wasm32`: the WIT bindings, the
//! exported `node` interface, and the flow's host traits over WASI. Nothing
//! of substance lives here; the core does the work.
//!
//! One crate builds both worlds of `wit/world.wit`: `node-component` (the
//! default: settings from `wasi:config`, credentials and reporting through
//! the `host` interface, in [`full`]) and `node-portable` (feature
//! `portable`: WASI imports only, settings and credentials from the
//! environment, reporting to stderr, in [`portable`]), each implementing
//! [`host::Host`]. Everything else is shared: the exported interface
//! ([`node`]), the flow's runtime ([`runtime`]), the HTTP transport
//! ([`http`]), cancellation ([`cancel`]) and the WIT mapping ([`convert`]).

mod bindings;
mod cancel;
mod convert;
mod host;
mod http;
mod node;
mod runtime;

#[cfg(not(feature = "portable"))]
mod full;
#[cfg(not(feature = "portable"))]
use full::World;

#[cfg(feature = "portable")]
mod portable;
#[cfg(feature = "portable")]
use portable::World;

use bindings::pinpoint::segment_import::types as wit;
