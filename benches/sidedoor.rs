//! Cost of the side-door fingerprints over the real frames of
//! fixtures/sidedoor/sidedoor.pcap: a TCP SYN or SYN+ACK read into its p0f
//! signature and matched against the bundled p0f database, per SYN; and the
//! TLS ClientHello and SMB session parsers over whole directions. And the
//! banner parsers over the openings of fixtures/banner/banner.pcap, per
//! call: an HTTP request and response, an SSH identification string, an
//! SNMP response, a TFTP request, an RDP request, a VNC server opening, and
//! the FTP and Telnet sessions over a whole login.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a benchmark stops on bad setup"
)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use medtap::fingerprint::p0f::P0fDatabase;
use medtap::fingerprint::tcp::TcpSignature;
use medtap::proto::Direction;
use medtap::proto::banner::{ftp, http, rdp, snmp, ssh, telnet, tftp, vnc};
use medtap::proto::smb::parse_stream;
use medtap::proto::tls::parse_client_hello;
use std::hint::black_box;

/// What the benches read from the capture.
struct Inputs {
    /// The IP packets of the SYNs and SYN+ACKs.
    syns: Vec<Vec<u8>>,
    /// The client-to-server bytes of each TLS connection.
    tls: Vec<Vec<u8>>,
    /// The bytes of each direction of each SMB connection.
    smb: Vec<Vec<u8>>,
}

fn load() -> Inputs {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/sidedoor/sidedoor.pcap"
    );
    let mut capture = pcap::Capture::from_file(path).expect("sidedoor.pcap");
    let mut syns = Vec::new();
    let mut streams: std::collections::BTreeMap<(u16, u16), Vec<u8>> = Default::default();
    while let Ok(packet) = capture.next_packet() {
        let sliced = etherparse::SlicedPacket::from_ethernet(packet.data).expect("decodes");
        let Some(etherparse::TransportSlice::Tcp(tcp)) = &sliced.transport else {
            continue;
        };
        if tcp.syn() {
            syns.push(packet.data[14..].to_vec());
        } else {
            streams
                .entry((tcp.source_port(), tcp.destination_port()))
                .or_default()
                .extend_from_slice(tcp.payload());
        }
    }
    let tls = streams
        .iter()
        .filter(|((_, dport), _)| matches!(dport, 4433 | 4434 | 8443))
        .map(|(_, bytes)| bytes.clone())
        .collect();
    let smb = streams
        .iter()
        .filter(|((sport, dport), _)| *sport == 445 || *dport == 445)
        .map(|(_, bytes)| bytes.clone())
        .collect();
    Inputs { syns, tls, smb }
}

fn bench(c: &mut Criterion) {
    let Inputs { syns, tls, smb } = load();
    let db = P0fDatabase::bundled().expect("bundled database");

    let mut group = c.benchmark_group("sidedoor");
    group.throughput(Throughput::Elements(syns.len() as u64));
    group.bench_function("p0f_signature_and_match_per_syn", |b| {
        b.iter(|| {
            for ip in &syns {
                if let Ok(signature) = TcpSignature::from_ip_packet(black_box(ip)) {
                    black_box(db.find(&signature, Some(1460)));
                }
            }
        })
    });
    group.bench_function("p0f_signature_only", |b| {
        b.iter(|| {
            for ip in &syns {
                let _ = black_box(TcpSignature::from_ip_packet(black_box(ip)));
            }
        })
    });
    group.throughput(Throughput::Elements(tls.len() as u64));
    group.bench_function("tls_client_hello_with_ja4", |b| {
        b.iter(|| {
            for bytes in &tls {
                black_box(parse_client_hello(black_box(bytes)));
            }
        })
    });
    group.throughput(Throughput::Elements(smb.len() as u64));
    group.bench_function("smb_direction", |b| {
        b.iter(|| {
            for bytes in &smb {
                black_box(parse_stream(black_box(bytes)));
            }
        })
    });
    group.finish();

    c.bench_function("p0f_database_parse", |b| {
        b.iter(|| black_box(P0fDatabase::bundled()))
    });
}

/// The openings of the banner capture, per protocol.
struct Banners {
    /// Directions keyed by (source port, destination port), in capture order.
    streams: std::collections::BTreeMap<(u16, u16), Vec<u8>>,
    /// Segments of each FTP and Telnet conversation, by server port.
    sessions: std::collections::BTreeMap<u16, Vec<(Direction, Vec<u8>)>>,
    /// UDP payloads by destination port (first kept) and source port.
    datagrams: Vec<(u16, u16, Vec<u8>)>,
}

impl Banners {
    /// The first direction sent to (or from, `from_server`) `port`.
    fn first(&self, port: u16, from_server: bool) -> &[u8] {
        self.streams
            .iter()
            .find(|((sport, dport), _)| {
                if from_server {
                    *sport == port
                } else {
                    *dport == port
                }
            })
            .map(|(_, bytes)| bytes.as_slice())
            .expect("a stream on the port")
    }
}

fn load_banners() -> Banners {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/banner/banner.pcap");
    let mut capture = pcap::Capture::from_file(path).expect("banner.pcap");
    let mut banners = Banners {
        streams: Default::default(),
        sessions: Default::default(),
        datagrams: Vec::new(),
    };
    // The first connection to each server port only.
    let mut first_client_port: std::collections::BTreeMap<u16, u16> = Default::default();
    while let Ok(packet) = capture.next_packet() {
        let sliced = etherparse::SlicedPacket::from_ethernet(packet.data).expect("decodes");
        match &sliced.transport {
            Some(etherparse::TransportSlice::Tcp(tcp)) => {
                let (sport, dport) = (tcp.source_port(), tcp.destination_port());
                let (server, client) = if sport < dport {
                    (sport, dport)
                } else {
                    (dport, sport)
                };
                if *first_client_port.entry(server).or_insert(client) != client
                    || tcp.payload().is_empty()
                {
                    continue;
                }
                banners
                    .streams
                    .entry((sport, dport))
                    .or_default()
                    .extend_from_slice(tcp.payload());
                if matches!(server, 21 | 23) {
                    let direction = if dport == server {
                        Direction::ToServer
                    } else {
                        Direction::ToClient
                    };
                    banners
                        .sessions
                        .entry(server)
                        .or_default()
                        .push((direction, tcp.payload().to_vec()));
                }
            }
            Some(etherparse::TransportSlice::Udp(udp)) => banners.datagrams.push((
                udp.source_port(),
                udp.destination_port(),
                udp.payload().to_vec(),
            )),
            _ => {}
        }
    }
    banners
}

fn bench_banners(c: &mut Criterion) {
    let banners = load_banners();
    let http_request = banners.first(8080, false).to_vec();
    let http_response = banners.first(8080, true).to_vec();
    let ssh_server = banners.first(22, true).to_vec();
    let rdp_request = banners.first(3389, false).to_vec();
    let vnc_server = banners.first(5900, true).to_vec();
    let snmp_response = banners
        .datagrams
        .iter()
        .find(|(sport, _, _)| *sport == 161)
        .map(|(_, _, bytes)| bytes.clone())
        .expect("an SNMP response");
    let tftp_request = banners
        .datagrams
        .iter()
        .find(|(_, dport, _)| *dport == 69)
        .map(|(_, _, bytes)| bytes.clone())
        .expect("a TFTP request");
    let ftp_login = banners.sessions[&21].clone();
    let telnet_login = banners.sessions[&23].clone();

    // Each input is what its parser reads in full, not a refusal.
    assert!(http::parse_request(&http_request).done().is_some());
    assert!(http::parse_response(&http_response).done().is_some());
    assert!(ssh::parse_server_ident(&ssh_server).done().is_some());
    assert!(
        snmp::parse_message(&snmp_response)
            .ok()
            .and_then(|m| m.sys_descr)
            .is_some()
    );
    assert!(tftp::parse_request(&tftp_request).is_ok());
    assert!(rdp::parse_request(&rdp_request).done().is_some());
    assert!(vnc::parse_server(&vnc_server, None).done().is_some());

    let mut group = c.benchmark_group("banner");
    group.throughput(Throughput::Elements(1));
    group.bench_function("http_request", |b| {
        b.iter(|| black_box(http::parse_request(black_box(&http_request))))
    });
    group.bench_function("http_response", |b| {
        b.iter(|| black_box(http::parse_response(black_box(&http_response))))
    });
    group.bench_function("ssh_server_ident", |b| {
        b.iter(|| black_box(ssh::parse_server_ident(black_box(&ssh_server))))
    });
    group.bench_function("snmp_response_with_sys_descr", |b| {
        b.iter(|| black_box(snmp::parse_message(black_box(&snmp_response))))
    });
    group.bench_function("tftp_request", |b| {
        b.iter(|| black_box(tftp::parse_request(black_box(&tftp_request))))
    });
    group.bench_function("rdp_connection_request", |b| {
        b.iter(|| black_box(rdp::parse_request(black_box(&rdp_request))))
    });
    group.bench_function("vnc_server_opening", |b| {
        b.iter(|| black_box(vnc::parse_server(black_box(&vnc_server), None)))
    });
    group.bench_function("ftp_session_whole_login", |b| {
        b.iter(|| {
            let mut session = ftp::FtpSession::new();
            let mut events = Vec::new();
            for (direction, bytes) in &ftp_login {
                session.feed(*direction, black_box(bytes), &mut events);
            }
            black_box(events)
        })
    });
    group.bench_function("telnet_session_whole_login", |b| {
        b.iter(|| {
            let mut session = telnet::TelnetSession::new();
            let mut events = Vec::new();
            for (direction, bytes) in &telnet_login {
                session.feed(*direction, black_box(bytes), &mut events);
            }
            black_box(events)
        })
    });
    group.finish();
}

criterion_group!(benches, bench, bench_banners);
criterion_main!(benches);
