//! The node's input from the command line: a JSON file (`--input`), or the
//! four fields as flags with the data from a file; `-` is stdin.
//!
//! Every read is bounded ([`ReadBound`]): a source larger than its bound is
//! `ImportSizeExceeded` once the bound is passed, with no more than the
//! bound held; FIFOs, character devices and pipes are read in chunks under
//! the same bound. The read runs on a blocking thread and races the run's
//! cancellation, so a signal ends it at once with `Cancelled`.

use std::fs::File;
use std::io::{ErrorKind as IoErrorKind, Read};
use std::path::Path;

use host_test::log::Logger;
use host_test::node::LogLevel;
use pinpoint_segment_import::error::{ErrorKind, NodeError};
use pinpoint_segment_import::input::{Format, ImportInput, ImportRequest, OnExisting};
use tokio_util::sync::CancellationToken;

use super::args::InputArgs;
use super::exit::UsageError;

/// What the bound adds to `max-import-bytes` for data (a staged file may
/// differ a little from its data: a byte order mark, line ends, the JSON
/// array's brackets and commas).
pub const DATA_SLACK_BYTES: u64 = 1 << 20;

/// How many bytes of one source the CLI reads at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadBound {
    /// `--data-file`: `max-import-bytes` + [`DATA_SLACK_BYTES`].
    Data {
        /// The `max-import-bytes` setting the bound is made from.
        max_import_bytes: u64,
    },
    /// `--input`: [`host_test::request_bound::json_request_bound`], since
    /// the JSON wrapper escapes the data (a quote or a line end takes two
    /// bytes).
    Input {
        /// The `max-import-bytes` setting the bound is made from.
        max_import_bytes: u64,
    },
}

impl ReadBound {
    /// The most bytes read.
    pub fn bytes(self) -> u64 {
        match self {
            ReadBound::Data { max_import_bytes } => {
                max_import_bytes.saturating_add(DATA_SLACK_BYTES)
            }
            ReadBound::Input { max_import_bytes } => {
                host_test::request_bound::json_request_bound(max_import_bytes)
            }
        }
    }

    /// How the bound is made, for messages.
    fn rule(self) -> String {
        match self {
            ReadBound::Data { max_import_bytes } => {
                format!("max-import-bytes {max_import_bytes} plus 1 MiB")
            }
            ReadBound::Input { max_import_bytes } => {
                format!(
                    "{} (max-import-bytes {max_import_bytes})",
                    host_test::request_bound::RULE
                )
            }
        }
    }
}

/// How a bounded read ended.
enum Outcome {
    /// All of the source, within the bound.
    Whole(Vec<u8>),
    /// A regular file larger than the bound (nothing read).
    FileTooLarge {
        /// Its size.
        size: u64,
    },
    /// A stream that gave more than the bound: reading stopped there.
    StreamTooLarge {
        /// The bytes read before stopping (the bound and one more).
        read: u64,
    },
}

/// The size of one read from a stream.
const CHUNK_BYTES: usize = 64 << 10;

/// Reads `source` (stdin for `-`) up to `bound` bytes: a regular file by its
/// size, anything else in chunks, never holding more than `bound` + 1
/// bytes.
fn read_bounded(source: &Path, bound: u64) -> Result<Outcome, UsageError> {
    let cannot = |e: std::io::Error| {
        if source.as_os_str() == "-" {
            UsageError(format!("cannot read stdin: {e}"))
        } else {
            UsageError(format!("cannot read {}: {e}", source.display()))
        }
    };
    let (reader, size): (Box<dyn Read>, Option<u64>) = if source.as_os_str() == "-" {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        let file = File::open(source).map_err(cannot)?;
        let meta = file.metadata().map_err(cannot)?;
        let size = meta.is_file().then_some(meta.len());
        (Box::new(file), size)
    };
    if let Some(size) = size
        && size > bound
    {
        return Ok(Outcome::FileTooLarge { size });
    }
    let most = usize::try_from(bound.saturating_add(1)).unwrap_or(usize::MAX);
    read_chunks(reader, size, most).map_err(cannot)
}

/// Reads `reader` until it ends or `most` bytes are in (`size`, when known,
/// sizes the buffer at once); the buffer grows by doubling, capped at
/// `most`.
fn read_chunks(mut reader: impl Read, size: Option<u64>, most: usize) -> std::io::Result<Outcome> {
    let hint = size.map_or(0, |s| {
        usize::try_from(s.saturating_add(1)).unwrap_or(usize::MAX)
    });
    let mut buf: Vec<u8> = Vec::with_capacity(hint.min(most));
    let mut chunk = vec![0u8; CHUNK_BYTES];
    while buf.len() < most {
        let want = CHUNK_BYTES.min(most - buf.len());
        let n = match reader.read(&mut chunk[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == IoErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.capacity() - buf.len() < n {
            let grow = buf.len().max(n).max(CHUNK_BYTES).min(most - buf.len());
            buf.reserve_exact(grow);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    if buf.len() >= most {
        return Ok(Outcome::StreamTooLarge {
            read: buf.len() as u64,
        });
    }
    Ok(Outcome::Whole(buf))
}

/// Reads `source` on a blocking thread under `bound`, racing `cancel`; the
/// bytes, or the node error (too large, cancelled).
async fn read_source(
    source: &Path,
    flag: &str,
    bound: ReadBound,
    reader: &Reader<'_>,
) -> Result<Result<Vec<u8>, NodeError>, UsageError> {
    let path = source.to_owned();
    let limit = bound.bytes();
    (reader.log)(
        LogLevel::Info,
        &format!(
            "reading {flag} {} (at most {limit} bytes; a signal cancels the read)",
            source.display()
        ),
    );
    let cancel = reader.cancel;
    let read = tokio::task::spawn_blocking(move || read_bounded(&path, limit));
    let read = tokio::select! {
        read = read => read.map_err(|e| UsageError(format!("the read of {} failed: {e}", source.display())))??,
        () = cancel.cancelled() => {
            // The thread may stay blocked on the source; the process ends
            // without waiting for it.
            return Ok(Err(NodeError::new(
                ErrorKind::Cancelled,
                format!(
                    "cancelled while reading {flag} {}: nothing was sent or staged",
                    source.display()
                ),
            )));
        }
    };
    let (actual, what) = match read {
        Outcome::Whole(bytes) => return Ok(Ok(bytes)),
        Outcome::FileTooLarge { size } => (size, format!("it is {size} bytes")),
        Outcome::StreamTooLarge { read } => (read, format!("reading stopped after {read} bytes")),
    };
    let mut error = NodeError::new(
        ErrorKind::ImportSizeExceeded,
        format!(
            "{flag} {} is over the CLI's read bound of {limit} bytes ({}): {what}; split the data into several imports",
            source.display(),
            bound.rule()
        ),
    );
    error.details.limit_bytes = Some(limit);
    error.details.actual_bytes = Some(actual);
    Ok(Err(error))
}

/// How the CLI reads its input: the bound's `max-import-bytes`, the
/// cancellation that ends a read, and where the read is logged.
pub struct Reader<'a> {
    /// The `max-import-bytes` setting the bounds are made from.
    pub max_import_bytes: u64,
    /// Cancelled by a signal: the read ends at once with `Cancelled`.
    pub cancel: &'a CancellationToken,
    /// Told (at info) what is read and its bound.
    pub log: &'a Logger,
}

/// The input from `--input` or the four flags, with `--on-existing` over
/// the input's own, each source read under its bound; data that is not JSON
/// or not UTF-8, too large, or a read `reader.cancel` ended is a node error,
/// a missing file a usage error.
pub async fn read_input(
    args: &InputArgs,
    reader: &Reader<'_>,
) -> Result<Result<ImportRequest, NodeError>, UsageError> {
    let flag = match args.on_existing.as_deref() {
        None => None,
        Some("new_version") => Some(OnExisting::NewVersion),
        Some(_) => Some(OnExisting::Fail),
    };
    Ok(read_seed_or_request(args, reader)
        .await?
        .map(|mut request| {
            if let Some(on_existing) = flag {
                request.on_existing = on_existing;
            }
            request
        }))
}

/// The input as `--input` (the seed's fields and the node's options) or
/// the four flags give it.
async fn read_seed_or_request(
    args: &InputArgs,
    reader: &Reader<'_>,
) -> Result<Result<ImportRequest, NodeError>, UsageError> {
    let max_import_bytes = reader.max_import_bytes;
    if let Some(path) = &args.input {
        let bound = ReadBound::Input { max_import_bytes };
        let bytes = match read_source(path, "--input", bound, reader).await? {
            Ok(bytes) => bytes,
            Err(e) => return Ok(Err(e)),
        };
        return Ok(ImportRequest::from_json(&bytes).map_err(|e| {
            let mut e = e.into_node_error();
            e.message = format!("{}: {}", path.display(), e.message);
            e
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
    let bound = ReadBound::Data { max_import_bytes };
    let bytes = match read_source(file, "--data-file", bound, reader).await? {
        Ok(bytes) => bytes,
        Err(e) => return Ok(Err(e)),
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_made_from_max_import_bytes() {
        assert_eq!(
            ReadBound::Data {
                max_import_bytes: 100
            }
            .bytes(),
            100 + (1 << 20)
        );
        assert_eq!(
            ReadBound::Input {
                max_import_bytes: 100
            }
            .bytes(),
            200 + (1 << 20)
        );
        assert_eq!(
            ReadBound::Input {
                max_import_bytes: u64::MAX
            }
            .bytes(),
            u64::MAX
        );
    }

    #[test]
    fn a_stream_is_read_up_to_the_bound_and_one_byte_more() {
        let within = read_chunks(&[7u8; 300][..], None, 301).unwrap();
        assert!(matches!(within, Outcome::Whole(b) if b.len() == 300));
        let endless = std::io::repeat(0);
        match read_chunks(endless, None, 200_001).unwrap() {
            Outcome::StreamTooLarge { read } => assert_eq!(read, 200_001),
            _ => panic!("an endless stream is too large"),
        }
    }

    #[test]
    fn the_buffer_never_grows_past_the_bound() {
        struct Dribble(usize);
        impl Read for Dribble {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(self.0).min(1000);
                self.0 -= n;
                buf[..n].fill(b'x');
                Ok(n)
            }
        }
        match read_chunks(Dribble(1 << 20), None, 100_001).unwrap() {
            Outcome::StreamTooLarge { read } => assert_eq!(read, 100_001),
            _ => panic!("too large"),
        }
        let Outcome::Whole(b) = read_chunks(Dribble(70_000), Some(70_000), 100_001).unwrap() else {
            panic!("within the bound")
        };
        assert_eq!(b.len(), 70_000);
        assert!(b.capacity() <= 100_001, "{}", b.capacity());
    }
}
