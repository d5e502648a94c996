#![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::proto::feed_all;

/// Reads a `.stream` file written by `testdata/extract.sh`.
fn load(name: &str) -> Vec<(Direction, Vec<u8>)> {
    let path = format!("{}/src/proto/dicom/testdata/{name}.stream", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).expect(&path);
    let mut r = Reader::new(&bytes);
    let mut out = Vec::new();
    while !r.is_empty() {
        let dir = match r.u8().unwrap() {
            0 => Direction::ToServer,
            _ => Direction::ToClient,
        };
        let len = r.u32_be().unwrap() as usize;
        out.push((dir, r.take(len).unwrap().to_vec()));
    }
    out
}

fn run(segments: &[(Direction, Vec<u8>)]) -> Vec<Association> {
    let borrowed: Vec<(Direction, &[u8])> = segments.iter().map(|(d, b)| (*d, b.as_slice())).collect();
    feed_all::<DicomParser>(&borrowed)
}

#[test]
fn dump_all() {
    for name in ["echo", "echo_abort", "find_move", "reject", "store_ct", "store_ct_implicit", "store_two", "tapirx_dicom_arq_1_find_testclient", "tapirx_dicom_arq_2_get_testclient"] {
        let recs = run(&load(name));
        println!("== {name}: {}", serde_json::to_string(&recs).unwrap().chars().take(3000).collect::<String>());
    }
}
