//! Credentials of network sinks: a Redis password, an HTTP token. Each comes
//! from the `-o` URL, a file named there (`password_file=`, `token_file=`)
//! or an environment variable, and is read once, when the sink is built.
//!
//! Guarantees: a [`Secret`] prints as `***` through `Debug` and has no
//! `Display`, so it cannot reach a log line by accident; an error about a
//! secret file names the file and why it could not be read, never what is
//! in it.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Bytes of a secret file read at most: a password or token is short, and
/// anything larger is not the file meant.
pub const MAX_SECRET_FILE_BYTES: u64 = 4096;

/// A password or token.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The value, to send to the receiver.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Why a secret could not be had.
#[derive(Debug, Error)]
pub enum SecretError {
    /// The file could not be opened or read.
    #[error("cannot read {what} file {}: {reason}", path.display())]
    Unreadable {
        /// What the file holds (`password`, `token`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why (the I/O error, which never quotes the content).
        reason: String,
    },
    /// The file holds nothing but white space.
    #[error("{what} file {} is empty", path.display())]
    Empty {
        /// What the file holds.
        what: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// The file is larger than [`MAX_SECRET_FILE_BYTES`].
    #[error("{what} file {} is larger than {MAX_SECRET_FILE_BYTES} bytes", path.display())]
    TooLarge {
        /// What the file holds.
        what: &'static str,
        /// The file.
        path: PathBuf,
    },
}

/// Reads the secret in `path`: its content without the line break(s) at the
/// end (as `echo pw > file` leaves it), other white space kept.
pub fn read_file(what: &'static str, path: &Path) -> Result<Secret, SecretError> {
    let unreadable = |e: std::io::Error| SecretError::Unreadable {
        what,
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(SecretError::TooLarge {
            what,
            path: path.to_owned(),
        });
    }
    let text = String::from_utf8(bytes).map_err(|_| SecretError::Unreadable {
        what,
        path: path.to_owned(),
        reason: "not UTF-8 text".to_owned(),
    })?;
    let value = text.trim_end_matches(['\r', '\n']);
    if value.trim().is_empty() {
        return Err(SecretError::Empty {
            what,
            path: path.to_owned(),
        });
    }
    Ok(Secret(value.to_owned()))
}

/// The secret in environment variable `var`, if it is set and not empty.
pub fn from_env(var: &str) -> Option<Secret> {
    std::env::var(var)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(Secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_file_loses_its_final_line_break_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pw");
        std::fs::write(&path, " a b \n").expect("write");
        assert_eq!(
            read_file("password", &path).expect("reads").expose(),
            " a b "
        );
        std::fs::write(&path, "\n").expect("write");
        assert!(matches!(
            read_file("password", &path),
            Err(SecretError::Empty { .. })
        ));
        let missing = dir.path().join("missing");
        let e = read_file("token", &missing).expect_err("missing");
        assert!(e.to_string().starts_with("cannot read token file "), "{e}");
    }

    #[test]
    fn a_secret_never_debug_prints() {
        assert_eq!(format!("{:?}", Secret::new("s3cret".into())), "Secret(***)");
    }
}
