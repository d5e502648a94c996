//! Any JSON object as an EVE event, in every format and at any size limit:
//! encoding returns, never writes past the limit, and what it writes is one
//! JSON object (JSON formats) or one line (CEF, LEEF).
#![no_main]

use libfuzzer_sys::fuzz_target;
use medtap::output::format::{Fit, Format, encode_within};

fuzz_target!(|data: &[u8]| {
    let Some((&limit, json)) = data.split_first() else {
        return;
    };
    let Ok(eve) = serde_json::from_slice::<serde_json::Value>(json) else {
        return;
    };
    // Limits from tiny to roomy, so both shortening and the whole event run.
    let max = usize::from(limit) * 16;
    for format in Format::ALL {
        let mut out = Vec::new();
        let fit = encode_within(format, &eve, max, &mut out);
        assert!(out.len() <= max, "{format:?} wrote {} > {max}", out.len());
        match fit {
            Fit::TooBig => assert!(out.is_empty()),
            Fit::Whole | Fit::Shortened if format.is_json() => {
                serde_json::from_slice::<serde_json::Value>(&out).expect("valid JSON");
            }
            Fit::Whole | Fit::Shortened => assert!(!out.contains(&b'\n')),
        }
    }
});
