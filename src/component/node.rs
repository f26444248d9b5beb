//! The exported `node` interface: each export converts its input, runs the
//! core and converts the result. Nothing of substance lives here.

use std::rc::Rc;

use super::bindings::exports::pinpoint::segment_import::node::Guest;
use super::cancel::Cancellation;
use super::host::Host;
use super::runtime::WasiRuntime;
use super::{World, convert, http, wit};
use crate::import::{self, Stage};

/// The exported `node` interface (exported in [`bindings`]).
struct Node;

impl Guest for Node {
    fn run(input: wit::ImportInput) -> Result<wit::ImportOutput, wit::NodeError> {
        let request = convert::from_wit_input(input);
        let settings = World::settings().map_err(convert::to_wit_error)?;
        let cancel = Rc::new(Cancellation::new(World::cancellation()));
        let mut transport = http::WasiHttp {
            cancel: cancel.clone(),
        };
        import::run(
            &request,
            &settings,
            &mut transport,
            &mut WasiRuntime { cancel },
        )
        .and_then(convert::to_wit_output)
        .map_err(convert::to_wit_error)
    }

    fn validate(input: wit::ImportInput) -> Result<wit::ValidationReport, wit::NodeError> {
        // The options change what a run does in AWS, not what the dry run checks.
        let input = convert::from_wit_input(input).input;
        let limits = World::data_limits().map_err(convert::to_wit_error)?;
        let total = Some(input.data.len() as u64);
        World::progress(Stage::Validating, 0, total);
        import::validate_reporting(&input, &limits, &mut |done| {
            World::progress(Stage::Validating, done, total)
        })
        .map(convert::to_wit_report)
        .map_err(convert::to_wit_error)
    }

    fn describe() -> String {
        crate::describe::descriptor()
    }

    fn stage(input: wit::ImportInput) -> Result<wit::StagedFile, wit::NodeError> {
        let input = convert::from_wit_input(input).input;
        let limits = World::data_limits().map_err(convert::to_wit_error)?;
        let total = Some(input.data.len() as u64);
        World::progress(Stage::Validating, 0, total);
        import::stage(&input, &limits, &mut |done| {
            World::progress(Stage::Validating, done, total)
        })
        .map(convert::to_wit_staged)
        .map_err(convert::to_wit_error)
    }
}

/// The ABI glue wit-bindgen generates to export [`Node`]: its unsafe code
/// is wit-bindgen's, not ours to lint.
#[allow(unsafe_code, missing_docs, clippy::mem_forget)]
mod export {
    use super::Node;
    use crate::component::bindings;
    bindings::export!(Node with_types_in crate::component::bindings);
}
