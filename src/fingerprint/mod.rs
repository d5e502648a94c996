//! Passive fingerprints of the software under a device: what its TCP stack
//! shows in a SYN or SYN+ACK ([`tcp`], p0f v3 signatures matched against
//! p0f's database in [`p0f`]), and what the operating system and software
//! under it are, with the end of their support ([`os`]: clues from p0f,
//! NTLMSSP, DHCP, HTTP, SSH, SNMP, FTP and Telnet, combined per device and
//! looked up in a shipped, dated end-of-life table).
//!
//! Everything here is a pure function of borrowed packet bytes (or the
//! strings parsers read from them) and read-only tables: nothing is kept
//! between packets, nothing is sent.
//! The TLS and SMB fingerprints live with their protocol parsers
//! ([`crate::proto::tls`], [`crate::proto::smb`]).

pub mod os;
pub mod p0f;
pub mod tcp;
