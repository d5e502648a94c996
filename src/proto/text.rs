//! The one sanitiser of the protocol parsers: untrusted bytes made into
//! text an event can carry, never able to break a log line, a terminal or a
//! JSON reader's idea of a string.
//!
//! The parsers agree on the guarantee and differ on a few choices, which
//! are named here as the fields of [`Rules`] rather than hidden in copies:
//!
//! - **what a byte outside printable ASCII becomes** ([`Replace`]): `?`,
//!   byte for byte (the banner protocols, whose text is ASCII by
//!   definition), or UTF-8 decoded lossily with each control character made
//!   U+FFFD (names, descriptions and identifiers that may be UTF-8);
//! - **the padding** ([`Padding`]): NUL and ASCII white space around the
//!   raw bytes removed before the cut (names), after it (DICOM's
//!   fixed-width fields), or kept;
//! - **where it is cut**: always to `max` bytes of input, and with
//!   [`Rules::bound_output`] also to `max` bytes of text (a U+FFFD takes
//!   three bytes for the one it stands for), at a character boundary;
//! - **the trim** of white space from the text ([`Trim`]);
//! - **whether it borrows** ([`Rules::borrow_plain`]): input that is
//!   printable ASCII already is returned borrowed as it is, untrimmed.
//!
//! Each caller's choice is one of the named sets below ([`Rules::NAME`],
//! [`Rules::BANNER`], …), each of which gives the bytes that caller gave
//! before it moved here. HL7's text is not one of them: it unescapes and
//! maps delimiters first (`hl7::text`) and uses [`Rules::DECODED`] only for
//! its last step. NTLMSSP's names are not either: they are UTF-16 or
//! ASCII counted in characters, with control characters kept (JSON escapes
//! them), and making them U+FFFD would change what an event says. Nor are
//! the few fields validated rather than sanitised: a TLS server name kept
//! only when it is printable ASCII, SMB dialect strings only when ASCII,
//! a TFTP mode only when letters; TLS ALPN protocol ids are decoded lossily
//! with control characters kept, as those fields always were.
use std::borrow::Cow;

use crate::proto::reader::{at_most, trim_padding};

/// What a byte outside printable ASCII (0x20–0x7E) becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replace {
    /// `?`, one for each byte: no UTF-8 is decoded, so the text is ASCII.
    Question,
    /// The bytes decoded as UTF-8, an invalid sequence and every control
    /// character (C0, DEL, C1) made U+FFFD.
    Fffd,
}

/// Where NUL and ASCII white-space padding is removed from the raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Padding {
    /// Not removed (white space may still go with [`Trim`]).
    Keep,
    /// Removed before the cut to `max` bytes: the padding costs no room.
    BeforeCut,
    /// Removed after the cut: the cut is of the field as sent.
    AfterCut,
}

/// White space (Unicode's) trimmed from the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trim {
    /// None.
    None,
    /// From both ends of the text made.
    Both,
    /// From its end.
    End,
    /// From both ends before anything is replaced, so a trailing CR LF or
    /// tab goes rather than becoming U+FFFD or `?`.
    BothBeforeReplacing,
}

/// How one caller makes text of bytes; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rules {
    pub(crate) replace: Replace,
    pub(crate) padding: Padding,
    /// Whether the text made is held to `max` bytes too, not only the
    /// bytes read: the characters that would take it past are dropped.
    pub(crate) bound_output: bool,
    pub(crate) trim: Trim,
    /// Whether bytes (padded and cut) that are all printable ASCII are
    /// returned borrowed as they are, without [`Rules::trim`].
    pub(crate) borrow_plain: bool,
}

impl Rules {
    /// Names and descriptions of the identity protocols (DHCP host name
    /// and vendor class, LLDP/CDP, SSDP headers, DNS TXT and HINFO,
    /// NetBIOS): padding removed, then at most `max` bytes in and out,
    /// controls made U+FFFD, the end trimmed; plain ASCII borrowed, so a
    /// cut that falls after a space keeps it.
    pub(crate) const NAME: Rules = Rules {
        replace: Replace::Fffd,
        padding: Padding::BeforeCut,
        bound_output: true,
        trim: Trim::End,
        borrow_plain: true,
    };

    /// The banner protocols' text (HTTP, SSH, FTP, Telnet, SNMP, RDP, VNC,
    /// TFTP): at most `max` bytes, each outside printable ASCII made `?`,
    /// spaces trimmed.
    pub(crate) const BANNER: Rules = Rules {
        replace: Replace::Question,
        padding: Padding::Keep,
        bound_output: false,
        trim: Trim::Both,
        borrow_plain: false,
    };

    /// DICOM's fixed-width fields (AE titles, UIDs, implementation names):
    /// at most `max` bytes as sent, padding removed, controls made U+FFFD,
    /// trimmed.
    pub(crate) const DICOM: Rules = Rules {
        replace: Replace::Fffd,
        padding: Padding::AfterCut,
        bound_output: false,
        trim: Trim::Both,
        borrow_plain: true,
    };

    /// MQTT's strings (client ids, user names, topics): at most `max`
    /// bytes, trimmed, then controls made U+FFFD.
    pub(crate) const MQTT: Rules = Rules {
        replace: Replace::Fffd,
        padding: Padding::Keep,
        bound_output: false,
        trim: Trim::BothBeforeReplacing,
        borrow_plain: false,
    };

    /// One DNS label: decoded whole, controls made U+FFFD, nothing
    /// trimmed (a label's spaces are the name's, as in mDNS instance names).
    pub(crate) const LABEL: Rules = Rules {
        replace: Replace::Fffd,
        padding: Padding::Keep,
        bound_output: false,
        trim: Trim::None,
        borrow_plain: true,
    };

    /// Bytes already unescaped (HL7's last step): decoded, controls made
    /// U+FFFD, trimmed.
    pub(crate) const DECODED: Rules = Rules {
        replace: Replace::Fffd,
        padding: Padding::Keep,
        bound_output: false,
        trim: Trim::Both,
        borrow_plain: false,
    };
}

/// Whether `b` is printable ASCII: a space or a graphic character.
fn is_plain(b: u8) -> bool {
    (0x20..0x7F).contains(&b)
}

/// `raw` as text of at most `max` bytes of it, made by `rules`; borrowed
/// when the rules allow it and the bytes are printable ASCII.
pub(crate) fn text<'a>(raw: &'a [u8], max: usize, rules: &Rules) -> Cow<'a, str> {
    let raw = match rules.padding {
        Padding::BeforeCut => trim_padding(raw),
        _ => raw,
    };
    let cut = at_most(raw, max);
    let cut = match rules.padding {
        Padding::AfterCut => trim_padding(cut),
        _ => cut,
    };
    if rules.borrow_plain && cut.iter().all(|&b| is_plain(b)) {
        // Printable ASCII is valid UTF-8; the fallback is never taken.
        return std::str::from_utf8(cut).map_or(Cow::Borrowed(""), Cow::Borrowed);
    }
    let made = match rules.replace {
        Replace::Question => {
            let cut = match rules.trim {
                // The white space of ASCII, as `str::trim` sees it.
                Trim::BothBeforeReplacing => {
                    let space = |b: &u8| b.is_ascii() && char::from(*b).is_whitespace();
                    let start = cut.iter().position(|b| !space(b)).unwrap_or(cut.len());
                    let end = cut.iter().rposition(|b| !space(b)).map_or(start, |i| i + 1);
                    cut.get(start..end).unwrap_or_default()
                }
                _ => cut,
            };
            cut.iter()
                .map(|&b| if is_plain(b) { char::from(b) } else { '?' })
                .collect()
        }
        Replace::Fffd => {
            let decoded = String::from_utf8_lossy(cut);
            let decoded = match rules.trim {
                Trim::BothBeforeReplacing => decoded.trim(),
                _ => &decoded,
            };
            let mut made = String::with_capacity(decoded.len());
            for c in decoded.chars() {
                let c = if c.is_control() {
                    char::REPLACEMENT_CHARACTER
                } else {
                    c
                };
                if rules.bound_output && made.len() + c.len_utf8() > max {
                    break;
                }
                made.push(c);
            }
            made
        }
    };
    let trimmed = match rules.trim {
        Trim::None | Trim::BothBeforeReplacing => return Cow::Owned(made),
        Trim::Both => made.trim(),
        Trim::End => made.trim_end(),
    };
    if trimmed.len() == made.len() {
        Cow::Owned(made)
    } else {
        Cow::Owned(trimmed.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_drop_padding_first_and_borrow_plain_ascii() {
        let raw = b"\0 pump-7 \0";
        assert!(matches!(
            text(raw, 64, &Rules::NAME),
            Cow::Borrowed("pump-7")
        ));
        // The padding takes no room; a cut after a space keeps it when plain.
        assert_eq!(text(b"  ab cd", 3, &Rules::NAME), "ab ");
        // Not plain: decoded, controls made U+FFFD, the end trimmed.
        assert_eq!(
            text(b"a\x01b c\xc3\xa9", 64, &Rules::NAME),
            "a\u{fffd}b c\u{e9}"
        );
        assert_eq!(text("ab\u{a0}".as_bytes(), 64, &Rules::NAME), "ab");
    }

    #[test]
    fn names_hold_the_text_to_max_bytes_too() {
        // Three invalid bytes in: three U+FFFD would be nine bytes out.
        assert_eq!(text(b"\xff\xff\xff", 3, &Rules::NAME), "\u{fffd}");
        assert_eq!(text(b"\xff\xff\xff", 2, &Rules::NAME), "");
        // A two-byte character cut in half is U+FFFD, which does not fit.
        assert_eq!(text("aé".as_bytes(), 2, &Rules::NAME), "a");
    }

    #[test]
    fn banners_make_every_other_byte_a_question_mark() {
        assert_eq!(text(b" a\x1b[2Jb\xc3\xa9 ", 64, &Rules::BANNER), "a?[2Jb??");
        assert_eq!(text(b"abcdef", 3, &Rules::BANNER), "abc");
        assert_eq!(text(b"  ab  ", 64, &Rules::BANNER), "ab");
        assert_eq!(text(b"\tab", 64, &Rules::BANNER), "?ab");
        assert_eq!(text(b"", 3, &Rules::BANNER), "");
    }

    #[test]
    fn dicom_cuts_the_field_as_sent_then_drops_its_padding() {
        assert_eq!(text(b"STORESCU        ", 16, &Rules::DICOM), "STORESCU");
        assert_eq!(
            text(b"1.2.840.10008.1.1\0", 64, &Rules::DICOM),
            "1.2.840.10008.1.1"
        );
        // The cut comes first: leading padding takes room.
        assert_eq!(text(b"    AB", 4, &Rules::DICOM), "");
        assert_eq!(text(b"A\x7fB\n", 64, &Rules::DICOM), "A\u{fffd}B");
        // Non-ASCII white space goes with the final trim.
        assert_eq!(text("AB\u{a0}".as_bytes(), 64, &Rules::DICOM), "AB");
    }

    #[test]
    fn mqtt_trims_before_replacing_controls() {
        assert_eq!(text(b"  pump\x00-7\n ", 64, &Rules::MQTT), "pump\u{fffd}-7");
        assert_eq!(text(b"\xff\xfeab", 64, &Rules::MQTT), "\u{fffd}\u{fffd}ab");
        assert_eq!(text(b"abcdef", 3, &Rules::MQTT), "abc");
        // A tab inside stays a control, made U+FFFD; at an end it is trimmed.
        assert_eq!(text(b"\ta\tb\t", 64, &Rules::MQTT), "a\u{fffd}b");
    }

    #[test]
    fn trimming_before_replacing_drops_end_controls_in_either_replacement() {
        let rules = |replace| Rules {
            replace,
            padding: Padding::Keep,
            bound_output: false,
            trim: Trim::BothBeforeReplacing,
            borrow_plain: false,
        };
        assert_eq!(
            text(b"\x0b a\tb \r\n", 64, &rules(Replace::Question)),
            "a?b"
        );
        assert_eq!(
            text(b"\x0b a\tb \r\n", 64, &rules(Replace::Fffd)),
            "a\u{fffd}b"
        );
        // A byte past ASCII is not white space to the byte-wise trim.
        assert_eq!(text(b"\x85a\xa0", 64, &rules(Replace::Question)), "?a?");
    }

    #[test]
    fn labels_keep_their_spaces_and_lose_their_controls() {
        assert_eq!(text(b" My Pump ", usize::MAX, &Rules::LABEL), " My Pump ");
        assert_eq!(text(b"a\x00b", usize::MAX, &Rules::LABEL), "a\u{fffd}b");
        assert_eq!(text(b"", usize::MAX, &Rules::LABEL), "");
    }

    #[test]
    fn decoded_text_is_trimmed_after_replacing() {
        assert_eq!(
            text(b" a\rb\n", usize::MAX, &Rules::DECODED),
            "a\u{fffd}b\u{fffd}"
        );
    }

    #[test]
    fn never_more_than_max_bytes_read() {
        for rules in [Rules::NAME, Rules::BANNER, Rules::DICOM, Rules::MQTT] {
            let long = [b'x'; 100];
            assert_eq!(text(&long, 10, &rules).len(), 10);
        }
    }
}
