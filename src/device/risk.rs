//! A risk score per device, with every point it is made of.
//!
//! The score is a sum of named weights, one per finding, capped at
//! [`MAX_SCORE`]; the level follows from fixed thresholds. Each finding adds
//! one reason — its points, a stable code and one line of text — so an
//! auditor can check every point against the evidence and add them up.
//! `docs/risk.md` explains each weight and what the score cannot know.
//!
//! The rules:
//!
//! - an operating system past its vendor's end of free security support:
//!   [`POINTS_OS_END_OF_LIFE`], or [`POINTS_OS_END_OF_LIFE_ESU_OPEN`] while
//!   a paid extension could still be patching it;
//! - each kind of exposure, once however often or on however many services
//!   it was seen (the reason lists them): SMBv1, Telnet, FTP, TFTP, SNMP
//!   v1/v2c, weak TLS (the worst version counts), HTTP Basic over
//!   cleartext, cleartext credentials, RDP without NLA, VNC without
//!   authentication, cleartext clinical protocols;
//! - talking to peers outside the home networks, and serving them;
//! - a clinical role, which raises the stakes of a weakness but is not one:
//!   its points count only when another rule gave points.
//!
//! Nothing here is stored or sent: [`assess`] is a pure function of its
//! inputs, so the same device gives the same score in every replay.
use std::collections::BTreeSet;

use serde::Serialize;

use crate::fingerprint::os::EolStatus;
pub use crate::proto::exposure::{CleartextService, ClinicalProtocol, Exposure, WeakTlsVersion};

/// The highest score; sums above it are capped.
pub const MAX_SCORE: u8 = 100;
/// Scores from here are `medium`: one serious weakness.
pub const MEDIUM_FROM: u8 = 20;
/// Scores from here are `high`: serious weaknesses combined, or one on a
/// clinical device.
pub const HIGH_FROM: u8 = 45;
/// Scores from here are `critical`: an unpatched system with an exploitable
/// service, on a clinical device or facing the outside.
pub const CRITICAL_FROM: u8 = 70;

/// The OS is past the end of its vendor's free security updates: every
/// flaw found since stays open.
pub const POINTS_OS_END_OF_LIFE: u8 = 30;
/// The OS is past free support but within a paid extension (Microsoft ESU)
/// that may be patching it; the wire cannot show the contract.
pub const POINTS_OS_END_OF_LIFE_ESU_OPEN: u8 = 20;
/// SMBv1 was negotiated: the protocol of EternalBlue and WannaCry.
pub const POINTS_SMB1: u8 = 25;
/// A Telnet service: remote shell logins in cleartext.
pub const POINTS_TELNET: u8 = 20;
/// An FTP service: cleartext logins and file transfer.
pub const POINTS_FTP: u8 = 10;
/// A TFTP service: file transfer (often firmware) with no authentication.
pub const POINTS_TFTP: u8 = 10;
/// SNMP v1 or v2c: a community string sent in cleartext grants read (or
/// write) access to the device's management.
pub const POINTS_SNMP_V1_V2C: u8 = 10;
/// TLS 1.0 or 1.1 negotiated: deprecated (RFC 8996).
pub const POINTS_WEAK_TLS: u8 = 10;
/// SSL 2.0 or 3.0 negotiated: broken (RFC 6176, RFC 7568).
pub const POINTS_SSL: u8 = 15;
/// HTTP Basic authentication over cleartext HTTP: a reusable password on
/// the wire.
pub const POINTS_HTTP_BASIC_CLEARTEXT: u8 = 15;
/// A login was seen in cleartext (user name kept, never the secret).
pub const POINTS_CLEARTEXT_CREDENTIALS: u8 = 20;
/// RDP accepted without Network Level Authentication: the login screen is
/// reachable before authenticating (BlueKeep class).
pub const POINTS_RDP_WITHOUT_NLA: u8 = 15;
/// VNC offered "no authentication": anyone reaching it has the screen.
pub const POINTS_VNC_NO_AUTH: u8 = 25;
/// DICOM, HL7 or MQTT in cleartext: patient data readable and alterable on
/// the path.
pub const POINTS_CLEARTEXT_CLINICAL: u8 = 10;
/// Talks to at least one peer outside the home networks.
pub const POINTS_EXTERNAL_PEERS: u8 = 10;
/// Talks to [`MANY_EXTERNAL_PEERS`] or more outside peers (replaces
/// [`POINTS_EXTERNAL_PEERS`]).
pub const POINTS_MANY_EXTERNAL_PEERS: u8 = 15;
/// Outside peers from which a device counts as talking to many.
pub const MANY_EXTERNAL_PEERS: usize = 10;
/// Answers connections from outside the home networks: its services are
/// reachable from there.
pub const POINTS_SERVES_EXTERNAL: u8 = 15;
/// The device keeps a patient alive or watched: a weakness on it can harm.
pub const POINTS_LIFE_CRITICAL_ROLE: u8 = 15;
/// The device makes or holds clinical data.
pub const POINTS_CLINICAL_ROLE: u8 = 10;

/// Device types (as `device::kind` names them) whose compromise can harm a
/// patient directly.
pub const LIFE_CRITICAL_ROLES: &[&str] = &["infusion_pump", "ventilator", "patient_monitor"];
/// Device types that make or hold clinical data.
pub const CLINICAL_ROLES: &[&str] = &[
    "imaging_modality",
    "lab_analyser",
    "pacs_vna",
    "hl7_interface_engine",
];

/// Exposures read at most from one device's list (a device's list is
/// bounded where it is made; this bounds the work here too).
pub const MAX_EXPOSURES_READ: usize = 256;

/// What the score is computed from.
#[derive(Debug, Clone, Copy, Default)]
pub struct RiskInputs<'a> {
    /// The end of support of the device's OS, when its fingerprint pins a
    /// release (`os.end_of_life`).
    pub os_end_of_life: Option<&'a EolStatus>,
    /// What the device exposes.
    pub exposures: &'a [Exposure],
    /// How many distinct peers outside the home networks it talked to.
    pub external_peers: usize,
    /// Whether it answered connections from outside the home networks.
    pub serves_external: bool,
    /// Its device type (`device::kind`), e.g. `infusion_pump`.
    pub clinical_role: Option<&'a str>,
}

/// The level a score falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    /// Below [`MEDIUM_FROM`].
    Low,
    /// From [`MEDIUM_FROM`].
    Medium,
    /// From [`HIGH_FROM`].
    High,
    /// From [`CRITICAL_FROM`].
    Critical,
}

impl RiskLevel {
    /// The level of `score`.
    pub fn of(score: u8) -> RiskLevel {
        if score >= CRITICAL_FROM {
            RiskLevel::Critical
        } else if score >= HIGH_FROM {
            RiskLevel::High
        } else if score >= MEDIUM_FROM {
            RiskLevel::Medium
        } else {
            RiskLevel::Low
        }
    }

    /// `low`, `medium`, `high` or `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
            RiskLevel::Critical => "critical",
        }
    }
}

/// One finding and what it adds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RiskReason {
    /// Points it adds.
    pub points: u8,
    /// A stable code (`os_end_of_life`, `smb1`, …).
    pub reason_code: &'static str,
    /// One line an auditor can check against the evidence.
    pub text: String,
}

/// A device's risk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Risk {
    /// The sum of the reasons' points, at most [`MAX_SCORE`].
    pub score: u8,
    /// The level the score falls in.
    pub level: RiskLevel,
    /// The sum before the cap (equal to `score` unless capped).
    pub points_total: u16,
    /// Every finding, in a fixed order.
    pub reasons: Vec<RiskReason>,
}

/// Names joined with commas, in their sort order.
fn listed<T: Ord + Copy>(items: &BTreeSet<T>, name: fn(T) -> &'static str) -> String {
    items
        .iter()
        .map(|i| name(*i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The risk of a device from `inputs`: see the module documentation and
/// `docs/risk.md` for every rule.
pub fn assess(inputs: &RiskInputs<'_>) -> Risk {
    let mut reasons: Vec<RiskReason> = Vec::new();
    let mut add = |points: u8, reason_code: &'static str, text: String| {
        reasons.push(RiskReason {
            points,
            reason_code,
            text,
        });
    };

    if let Some(eol) = inputs.os_end_of_life.filter(|e| e.past) {
        let editions = eol.editions.join(" / ");
        if eol.esu_open {
            let until = eol.esu_end.map(|d| d.to_string()).unwrap_or_default();
            add(
                POINTS_OS_END_OF_LIFE_ESU_OPEN,
                "os_end_of_life",
                format!(
                    "operating system ({editions}) out of free support since {}; paid ESU possible until {until}",
                    eol.date
                ),
            );
        } else {
            add(
                POINTS_OS_END_OF_LIFE,
                "os_end_of_life",
                format!(
                    "operating system ({editions}) out of support since {}",
                    eol.date
                ),
            );
        }
    }

    let exposures = inputs
        .exposures
        .get(..MAX_EXPOSURES_READ)
        .unwrap_or(inputs.exposures);
    let seen = |wanted: Exposure| exposures.contains(&wanted);
    if seen(Exposure::Smb1) {
        add(
            POINTS_SMB1,
            "smb1",
            "SMBv1 negotiated (the protocol of EternalBlue/WannaCry)".to_owned(),
        );
    }
    if seen(Exposure::Telnet) {
        add(
            POINTS_TELNET,
            "telnet",
            "Telnet service: remote logins in cleartext".to_owned(),
        );
    }
    if seen(Exposure::Ftp) {
        add(
            POINTS_FTP,
            "ftp",
            "FTP service: logins and files in cleartext".to_owned(),
        );
    }
    if seen(Exposure::Tftp) {
        add(
            POINTS_TFTP,
            "tftp",
            "TFTP service: file transfer without authentication".to_owned(),
        );
    }
    if seen(Exposure::SnmpV1V2c) {
        add(
            POINTS_SNMP_V1_V2C,
            "snmp_v1_v2c",
            "SNMP v1/v2c: community string sent in cleartext".to_owned(),
        );
    }
    let worst_tls = exposures
        .iter()
        .filter_map(|e| match e {
            Exposure::WeakTls { version } => Some(*version),
            _ => None,
        })
        .min();
    if let Some(version) = worst_tls {
        let points = if version.is_ssl() {
            POINTS_SSL
        } else {
            POINTS_WEAK_TLS
        };
        add(
            points,
            "weak_tls",
            format!("{} negotiated (below TLS 1.2)", version.as_str()),
        );
    }
    if seen(Exposure::HttpBasicCleartext) {
        add(
            POINTS_HTTP_BASIC_CLEARTEXT,
            "http_basic_cleartext",
            "HTTP Basic authentication over cleartext HTTP".to_owned(),
        );
    }
    let services: BTreeSet<CleartextService> = exposures
        .iter()
        .filter_map(|e| match e {
            Exposure::CleartextCredentials { service } => Some(*service),
            _ => None,
        })
        .collect();
    if !services.is_empty() {
        add(
            POINTS_CLEARTEXT_CREDENTIALS,
            "cleartext_credentials",
            format!(
                "login seen in cleartext on {}",
                listed(&services, CleartextService::as_str)
            ),
        );
    }
    if seen(Exposure::RdpWithoutNla) {
        add(
            POINTS_RDP_WITHOUT_NLA,
            "rdp_without_nla",
            "RDP accepted without Network Level Authentication".to_owned(),
        );
    }
    if seen(Exposure::VncNoAuth) {
        add(
            POINTS_VNC_NO_AUTH,
            "vnc_no_auth",
            "VNC offered without authentication".to_owned(),
        );
    }
    let protocols: BTreeSet<ClinicalProtocol> = exposures
        .iter()
        .filter_map(|e| match e {
            Exposure::CleartextClinical { protocol } => Some(*protocol),
            _ => None,
        })
        .collect();
    if !protocols.is_empty() {
        add(
            POINTS_CLEARTEXT_CLINICAL,
            "cleartext_clinical",
            format!(
                "clinical data in cleartext: {}",
                listed(&protocols, ClinicalProtocol::as_str)
            ),
        );
    }

    if inputs.external_peers >= MANY_EXTERNAL_PEERS {
        add(
            POINTS_MANY_EXTERNAL_PEERS,
            "external_peers",
            format!(
                "talks to {} peers outside the home networks",
                inputs.external_peers
            ),
        );
    } else if inputs.external_peers > 0 {
        add(
            POINTS_EXTERNAL_PEERS,
            "external_peers",
            format!(
                "talks to {} peer(s) outside the home networks",
                inputs.external_peers
            ),
        );
    }
    if inputs.serves_external {
        add(
            POINTS_SERVES_EXTERNAL,
            "serves_external",
            "answers connections from outside the home networks".to_owned(),
        );
    }

    let weakness: u16 = reasons.iter().map(|r| u16::from(r.points)).sum();
    if weakness > 0
        && let Some(role) = inputs.clinical_role
    {
        if LIFE_CRITICAL_ROLES.contains(&role) {
            reasons.push(RiskReason {
                points: POINTS_LIFE_CRITICAL_ROLE,
                reason_code: "clinical_role",
                text: format!("device type {role}: a weakness here can harm a patient"),
            });
        } else if CLINICAL_ROLES.contains(&role) {
            reasons.push(RiskReason {
                points: POINTS_CLINICAL_ROLE,
                reason_code: "clinical_role",
                text: format!("device type {role}: makes or holds clinical data"),
            });
        }
    }

    let points_total: u16 = reasons.iter().map(|r| u16::from(r.points)).sum();
    let score = u8::try_from(points_total.min(u16::from(MAX_SCORE))).unwrap_or(MAX_SCORE);
    Risk {
        score,
        level: RiskLevel::of(score),
        points_total,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::os::{EolKind, combine, from_ntlm_version};
    use time::macros::date;

    fn codes(risk: &Risk) -> Vec<&'static str> {
        risk.reasons.iter().map(|r| r.reason_code).collect()
    }

    fn one(exposure: Exposure) -> Risk {
        assess(&RiskInputs {
            exposures: &[exposure],
            ..RiskInputs::default()
        })
    }

    fn eol(past: bool, esu_open: bool) -> EolStatus {
        EolStatus {
            date: date!(2020 - 01 - 14),
            kind: EolKind::Extended,
            source: "https://learn.microsoft.com/lifecycle/products/windows-7",
            editions: vec!["Windows 7 SP1"],
            esu_end: Some(date!(2023 - 01 - 10)),
            past,
            esu_open,
        }
    }

    #[test]
    fn nothing_found_is_zero_and_low() {
        let risk = assess(&RiskInputs::default());
        assert_eq!(
            (risk.score, risk.level, risk.reasons.len()),
            (0, RiskLevel::Low, 0)
        );
    }

    #[test]
    fn an_os_past_its_end_of_life() {
        let past = eol(true, false);
        let risk = assess(&RiskInputs {
            os_end_of_life: Some(&past),
            ..RiskInputs::default()
        });
        assert_eq!(risk.score, POINTS_OS_END_OF_LIFE);
        assert_eq!(risk.level, RiskLevel::Medium);
        assert_eq!(
            risk.reasons[0].text,
            "operating system (Windows 7 SP1) out of support since 2020-01-14"
        );

        let esu = eol(true, true);
        let risk = assess(&RiskInputs {
            os_end_of_life: Some(&esu),
            ..RiskInputs::default()
        });
        assert_eq!(risk.score, POINTS_OS_END_OF_LIFE_ESU_OPEN);
        assert!(
            risk.reasons[0]
                .text
                .contains("paid ESU possible until 2023-01-10")
        );

        let supported = eol(false, false);
        let risk = assess(&RiskInputs {
            os_end_of_life: Some(&supported),
            ..RiskInputs::default()
        });
        assert_eq!(risk.score, 0);
    }

    #[test]
    fn each_exposure_has_its_weight() {
        let cases = [
            (Exposure::Smb1, POINTS_SMB1, "smb1"),
            (Exposure::Telnet, POINTS_TELNET, "telnet"),
            (Exposure::Ftp, POINTS_FTP, "ftp"),
            (Exposure::Tftp, POINTS_TFTP, "tftp"),
            (Exposure::SnmpV1V2c, POINTS_SNMP_V1_V2C, "snmp_v1_v2c"),
            (
                Exposure::WeakTls {
                    version: WeakTlsVersion::Tls10,
                },
                POINTS_WEAK_TLS,
                "weak_tls",
            ),
            (
                Exposure::WeakTls {
                    version: WeakTlsVersion::Ssl3,
                },
                POINTS_SSL,
                "weak_tls",
            ),
            (
                Exposure::HttpBasicCleartext,
                POINTS_HTTP_BASIC_CLEARTEXT,
                "http_basic_cleartext",
            ),
            (
                Exposure::CleartextCredentials {
                    service: CleartextService::Ftp,
                },
                POINTS_CLEARTEXT_CREDENTIALS,
                "cleartext_credentials",
            ),
            (
                Exposure::RdpWithoutNla,
                POINTS_RDP_WITHOUT_NLA,
                "rdp_without_nla",
            ),
            (Exposure::VncNoAuth, POINTS_VNC_NO_AUTH, "vnc_no_auth"),
            (
                Exposure::CleartextClinical {
                    protocol: ClinicalProtocol::Hl7,
                },
                POINTS_CLEARTEXT_CLINICAL,
                "cleartext_clinical",
            ),
        ];
        for (exposure, points, code) in cases {
            let risk = one(exposure);
            assert_eq!(risk.score, points, "{exposure:?}");
            assert_eq!(codes(&risk), [code]);
            assert_eq!(risk.reasons[0].points, points);
        }
    }

    #[test]
    fn a_kind_counts_once_and_lists_what_it_saw() {
        let exposures = [
            Exposure::Telnet,
            Exposure::Telnet,
            Exposure::WeakTls {
                version: WeakTlsVersion::Tls11,
            },
            Exposure::WeakTls {
                version: WeakTlsVersion::Ssl3,
            },
            Exposure::CleartextCredentials {
                service: CleartextService::Telnet,
            },
            Exposure::CleartextCredentials {
                service: CleartextService::Ftp,
            },
            Exposure::CleartextClinical {
                protocol: ClinicalProtocol::Mqtt,
            },
            Exposure::CleartextClinical {
                protocol: ClinicalProtocol::Dicom,
            },
        ];
        let risk = assess(&RiskInputs {
            exposures: &exposures,
            ..RiskInputs::default()
        });
        assert_eq!(
            codes(&risk),
            [
                "telnet",
                "weak_tls",
                "cleartext_credentials",
                "cleartext_clinical"
            ]
        );
        assert_eq!(
            risk.score,
            POINTS_TELNET + POINTS_SSL + POINTS_CLEARTEXT_CREDENTIALS + POINTS_CLEARTEXT_CLINICAL
        );
        assert_eq!(risk.reasons[1].text, "SSL 3.0 negotiated (below TLS 1.2)");
        assert_eq!(
            risk.reasons[2].text,
            "login seen in cleartext on Telnet, FTP"
        );
        assert_eq!(
            risk.reasons[3].text,
            "clinical data in cleartext: DICOM, MQTT"
        );
    }

    #[test]
    fn external_peers_and_serving_them() {
        let some = assess(&RiskInputs {
            external_peers: 1,
            ..RiskInputs::default()
        });
        assert_eq!(some.score, POINTS_EXTERNAL_PEERS);
        let below = assess(&RiskInputs {
            external_peers: MANY_EXTERNAL_PEERS - 1,
            ..RiskInputs::default()
        });
        assert_eq!(below.score, POINTS_EXTERNAL_PEERS);
        let many = assess(&RiskInputs {
            external_peers: MANY_EXTERNAL_PEERS,
            ..RiskInputs::default()
        });
        assert_eq!(many.score, POINTS_MANY_EXTERNAL_PEERS);
        let serves = assess(&RiskInputs {
            external_peers: 3,
            serves_external: true,
            ..RiskInputs::default()
        });
        assert_eq!(serves.score, POINTS_EXTERNAL_PEERS + POINTS_SERVES_EXTERNAL);
        assert_eq!(codes(&serves), ["external_peers", "serves_external"]);
    }

    #[test]
    fn a_clinical_role_counts_only_with_a_weakness() {
        let healthy_pump = assess(&RiskInputs {
            clinical_role: Some("infusion_pump"),
            ..RiskInputs::default()
        });
        assert_eq!(healthy_pump.score, 0);

        let pump = assess(&RiskInputs {
            exposures: &[Exposure::Telnet],
            clinical_role: Some("infusion_pump"),
            ..RiskInputs::default()
        });
        assert_eq!(pump.score, POINTS_TELNET + POINTS_LIFE_CRITICAL_ROLE);
        assert_eq!(codes(&pump), ["telnet", "clinical_role"]);

        let ct = assess(&RiskInputs {
            exposures: &[Exposure::Telnet],
            clinical_role: Some("imaging_modality"),
            ..RiskInputs::default()
        });
        assert_eq!(ct.score, POINTS_TELNET + POINTS_CLINICAL_ROLE);

        let printer = assess(&RiskInputs {
            exposures: &[Exposure::Telnet],
            clinical_role: Some("printer"),
            ..RiskInputs::default()
        });
        assert_eq!(printer.score, POINTS_TELNET);
    }

    #[test]
    fn thresholds() {
        assert_eq!(RiskLevel::of(0), RiskLevel::Low);
        assert_eq!(RiskLevel::of(MEDIUM_FROM - 1), RiskLevel::Low);
        assert_eq!(RiskLevel::of(MEDIUM_FROM), RiskLevel::Medium);
        assert_eq!(RiskLevel::of(HIGH_FROM - 1), RiskLevel::Medium);
        assert_eq!(RiskLevel::of(HIGH_FROM), RiskLevel::High);
        assert_eq!(RiskLevel::of(CRITICAL_FROM - 1), RiskLevel::High);
        assert_eq!(RiskLevel::of(CRITICAL_FROM), RiskLevel::Critical);
        assert_eq!(RiskLevel::of(MAX_SCORE), RiskLevel::Critical);
    }

    #[test]
    fn the_sum_is_capped_and_the_total_kept() {
        let everything = [
            Exposure::Smb1,
            Exposure::Telnet,
            Exposure::Ftp,
            Exposure::Tftp,
            Exposure::SnmpV1V2c,
            Exposure::WeakTls {
                version: WeakTlsVersion::Ssl2,
            },
            Exposure::HttpBasicCleartext,
            Exposure::CleartextCredentials {
                service: CleartextService::Telnet,
            },
            Exposure::RdpWithoutNla,
            Exposure::VncNoAuth,
            Exposure::CleartextClinical {
                protocol: ClinicalProtocol::Dicom,
            },
        ];
        let past = eol(true, false);
        let risk = assess(&RiskInputs {
            os_end_of_life: Some(&past),
            exposures: &everything,
            external_peers: 50,
            serves_external: true,
            clinical_role: Some("ventilator"),
        });
        assert_eq!(risk.score, MAX_SCORE);
        assert_eq!(risk.level, RiskLevel::Critical);
        let sum: u16 = risk.reasons.iter().map(|r| u16::from(r.points)).sum();
        assert_eq!(risk.points_total, sum);
        assert!(sum > u16::from(MAX_SCORE));
        assert_eq!(risk.reasons.len(), 15);
    }

    #[test]
    fn the_documented_example() {
        // docs/risk.md: a Windows 7 SP1 infusion pump gateway with SMBv1,
        // cleartext HL7 and two outside peers, assessed on 2026-12-03.
        let os = combine(&[from_ntlm_version(6, 1, 7601).unwrap()])
            .unwrap()
            .with_end_of_life(date!(2026 - 12 - 03));
        let risk = assess(&RiskInputs {
            os_end_of_life: os.end_of_life.as_ref(),
            exposures: &[
                Exposure::Smb1,
                Exposure::CleartextClinical {
                    protocol: ClinicalProtocol::Hl7,
                },
            ],
            external_peers: 2,
            serves_external: false,
            clinical_role: Some("infusion_pump"),
        });
        assert_eq!(
            risk.reasons
                .iter()
                .map(|r| (r.reason_code, r.points))
                .collect::<Vec<_>>(),
            [
                ("os_end_of_life", 30),
                ("smb1", 25),
                ("cleartext_clinical", 10),
                ("external_peers", 10),
                ("clinical_role", 15),
            ]
        );
        assert_eq!((risk.score, risk.level), (90, RiskLevel::Critical));
        assert!(
            risk.reasons[0].text.contains("since 2021-10-12"),
            "{}",
            risk.reasons[0].text
        );
    }

    #[test]
    fn it_serialises_in_snake_case() {
        let risk = one(Exposure::Smb1);
        let json = serde_json::to_value(&risk).unwrap();
        assert_eq!(json["level"], "medium");
        assert_eq!(json["reasons"][0]["reason_code"], "smb1");
        assert_eq!(json["reasons"][0]["points"], 25);
        let exposure = serde_json::to_value(Exposure::WeakTls {
            version: WeakTlsVersion::Tls10,
        })
        .unwrap();
        assert_eq!(
            exposure,
            serde_json::json!({"kind": "weak_tls", "version": "tls10"})
        );
    }
}
