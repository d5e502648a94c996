use super::*;
use std::net::IpAddr;

fn ep(addr: &str, port: u16) -> Endpoint {
    Endpoint {
        addr: addr.parse::<IpAddr>().expect("ip"),
        port,
    }
}

const SYN: Option<TcpFlags> = Some(TcpFlags(TcpFlags::SYN));
const SYNACK: Option<TcpFlags> = Some(TcpFlags(TcpFlags::SYN | TcpFlags::ACK));
const ACK: Option<TcpFlags> = Some(TcpFlags(TcpFlags::ACK));
const FIN: Option<TcpFlags> = Some(TcpFlags(TcpFlags::FIN | TcpFlags::ACK));

#[test]
fn both_directions_share_one_key() {
    let a = ep("10.0.0.1", 40000);
    let b = ep("10.0.0.2", 104);
    let (k1, from_lo1) = FlowKey::new(a, b, 6, [0, 0]);
    let (k2, from_lo2) = FlowKey::new(b, a, 6, [0, 0]);
    assert_eq!(k1, k2);
    assert_ne!(from_lo1, from_lo2);
    assert_eq!(k1.sender(from_lo1), a);
    assert_eq!(k1.receiver(from_lo1), b);
    // Another VLAN is another flow.
    let (k3, _) = FlowKey::new(a, b, 6, [100, 0]);
    assert_ne!(k1, k3);
}

#[test]
fn tcp_handshake_counts_and_states() {
    let mut table = FlowTable::<()>::new(FlowConfig::default());
    let (key, c2s) = FlowKey::new(ep("10.0.0.1", 40000), ep("10.0.0.2", 104), 6, [0; 2]);
    let s2c = !c2s;
    let t = table
        .track(&key, c2s, 0, 60, [None; 2], SYN)
        .expect("tracked");
    assert!(t.is_new);
    assert_eq!(t.flow.tcp, Some(TcpState::SynSent));
    assert_eq!(t.flow.originator_is_lo, c2s);
    table.track(&key, s2c, 1, 60, [None; 2], SYNACK);
    let t = table
        .track(&key, c2s, 2, 1500, [None; 2], ACK)
        .expect("tracked");
    assert!(!t.is_new);
    assert_eq!(t.flow.tcp, Some(TcpState::Established));
    let side = usize::from(!c2s);
    assert_eq!(
        t.flow.sent[side],
        Counts {
            packets: 2,
            bytes: 1560
        }
    );
    table.track(&key, c2s, 3, 60, [None; 2], FIN);
    let t = table
        .track(&key, s2c, 4, 60, [None; 2], FIN)
        .expect("tracked");
    assert_eq!(t.flow.tcp, Some(TcpState::Closed));
    assert_eq!(table.counters().tcp, 1);
}

#[test]
fn a_synack_first_makes_the_receiver_the_originator() {
    let mut table = FlowTable::<()>::new(FlowConfig::default());
    let (key, s2c) = FlowKey::new(ep("10.0.0.2", 104), ep("10.0.0.1", 40000), 6, [0; 2]);
    let t = table
        .track(&key, s2c, 0, 60, [None; 2], SYNACK)
        .expect("tracked");
    assert_eq!(t.flow.originator_is_lo, !s2c);
}

#[test]
fn an_idle_flow_ends_when_its_next_packet_arrives() {
    let config = FlowConfig::default();
    let udp_timeout = config.udp_timeout;
    let mut table = FlowTable::<()>::new(config);
    let (key, fwd) = FlowKey::new(ep("10.0.0.1", 5000), ep("10.0.0.2", 53), 17, [0; 2]);
    table.track(&key, fwd, 0, 80, [None; 2], None::<TcpFlags>);
    // Just inside the timeout: same flow.
    let t = table
        .track(&key, fwd, udp_timeout, 80, [None; 2], None::<TcpFlags>)
        .expect("tracked");
    assert!(!t.is_new);
    let mut t = table
        .track(
            &key,
            fwd,
            2 * udp_timeout + 1,
            80,
            [None; 2],
            None::<TcpFlags>,
        )
        .expect("tracked");
    let ended = t.ended().count();
    assert!(t.is_new);
    assert_eq!(ended, 1);
    assert_eq!(table.counters().udp, 2);
    assert_eq!(table.counters().timed_out, 1);
}

#[test]
fn a_new_syn_on_a_closed_flow_starts_another() {
    let mut table = FlowTable::<()>::new(FlowConfig::default());
    let (key, c2s) = FlowKey::new(ep("10.0.0.1", 40000), ep("10.0.0.2", 104), 6, [0; 2]);
    table.track(&key, c2s, 0, 60, [None; 2], SYN);
    table.track(&key, !c2s, 1, 60, [None; 2], Some(TcpFlags(TcpFlags::RST)));
    let t = table
        .track(&key, c2s, 2, 60, [None; 2], SYN)
        .expect("tracked");
    assert!(t.is_new);
    assert_eq!(table.counters().tcp, 2);
}

#[test]
fn a_full_table_evicts_the_least_recently_seen_to_track_a_new_flow() {
    let config = FlowConfig {
        max_flows: 2,
        ..FlowConfig::default()
    };
    let mut table = FlowTable::<()>::new(config);
    let mut ended = Vec::new();
    for port in 1..=3u16 {
        let (key, fwd) = FlowKey::new(ep("10.0.0.1", port), ep("10.0.0.2", 53), 17, [0; 2]);
        let tracked = table.track(&key, fwd, i64::from(port), 80, [None; 2], None::<TcpFlags>);
        assert!(tracked.is_some());
        if let Some(mut t) = tracked {
            ended.extend(t.ended().map(|(k, _)| k.lo.port));
        }
    }
    assert_eq!(table.len(), 2);
    assert_eq!(ended, [1], "the oldest flow made room");
    assert_eq!(table.counters().evicted, 1);
}

#[test]
fn eviction_spares_parsed_and_established_connections_before_handshakes() {
    let config = FlowConfig {
        max_flows: 10,
        ..FlowConfig::default()
    };
    let mut table = FlowTable::<()>::new(config);
    // An established connection, seen first (the oldest of all).
    let (established, fwd) = FlowKey::new(ep("10.0.0.1", 40_000), ep("10.0.0.2", 104), 6, [0; 2]);
    table.track(
        &established,
        fwd,
        0,
        60,
        [None; 2],
        Some(TcpFlags(TcpFlags::ACK)),
    );
    // Then half-open handshakes from a flood, until the table is full.
    for port in 1..=9u16 {
        let (key, fwd) = FlowKey::new(ep("10.9.0.1", port), ep("10.0.0.2", 443), 6, [0; 2]);
        table.track(&key, fwd, i64::from(port), 60, [None; 2], SYN);
    }
    let (key, fwd) = FlowKey::new(ep("10.9.0.1", 10), ep("10.0.0.2", 443), 6, [0; 2]);
    let ended: Vec<u16> = table
        .track(&key, fwd, 10, 60, [None; 2], SYN)
        .expect("tracked")
        .ended()
        .map(|(k, _)| k.hi.port)
        .collect();
    assert_eq!(
        ended,
        [1],
        "the oldest half-open flow went, not the established one"
    );
    assert!(table.get_mut(&established).is_some());
}

#[test]
fn bytes_charged_past_the_budget_evict_holders_until_a_tenth_is_free() {
    let budget = 10_000;
    let config = FlowConfig {
        max_bytes: budget,
        ..FlowConfig::default()
    };
    let mut table = FlowTable::<()>::new(config);
    let key_of = |port: u16, ts: i64, charge: usize, table: &mut FlowTable| {
        let (key, fwd) = FlowKey::new(ep("10.0.0.1", port), ep("10.0.0.2", 53), 17, [0; 2]);
        let mut t = table
            .track(&key, fwd, ts, 80, [None; 2], None::<TcpFlags>)
            .expect("tracked");
        t.recharge(charge);
        key
    };
    // Five flows that hold nothing, the oldest of all, then four holding
    // 2 000 bytes each.
    for port in 1..=5 {
        key_of(port, i64::from(port), 0, &mut table);
    }
    for port in 6..=9 {
        key_of(port, i64::from(port), 2_000, &mut table);
    }
    assert_eq!(table.charged(), 8_000);
    assert_eq!(table.relieve().count(), 0);
    assert_eq!(table.counters().evicted, 0, "within the budget");
    // A fifth holder takes the table over; the oldest holders go until
    // 9 000 bytes at most are held; flows that hold nothing stay.
    key_of(10, 10, 2_500, &mut table);
    assert_eq!(table.relieve().count(), 1);
    assert_eq!(table.charged(), 8_500);
    assert_eq!(table.counters().evicted, 1);
    assert_eq!(table.len(), 9);
}

#[test]
fn a_table_of_flows_within_a_budget_never_outgrows_it() {
    const FLOW_SLOT_BYTES: usize = slot_bytes::<[u64; 8]>();
    assert_eq!(flows_within(0, FLOW_SLOT_BYTES), 1);
    for bytes in [1 << 20, 100 << 20, 1 << 30] {
        let flows = flows_within(bytes, FLOW_SLOT_BYTES);
        // The slots of a table holding `flows`, doubled once at seven
        // eighths full, stay within the bytes.
        let slots = (flows * 16 / 7).next_power_of_two();
        assert!(slots * FLOW_SLOT_BYTES <= bytes, "{bytes}");
        assert!(
            slots * 2 * FLOW_SLOT_BYTES > bytes,
            "{bytes}: not the largest"
        );
    }
}

#[test]
fn sweeps_free_idle_flows_and_credit_active_ones_once() {
    let config = FlowConfig::default();
    let udp_timeout = config.udp_timeout;
    let mut table = FlowTable::<()>::new(config);
    let (old, fwd) = FlowKey::new(ep("10.0.0.1", 1), ep("10.0.0.2", 53), 17, [0; 2]);
    table.track(&old, fwd, 0, 100, [None; 2], None::<TcpFlags>);
    let (live, fwd2) = FlowKey::new(ep("10.0.0.1", 2), ep("10.0.0.2", 53), 17, [0; 2]);
    table.track(&live, fwd2, udp_timeout, 100, [None; 2], None::<TcpFlags>);
    let credit = |table: &mut FlowTable| {
        table
            .flows_mut()
            .map(|(_, f)| f.take_uncredited().iter().map(|c| c.bytes).sum::<u64>())
            .sum::<u64>()
    };
    let now = udp_timeout + 1;
    let ended: Vec<FlowKey> = table.sweep(now).map(|(k, _)| k).collect();
    let credited = credit(&mut table);
    assert_eq!(ended, vec![old]);
    assert_eq!(credited, 100);
    // Nothing new since: a second sweep credits nothing.
    assert_eq!(table.sweep(now).count(), 0);
    let credited = credit(&mut table);
    assert_eq!(credited, 0);
}

#[test]
fn icmp_echo_request_and_reply_share_a_flow() {
    let request = crate::decode::Transport::Icmp {
        icmp_type: 8,
        code: 0,
    };
    let reply = crate::decode::Transport::Icmp {
        icmp_type: 0,
        code: 0,
    };
    let (rs, rd) = flow_ports(&request, false);
    let (ps, pd) = flow_ports(&reply, false);
    let (k1, _) = FlowKey::new(ep("10.0.0.1", rs), ep("10.0.0.2", rd), 1, [0; 2]);
    let (k2, _) = FlowKey::new(ep("10.0.0.2", ps), ep("10.0.0.1", pd), 1, [0; 2]);
    assert_eq!(k1, k2);
}

#[test]
fn an_application_timeout_replaces_the_established_one() {
    let mut table = FlowTable::<()>::new(FlowConfig::default());
    let (key, c2s) = FlowKey::new(ep("10.0.0.1", 40000), ep("10.0.0.2", 1883), 6, [0; 2]);
    let s = SECOND;
    for (ts, from, flags) in [(0, c2s, SYN), (s, !c2s, SYNACK), (2 * s, c2s, ACK)] {
        table.track(&key, from, ts, 60, [None; 2], flags);
    }
    // A keep-alive of 60 s: gone after 90 s of silence, not the TCP 600 s.
    table.get_mut(&key).expect("tracked").app_timeout = Some(90 * s);
    let mut ended = 0;
    if let Some(mut t) = table.track(&key, c2s, 80 * s, 60, [None; 2], ACK) {
        ended += t.ended().count();
    }
    assert_eq!(ended, 0, "a ping within the keep-alive keeps it");
    if let Some(mut t) = table.track(&key, c2s, 171 * s, 60, [None; 2], ACK) {
        ended += t.ended().count();
    }
    assert_eq!(ended, 1, "91 s of silence ends it");
    // A closing connection keeps the closed timeout, whatever the protocol.
    let flow = table.get_mut(&key).expect("a new flow");
    flow.app_timeout = Some(3600 * s);
    flow.tcp = Some(TcpState::Closed);
    assert_eq!(
        flow.timeout(6, &FlowConfig::default()),
        TCP_CLOSED_TIMEOUT_SECS * s
    );
}

/// A TCP connection between a client (10.0.0.1:40000) and a server
/// (10.0.0.2:1883) fed segments with their numbers.
struct Conn {
    table: FlowTable,
    key: FlowKey,
    c2s: bool,
    ts: Micros,
}

const CLIENT_ISN: u32 = 1_000;
const SERVER_ISN: u32 = 5_000;
const F: u8 = TcpFlags::FIN;
const S: u8 = TcpFlags::SYN;
const R: u8 = TcpFlags::RST;
const A: u8 = TcpFlags::ACK;

impl Conn {
    fn new() -> Conn {
        let (key, c2s) = FlowKey::new(ep("10.0.0.1", 40000), ep("10.0.0.2", 1883), 6, [0; 2]);
        Conn {
            table: FlowTable::<()>::new(FlowConfig::default()),
            key,
            c2s,
            ts: 0,
        }
    }

    /// A connection after its three-way handshake.
    fn established() -> Conn {
        let mut c = Conn::new();
        c.client(S, CLIENT_ISN, 0, 0);
        c.server(S | A, SERVER_ISN, CLIENT_ISN + 1, 0);
        c.client(A, CLIENT_ISN + 1, SERVER_ISN + 1, 0);
        assert_eq!(c.state(), TcpState::Established);
        c
    }

    fn send(&mut self, from_client: bool, flags: u8, seq: u32, ack: u32, len: u32) {
        self.ts += 1;
        let from_lo = self.c2s == from_client;
        let seen = TcpSeen::new(TcpFlags(flags), seq, ack, len);
        self.table
            .track(&self.key, from_lo, self.ts, 60, [None; 2], Some(seen))
            .expect("tracked");
    }

    fn client(&mut self, flags: u8, seq: u32, ack: u32, len: u32) {
        self.send(true, flags, seq, ack, len);
    }

    fn server(&mut self, flags: u8, seq: u32, ack: u32, len: u32) {
        self.send(false, flags, seq, ack, len);
    }

    fn flow(&mut self) -> &mut Flow {
        self.table.get_mut(&self.key).expect("flow")
    }

    fn state(&mut self) -> TcpState {
        self.flow().tcp.expect("tcp")
    }
}

#[test]
fn an_rst_exactly_at_the_next_sequence_number_closes() {
    let mut c = Conn::established();
    c.client(A, CLIENT_ISN + 1, SERVER_ISN + 1, 100);
    c.client(R, CLIENT_ISN + 101, 0, 0);
    assert_eq!(c.state(), TcpState::Closed);
}

#[test]
fn an_rst_in_the_window_but_not_at_its_start_is_a_challenge_not_a_close() {
    let mut c = Conn::established();
    c.client(A, CLIENT_ISN + 1, SERVER_ISN + 1, 100);
    c.server(R, SERVER_ISN + 2, 0, 0);
    c.client(R, CLIENT_ISN + 102, 0, 0);
    assert_eq!(c.state(), TcpState::Established);
    assert_eq!(c.table.counters().rst_challenged, 2);
}

#[test]
fn an_rst_2_pow_30_outside_the_window_is_ignored() {
    // Issue: one RST with a valid checksum, 2^30 outside the window, ended
    // parsing of the connection.
    let mut c = Conn::established();
    c.client(R, CLIENT_ISN + 1 + (1 << 30), 0, 0);
    c.server(R | A, SERVER_ISN + 1 + (1 << 30), CLIENT_ISN + 1, 0);
    assert_eq!(c.state(), TcpState::Established);
    assert_eq!(c.table.counters().rst_out_of_window, 2);
    // The largest window ends one byte before MAX_TCP_WINDOW past the start.
    c.client(R, CLIENT_ISN + 1 + MAX_TCP_WINDOW - 1, 0, 0);
    assert_eq!(c.table.counters().rst_challenged, 1);
    c.client(R, CLIENT_ISN + 1 + MAX_TCP_WINDOW, 0, 0);
    assert_eq!(c.table.counters().rst_out_of_window, 3);
    assert_eq!(c.state(), TcpState::Established);
}

#[test]
fn an_rst_acknowledging_the_syn_refuses_the_connection() {
    let mut c = Conn::new();
    c.client(S, CLIENT_ISN, 0, 0);
    // Linux answers a SYN to a closed port with RST|ACK, seq 0.
    c.server(R | A, 0, CLIENT_ISN + 2, 0);
    assert_eq!(c.state(), TcpState::SynSent, "does not acknowledge the SYN");
    c.server(R | A, 0, CLIENT_ISN + 1, 0);
    assert_eq!(c.state(), TcpState::Closed);
}

#[test]
fn midstream_an_rst_at_the_receivers_acknowledgment_closes() {
    // Picked up midstream: the client's stream was never seen, but the
    // server acknowledged it; an RST from the client must match that.
    let mut c = Conn::new();
    c.server(A, SERVER_ISN, 777, 50);
    c.client(R, 778, 0, 0);
    assert_eq!(c.state(), TcpState::Established);
    c.client(R, 777, 0, 0);
    assert_eq!(c.state(), TcpState::Closed);
}

#[test]
fn an_rst_with_no_reference_at_all_is_accepted() {
    let mut c = Conn::new();
    c.client(R, 12_345, 0, 0);
    assert_eq!(c.state(), TcpState::Closed);
}

#[test]
fn an_acknowledgment_of_data_never_sent_does_not_prepare_an_rst() {
    let mut c = Conn::established();
    c.client(A, CLIENT_ISN + 1, SERVER_ISN + 1, 10);
    // A forged ACK from the server acknowledging 5000 client bytes never
    // sent, then a forged RST there.
    c.server(A, SERVER_ISN + 1, CLIENT_ISN + 5_001, 0);
    c.client(R, CLIENT_ISN + 5_001, 0, 0);
    assert_eq!(c.state(), TcpState::Established);
}

#[test]
fn a_syn_with_another_isn_after_the_handshake_is_ignored() {
    // Issue: a stray SYN with another ISN after the handshake lost the
    // whole connection.
    let mut c = Conn::established();
    c.client(S, 0x0bad_5eed, 0, 0);
    c.server(S | A, 0x0bad_5eed, CLIENT_ISN + 1, 0);
    assert_eq!(c.state(), TcpState::Established);
    let side = usize::from(!c.c2s);
    assert_eq!(c.flow().isn[side], Some(CLIENT_ISN));
    assert_eq!(c.table.counters().syn_ignored, 2);
    // A retransmission of the real SYN changes nothing either.
    c.client(S, CLIENT_ISN, 0, 0);
    assert_eq!(c.state(), TcpState::Established);
    assert_eq!(c.table.counters().syn_ignored, 2);
}

#[test]
fn a_syn_on_a_connection_picked_up_midstream_is_ignored() {
    let mut c = Conn::new();
    c.client(A, 40_000, 9_000, 100);
    c.client(S, 123, 0, 0);
    assert_eq!(c.state(), TcpState::Established);
    assert_eq!(c.table.counters().syn_ignored, 1);
}

#[test]
fn a_fin_counts_only_at_the_next_sequence_number() {
    let mut c = Conn::established();
    c.client(A, CLIENT_ISN + 1, SERVER_ISN + 1, 100);
    // Ahead of the stream (data before it not seen yet): it waits.
    c.client(F | A, CLIENT_ISN + 201, SERVER_ISN + 1, 0);
    assert_eq!(c.state(), TcpState::Established);
    c.client(A, CLIENT_ISN + 101, SERVER_ISN + 1, 100);
    assert_eq!(c.state(), TcpState::Closing);
    // Behind the stream: ignored.
    c.server(F | A, SERVER_ISN, CLIENT_ISN + 202, 0);
    assert_eq!(c.state(), TcpState::Closing);
    assert_eq!(c.table.counters().fin_ignored, 1);
    c.server(F | A, SERVER_ISN + 1, CLIENT_ISN + 202, 0);
    assert_eq!(c.state(), TcpState::Closed);
}

#[test]
fn data_past_a_fin_withdraws_it() {
    // A FIN the receiver dropped (bad checksum): the sender goes on at the
    // FIN's sequence number.
    let mut c = Conn::established();
    c.client(F | A, CLIENT_ISN + 1, SERVER_ISN + 1, 0);
    assert_eq!(c.state(), TcpState::Closing);
    c.client(A, CLIENT_ISN + 1, SERVER_ISN + 1, 8);
    assert_eq!(c.state(), TcpState::Established);
    // A server FIN now does not close: the client's was withdrawn.
    c.server(F | A, SERVER_ISN + 1, CLIENT_ISN + 9, 0);
    assert_eq!(c.state(), TcpState::Closing);
    c.client(F | A, CLIENT_ISN + 9, SERVER_ISN + 2, 0);
    assert_eq!(c.state(), TcpState::Closed);
}

#[test]
fn a_closed_connection_reused_by_a_new_syn_is_a_new_flow() {
    let mut c = Conn::established();
    c.client(R, CLIENT_ISN + 1, 0, 0);
    assert_eq!(c.state(), TcpState::Closed);
    c.client(S, 0x7000_0000, 0, 0);
    assert_eq!(c.state(), TcpState::SynSent);
    let side = usize::from(!c.c2s);
    assert_eq!(c.flow().isn[side], Some(0x7000_0000));
    assert_eq!(c.table.counters().tcp, 2);
}
