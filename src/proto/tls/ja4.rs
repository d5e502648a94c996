//! The JA4 TLS-client fingerprint (FoxIO, BSD-3-Clause licensed method;
//! `technical_details/JA4.md` of the JA4 repository), for TLS over TCP.
//!
//! Only JA4 itself: the other JA4+ methods (JA4S, JA4H, JA4X, …) are under
//! another licence and are not implemented here.
//!
//! `t` + version + `d`/`i` (SNI present) + two-digit cipher and extension
//! counts + the first ALPN value's first and last characters, then the first
//! 12 hex digits of the SHA-256 of the sorted cipher list, then those of the
//! sorted extension list (SNI and ALPN left out) followed by `_` and the
//! signature algorithms in their order. GREASE values are ignored
//! everywhere.

use std::fmt::Write as _;

/// Whether `value` is a GREASE value (RFC 8701): `0x?a?a` with both bytes
/// equal.
pub fn is_grease(value: u16) -> bool {
    value & 0x0f0f == 0x0a0a && value >> 8 == value & 0xff
}

/// The two characters of a TLS or DTLS version; `00` for any other.
fn version_code(version: u16) -> &'static str {
    match version {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// The ALPN part: first and last characters of the first value when both
/// are ASCII alphanumeric; otherwise the first and last characters of its
/// hex representation; `00` when there is no value.
fn alpn_code(first: Option<&[u8]>) -> [char; 2] {
    let Some(value) = first else {
        return ['0', '0'];
    };
    let (Some(&head), Some(&tail)) = (value.first(), value.last()) else {
        return ['0', '0'];
    };
    if head.is_ascii_alphanumeric() && tail.is_ascii_alphanumeric() {
        [char::from(head), char::from(tail)]
    } else {
        [hex_digit(head >> 4), hex_digit(tail & 0x0f)]
    }
}

fn hex_digit(nibble: u8) -> char {
    char::from_digit(u32::from(nibble & 0x0f), 16).unwrap_or('0')
}

/// The first 12 hex digits of the SHA-256 of `text`.
fn hash12(text: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    let mut out = String::with_capacity(12);
    for byte in digest.as_ref().iter().take(6) {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

fn join_hex(values: &[u16], out: &mut String) {
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{value:04x}");
    }
}

/// What JA4 reads from a ClientHello, in wire order, GREASE included (it
/// is dropped here).
#[derive(Debug, Clone, Copy)]
pub struct Ja4Input<'a> {
    /// The hello's legacy `client_version`.
    pub legacy_version: u16,
    /// The supported_versions extension's list, if any.
    pub supported_versions: &'a [u16],
    /// Cipher suites.
    pub ciphers: &'a [u16],
    /// Extension types.
    pub extensions: &'a [u16],
    /// The first ALPN protocol's bytes, if any.
    pub first_alpn: Option<&'a [u8]>,
    /// Signature algorithms.
    pub signature_algorithms: &'a [u16],
}

/// The JA4 fingerprint of a ClientHello sent over TCP, e.g.
/// `t13d1516h2_8daaf6152771_e5627efa2ab1`.
pub fn ja4(input: &Ja4Input<'_>) -> String {
    let version = input
        .supported_versions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .max()
        .unwrap_or(input.legacy_version);
    let mut ciphers: Vec<u16> = input
        .ciphers
        .iter()
        .copied()
        .filter(|c| !is_grease(*c))
        .collect();
    let extensions: Vec<u16> = input
        .extensions
        .iter()
        .copied()
        .filter(|e| !is_grease(*e))
        .collect();
    let sni = if extensions.contains(&0x0000) {
        'd'
    } else {
        'i'
    };
    let [alpn_first, alpn_last] = alpn_code(input.first_alpn);

    let mut out = String::with_capacity(36);
    let _ = write!(
        out,
        "t{}{sni}{:02}{:02}{alpn_first}{alpn_last}_",
        version_code(version),
        ciphers.len().min(99),
        extensions.len().min(99),
    );

    ciphers.sort_unstable();
    if ciphers.is_empty() {
        out.push_str("000000000000");
    } else {
        let mut text = String::with_capacity(ciphers.len() * 5);
        join_hex(&ciphers, &mut text);
        out.push_str(&hash12(&text));
    }
    out.push('_');

    let mut hashed: Vec<u16> = extensions
        .into_iter()
        .filter(|e| *e != 0x0000 && *e != 0x0010)
        .collect();
    hashed.sort_unstable();
    if hashed.is_empty() {
        out.push_str("000000000000");
    } else {
        let mut text = String::with_capacity(hashed.len() * 5 + 64);
        join_hex(&hashed, &mut text);
        let signatures: Vec<u16> = input
            .signature_algorithms
            .iter()
            .copied()
            .filter(|s| !is_grease(*s))
            .collect();
        if !signatures.is_empty() {
            text.push('_');
            join_hex(&signatures, &mut text);
        }
        out.push_str(&hash12(&text));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of FoxIO's JA4 specification (JA4.md, "Cipher
    /// hash", "Extension hash", "Example"), in its original wire order.
    const SPEC_CIPHERS: [u16; 15] = [
        0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
        0x009c, 0x009d, 0x002f, 0x0035,
    ];
    const SPEC_EXTENSIONS: [u16; 16] = [
        0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012,
        0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
    ];
    const SPEC_SIGNATURES: [u16; 8] = [
        0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
    ];

    fn spec_input<'a>(signatures: &'a [u16], versions: &'a [u16]) -> Ja4Input<'a> {
        Ja4Input {
            legacy_version: 0x0303,
            supported_versions: versions,
            ciphers: &SPEC_CIPHERS,
            extensions: &SPEC_EXTENSIONS,
            first_alpn: Some(b"h2"),
            signature_algorithms: signatures,
        }
    }

    #[test]
    fn the_specification_example_gives_its_fingerprint() {
        let versions = [0x0a0a, 0x0304, 0x0303];
        assert_eq!(
            ja4(&spec_input(&SPEC_SIGNATURES, &versions)),
            "t13d1516h2_8daaf6152771_e5627efa2ab1"
        );
    }

    #[test]
    fn without_signature_algorithms_the_extension_list_is_hashed_alone() {
        // JA4.md: "0005,…,ff01 = 6d807ffa2a79".
        let versions = [0x0304];
        let print = ja4(&spec_input(&[], &versions));
        assert!(print.ends_with("_6d807ffa2a79"), "{print}");
    }

    #[test]
    fn grease_is_ignored_everywhere() {
        let ciphers: Vec<u16> = [0x2a2a].iter().chain(&SPEC_CIPHERS).copied().collect();
        let extensions: Vec<u16> = [0xfafa]
            .iter()
            .chain(&SPEC_EXTENSIONS)
            .chain(&[0x1a1a])
            .copied()
            .collect();
        let signatures: Vec<u16> = [0x3a3a].iter().chain(&SPEC_SIGNATURES).copied().collect();
        let input = Ja4Input {
            legacy_version: 0x0303,
            supported_versions: &[0x7a7a, 0x0304, 0x0303],
            ciphers: &ciphers,
            extensions: &extensions,
            first_alpn: Some(b"h2"),
            signature_algorithms: &signatures,
        };
        assert_eq!(ja4(&input), "t13d1516h2_8daaf6152771_e5627efa2ab1");
    }

    #[test]
    fn alpn_characters_follow_the_specification_examples() {
        // JA4.md, "ALPN Extension Value".
        assert_eq!(alpn_code(Some(b"http/1.1")), ['h', '1']);
        assert_eq!(alpn_code(Some(&[0xab])), ['a', 'b']);
        assert_eq!(alpn_code(Some(&[0xab, 0xcd])), ['a', 'd']);
        assert_eq!(alpn_code(Some(&[0x30, 0xab])), ['3', 'b']);
        assert_eq!(alpn_code(Some(&[0x30, 0x31, 0xab, 0xcd])), ['3', 'd']);
        assert_eq!(alpn_code(Some(&[0x30, 0xab, 0xcd, 0x31])), ['0', '1']);
        assert_eq!(alpn_code(Some(b"h")), ['h', 'h']);
        assert_eq!(alpn_code(Some(b"")), ['0', '0']);
        assert_eq!(alpn_code(None), ['0', '0']);
    }

    #[test]
    fn no_ciphers_and_no_extensions_give_zero_hashes() {
        let input = Ja4Input {
            legacy_version: 0x0301,
            supported_versions: &[],
            ciphers: &[],
            extensions: &[0x0000, 0x0010],
            first_alpn: None,
            signature_algorithms: &[],
        };
        assert_eq!(ja4(&input), "t10d000200_000000000000_000000000000");
    }

    #[test]
    fn counts_stop_at_99_and_unknown_versions_are_00() {
        let ciphers: Vec<u16> = (1..=150).collect();
        let input = Ja4Input {
            legacy_version: 0x0200,
            supported_versions: &[],
            ciphers: &ciphers,
            extensions: &[],
            first_alpn: None,
            signature_algorithms: &[],
        };
        assert!(ja4(&input).starts_with("t00i990000_"));
    }

    #[test]
    fn grease_values_are_the_sixteen_of_rfc_8701() {
        let all: Vec<u16> = (0..=u16::MAX).filter(|v| is_grease(*v)).collect();
        assert_eq!(all.len(), 16);
        assert!(all.contains(&0x0a0a) && all.contains(&0xfafa));
        assert!(!is_grease(0x0a1a));
    }
}
