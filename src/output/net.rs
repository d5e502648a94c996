//! The connection every stream sink opens (syslog over TCP and TLS, Redis
//! and `rediss`): TCP to each address the host resolves to in turn, within a
//! timeout per address, then optionally TLS (rustls) on top, verified
//! against the Mozilla roots or a CA file.
//!
//! Guarantees: resolving happens at each connection, never at start, so a
//! receiver's address may change while medtap runs; a connection attempt
//! ends within [`Timeouts::connect`] per address (TLS handshake included);
//! the error of the last address tried is the one returned. What it refuses:
//! a client certificate, TLS versions below 1.2.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use thiserror::Error;

/// Why a TLS client configuration could not be built.
#[derive(Debug, Error)]
pub enum TlsError {
    /// The CA file could not be read as PEM.
    #[error("cannot read CA file {path}: {reason}")]
    CaUnreadable {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The CA file holds no certificate rustls can use.
    #[error("no usable certificate in CA file {0}")]
    NoCertificate(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The TLS client configuration of every sink: the CA file's certificates,
/// or the Mozilla roots; TLS 1.2 and 1.3 with the ring provider's safe
/// defaults; no client certificate.
pub fn tls_config(ca: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| TlsError::CaUnreadable {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(TlsError::NoCertificate(path.display().to_string()));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}

/// How long each step may block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening the TCP connection, per address, and the TLS handshake.
    pub connect: Duration,
    /// One read; `None` for none (a sink that never reads).
    pub read: Option<Duration>,
    /// One write.
    pub write: Duration,
}

/// Where to connect.
#[derive(Clone)]
pub struct Endpoint {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS on top, when set.
    pub tls: Option<Arc<ClientConfig>>,
    /// Limits of each step.
    pub timeouts: Timeouts,
}

/// A connected stream, plain or inside TLS.
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Endpoint {
    /// Resolves the host and connects to each of its addresses in turn until
    /// one answers (and, with TLS, completes the handshake).
    pub fn connect(&self) -> io::Result<Stream> {
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port).to_socket_addrs()?.collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "host resolves to no address");
        for addr in addrs {
            match self.connect_to(&addr) {
                Ok(stream) => return Ok(stream),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn connect_to(&self, addr: &SocketAddr) -> io::Result<Stream> {
        let sock = TcpStream::connect_timeout(addr, self.timeouts.connect)?;
        sock.set_write_timeout(Some(self.timeouts.write))?;
        sock.set_nodelay(true)?;
        let Some(config) = &self.tls else {
            sock.set_read_timeout(self.timeouts.read)?;
            return Ok(Stream::Plain(sock));
        };
        let server_name = ServerName::try_from(self.host.clone())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let mut conn =
            ClientConnection::new(Arc::clone(config), server_name).map_err(io::Error::other)?;
        let mut sock = sock;
        sock.set_read_timeout(Some(self.timeouts.connect))?;
        while conn.is_handshaking() {
            conn.complete_io(&mut sock)?;
        }
        sock.set_read_timeout(self.timeouts.read)?;
        Ok(Stream::Tls(Box::new(StreamOwned::new(conn, sock))))
    }
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }

    /// Whether the peer has closed the connection (or it broke), looked at
    /// without blocking, for a sink whose receiver never writes back (a
    /// syslog server): a write to a closed connection would succeed once
    /// and lose what it carried. Anything the peer did send is discarded.
    pub fn closed_by_peer(&mut self) -> bool {
        if self.tcp().set_nonblocking(true).is_err() {
            return true;
        }
        let closed = match self {
            Stream::Plain(s) => {
                let mut byte = [0u8; 1];
                match s.peek(&mut byte) {
                    Ok(n) => n == 0,
                    Err(e) => e.kind() != io::ErrorKind::WouldBlock,
                }
            }
            Stream::Tls(tls) => loop {
                match tls.conn.read_tls(&mut tls.sock) {
                    Ok(0) => break true,
                    Ok(_) => match tls.conn.process_new_packets() {
                        Ok(state) if state.peer_has_closed() => break true,
                        Ok(state) => {
                            let mut discard = vec![0; state.plaintext_bytes_to_read()];
                            let _ = tls.conn.reader().read_exact(&mut discard);
                        }
                        Err(_) => break true,
                    },
                    Err(e) => break e.kind() != io::ErrorKind::WouldBlock,
                }
            },
        };
        closed || self.tcp().set_nonblocking(false).is_err()
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => match s.read(buf) {
                // A server that closes without close_notify is common; the
                // protocol above sees a plain end of stream.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}
