//! Cost of the side-door fingerprints over the real frames of
//! fixtures/sidedoor/sidedoor.pcap: a TCP SYN or SYN+ACK read into its p0f
//! signature and matched against the bundled p0f database, per SYN; and the
//! TLS ClientHello and SMB session parsers over whole directions.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use medtap::fingerprint::p0f::P0fDatabase;
use medtap::fingerprint::tcp::TcpSignature;
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

criterion_group!(benches, bench);
criterion_main!(benches);
