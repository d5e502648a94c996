//! Any bytes as a state file: loading returns (accepted or refused with a
//! reason), and what it accepted can be saved again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medtap::baseline::Engine;
use medtap::baseline::state::load_bytes;
use medtap::device::{DeviceTable, HomeNets, Registry};

fuzz_target!(|data: &[u8]| {
    let table = DeviceTable::new();
    let mut registry = Registry::new(HomeNets::default());
    let mut engine = Engine::new(Default::default());
    let _ = load_bytes(data, &table, &mut registry, &mut engine);
    let _ = table.inventory();
});
