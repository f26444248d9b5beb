//! The node's input from the command line: a JSON file (`--input`), or the
//! four fields as flags with the data from a file; `-` is stdin.

use std::io::Read;
use std::path::PathBuf;

use pinpoint_segment_import::error::{ErrorKind, NodeError};
use pinpoint_segment_import::input::{Format, ImportInput, ImportRequest, OnExisting};

use super::args::InputArgs;
use super::exit::UsageError;

/// The bytes of a file, or of stdin for `-`.
fn read_source(path: &PathBuf) -> Result<Vec<u8>, UsageError> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| UsageError(format!("cannot read stdin: {e}")))?;
        return Ok(buf);
    }
    std::fs::read(path).map_err(|e| UsageError(format!("cannot read {}: {e}", path.display())))
}

/// The input from `--input` or the four flags, with `--on-existing` over
/// the input's own; data that is not JSON or not UTF-8 is a node error, a
/// missing file a usage error.
pub fn read_input(args: &InputArgs) -> Result<Result<ImportRequest, NodeError>, UsageError> {
    let flag = match args.on_existing.as_deref() {
        None => None,
        Some("new_version") => Some(OnExisting::NewVersion),
        Some(_) => Some(OnExisting::Fail),
    };
    Ok(read_seed_or_request(args)?.map(|mut request| {
        if let Some(on_existing) = flag {
            request.on_existing = on_existing;
        }
        request
    }))
}

/// The input as `--input` (the seed's fields and the node's options) or
/// the four flags give it.
fn read_seed_or_request(args: &InputArgs) -> Result<Result<ImportRequest, NodeError>, UsageError> {
    if let Some(path) = &args.input {
        let bytes = read_source(path)?;
        return Ok(serde_json::from_slice::<ImportRequest>(&bytes).map_err(|e| {
            NodeError::new(
                ErrorKind::InvalidInput,
                format!("{} is not the node's input (application_id, segment_name, format CSV|JSON, data; optional on_existing fail|new_version): {e}", path.display()),
            )
        }));
    }
    let (Some(id), Some(name), Some(format), Some(file)) = (
        &args.application_id,
        &args.segment_name,
        &args.format,
        &args.data_file,
    ) else {
        return Err(UsageError(
            "give --input FILE, or --application-id, --segment-name, --format and --data-file"
                .into(),
        ));
    };
    let bytes = read_source(file)?;
    let format = if format == "CSV" {
        Format::Csv
    } else {
        Format::Json
    };
    Ok(match String::from_utf8(bytes) {
        Ok(data) => Ok(ImportRequest::from(ImportInput {
            application_id: id.clone(),
            segment_name: name.clone(),
            format,
            data,
        })),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            Err(NodeError::new(
                ErrorKind::MalformedData,
                format!(
                    "{} is not UTF-8 (invalid byte at offset {at}); Pinpoint imports UTF-8 files only",
                    file.display()
                ),
            ))
        }
    })
}
