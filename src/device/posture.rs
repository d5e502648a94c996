//! What a device exposes under its clinical protocols: the operating system
//! and software its other traffic reveals, the insecure services it offers
//! or uses, and the risk that follows.
//!
//! The evidence arrives as findings about one end of a connection (a SYN's
//! TCP signature, a TLS or SMB opening, a cleartext banner or login, see
//! [`crate::proto::handshake`]); each becomes clues
//! ([`crate::fingerprint::os`]) or an exposure kept on the device, bounded.
//! The verdicts — `os` with its end of life, `software`, `exposures`,
//! `risk` — are worked out afresh from them each time a record is made,
//! like the device type.

use serde::Serialize;

use crate::fingerprint::os::{self, OsClue, SoftwareClue};
use crate::proto::exposure::Exposure;
use crate::proto::handshake::Finding;
use crate::time::{Micros, Timestamp};

/// OS clues one device keeps at most (one per source and reading).
pub const MAX_OS_CLUES: usize = 16;
/// Software items one device keeps at most.
pub const MAX_SOFTWARE: usize = os::MAX_SOFTWARE_ITEMS;
/// Exposures one device keeps at most (one per kind, service and port).
pub const MAX_EXPOSURES: usize = 16;
/// TLS client fingerprints (JA4) one device keeps at most.
pub const MAX_TLS_CLIENTS: usize = 4;

/// One exposure of a device, as kept and as records show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExposureSeen {
    /// What, as the risk model weighs it.
    #[serde(skip)]
    pub kind: Exposure,
    /// Its name (`smb1`, `weak_tls`, `telnet`, …).
    pub exposure: &'static str,
    /// The protocol it was seen in.
    pub service: &'static str,
    /// The server port of the connection that showed it.
    pub port: u16,
    /// Whether the device offered it (the server) or used it (the client).
    pub role: &'static str,
    /// What showed it, one line.
    pub detail: String,
    /// For a login in the clear: the user name (never the secret).
    #[serde(rename = "user_name", skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Packet time it was first seen.
    pub first_seen: Timestamp,
}

/// What a device's side-door traffic showed, kept on the device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Posture {
    /// Operating-system clues, in the order they came.
    pub clues: Vec<OsClue>,
    /// Software seen, in the order it came.
    pub software: Vec<SoftwareClue>,
    /// Exposures, in the order they came.
    pub exposures: Vec<ExposureSeen>,
    /// TLS client fingerprints (JA4) with the first server name asked for.
    pub tls_clients: Vec<(String, Option<String>)>,
    /// Packet time of the latest evidence: the day end-of-life dates are
    /// judged against (a replay of an old capture is judged as of then).
    pub latest: Micros,
    /// Whether `outdated_os` was raised for the device.
    pub outdated_told: bool,
    /// The verdict of the clues as of `latest`, worked out when they
    /// change (records are made far more often than clues arrive).
    verdict: Option<os::Os>,
}

/// What one finding changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    /// Whether the record changed.
    pub changed: bool,
    /// Whether the change is worth a `device` event: a new exposure or
    /// software, or an operating-system verdict that changed at medium
    /// confidence or more. A lone low-confidence guess (most p0f
    /// readings) is kept and shown in the inventory, not announced.
    pub announce: bool,
    /// A new exposure, to alert on.
    pub exposure: Option<ExposureSeen>,
    /// The operating system, when this change first showed it past its end
    /// of support (told once per device).
    pub outdated: Option<os::Os>,
}

/// Where a finding was seen.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    /// Packet time.
    pub ts: Micros,
    /// The connection's server port.
    pub port: u16,
    /// Whether the device is the connection's server.
    pub server: bool,
}

impl Posture {
    /// What was kept, put back (from a state file).
    pub fn restore(
        clues: Vec<OsClue>,
        software: Vec<SoftwareClue>,
        exposures: Vec<ExposureSeen>,
        tls_clients: Vec<(String, Option<String>)>,
        latest: Micros,
        outdated_told: bool,
    ) -> Posture {
        let mut posture = Posture {
            clues,
            software,
            exposures,
            tls_clients,
            latest,
            outdated_told,
            verdict: None,
        };
        posture.judge();
        posture
    }

    /// Works the verdict out again.
    fn judge(&mut self) {
        self.verdict =
            os::combine(&self.clues).map(|verdict| match os::date_of_micros(self.latest) {
                Some(day) => verdict.with_end_of_life(day),
                None => verdict,
            });
    }

    /// Adds what `finding` says about this device.
    pub fn add(&mut self, finding: &Finding, seen: Seen) -> Change {
        let change = self.add_unjudged(finding, seen);
        // Only evidence that changed something moves the day the end of
        // life is judged on: repeats (which reach the device once per
        // worker that saw them) must not.
        if change.changed {
            self.latest = self.latest.max(seen.ts);
            self.judge();
        }
        change
    }

    fn add_unjudged(&mut self, finding: &Finding, seen: Seen) -> Change {
        let mut change = Change::default();
        match finding {
            Finding::Os(clue) => change.changed = self.clue(Some(clue.clone())),
            Finding::Software(software) => {
                change.changed = self.software(Some(software.clone()));
                change.announce = change.changed;
            }
            Finding::NtlmVersion {
                major,
                minor,
                build,
            } => {
                change.changed = self.clue(os::from_ntlm_version(*major, *minor, *build));
            }
            Finding::TlsClient { ja4, sni } => {
                if self.tls_clients.len() < MAX_TLS_CLIENTS
                    && !self.tls_clients.iter().any(|(known, _)| known == ja4)
                {
                    self.tls_clients.push((ja4.clone(), sni.clone()));
                    change.changed = true;
                }
            }
            Finding::Exposure {
                exposure,
                service,
                detail,
                user,
            } => {
                change.exposure = self.exposure(*exposure, service, detail, user.as_deref(), seen);
                change.changed = change.exposure.is_some();
                change.announce = change.changed;
            }
        }
        change
    }

    /// Adds an OS clue; true if it was new.
    fn clue(&mut self, clue: Option<OsClue>) -> bool {
        let Some(clue) = clue else {
            return false;
        };
        if self.clues.len() >= MAX_OS_CLUES || self.clues.contains(&clue) {
            return false;
        }
        self.clues.push(clue);
        true
    }

    /// Adds a software item; true if it was new.
    fn software(&mut self, software: Option<SoftwareClue>) -> bool {
        let Some(software) = software else {
            return false;
        };
        if self.software.len() >= MAX_SOFTWARE || self.software.contains(&software) {
            return false;
        }
        self.software.push(software);
        true
    }

    fn exposure(
        &mut self,
        exposure: Exposure,
        service: &'static str,
        detail: &str,
        user: Option<&str>,
        seen: Seen,
    ) -> Option<ExposureSeen> {
        let role = if seen.server { "server" } else { "client" };
        let name = exposure.name();
        let known = self.exposures.iter().any(|e| {
            e.exposure == name && e.service == service && e.port == seen.port && e.role == role
        });
        if known || self.exposures.len() >= MAX_EXPOSURES {
            return None;
        }
        let record = ExposureSeen {
            kind: exposure,
            exposure: name,
            service,
            port: seen.port,
            role,
            detail: detail.to_owned(),
            user: user.map(str::to_owned),
            first_seen: Timestamp(seen.ts),
        };
        self.exposures.push(record.clone());
        Some(record)
    }

    /// The operating system, combined from the clues, with its end of life
    /// as of the latest evidence.
    pub fn os(&self) -> Option<os::Os> {
        self.verdict.clone()
    }
}
