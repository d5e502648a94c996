//! The seam for sinks that deliver events over the network (syslog, HTTP,
//! Redis): each is an [`EventSink`] built from its `-o` URL, driven by its own
//! thread, one call per batch of events in order.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use crossbeam_channel::bounded;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};
use thiserror::Error;

use super::{OutputError, SINK_QUEUE_CHUNKS, SinkHandle};

/// Attempts to deliver one chunk of events before they are given up.
pub const DELIVERY_ATTEMPTS: u32 = 6;
/// Wait before the first retry; doubled after each failed attempt.
pub const FIRST_RETRY_DELAY: Duration = Duration::from_millis(250);

/// Why a remote sink could not deliver.
#[derive(Debug, Error)]
pub enum SinkError {
    /// The `-o` URL is not one this sink understands.
    #[error("bad output URL {url}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The receiver could not be reached, or the connection broke.
    #[error("{target}: {source}")]
    Io {
        /// The receiver.
        target: String,
        /// Why.
        source: io::Error,
    },
    /// The receiver answered, and refused.
    #[error("{target}: {reason}")]
    Refused {
        /// The receiver.
        target: String,
        /// Its answer.
        reason: String,
    },
}

/// A sink that delivers events to a receiver over the network.
pub trait EventSink: Send {
    /// The receiver, for logs and errors (never with credentials).
    fn name(&self) -> &str;

    /// Delivers `events` in order: each is one event as a JSON object, without
    /// a newline. Returns once the receiver has them (as far as its protocol
    /// tells), or with the error that stopped delivery.
    fn deliver(&mut self, events: &[&[u8]]) -> Result<(), SinkError>;
}

/// Builds the sink an `-o` URL names.
pub fn open(url: &str) -> Result<Box<dyn EventSink>, SinkError> {
    let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or_default();
    match scheme {
        "syslog+udp" | "syslog+tcp" | "syslog+tls" => super::syslog::from_url(url),
        "redis" => super::redis::from_url(url),
        "http" | "https" => super::http::from_url(url),
        _ => Err(SinkError::BadUrl {
            url: redacted(url),
            reason: format!(
                "unknown scheme {scheme:?} (syslog+udp, syslog+tcp, syslog+tls, redis)"
            ),
        }),
    }
}

/// `url` without any user information (`user:password@`), for logs.
pub fn redacted(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split_once('@').map_or(rest, |(_, host)| host);
            format!("{scheme}://{host}")
        }
        None => url.to_owned(),
    }
}

/// Starts the thread that feeds `sink`: every chunk of JSON lines is
/// delivered in order; a failed delivery is retried with exponential backoff
/// (the receiver may be restarting) and, after [`DELIVERY_ATTEMPTS`], the
/// chunk's events are given up, counted and logged, and the sink goes on
/// with the next.
pub(super) fn spawn(
    mut sink: Box<dyn EventSink>,
    stop: Arc<AtomicBool>,
) -> Result<SinkHandle, OutputError> {
    let name = sink.name().to_owned();
    let (tx, rx) = bounded::<Arc<[u8]>>(SINK_QUEUE_CHUNKS);
    let thread_name = name.clone();
    let thread = thread::Builder::new()
        .name("medtap-sink".into())
        .spawn(move || {
            let mut dropped = 0u64;
            for chunk in rx {
                let events: Vec<&[u8]> = chunk
                    .split(|b| *b == b'\n')
                    .filter(|line| !line.is_empty())
                    .collect();
                let mut delay = FIRST_RETRY_DELAY;
                for attempt in 1..=DELIVERY_ATTEMPTS {
                    match sink.deliver(&events) {
                        Ok(()) => break,
                        Err(e) if attempt == DELIVERY_ATTEMPTS || stop.load(Ordering::Relaxed) => {
                            dropped += events.len() as u64;
                            tracing::error!(sink = %thread_name, events = events.len(), dropped, "giving up: {e}");
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(sink = %thread_name, attempt, "delivery failed, retrying: {e}");
                            thread::sleep(delay);
                            delay = delay.saturating_mul(2);
                        }
                    }
                }
            }
            Ok(())
        })
        .map_err(|source| OutputError::Open {
            target: name.clone(),
            source,
        })?;
    Ok(SinkHandle::new(name, tx, thread))
}

/// The TLS client configuration of the syslog and HTTPS sinks: the CA file's certificates, or the Mozilla
/// roots; TLS 1.2 and 1.3 with the ring provider's safe defaults.
pub(super) fn tls_config(ca: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "no usable certificate in CA file {}",
                    path.display()
                ));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}
