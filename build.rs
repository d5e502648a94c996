//! Turns `data/oui.tsv` (the IEEE MAC registries) into sorted static tables,
//! so vendor lookups are a binary search with nothing parsed at run time. A
//! damaged table stops the build instead of reaching a sensor.
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a damaged table or build environment must stop the build"
)]

use std::fmt::Write as _;
use std::path::PathBuf;

/// The registries hold well over this many assignments; fewer rows means the
/// table was cut short.
const MIN_ROWS: usize = 40_000;

/// Prefix lengths of the IEEE blocks, longest first (MA-S/IAB, MA-M, MA-L).
const PREFIX_BITS: [u32; 3] = [36, 28, 24];

fn main() {
    let source = "data/oui.tsv";
    println!("cargo::rerun-if-changed={source}");
    let text = std::fs::read_to_string(source).expect("data/oui.tsv is readable");

    let mut blocks: [Vec<(u64, &str)>; 3] = Default::default();
    for (number, line) in text.lines().enumerate() {
        let mut cols = line.splitn(3, '\t');
        let (Some(bits), Some(prefix), Some(org)) = (cols.next(), cols.next(), cols.next()) else {
            panic!("data/oui.tsv:{}: expected three columns", number + 1);
        };
        let bits: u32 = bits.parse().expect("prefix length is a number");
        let slot = PREFIX_BITS
            .iter()
            .position(|b| *b == bits)
            .unwrap_or_else(|| panic!("data/oui.tsv:{}: prefix length {bits}", number + 1));
        assert_eq!(prefix.len() as u32 * 4, bits, "data/oui.tsv:{}", number + 1);
        let prefix = u64::from_str_radix(prefix, 16).expect("prefix is hex");
        assert!(
            !org.trim().is_empty(),
            "data/oui.tsv:{}: no name",
            number + 1
        );
        blocks[slot].push((prefix, org.trim()));
    }
    let rows: usize = blocks.iter().map(Vec::len).sum();
    assert!(rows >= MIN_ROWS, "data/oui.tsv has only {rows} rows");

    let mut out = String::new();
    for (bits, block) in PREFIX_BITS.iter().zip(&mut blocks) {
        block.sort_unstable_by_key(|(prefix, _)| *prefix);
        let before = block.len();
        block.dedup_by_key(|(prefix, _)| *prefix);
        assert_eq!(before, block.len(), "data/oui.tsv repeats a /{bits} prefix");
        writeln!(
            out,
            "static BLOCK_{bits}: [(u64, &str); {}] = [",
            block.len()
        )
        .ok();
        for (prefix, org) in block.iter() {
            writeln!(out, "    ({prefix:#x}, {org:?}),").ok();
        }
        writeln!(out, "];").ok();
    }
    writeln!(
        out,
        "/// Rows in the registry table.\npub const ROWS: usize = {rows};"
    )
    .ok();

    let dest =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("oui.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
