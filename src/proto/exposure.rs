//! What a device exposes, or uses, that an attacker on its network can
//! exploit: the insecure services and practices the side-door readers find
//! ([`super::handshake`]) and the risk model weighs
//! ([`crate::device::risk`]).

use serde::{Deserialize, Serialize};

/// A TLS or SSL version below TLS 1.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeakTlsVersion {
    /// SSL 2.0.
    Ssl2,
    /// SSL 3.0.
    Ssl3,
    /// TLS 1.0.
    Tls10,
    /// TLS 1.1.
    Tls11,
}

impl WeakTlsVersion {
    /// As people write it: `SSL 3.0`, `TLS 1.0`.
    pub fn as_str(self) -> &'static str {
        match self {
            WeakTlsVersion::Ssl2 => "SSL 2.0",
            WeakTlsVersion::Ssl3 => "SSL 3.0",
            WeakTlsVersion::Tls10 => "TLS 1.0",
            WeakTlsVersion::Tls11 => "TLS 1.1",
        }
    }

    pub(crate) fn is_ssl(self) -> bool {
        matches!(self, WeakTlsVersion::Ssl2 | WeakTlsVersion::Ssl3)
    }
}

/// A service a login was seen on in cleartext.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CleartextService {
    /// Telnet.
    Telnet,
    /// FTP `USER`/`PASS`.
    Ftp,
    /// HTTP Basic or a form over cleartext HTTP.
    Http,
    /// POP3.
    Pop3,
    /// IMAP.
    Imap,
    /// SMTP AUTH without TLS.
    Smtp,
    /// LDAP simple bind without TLS.
    Ldap,
    /// MQTT CONNECT with a password, without TLS.
    Mqtt,
}

impl CleartextService {
    /// Its usual name.
    pub fn as_str(self) -> &'static str {
        match self {
            CleartextService::Telnet => "Telnet",
            CleartextService::Ftp => "FTP",
            CleartextService::Http => "HTTP",
            CleartextService::Pop3 => "POP3",
            CleartextService::Imap => "IMAP",
            CleartextService::Smtp => "SMTP",
            CleartextService::Ldap => "LDAP",
            CleartextService::Mqtt => "MQTT",
        }
    }
}

/// A clinical protocol medtap reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClinicalProtocol {
    /// DICOM.
    Dicom,
    /// HL7 v2 over MLLP.
    Hl7,
    /// MQTT.
    Mqtt,
}

impl ClinicalProtocol {
    /// Its usual name.
    pub fn as_str(self) -> &'static str {
        match self {
            ClinicalProtocol::Dicom => "DICOM",
            ClinicalProtocol::Hl7 => "HL7",
            ClinicalProtocol::Mqtt => "MQTT",
        }
    }
}

/// An insecure service or practice seen on a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Exposure {
    /// SMB dialect NT LM 0.12 (SMBv1) negotiated.
    Smb1,
    /// A Telnet service answered.
    Telnet,
    /// An FTP service answered.
    Ftp,
    /// A TFTP service answered.
    Tftp,
    /// SNMP v1 or v2c (a community string went in cleartext).
    SnmpV1V2c,
    /// A TLS session below 1.2.
    WeakTls {
        /// The version negotiated.
        version: WeakTlsVersion,
    },
    /// HTTP Basic authentication over cleartext HTTP.
    HttpBasicCleartext,
    /// A login in cleartext.
    CleartextCredentials {
        /// Where.
        service: CleartextService,
    },
    /// RDP without Network Level Authentication.
    RdpWithoutNla,
    /// VNC with security type "None".
    VncNoAuth,
    /// A clinical protocol in cleartext.
    CleartextClinical {
        /// Which.
        protocol: ClinicalProtocol,
    },
}

impl WeakTlsVersion {
    /// The weak version a TLS protocol version number names, if it is one.
    pub fn of(version: u16) -> Option<WeakTlsVersion> {
        match version {
            0x0002 | 0x0200 => Some(WeakTlsVersion::Ssl2),
            0x0300 => Some(WeakTlsVersion::Ssl3),
            0x0301 => Some(WeakTlsVersion::Tls10),
            0x0302 => Some(WeakTlsVersion::Tls11),
            _ => None,
        }
    }
}

impl Exposure {
    /// The stable name in records and alerts.
    pub fn name(self) -> &'static str {
        match self {
            Exposure::Smb1 => "smb1",
            Exposure::Telnet => "telnet",
            Exposure::Ftp => "ftp",
            Exposure::Tftp => "tftp",
            Exposure::SnmpV1V2c => "snmp_v1_v2c",
            Exposure::WeakTls { .. } => "weak_tls",
            Exposure::HttpBasicCleartext => "http_basic_cleartext",
            Exposure::CleartextCredentials { .. } => "cleartext_credentials",
            Exposure::RdpWithoutNla => "rdp_without_nla",
            Exposure::VncNoAuth => "vnc_no_auth",
            Exposure::CleartextClinical { .. } => "cleartext_clinical",
        }
    }
}
