//! Small helpers for the tests that start real receivers: free loopback
//! ports, the rsyslogd binary, openssl.

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A TCP port of 127.0.0.1 nothing listens on now.
pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free TCP port")
        .port()
}

/// A UDP port of 127.0.0.1 nothing is bound to now.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free UDP port")
        .port()
}

/// rsyslogd, on PATH or in the sbin directories; a failing test without it.
pub fn rsyslogd_binary() -> PathBuf {
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join("rsyslogd"));
    for path in candidates {
        if path.is_file() {
            return path;
        }
    }
    panic!("rsyslogd not found: these tests need rsyslog installed (run scripts/setup.sh as root)");
}

/// Runs `openssl ARGS` in `dir`; panics with its error output on failure.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl (install it: scripts/setup.sh): {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
