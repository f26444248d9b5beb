//! One native pass over the bench's data, for an instruction profile of the
//! check (issue 17): where every instruction per byte goes.
//!
//! ```text
//! cargo bench -p host-test --bench profile --no-run
//! valgrind --tool=callgrind --callgrind-out-file=target/callgrind.csv \
//!     target/release/deps/profile-* --bench csv validate 5
//! callgrind_annotate --inclusive=yes target/callgrind.csv | head -60
//! ```
//!
//! Arguments after `--bench`: the format (`csv` | `json`), what to run
//! (`validate`: the dry run's check; `stage`: a run's check, which writes
//! the staged file beside it and notes the rows the upload copies, then the
//! staged file written once more from the data, as a run's upload writes it) and
//! the size in MB (10^6 bytes; default 5). It prints the bytes and the
//! endpoints, so instructions per byte are callgrind's total over the bytes
//! (the data's generation is in the profile too: read the inclusive cost of
//! `import::validate` or `import::stage`). Run without `--bench` (as
//! `cargo test --benches` does), it checks 50 kB of each format once.

use pinpoint_segment_import::endpoints::Limits;
use pinpoint_segment_import::import;
use pinpoint_segment_import::input::{Format, ImportInput};

// `exact_csv` is the throughput bench's.
#[allow(dead_code)]
#[path = "throughput/data.rs"]
mod data;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(at) = args.iter().position(|a| a == "--bench") else {
        for format in [Format::Csv, Format::Json] {
            for stage in [false, true] {
                profile(format, stage, 0.05);
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
    let stage = match rest.get(1).map(String::as_str) {
        None | Some("validate") => false,
        Some("stage") => true,
        Some(other) => panic!("`{other}`: give validate or stage"),
    };
    let mb = rest
        .get(2)
        .map_or(5.0, |s| s.parse().expect("a size in MB"));
    profile(format, stage, mb);
}

fn profile(format: Format, stage: bool, mb: f64) {
    let input = ImportInput {
        application_id: "bench".into(),
        segment_name: "bench".into(),
        format,
        data: data::generate(format, (mb * 1e6) as usize),
    };
    let limits = Limits::default();
    let endpoints = if stage {
        let staged = import::stage(&input, &limits, &mut |_| {}).expect("the data is valid");
        assert_eq!(staged.data.len() as u64, staged.report.bytes_to_stage);
        staged.report.endpoint_count
    } else {
        import::validate(&input, &limits)
            .expect("the data is valid")
            .endpoint_count
    };
    println!(
        "{} {}: {} bytes, {endpoints} endpoints",
        format.as_str(),
        if stage { "stage" } else { "validate" },
        input.data.len()
    );
}
