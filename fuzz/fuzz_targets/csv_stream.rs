//! Arbitrary bytes through the streaming CSV pass (`src/endpoints/csv_stream.rs`),
//! compared with the oracle.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pinpoint_segment_import::input::Format;

fuzz_target!(|data: &[u8]| {
    pinpoint_segment_import_fuzz::check(Format::Csv, data);
});
