//! DHCP as identity: what a client says about itself when it asks for an
//! address, from one UDP payload. DHCPv4 (RFC 2131/2132, ports 67/68) in
//! `v4.rs`, DHCPv6 (RFC 8415, ports 546/547) in `v6.rs`.
//!
//! # What is kept
//!
//! DHCPv4: the BOOTP header (op, hardware address, ciaddr/yiaddr), the
//! message type (option 53) and options 12 host name, 50 requested address,
//! 54 server id, 55 parameter request list (kept in order: the order is the
//! client software's fingerprint), 57 maximum message size, 60 vendor class,
//! 61 client identifier and 81 client FQDN. DHCPv6: the message type, the
//! client and server DUIDs (with the MAC of a DUID-LL/LLT), option 39 client
//! FQDN, option 16 vendor class with its enterprise number and option 6 the
//! option request list, in order.
//!
//! # Guarantees
//!
//! Never panics on any input (indexing is denied by lint); reads borrow
//! from the payload, and text is sanitised and bounded by the `pub const`s
//! here. Malformed input yields what was read plus [`DhcpAnomaly`]s.
//!
//! # What it refuses
//!
//! Options are read once: a repeated option (RFC 3396 concatenation) keeps
//! its first instance and is counted. DHCPv6 relay messages are reported by
//! type only; the client message inside is not unwrapped.
#[cfg(test)]
mod tests;
mod v4;
mod v6;

pub use v4::{
    ClientId, Dhcpv4Facts, MAX_HOST_NAME_LEN, MAX_VENDOR_CLASS_LEN, MessageTypeV4, parse_dhcpv4,
};
pub use v6::{
    Dhcpv6Facts, Duid, DuidKind, MAX_VENDOR_CLASS_DATA_LEN, MAX_VENDOR_CLASS_STRINGS,
    MessageTypeV6, VendorClassV6, parse_dhcpv6,
};

use std::fmt::Write as _;

/// Longest client identifier or DUID kept, in bytes (RFC 8415 §11.1: a
/// DUID is at most 128 bytes plus its 2-byte type); longer ones are cut.
pub const MAX_CLIENT_ID_LEN: usize = 130;

/// Longest client FQDN kept, in bytes of text.
pub const MAX_FQDN_LEN: usize = 255;

/// Entries kept from a parameter request list or option request option;
/// a client asks for 10–30.
pub const MAX_REQUESTED_OPTIONS: usize = 64;

/// Something malformed in a DHCP message, counted by the caller under
/// [`DhcpAnomaly::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DhcpAnomaly {
    /// Shorter than the fixed header (DHCPv4: 236 bytes and the magic
    /// cookie; DHCPv6: 4 bytes).
    Truncated,
    /// DHCPv4 without the magic cookie 99.130.83.99: plain BOOTP or not
    /// DHCP at all.
    NoMagicCookie,
    /// An option's length runs past the end of its area.
    OptionOverrun,
    /// An option whose length does not fit it (option 53 of 2 bytes, a
    /// requested address of 3).
    BadOptionLength,
    /// The same option twice.
    RepeatedOption,
    /// No message type (DHCPv4 option 53).
    NoMessageType,
    /// A client FQDN whose name is not a valid DNS name.
    BadFqdn,
    /// A DUID shorter than its type requires.
    BadDuid,
    /// More options requested than [`MAX_REQUESTED_OPTIONS`].
    TooManyRequestedOptions,
}

impl DhcpAnomaly {
    /// Every anomaly, in declaration order.
    pub const ALL: &'static [DhcpAnomaly] = &[
        DhcpAnomaly::Truncated,
        DhcpAnomaly::NoMagicCookie,
        DhcpAnomaly::OptionOverrun,
        DhcpAnomaly::BadOptionLength,
        DhcpAnomaly::RepeatedOption,
        DhcpAnomaly::NoMessageType,
        DhcpAnomaly::BadFqdn,
        DhcpAnomaly::BadDuid,
        DhcpAnomaly::TooManyRequestedOptions,
    ];

    /// The counter name.
    pub fn name(self) -> &'static str {
        match self {
            DhcpAnomaly::Truncated => "truncated",
            DhcpAnomaly::NoMagicCookie => "no_magic_cookie",
            DhcpAnomaly::OptionOverrun => "option_overrun",
            DhcpAnomaly::BadOptionLength => "bad_option_length",
            DhcpAnomaly::RepeatedOption => "repeated_option",
            DhcpAnomaly::NoMessageType => "no_message_type",
            DhcpAnomaly::BadFqdn => "bad_fqdn",
            DhcpAnomaly::BadDuid => "bad_duid",
            DhcpAnomaly::TooManyRequestedOptions => "too_many_requested_options",
        }
    }
}

/// A client FQDN (DHCPv4 option 81, RFC 4702; DHCPv6 option 39, RFC 4704).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFqdn {
    /// The flags byte (S, O, E, N bits).
    pub flags: u8,
    /// The name, dotted, at most [`MAX_FQDN_LEN`] bytes; a partial name
    /// (just the host label) is common.
    pub name: String,
}

impl ClientFqdn {
    /// Bounds `name` to [`MAX_FQDN_LEN`]: a wire name with non-ASCII labels
    /// can print longer than its 255 bytes.
    fn new(flags: u8, name: String) -> Self {
        let name = if name.len() > MAX_FQDN_LEN {
            crate::proto::names::sanitize(name.as_bytes(), MAX_FQDN_LEN).into_owned()
        } else {
            name
        };
        ClientFqdn { flags, name }
    }
}

/// An ordered list of requested option codes, the client's fingerprint
/// (`"1,3,6,15,…"`): borrowed bytes, each code one byte (DHCPv4) or two
/// (DHCPv6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestedOptions<'a> {
    raw: &'a [u8],
    wide: bool,
}

impl<'a> RequestedOptions<'a> {
    /// The codes, in the order the client sent them, at most
    /// [`MAX_REQUESTED_OPTIONS`].
    pub fn codes(&self) -> impl Iterator<Item = u16> + 'a {
        let step = if self.wide { 2 } else { 1 };
        let wide = self.wide;
        self.raw
            .chunks_exact(step)
            .take(MAX_REQUESTED_OPTIONS)
            .map(move |c| match (wide, c) {
                (true, &[hi, lo]) => u16::from_be_bytes([hi, lo]),
                (_, &[b, ..]) => u16::from(b),
                _ => 0,
            })
    }

    /// The codes joined by commas: `"1,3,6,15,119,252"`.
    pub fn fingerprint(&self) -> String {
        let mut out = String::new();
        for (i, code) in self.codes().enumerate() {
            if i > 0 {
                out.push(',');
            }
            // Writing to a String cannot fail.
            let _ = write!(out, "{code}");
        }
        out
    }
}
