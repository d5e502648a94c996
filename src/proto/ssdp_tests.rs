//! Tests of the SSDP parser: messages as minidlna, gssdp and Windows send
//! them, the header bounds, and a property test that nothing panics. The
//! real capture is checked against tshark in `tests/identity_parsers.rs`.

use super::*;
use proptest::prelude::*;

const ALIVE: &[u8] = b"NOTIFY * HTTP/1.1\r\n\
HOST: 239.255.255.250:1900\r\n\
CACHE-CONTROL: max-age=1810\r\n\
LOCATION: http://10.77.0.148:8200/rootDesc.xml\r\n\
SERVER: Debian DLNADOC/1.50 UPnP/1.0 MiniDLNA/1.3.0\r\n\
NT: upnp:rootdevice\r\n\
USN: uuid:4d696e69-444c-164e-9d41-02696400000b::upnp:rootdevice\r\n\
NTS: ssdp:alive\r\n\
\r\n";

#[test]
fn a_notify_gives_server_location_and_usn() {
    let m = parse_ssdp(ALIVE);
    assert!(m.anomalies.is_empty(), "{:?}", m.anomalies);
    assert_eq!(m.kind, Some(SsdpKind::Notify));
    assert_eq!(
        m.server.as_deref(),
        Some("Debian DLNADOC/1.50 UPnP/1.0 MiniDLNA/1.3.0")
    );
    assert_eq!(
        m.location.as_deref(),
        Some("http://10.77.0.148:8200/rootDesc.xml")
    );
    assert_eq!(m.nt.as_deref(), Some("upnp:rootdevice"));
    assert_eq!(m.nts.as_deref(), Some("ssdp:alive"));
    assert_eq!(m.cache_control.as_deref(), Some("max-age=1810"));
    assert_eq!(m.uuid(), Some("4d696e69-444c-164e-9d41-02696400000b"));
    assert!(matches!(m.server, Some(Cow::Borrowed(_))), "no copy");
}

#[test]
fn a_search_and_its_answer() {
    let search = b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n\
MAN: \"ssdp:discover\"\r\nMX: 3\r\nST: upnp:rootdevice\r\n\
USER-AGENT: Linux/6.1 UPnP/1.0 GSSDP/1.6.2\r\n\r\n";
    let m = parse_ssdp(search);
    assert_eq!(m.kind, Some(SsdpKind::Search));
    assert_eq!(m.st.as_deref(), Some("upnp:rootdevice"));
    assert_eq!(
        m.user_agent.as_deref(),
        Some("Linux/6.1 UPnP/1.0 GSSDP/1.6.2")
    );
    let answer = b"HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\nEXT:\r\n\
USN: uuid:abc::upnp:rootdevice\r\nServer: Windows/10 UPnP/1.0 Pump/2\r\n\r\n";
    let m = parse_ssdp(answer);
    assert_eq!(m.kind, Some(SsdpKind::Response { status: 200 }));
    assert_eq!(
        m.server.as_deref(),
        Some("Windows/10 UPnP/1.0 Pump/2"),
        "any case"
    );
    assert_eq!(m.uuid(), Some("abc"));
}

#[test]
fn bare_line_feeds_are_accepted() {
    let m = parse_ssdp(b"NOTIFY * HTTP/1.1\nNT: a\nNTS: ssdp:byebye\n\n");
    assert_eq!(m.nts.as_deref(), Some("ssdp:byebye"));
    assert!(m.anomalies.is_empty());
}

#[test]
fn other_start_lines_are_not_ssdp() {
    for bytes in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        b"",
        b"HTTP/1.1 2x0 OK\r\n",
        b"\x00\x01\x02",
    ] {
        let m = parse_ssdp(bytes);
        assert_eq!(m.kind, None);
        assert_eq!(m.anomalies, vec![SsdpAnomaly::NotSsdp]);
    }
}

#[test]
fn header_lines_without_a_colon_and_repeats_are_counted() {
    let m = parse_ssdp(b"NOTIFY * HTTP/1.1\r\nbroken line\r\nNT: a\r\nNT: b\r\n\r\n");
    assert_eq!(m.nt.as_deref(), Some("a"));
    assert_eq!(
        m.anomalies,
        vec![SsdpAnomaly::MalformedHeader, SsdpAnomaly::RepeatedHeader]
    );
}

#[test]
fn max_headers_is_the_most_read() {
    let with = |n: usize| {
        let mut m = b"NOTIFY * HTTP/1.1\r\n".to_vec();
        for i in 0..n - 1 {
            m.extend(format!("X-{i}: y\r\n").as_bytes());
        }
        m.extend(b"NT: last\r\n\r\n");
        m
    };
    let bytes = with(MAX_HEADERS);
    let m = parse_ssdp(&bytes);
    assert_eq!(m.nt.as_deref(), Some("last"));
    assert!(m.anomalies.is_empty());
    let bytes = with(MAX_HEADERS + 1);
    let m = parse_ssdp(&bytes);
    assert_eq!(m.nt, None);
    assert_eq!(m.anomalies, vec![SsdpAnomaly::TooManyHeaders]);
}

#[test]
fn a_long_value_is_cut_to_the_limit() {
    let mut m = b"NOTIFY * HTTP/1.1\r\nSERVER: ".to_vec();
    m.extend(vec![b'a'; MAX_HEADER_VALUE_LEN]);
    m.extend(b"\r\nLOCATION: ");
    m.extend(vec![b'b'; MAX_HEADER_VALUE_LEN + 1]);
    m.extend(b"\r\n\r\n");
    let m = parse_ssdp(&m);
    assert_eq!(m.server.unwrap().len(), MAX_HEADER_VALUE_LEN);
    assert_eq!(m.location.unwrap().len(), MAX_HEADER_VALUE_LEN);
    assert_eq!(m.anomalies, vec![SsdpAnomaly::LongHeader]);
}

proptest! {
    #[test]
    fn ssdp_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let m = parse_ssdp(&bytes);
        for v in [&m.server, &m.location, &m.nt, &m.nts, &m.st, &m.usn, &m.user_agent, &m.cache_control]
            .into_iter()
            .flatten()
        {
            prop_assert!(v.len() <= MAX_HEADER_VALUE_LEN);
        }
        let _ = m.uuid();
    }

    #[test]
    fn ssdp_headers_never_panic(lines in proptest::collection::vec("[ -~]{0,40}", 0..40)) {
        let mut bytes = b"NOTIFY * HTTP/1.1\r\n".to_vec();
        for line in lines {
            bytes.extend(line.as_bytes());
            bytes.extend(b"\r\n");
        }
        let _ = parse_ssdp(&bytes).uuid();
    }
}
