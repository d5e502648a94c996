//! Small helpers for the tests that start real receivers: free loopback
//! ports, the rsyslogd binary, openssl and a test CA made with it.

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

/// Starts `rsyslogd` in the foreground with the configuration `conf`,
/// written to `dir` with its pid file and its own log (`rsyslogd.log`).
pub fn spawn_rsyslogd(dir: &Path, conf: &str) -> std::process::Child {
    use std::process::{Command, Stdio};
    let conf_path = dir.join("rsyslog.conf");
    std::fs::write(&conf_path, conf).expect("write rsyslog.conf");
    let log = std::fs::File::create(dir.join("rsyslogd.log")).expect("log file");
    let binary = rsyslogd_binary();
    Command::new(&binary)
        .arg("-n")
        .arg("-f")
        .arg(&conf_path)
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()))
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

/// The files of a test CA and of a server certificate it signed, in one
/// directory.
pub struct TestCerts {
    /// The CA certificate, `ca.pem`: what a client trusts.
    pub ca: PathBuf,
    /// The server certificate, `server.pem`, for 127.0.0.1 and localhost.
    pub cert: PathBuf,
    /// Its private key, `server.key`: EC P-256 in PKCS#8 PEM, which both
    /// rustls and rsyslog's openssl driver read.
    pub key: PathBuf,
}

impl TestCerts {
    /// Where [`make_test_certs`] puts them in `dir`.
    pub fn in_dir(dir: &Path) -> TestCerts {
        TestCerts {
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        }
    }
}

/// Makes a test CA (valid two days) and a server certificate for
/// 127.0.0.1 and localhost signed by it in `dir`, with `openssl`.
pub fn make_test_certs(dir: &Path) -> TestCerts {
    std::fs::write(
        dir.join("ca.ext"),
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
    )
    .expect("ca.ext");
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("server.ext");
    // `req -newkey` writes the key in PKCS#8 (OpenSSL 3).
    let req = |key: &str, csr: &str, subject: &str| {
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                key,
                "-out",
                csr,
                "-subj",
                subject,
            ],
        );
    };
    req("ca.key", "ca.csr", "/CN=medtap test CA");
    openssl(
        dir,
        &[
            "x509", "-req", "-in", "ca.csr", "-signkey", "ca.key", "-days", "2", "-extfile",
            "ca.ext", "-out", "ca.pem",
        ],
    );
    req("server.key", "server.csr", "/CN=localhost");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    );
    TestCerts::in_dir(dir)
}
