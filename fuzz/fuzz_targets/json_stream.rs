//! Arbitrary bytes through the streaming JSON pass (`src/endpoints/json_stream.rs`),
//! compared with the oracle.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pinpoint_segment_import::input::Format;

fuzz_target!(|data: &[u8]| {
    pinpoint_segment_import_fuzz::check(Format::Json, data);
});
