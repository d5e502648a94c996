//! The p0f v3 signature of a TCP SYN or SYN+ACK, read from the IPv4 or IPv6
//! packet that carries it: IP version, TTL (and the initial TTL it was
//! probably sent with), IP options length, MSS, window size and scale, the
//! order of TCP options, and the quirks p0f 3.09b notes (DF, IP id, ECN,
//! flow label, zero sequence number, odd ACK or urgent pointer, timestamp
//! values, bad or excessive options).
//!
//! # Guarantees
//!
//! Never panics; reads only the headers of the borrowed packet (the payload
//! only counts, for the payload class); allocates nothing. Quirks are
//! computed as p0f 3.09b computes them, including its reading of a non-zero
//! ACK number on a SYN (noted only when the number is odd), so that the
//! signatures of its database match what they were written against.
//!
//! # What it refuses
//!
//! Packets that are not TCP directly over IPv4 or IPv6 (IPv6 extension
//! headers included, as p0f does), IPv4 fragments, headers that do not fit
//! the bytes, segments other than SYN and SYN+ACK, and flag combinations
//! no stack sends (SYN+FIN, SYN+RST): each is a [`TcpAnomaly`].
use std::fmt;

/// TCP options recorded in a signature's layout, as p0f's `MAX_TCP_OPT`;
/// later options are not read.
pub const MAX_TCP_OPTIONS: usize = 24;

/// Hops a packet may have crossed for its TTL to be read as sent at the
/// next initial TTL up (p0f's `MAX_DIST`).
pub const MAX_DISTANCE: u8 = 35;

/// Option kinds (IANA TCP option numbers).
pub mod option {
    /// End of option list.
    pub const EOL: u8 = 0;
    /// No operation.
    pub const NOP: u8 = 1;
    /// Maximum segment size.
    pub const MSS: u8 = 2;
    /// Window scale.
    pub const WS: u8 = 3;
    /// SACK permitted.
    pub const SACK_OK: u8 = 4;
    /// SACK blocks.
    pub const SACK: u8 = 5;
    /// Timestamps.
    pub const TIMESTAMP: u8 = 8;
}

/// p0f's quirks, as bits of [`Quirks`], in the order p0f writes them.
pub mod quirk {
    /// IPv4 don't-fragment set (`df`).
    pub const DF: u32 = 1 << 0;
    /// DF set and a non-zero IP id (`id+`).
    pub const NONZERO_ID: u32 = 1 << 1;
    /// DF clear and a zero IP id (`id-`).
    pub const ZERO_ID: u32 = 1 << 2;
    /// ECN bits in IP or TCP (`ecn`).
    pub const ECN: u32 = 1 << 3;
    /// The IPv4 must-be-zero flag set (`0+`).
    pub const NONZERO_MBZ: u32 = 1 << 4;
    /// A non-zero IPv6 flow label (`flow`).
    pub const FLOW: u32 = 1 << 5;
    /// Sequence number zero (`seq-`).
    pub const ZERO_SEQ: u32 = 1 << 6;
    /// ACK number set without the ACK flag (`ack+`).
    pub const NONZERO_ACK: u32 = 1 << 7;
    /// ACK flag with ACK number zero (`ack-`).
    pub const ZERO_ACK: u32 = 1 << 8;
    /// Urgent pointer set without the URG flag (`uptr+`).
    pub const NONZERO_URG: u32 = 1 << 9;
    /// URG flag (`urgf+`).
    pub const URG: u32 = 1 << 10;
    /// PUSH flag (`pushf+`).
    pub const PUSH: u32 = 1 << 11;
    /// Own timestamp zero (`ts1-`).
    pub const ZERO_TS1: u32 = 1 << 12;
    /// Peer timestamp non-zero on a SYN (`ts2+`).
    pub const NONZERO_TS2: u32 = 1 << 13;
    /// Non-zero bytes after the end-of-options (`opt+`).
    pub const EOL_NONZERO: u32 = 1 << 14;
    /// Window scale over 14 (`exws`).
    pub const EXCESSIVE_WS: u32 = 1 << 15;
    /// Malformed options (`bad`).
    pub const BAD_OPTIONS: u32 = 1 << 16;

    /// Each quirk with its p0f name, in p0f's order.
    pub const NAMES: [(u32, &str); 17] = [
        (DF, "df"),
        (NONZERO_ID, "id+"),
        (ZERO_ID, "id-"),
        (ECN, "ecn"),
        (NONZERO_MBZ, "0+"),
        (FLOW, "flow"),
        (ZERO_SEQ, "seq-"),
        (NONZERO_ACK, "ack+"),
        (ZERO_ACK, "ack-"),
        (NONZERO_URG, "uptr+"),
        (URG, "urgf+"),
        (PUSH, "pushf+"),
        (ZERO_TS1, "ts1-"),
        (NONZERO_TS2, "ts2+"),
        (EOL_NONZERO, "opt+"),
        (EXCESSIVE_WS, "exws"),
        (BAD_OPTIONS, "bad"),
    ];
}

/// A set of [`quirk`] bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Quirks(pub u32);

impl Quirks {
    /// Whether every bit of `quirk` is set.
    pub fn has(self, quirk: u32) -> bool {
        self.0 & quirk == quirk
    }
}

impl fmt::Display for Quirks {
    /// p0f's comma-separated quirk list (`df,id+`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (bit, name) in quirk::NAMES {
            if self.0 & bit != 0 {
                if !first {
                    f.write_str(",")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// The kinds of TCP options in the order sent, at most [`MAX_TCP_OPTIONS`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct OptionLayout {
    kinds: [u8; MAX_TCP_OPTIONS],
    len: u8,
}

impl OptionLayout {
    /// The option kinds.
    pub fn kinds(&self) -> &[u8] {
        self.kinds.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// Appends a kind; false (and nothing added) when full.
    pub fn push(&mut self, kind: u8) -> bool {
        match self.kinds.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = kind;
                self.len += 1;
                true
            }
            None => false,
        }
    }
}

/// Which IP version carried the segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpVersion {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// Which segment of the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SynKind {
    /// A client's SYN: the client's stack.
    Syn,
    /// A server's SYN+ACK: the server's stack.
    SynAck,
}

/// Why a packet has no TCP signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpAnomaly {
    /// Shorter than an IP header plus a TCP header.
    TooShort,
    /// The IP version nibble is neither 4 nor 6.
    BadIpVersion,
    /// The IPv4 header length is under 20 bytes or past the packet.
    BadIpHeaderLength,
    /// The IP length claims more bytes than the packet has.
    Truncated,
    /// The IP payload is not TCP (for IPv6: an extension header comes first).
    NotTcp,
    /// An IPv4 fragment.
    Fragment,
    /// The TCP data offset is under 20 bytes or past the packet.
    BadTcpHeaderLength,
    /// Neither a SYN nor a SYN+ACK.
    NotSyn,
    /// SYN with FIN or RST, or FIN with RST.
    ImpossibleFlags,
}

impl TcpAnomaly {
    /// A stable snake_case name, for counters.
    pub fn name(self) -> &'static str {
        match self {
            TcpAnomaly::TooShort => "too_short",
            TcpAnomaly::BadIpVersion => "bad_ip_version",
            TcpAnomaly::BadIpHeaderLength => "bad_ip_header_length",
            TcpAnomaly::Truncated => "truncated",
            TcpAnomaly::NotTcp => "not_tcp",
            TcpAnomaly::Fragment => "fragment",
            TcpAnomaly::BadTcpHeaderLength => "bad_tcp_header_length",
            TcpAnomaly::NotSyn => "not_syn",
            TcpAnomaly::ImpossibleFlags => "impossible_flags",
        }
    }
}

/// The p0f v3 signature of one SYN or SYN+ACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcpSignature {
    /// SYN or SYN+ACK.
    pub kind: SynKind,
    /// IPv4 or IPv6.
    pub ip_version: IpVersion,
    /// The TTL (hop limit) as received.
    pub ttl: u8,
    /// IPv4 options length in bytes (0 for IPv6).
    pub ip_options_len: u8,
    /// The IP type of service / traffic class, without the ECN bits.
    pub tos: u8,
    /// The MSS option's value; 0 when absent, as p0f.
    pub mss: u16,
    /// The window size field.
    pub window: u16,
    /// The window scale option's value; 0 when absent, as p0f.
    pub window_scale: u8,
    /// The option kinds in order.
    pub options: OptionLayout,
    /// Bytes after an end-of-options option.
    pub eol_padding: u8,
    /// The quirks.
    pub quirks: Quirks,
    /// The timestamp option's own value (0 when absent).
    pub timestamp: u32,
    /// Whether the segment carries payload (p0f's payload class).
    pub payload: bool,
    /// IP header plus TCP header length, in bytes.
    pub header_len: u16,
}

/// How p0f reads a window that is a multiple of something (`detect_win_multi`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowMultiple {
    /// `window = n × MSS` (or of a usual MSS).
    Mss(u16),
    /// `window = n × MTU`.
    Mtu(u16),
}

impl TcpSignature {
    /// Reads the signature of the SYN or SYN+ACK in `packet`, which starts
    /// at its IPv4 or IPv6 header.
    pub fn from_ip_packet(packet: &[u8]) -> Result<TcpSignature, TcpAnomaly> {
        let first = *packet.first().ok_or(TcpAnomaly::TooShort)?;
        let mut quirks = 0u32;
        let (ip_version, ttl, tos, ip_header_len, ip_options_len, packet_len);
        match first >> 4 {
            4 => {
                let header = packet.get(..20).ok_or(TcpAnomaly::TooShort)?;
                let [
                    _,
                    tos_ecn,
                    len_hi,
                    len_lo,
                    id_hi,
                    id_lo,
                    flags_hi,
                    flags_lo,
                    hop_limit,
                    protocol,
                    ..,
                ] = *header
                else {
                    return Err(TcpAnomaly::TooShort);
                };
                let header_len = usize::from(first & 0x0f) * 4;
                if header_len < 20 {
                    return Err(TcpAnomaly::BadIpHeaderLength);
                }
                let total = usize::from(u16::from_be_bytes([len_hi, len_lo]));
                if total > packet.len() {
                    return Err(TcpAnomaly::Truncated);
                }
                if header_len + 20 > total {
                    return Err(if header_len > total {
                        TcpAnomaly::BadIpHeaderLength
                    } else {
                        TcpAnomaly::TooShort
                    });
                }
                if protocol != 6 {
                    return Err(TcpAnomaly::NotTcp);
                }
                let flags_off = u16::from_be_bytes([flags_hi, flags_lo]);
                const DF: u16 = 0x4000;
                const MBZ: u16 = 0x8000;
                if flags_off & !(DF | MBZ) != 0 {
                    return Err(TcpAnomaly::Fragment);
                }
                if tos_ecn & 0x03 != 0 {
                    quirks |= quirk::ECN;
                }
                if flags_off & MBZ != 0 {
                    quirks |= quirk::NONZERO_MBZ;
                }
                let id = u16::from_be_bytes([id_hi, id_lo]);
                if flags_off & DF != 0 {
                    quirks |= quirk::DF;
                    if id != 0 {
                        quirks |= quirk::NONZERO_ID;
                    }
                } else if id == 0 {
                    quirks |= quirk::ZERO_ID;
                }
                ip_version = IpVersion::V4;
                ttl = hop_limit;
                tos = tos_ecn >> 2;
                ip_header_len = header_len;
                ip_options_len = (header_len - 20) as u8;
                packet_len = total;
            }
            6 => {
                let header = packet.get(..40).ok_or(TcpAnomaly::TooShort)?;
                let [b0, b1, b2, b3, len_hi, len_lo, next, hop_limit, ..] = *header else {
                    return Err(TcpAnomaly::TooShort);
                };
                let ver_tc_flow = u32::from_be_bytes([b0, b1, b2, b3]);
                let total = usize::from(u16::from_be_bytes([len_hi, len_lo])) + 40;
                if total > packet.len() {
                    return Err(TcpAnomaly::Truncated);
                }
                if total < 60 {
                    return Err(TcpAnomaly::TooShort);
                }
                if next != 6 {
                    return Err(TcpAnomaly::NotTcp);
                }
                if ver_tc_flow & 0x000f_ffff != 0 {
                    quirks |= quirk::FLOW;
                }
                if (ver_tc_flow >> 20) & 0x03 != 0 {
                    quirks |= quirk::ECN;
                }
                ip_version = IpVersion::V6;
                ttl = hop_limit;
                tos = ((ver_tc_flow >> 22) & 0x3f) as u8;
                ip_header_len = 40;
                ip_options_len = 0;
                packet_len = total;
            }
            _ => return Err(TcpAnomaly::BadIpVersion),
        }

        let segment = packet
            .get(ip_header_len..packet_len)
            .ok_or(TcpAnomaly::TooShort)?;
        let header = segment.get(..20).ok_or(TcpAnomaly::TooShort)?;
        let [
            _,
            _,
            _,
            _,
            s0,
            s1,
            s2,
            s3,
            a0,
            a1,
            a2,
            a3,
            offset,
            flags,
            w0,
            w1,
            _,
            _,
            u0,
            u1,
        ] = *header
        else {
            return Err(TcpAnomaly::TooShort);
        };
        let tcp_header_len = usize::from(offset >> 4) * 4;
        if tcp_header_len < 20 || tcp_header_len > segment.len() {
            return Err(TcpAnomaly::BadTcpHeaderLength);
        }
        const FIN: u8 = 0x01;
        const SYN: u8 = 0x02;
        const RST: u8 = 0x04;
        const PUSH: u8 = 0x08;
        const ACK: u8 = 0x10;
        const URG: u8 = 0x20;
        const ECE: u8 = 0x40;
        const CWR: u8 = 0x80;
        if (flags & SYN != 0 && flags & (FIN | RST) != 0) || (flags & FIN != 0 && flags & RST != 0)
        {
            return Err(TcpAnomaly::ImpossibleFlags);
        }
        let kind = match flags & (SYN | ACK | FIN | RST) {
            SYN => SynKind::Syn,
            x if x == SYN | ACK => SynKind::SynAck,
            _ => return Err(TcpAnomaly::NotSyn),
        };
        if flags & (ECE | CWR) != 0 || offset & 0x01 != 0 {
            quirks |= quirk::ECN;
        }
        if u32::from_be_bytes([s0, s1, s2, s3]) == 0 {
            quirks |= quirk::ZERO_SEQ;
        }
        let ack = u32::from_be_bytes([a0, a1, a2, a3]);
        if flags & ACK != 0 {
            if ack == 0 {
                quirks |= quirk::ZERO_ACK;
            }
        } else if ack & 1 != 0 {
            // p0f 3.09b tests `ack & !(flags & RST)`, which is the ACK
            // number's lowest bit; its database was written against that.
            quirks |= quirk::NONZERO_ACK;
        }
        if flags & URG != 0 {
            quirks |= quirk::URG;
        } else if u0 != 0 || u1 != 0 {
            quirks |= quirk::NONZERO_URG;
        }
        if flags & PUSH != 0 {
            quirks |= quirk::PUSH;
        }

        let mut signature = TcpSignature {
            kind,
            ip_version,
            ttl,
            ip_options_len,
            tos,
            mss: 0,
            window: u16::from_be_bytes([w0, w1]),
            window_scale: 0,
            options: OptionLayout::default(),
            eol_padding: 0,
            quirks: Quirks(quirks),
            timestamp: 0,
            payload: segment.len() > tcp_header_len,
            header_len: (ip_header_len + tcp_header_len) as u16,
        };
        let options = segment.get(20..tcp_header_len).unwrap_or_default();
        signature.read_options(options);
        Ok(signature)
    }

    /// Walks the options as p0f does: a malformed one ends the walk and is
    /// the `bad` quirk, never an error.
    fn read_options(&mut self, options: &[u8]) {
        let mut rest = options;
        let mut bad = false;
        while let Some((&kind, after)) = rest.split_first() {
            if !self.options.push(kind) {
                break;
            }
            rest = after;
            let declared = rest.first().copied();
            match kind {
                option::EOL => {
                    self.eol_padding = rest.len().min(usize::from(u8::MAX)) as u8;
                    if rest.iter().any(|&b| b != 0) {
                        self.quirks.0 |= quirk::EOL_NONZERO;
                    }
                    rest = &[];
                }
                option::NOP => {}
                option::MSS => {
                    bad |= declared != Some(4);
                    let Some([_, hi, lo]) = rest.first_chunk::<3>().copied() else {
                        bad = true;
                        rest = &[];
                        break;
                    };
                    self.mss = u16::from_be_bytes([hi, lo]);
                    rest = rest.get(3..).unwrap_or_default();
                }
                option::WS => {
                    bad |= declared != Some(3);
                    let Some([_, scale]) = rest.first_chunk::<2>().copied() else {
                        bad = true;
                        rest = &[];
                        break;
                    };
                    self.window_scale = scale;
                    if scale > 14 {
                        self.quirks.0 |= quirk::EXCESSIVE_WS;
                    }
                    rest = rest.get(2..).unwrap_or_default();
                }
                option::SACK_OK => {
                    bad |= declared != Some(2);
                    if rest.is_empty() {
                        bad = true;
                        break;
                    }
                    rest = rest.get(1..).unwrap_or_default();
                }
                option::TIMESTAMP => {
                    bad |= declared != Some(10);
                    let Some([_, t0, t1, t2, t3, e0, e1, e2, e3]) =
                        rest.first_chunk::<9>().copied()
                    else {
                        bad = true;
                        rest = &[];
                        break;
                    };
                    self.timestamp = u32::from_be_bytes([t0, t1, t2, t3]);
                    if self.timestamp == 0 {
                        self.quirks.0 |= quirk::ZERO_TS1;
                    }
                    if self.kind == SynKind::Syn && [e0, e1, e2, e3] != [0; 4] {
                        self.quirks.0 |= quirk::NONZERO_TS2;
                    }
                    rest = rest.get(9..).unwrap_or_default();
                }
                _ => {
                    // SACK (10 to 34 bytes) and unknown options (2 to 40)
                    // carry their length; an implausible one ends the walk.
                    let (low, high) = if kind == option::SACK {
                        (10, 34)
                    } else {
                        (2, 40)
                    };
                    let Some(len) = declared
                        .map(usize::from)
                        .filter(|l| (low..=high).contains(l))
                    else {
                        bad = true;
                        rest = &[];
                        break;
                    };
                    let Some(after) = rest.get(len - 1..) else {
                        bad = true;
                        rest = &[];
                        break;
                    };
                    rest = after;
                }
            }
        }
        if bad || !rest.is_empty() {
            self.quirks.0 |= quirk::BAD_OPTIONS;
        }
    }

    /// The initial TTL the packet was probably sent with (32, 64, 128 or
    /// 255: the next up from the received TTL).
    pub fn initial_ttl_guess(&self) -> u8 {
        match self.ttl {
            0..=32 => 32,
            33..=64 => 64,
            65..=128 => 128,
            _ => 255,
        }
    }

    /// Hops from the sender, guessed from [`Self::initial_ttl_guess`].
    pub fn distance_guess(&self) -> u8 {
        self.initial_ttl_guess() - self.ttl
    }

    /// Whether the window is a multiple of the MSS or MTU, as p0f reads it;
    /// `syn_mss` is the MSS of the SYN this SYN+ACK answers, if known.
    pub fn window_multiple(&self, syn_mss: Option<u16>) -> Option<WindowMultiple> {
        let window = self.window;
        let mss = self.mss;
        if window == 0 || mss < 100 {
            return None;
        }
        let divides = |d: u32| d != 0 && u32::from(window) % d == 0;
        let times = |d: u32| (u32::from(window) / d) as u16;
        let mss = u32::from(mss);
        let v6 = self.ip_version == IpVersion::V6;
        // Some stacks subtract the timestamp option from the MSS; some use
        // the MSS of a 1500-byte MTU on the wrong interface.
        let mss_divisors = [
            Some(mss),
            (self.timestamp != 0).then(|| mss - 12),
            Some(1500 - 40),
            Some(1500 - 40 - 12),
            v6.then_some(1500 - 60),
            v6.then_some(1500 - 60 - 12),
        ];
        if let Some(d) = mss_divisors.into_iter().flatten().find(|d| divides(*d)) {
            return Some(WindowMultiple::Mss(times(d)));
        }
        let mtu_divisors = [
            Some(mss + 40),
            Some(mss + u32::from(self.header_len)),
            v6.then_some(mss + 60),
            Some(1500),
        ];
        if let Some(d) = mtu_divisors.into_iter().flatten().find(|d| divides(*d)) {
            return Some(WindowMultiple::Mtu(times(d)));
        }
        let peer = u32::from(syn_mss.unwrap_or(0));
        if peer != 0 {
            if divides(peer) {
                return Some(WindowMultiple::Mss(times(peer)));
            }
            if peer >= 12 && divides(peer - 12) {
                return Some(WindowMultiple::Mss(times(peer - 12)));
            }
        }
        None
    }

    /// The signature as p0f 3.09b writes it in `raw_sig`, e.g.
    /// `4:64+0:0:1460:mss*20,7:mss,sok,ts,nop,ws:df,id+:0`.
    pub fn p0f_string(&self, syn_mss: Option<u16>) -> String {
        use std::fmt::Write as _;
        let mut out = String::with_capacity(64);
        let version = match self.ip_version {
            IpVersion::V4 => 4,
            IpVersion::V6 => 6,
        };
        let distance = self.distance_guess();
        let _ = if distance > MAX_DISTANCE {
            write!(out, "{version}:{}+?:{}:", self.ttl, self.ip_options_len)
        } else {
            write!(
                out,
                "{version}:{}+{distance}:{}:",
                self.ttl, self.ip_options_len
            )
        };
        // p0f-sendsyn's probe MSS echoed back is written as a wildcard.
        let _ = if self.mss == 1331 && self.kind == SynKind::SynAck {
            write!(out, "*:")
        } else {
            write!(out, "{}:", self.mss)
        };
        let _ = match self.window_multiple(syn_mss) {
            Some(WindowMultiple::Mss(n)) => write!(out, "mss*{n}"),
            Some(WindowMultiple::Mtu(n)) => write!(out, "mtu*{n}"),
            None => write!(out, "{}", self.window),
        };
        let _ = write!(out, ",{}:", self.window_scale);
        for (i, kind) in self.options.kinds().iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = match *kind {
                option::EOL => write!(out, "eol+{}", self.eol_padding),
                option::NOP => write!(out, "nop"),
                option::MSS => write!(out, "mss"),
                option::WS => write!(out, "ws"),
                option::SACK_OK => write!(out, "sok"),
                option::SACK => write!(out, "sack"),
                option::TIMESTAMP => write!(out, "ts"),
                other => write!(out, "?{other}"),
            };
        }
        let _ = write!(
            out,
            ":{}:{}",
            self.quirks,
            if self.payload { "+" } else { "0" }
        );
        out
    }
}
