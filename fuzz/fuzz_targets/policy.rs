//! Any bytes as a policy file: reading it returns a policy or a reason;
//! a policy read renders in every format and judges connections without
//! panicking, and its canonical JSON reads back as the same policy.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use medtap::policy::render::{self, Format};
use medtap::policy::{Policy, Watch};

fuzz_target!(|data: &[u8]| {
    let Ok(policy) = Policy::parse(data) else {
        return;
    };
    for format in [Format::Json, Format::Nftables, Format::CiscoAcl] {
        let _ = render::render(&policy, format);
    }
    let again = render::render(&policy, Format::Json);
    assert_eq!(Policy::parse(again.as_bytes()).as_ref(), Ok(&policy));
    let Ok(watch) = Watch::new(&policy, "fuzz.json".into(), String::new()) else {
        return;
    };
    // Every member address against every other, and against an outsider.
    let mut addresses: Vec<IpAddr> = policy.groups.iter().flat_map(|g| g.addresses()).collect();
    addresses.push(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)));
    for (i, client) in addresses.iter().take(16).enumerate() {
        for server in addresses.iter().take(16) {
            let port = u16::try_from(i).unwrap_or(0).wrapping_mul(97);
            let _ = watch.judge(*client, *server, 6, Some(port));
            let _ = watch.judge(*client, *server, 17, Some(53));
        }
    }
});
