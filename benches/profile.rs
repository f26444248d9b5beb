//! One pass over the bench's data, for an instruction profile (issue 17):
//! where every instruction per byte goes, natively or in wasm.
//!
//! Natively, under callgrind, one function at a time:
//!
//! ```text
//! cargo bench -p pinpoint-segment-import --bench profile --no-run
//! valgrind --tool=callgrind --callgrind-out-file=target/callgrind.csv \
//!     target/release/deps/profile-* --bench csv validate 5
//! callgrind_annotate --inclusive=yes target/callgrind.csv | head -60
//! ```
//!
//! In wasm, the same program built as the component is (`guest` profile,
//! `simd128`) and run by the wasmtime CLI under callgrind, which counts the
//! code Cranelift compiled too. The count includes compiling the program and
//! generating the data, so run `generate` the same way and subtract:
//!
//! ```text
//! CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS=-Ctarget-feature=+simd128 cargo build \
//!     -p pinpoint-segment-import --features portable --bench profile \
//!     --target wasm32-wasip2 --profile guest
//! valgrind --tool=callgrind --smc-check=all --callgrind-out-file=/dev/null \
//!     wasmtime run -C parallel-compilation=n -S http -W max-memory-size=4294967296 \
//!     target/wasm32-wasip2/guest/deps/profile-*.wasm --bench csv run 10
//! ```
//!
//! Arguments after `--bench`: the format (`csv` | `json`), what to run, and
//! the size in MB (10^6 bytes; default 5):
//! - `generate`: only the data (to subtract);
//! - `validate`: the dry run's check;
//! - `stage`: a run's check, which writes the staged file beside it (into
//!   nothing) and notes the rows the upload copies, then the staged file
//!   written once more from the data into memory (the pre-flight
//!   `node.stage`);
//! - `check`: a run's check alone, writing beside it into nothing;
//! - `hashed`: a run's check over plain HTTP, the staged file written beside
//!   it into two SHA-256s (the staging keys' and the signed payload's, as the
//!   run's `Hashes` are fed);
//! - `run`: `hashed`, then the staged file written again into nothing (the
//!   upload's pass, without the network);
//! - `https`: `run` as over HTTPS, the staging keys' SHA-256 and a CRC32C
//!   (`x-amz-checksum-crc32c`) beside the check;
//! - `sha256`: one SHA-256 of the data.
//!
//! It prints the bytes and the endpoints, so instructions per byte are a
//! count over the bytes. Run without `--bench` (as `cargo test --benches`
//! does), it runs each mode over 50 kB of each format once.

use std::convert::Infallible;

use pinpoint_segment_import::endpoints::{self, Checked, Limits};
use pinpoint_segment_import::import;
use pinpoint_segment_import::input::{Format, ImportInput};
use sha2::{Digest, Sha256};

// `exact_csv` is the throughput bench's.
#[allow(dead_code)]
#[path = "throughput/data.rs"]
mod data;

/// What one profile runs (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Generate,
    Validate,
    Stage,
    Check,
    Hashed,
    Run,
    Https,
    Sha256,
}

const MODES: [(&str, Mode); 8] = [
    ("generate", Mode::Generate),
    ("validate", Mode::Validate),
    ("stage", Mode::Stage),
    ("check", Mode::Check),
    ("hashed", Mode::Hashed),
    ("run", Mode::Run),
    ("https", Mode::Https),
    ("sha256", Mode::Sha256),
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(at) = args.iter().position(|a| a == "--bench") else {
        for format in [Format::Csv, Format::Json] {
            for (_, mode) in MODES {
                profile(format, mode, 0.05);
            }
        }
        return;
    };
    let rest = &args[at + 1..];
    let format = match rest.first().map(String::as_str) {
        None | Some("csv") => Format::Csv,
        Some("json") => Format::Json,
        Some(other) => panic!("format `{other}`: give csv or json"),
    };
    let mode = match rest.get(1).map(String::as_str) {
        None => Mode::Validate,
        Some(name) => MODES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, m)| *m)
            .unwrap_or_else(|| panic!("`{name}`: give one of {MODES:?}")),
    };
    let mb = rest
        .get(2)
        .map_or(5.0, |s| s.parse().expect("a size in MB"));
    profile(format, mode, mb);
}

fn profile(format: Format, mode: Mode, mb: f64) {
    let input = ImportInput {
        application_id: "bench".into(),
        segment_name: "bench".into(),
        format,
        data: data::generate(format, (mb * 1e6) as usize),
    };
    let limits = Limits::default();
    let endpoints = match mode {
        Mode::Generate => 0,
        Mode::Validate => {
            import::validate(&input, &limits)
                .expect(VALID)
                .endpoint_count
        }
        Mode::Stage => {
            let staged = import::stage(&input, &limits, &mut |_| {}).expect(VALID);
            assert_eq!(staged.data.len() as u64, staged.report.bytes_to_stage);
            staged.report.endpoint_count
        }
        Mode::Check => check_into(&input, &limits, &mut |_| {}).endpoint_count,
        Mode::Hashed | Mode::Run => {
            let (mut keys, mut payload) = (Sha256::new(), Sha256::new());
            let checked = check_into(&input, &limits, &mut |c| {
                keys.update(c);
                payload.update(c);
            });
            std::hint::black_box((keys.finalize(), payload.finalize()));
            if mode == Mode::Run {
                write_again(&checked);
            }
            checked.endpoint_count
        }
        Mode::Https => {
            let (mut keys, mut crc) = (Sha256::new(), 0u32);
            let checked = check_into(&input, &limits, &mut |c| {
                keys.update(c);
                crc = crc32c::crc32c_append(crc, c);
            });
            std::hint::black_box((keys.finalize(), crc));
            write_again(&checked);
            checked.endpoint_count
        }
        Mode::Sha256 => {
            std::hint::black_box(Sha256::digest(input.data.as_bytes()));
            0
        }
    };
    println!(
        "{} {mode:?}: {} bytes, {endpoints} endpoints",
        format.as_str(),
        input.data.len()
    );
}

const VALID: &str = "the data is valid";

/// A run's check of `input`, the staged file written beside it into `out`
/// (the whole file: the bench's CSV header says what it is).
fn check_into<'a>(
    input: &'a ImportInput,
    limits: &Limits,
    out: &mut dyn FnMut(&[u8]),
) -> Checked<'a> {
    let (checked, complete) =
        endpoints::check_writing(input.format, &input.data, limits, &mut |_| {}, out).expect(VALID);
    assert!(complete, "the staged file was written beside the check");
    checked
}

/// The upload's pass: the staged file written again, into nothing.
fn write_again(checked: &Checked<'_>) {
    let written: Result<(), Infallible> = checked.write_staged(&mut |chunk| {
        std::hint::black_box(chunk);
        Ok(())
    });
    match written {
        Ok(()) => {}
        Err(never) => match never {},
    }
}
