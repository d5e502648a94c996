//! Passive fingerprints of the software under a device: what its TCP stack
//! shows in a SYN or SYN+ACK ([`tcp`], p0f v3 signatures matched against
//! p0f's database in [`p0f`]).
//!
//! Everything here is a pure function of borrowed packet bytes and a
//! read-only database: nothing is kept between packets, nothing is sent.
//! The TLS and SMB fingerprints live with their protocol parsers
//! ([`crate::proto::tls`], [`crate::proto::smb`]).

pub mod p0f;
pub mod tcp;
