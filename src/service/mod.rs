//! What medtap needs as a service, apart from watching traffic: the signals
//! that stop it (SIGINT, SIGTERM) and make it reopen its files (SIGHUP), and
//! the switch to an unprivileged user once the live capture is open, with
//! its files handed over first ([`handover`]).
//!
//! A leaf: the capture calls the switch through the hook it is given
//! ([`crate::capture::LiveConfig::after_open`]), and the outputs' reopening
//! is passed in, so neither the capture nor this module reaches into the
//! outputs.

pub mod handover;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use thiserror::Error;

pub use handover::Handover;

/// Why the switch to `--user` failed.
#[derive(Debug, Error)]
pub enum PrivilegeError {
    /// The user does not exist, or a system call refused the switch, or
    /// root could be regained after it.
    #[error("cannot switch to user {user}: {detail}")]
    User {
        /// The user named.
        user: String,
        /// What failed.
        detail: String,
    },
    /// After the switch, the user cannot create a file where medtap will.
    #[error("user {user} {detail}")]
    UserFiles {
        /// The user named.
        user: String,
        /// Where, and why.
        detail: String,
    },
}

/// The stop flag set by SIGINT and SIGTERM.
pub fn stop_on_signals() -> std::io::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    Ok(stop)
}

/// Makes SIGHUP call `reopen` (the outputs' reopening of their files, as
/// logrotate expects after it has renamed them). The signal is taken by a
/// small thread of its own, which lives as long as the process.
pub fn reopen_on_sighup(reopen: fn()) -> std::io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP])?;
    std::thread::Builder::new()
        .name("medtap-sighup".into())
        .spawn(move || {
            for _ in signals.forever() {
                tracing::info!("SIGHUP: reopening output files");
                reopen();
            }
        })?;
    Ok(())
}

/// Switches the whole process to `name`'s user and primary group, with no
/// supplementary groups, then checks that root cannot be regained.
///
/// Just before, `handover`'s files become the user's; just after, the user
/// must be able to create files where `handover` says medtap will (see
/// [`Handover`]).
///
/// `nix` calls the C library's `setgid`/`setuid`, which change every thread;
/// the workers and sinks are already running when the capture opens, and a raw
/// per-thread system call would leave them as root.
///
pub fn drop_privileges(name: &str, handover: &Handover) -> Result<(), PrivilegeError> {
    use nix::unistd::{Gid, Uid, User, setgid, setgroups, setuid};
    let fail = |detail: String| PrivilegeError::User {
        user: name.to_owned(),
        detail,
    };
    let user = User::from_name(name)
        .map_err(|e| fail(e.to_string()))?
        .ok_or_else(|| fail("no such user".to_owned()))?;
    handover.give(user.uid.as_raw(), user.gid.as_raw());
    setgroups(&[user.gid]).map_err(|e| fail(format!("setgroups: {e}")))?;
    setgid(user.gid).map_err(|e| fail(format!("setgid: {e}")))?;
    setuid(user.uid).map_err(|e| fail(format!("setuid: {e}")))?;
    if !user.uid.is_root() && (setuid(Uid::from_raw(0)).is_ok() || Uid::effective().is_root()) {
        return Err(fail("root could be regained after the switch".to_owned()));
    }
    if Gid::effective() != user.gid {
        return Err(fail("the group did not change".to_owned()));
    }
    handover
        .check()
        .map_err(|detail| PrivilegeError::UserFiles {
            user: name.to_owned(),
            detail,
        })?;
    tracing::info!(
        user = name,
        uid = user.uid.as_raw(),
        gid = user.gid.as_raw(),
        "privileges dropped"
    );
    Ok(())
}
