//! What a network sink is: an [`EventSink`], failing with a [`SinkError`].
//! Apart from [`super::remote`], which builds each sink from its URL and
//! drives it, so that a sink uses this without using the module that uses it.

use std::io;

use thiserror::Error;

use super::encode::{Outgoing, Tally};
use super::target::UrlError;

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
    /// The receiver refused medtap's credentials (a wrong password or
    /// token, an unknown user, one without the permission needed): a setup
    /// error, which retrying cannot mend.
    #[error("{target}: authentication refused: {reason}")]
    Auth {
        /// The receiver.
        target: String,
        /// Its answer.
        reason: String,
    },
}

impl From<UrlError> for SinkError {
    fn from(e: UrlError) -> SinkError {
        SinkError::BadUrl {
            url: e.url,
            reason: e.reason,
        }
    }
}

/// A sink that delivers events to a receiver over the network.
pub trait EventSink: Send {
    /// The receiver, for logs and errors (never with credentials).
    fn name(&self) -> &str;

    /// Delivers `events` in order: each is one event as a JSON object, without
    /// a newline, with its head when known. Returns once the receiver has
    /// them (as far as its protocol tells), or with the error that stopped
    /// delivery.
    fn deliver_events(&mut self, events: &[Outgoing<'_>]) -> Result<(), SinkError>;

    /// [`EventSink::deliver_events`] for events without their heads.
    fn deliver(&mut self, events: &[&[u8]]) -> Result<(), SinkError> {
        let events: Vec<Outgoing<'_>> = events.iter().map(|e| Outgoing::bare(e)).collect();
        self.deliver_events(&events)
    }

    /// What the last successful [`EventSink::deliver`] shortened or left
    /// out for size; a sink that never does either keeps the default.
    fn take_tally(&mut self) -> Tally {
        Tally::default()
    }
}
