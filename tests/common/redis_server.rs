//! A real `redis-server` for the tests: started on a free port of
//! 127.0.0.1, killed (by its PID) when dropped, read back over its own
//! connection.

use std::io::{Read, Write};
use std::net::TcpStream;

pub use super::tools::free_tcp_port as free_port;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use medtap::output::redis::{Parsed, Reply, encode_command, parse_reply};

/// How long a started server has to answer PING.
pub const SERVER_START_TIMEOUT: Duration = Duration::from_secs(10);

/// A `redis-server` child process; killed (by its PID) when dropped.
pub struct Server {
    child: Child,
    /// The port it listens on (plain TCP).
    pub port: u16,
    /// `AUTH` arguments the test's own connections send first.
    auth: Vec<String>,
}

impl Server {
    /// Starts a server on a free port.
    pub fn start() -> Server {
        // Another process may take the port between our probe and the
        // server's bind: try a few ports before giving up.
        let mut last = String::new();
        for _ in 0..5 {
            match Server::start_on(free_port()) {
                Ok(server) => return server,
                Err(e) => last = e,
            }
        }
        panic!("redis-server did not start: {last}");
    }

    /// Starts a server on a free port with `extra` arguments; the test's
    /// own connections authenticate with `auth` (`[password]` or `[user,
    /// password]`, empty for none).
    pub fn start_with(extra: &[String], auth: &[&str]) -> Server {
        let mut last = String::new();
        for _ in 0..5 {
            match Server::start_on_with(free_port(), extra, auth) {
                Ok(server) => return server,
                Err(e) => last = e,
            }
        }
        panic!("redis-server did not start: {last}");
    }

    /// Starts a server on `port`.
    pub fn start_on(port: u16) -> Result<Server, String> {
        Server::start_on_with(port, &[], &[])
    }

    fn start_on_with(port: u16, extra: &[String], auth: &[&str]) -> Result<Server, String> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run redis-server ({e}): these tests need it; \
                     install it with scripts/setup.sh (apt-get install redis-server)"
                )
            });
        let mut server = Server {
            child,
            port,
            auth: auth.iter().map(|a| (*a).to_owned()).collect(),
        };
        let deadline = Instant::now() + SERVER_START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("redis-server on port {port} exited: {status}"));
            }
            // A server still starting (or another process that took the
            // port) may reset the connection: try again until the deadline.
            if let Ok(mut conn) = TcpStream::connect(("127.0.0.1", port))
                && server.authenticate(&mut conn)
                && answers_ping(&mut conn)
            {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(format!("redis-server on port {port} did not answer PING"));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self, key: &str, query: &str) -> String {
        format!("redis://127.0.0.1:{}/{key}{query}", self.port)
    }

    /// Kills the server and waits for it to be gone.
    pub fn stop(mut self) -> u16 {
        self.kill();
        self.port
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends one command over a fresh connection and returns its reply.
    pub fn command(&self, args: &[&[u8]]) -> Reply {
        let mut conn = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to redis");
        assert!(self.authenticate(&mut conn), "AUTH refused");
        command_on(&mut conn, args)
    }

    /// Sends `AUTH` on `conn` when the server was started with credentials;
    /// whether it was accepted (or not needed).
    fn authenticate(&self, conn: &mut TcpStream) -> bool {
        if self.auth.is_empty() {
            return true;
        }
        let mut args: Vec<&[u8]> = vec![b"AUTH"];
        args.extend(self.auth.iter().map(|a| a.as_bytes()));
        let mut out = Vec::new();
        encode_command(&mut out, &args);
        if conn.write_all(&out).is_err() {
            return false;
        }
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        while !got.ends_with(b"\r\n") {
            match conn.read(&mut buf) {
                Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                _ => return false,
            }
        }
        got == b"+OK\r\n"
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn command_on(conn: &mut TcpStream, args: &[&[u8]]) -> Reply {
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut out = Vec::new();
    encode_command(&mut out, args);
    conn.write_all(&out).expect("send command");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        match parse_reply(&buf).expect("a valid reply") {
            Parsed::Done { item, consumed } => {
                assert_eq!(consumed, buf.len(), "one reply, nothing after it");
                return item;
            }
            Parsed::Incomplete => {
                let n = conn.read(&mut chunk).expect("read reply");
                assert!(n > 0, "server closed the connection mid-reply");
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
}

/// Whether the server on `conn` answers PING with PONG; any error is a no.
fn answers_ping(conn: &mut TcpStream) -> bool {
    let mut out = Vec::new();
    encode_command(&mut out, &[b"PING"]);
    if conn.write_all(&out).is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    let mut got = Vec::new();
    while got.len() < 7 {
        match conn.read(&mut buf) {
            Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return false,
        }
    }
    got == b"+PONG\r\n"
}

/// The elements of the list at `key`, in order.
pub fn list(server: &Server, key: &str) -> Vec<Vec<u8>> {
    match server.command(&[b"LRANGE", key.as_bytes(), b"0", b"-1"]) {
        Reply::Array(Some(items)) => items
            .into_iter()
            .map(|item| match item {
                Reply::Bulk(Some(bytes)) => bytes,
                other => panic!("list element {other:?}"),
            })
            .collect(),
        other => panic!("LRANGE {key}: {other:?}"),
    }
}
