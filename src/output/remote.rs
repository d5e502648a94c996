//! The seam for sinks that deliver events over the network (syslog, HTTP,
//! Redis): each is an [`EventSink`] built from its `-o` URL, driven by its own
//! thread, one call per batch of events in order.

use std::io;

use thiserror::Error;

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
