//! Who a device talks to and which services it uses and offers: `new_peer`,
//! `new_service`, `new_external_peer`.

use std::net::IpAddr;

use serde_json::json;

use super::{Finding, quote, service_name};
use crate::alert::Kind;
use crate::baseline::{Baseline, MAX_PEERS, MAX_SERVICES, PeerKey, Service};
use crate::device::DeviceKey;

/// One end of a connection, as the network detectors see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contact {
    /// The peer, with the service port and who opened the connection.
    pub peer: PeerKey,
    /// The peer is outside the internal networks (and not a group address).
    pub external: bool,
}

impl Contact {
    fn service(&self) -> Service {
        (self.peer.proto, self.peer.port)
    }
}

/// Learns a connection the device opened.
pub fn learn_opened(b: &mut Baseline, contact: &Contact) {
    b.peers.learn(contact.peer, MAX_PEERS);
    b.services_used.learn(contact.service(), MAX_SERVICES);
    b.external_peers |= contact.external;
}

/// Learns a connection the device answered.
pub fn learn_answered(b: &mut Baseline, contact: &Contact) {
    b.peers.learn(contact.peer, MAX_PEERS);
    b.services_offered.learn(contact.service(), MAX_SERVICES);
}

/// A watched device opened a connection: toward an external address when it
/// never had one is `new_external_peer` (one per device and window: every
/// external address is the same news).
pub fn judge_opened(b: &Baseline, key: &DeviceKey, contact: &Contact) -> Option<Finding> {
    if !contact.external || b.external_peers {
        return None;
    }
    let peer = contact.peer;
    let name = service_name(peer.proto, peer.port);
    Some(
        Finding::new(
            Kind::NewExternalPeer,
            "",
            format!(
                "{key} connected to external address {} ({name}); it never left the internal networks before",
                peer.ip
            ),
        )
        .evidence("service", json!(name))
        .learned("external_peers", json!(false))
        .learned("peers", quote(b.peers.values.iter().map(peer_label))),
    )
}

/// For a connection a watched device made (`peer.out`) and was answered, or
/// that it answered: `new_service` if the service is new to it in that
/// role, else `new_peer` if the peer is, else nothing.
pub fn judge_answered(b: &Baseline, key: &DeviceKey, contact: &Contact) -> Option<Finding> {
    let peer = contact.peer;
    let service = contact.service();
    let (verb, role, services, learned, direction, preposition) = if peer.out {
        (
            "uses",
            "client",
            &b.services_used,
            "services_used",
            "out",
            "to",
        )
    } else {
        (
            "offers",
            "server",
            &b.services_offered,
            "services_offered",
            "in",
            "from",
        )
    };
    let name = service_name(service.0, service.1);
    if !services.covers(&service) {
        let known = services
            .values
            .iter()
            .map(|(p, port)| service_name(*p, *port));
        return Some(
            Finding::new(
                Kind::NewService,
                format!("{verb} {name}"),
                format!("{key} {verb} a new service {name} (peer {})", peer.ip),
            )
            .evidence("service", json!(name))
            .evidence("role", json!(role))
            .learned(learned, quote(known)),
        );
    }
    if !b.peers.covers(&peer) {
        return Some(
            Finding::new(
                Kind::NewPeer,
                format!("{direction} {} {name}", peer.ip),
                format!("{key} has a new peer: {preposition} {} on {name}", peer.ip),
            )
            .evidence("service", json!(name))
            .evidence("direction", json!(direction))
            .learned("peers", quote(b.peers.values.iter().map(peer_label))),
        );
    }
    None
}

/// `out 10.20.2.10 tcp/104`.
pub fn peer_label(p: &PeerKey) -> String {
    let dir = if p.out { "out" } else { "in" };
    format!("{dir} {} {}", p.ip, service_name(p.proto, p.port))
}

/// Multicast, broadcast and unspecified destinations are groups (or no one),
/// not peers outside.
pub fn is_group(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_multicast() || v4.is_broadcast() || v4.is_unspecified(),
        IpAddr::V6(v6) => v6.is_multicast() || v6.is_unspecified(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::ip_proto;

    fn contact(ip: &str, port: u16, out: bool, external: bool) -> Contact {
        Contact {
            peer: PeerKey {
                ip: ip.parse().unwrap(),
                port,
                proto: ip_proto::TCP,
                out,
            },
            external,
        }
    }

    fn key() -> DeviceKey {
        DeviceKey::Mac([2, 0, 0, 0, 0, 1])
    }

    #[test]
    fn a_new_service_outranks_a_new_peer() {
        let mut b = Baseline::default();
        learn_opened(&mut b, &contact("10.0.0.2", 104, true, false));
        let known = contact("10.0.0.2", 104, true, false);
        assert_eq!(judge_answered(&b, &key(), &known), None);
        let new_peer = judge_answered(&b, &key(), &contact("10.0.0.3", 104, true, false));
        assert_eq!(new_peer.map(|f| f.kind), Some(Kind::NewPeer));
        let new_service = judge_answered(&b, &key(), &contact("10.0.0.3", 22, true, false));
        assert_eq!(new_service.map(|f| f.kind), Some(Kind::NewService));
    }

    #[test]
    fn a_service_offered_is_not_one_used() {
        let mut b = Baseline::default();
        learn_opened(&mut b, &contact("10.0.0.2", 104, true, false));
        let answered = judge_answered(&b, &key(), &contact("10.0.0.2", 104, false, false));
        assert_eq!(
            answered.map(|f| f.subject),
            Some("offers tcp/104".to_owned())
        );
    }

    #[test]
    fn external_peers_are_news_only_to_a_device_that_never_had_one() {
        let mut b = Baseline::default();
        let outside = contact("203.0.113.9", 443, true, true);
        assert_eq!(
            judge_opened(&b, &key(), &outside).map(|f| f.kind),
            Some(Kind::NewExternalPeer)
        );
        learn_opened(&mut b, &outside);
        assert_eq!(
            judge_opened(&b, &key(), &contact("198.51.100.1", 443, true, true)),
            None
        );
        assert_eq!(
            judge_opened(&b, &key(), &contact("10.0.0.2", 443, true, false)),
            None
        );
    }

    #[test]
    fn groups_are_not_peers() {
        for ip in ["224.0.0.251", "255.255.255.255", "0.0.0.0", "ff02::1", "::"] {
            assert!(is_group(&ip.parse().unwrap()), "{ip}");
        }
        assert!(!is_group(&"10.0.0.1".parse().unwrap()));
    }
}
