//! The exported `node` interface: each export converts its input, runs the
//! core and converts the result. Nothing of substance lives here.

use std::rc::Rc;

use super::bindings::exports::pinpoint::segment_import::node::Guest;
use super::cancel::Cancellation;
use super::host::Host;
use super::runtime::WasiRuntime;
use super::{World, convert, http, wit};
use crate::endpoints::Limits;
use crate::error::NodeError;
use crate::import::{self, Stage};
use crate::input::ImportInput;

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
        dry_run(input, import::validate_reporting)
            .map(convert::to_wit_report)
            .map_err(convert::to_wit_error)
    }

    fn describe() -> String {
        crate::describe::descriptor()
    }

    fn stage(input: wit::ImportInput) -> Result<wit::StagedFile, wit::NodeError> {
        dry_run(input, import::stage)
            .map(convert::to_wit_staged)
            .map_err(convert::to_wit_error)
    }
}

/// What a check of the data takes: the input, the limits, and where to
/// report the bytes checked so far.
type Check<T> = fn(&ImportInput, &Limits, &mut dyn FnMut(u64)) -> Result<T, NodeError>;

/// `validate` and `stage`: `check` on the input with the settings' data
/// limits, its progress reported as the `validating` stage.
fn dry_run<T>(input: wit::ImportInput, check: Check<T>) -> Result<T, NodeError> {
    // The options change what a run does in AWS, not what the dry run checks.
    let input = convert::from_wit_input(input).input;
    let limits = World::data_limits()?;
    let total = Some(input.data.len() as u64);
    World::progress(Stage::Validating, 0, total);
    check(&input, &limits, &mut |done| {
        World::progress(Stage::Validating, done, total)
    })
}

/// The ABI glue wit-bindgen generates to export [`Node`]: its unsafe code
/// is wit-bindgen's, not ours to lint.
#[allow(unsafe_code, missing_docs, clippy::mem_forget)]
mod export {
    use super::Node;
    use crate::component::bindings;
    bindings::export!(Node with_types_in crate::component::bindings);
}
