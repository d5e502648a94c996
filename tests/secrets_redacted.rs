//! No password or token given to medtap ever comes out of it: each run below
//! hands medtap known secrets — in `-o` URLs, in `password_file=` and
//! `token_file=` files, in the environment — and fails or succeeds in a
//! different way (a bad parameter, a bad port, a bad scheme, an unreachable
//! receiver, `--check-config`, refused credentials, a target given twice, a
//! delivered replay with its `stats` event, `-v` logs). Every byte of
//! standard output, standard error, the output files and the spool is then
//! searched for the secrets: none may appear.
//!
//! Needs `redis-server` (scripts/setup.sh installs it).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::redis_server::{Server, free_port};

const PASSWORD: &str = "Pw7f3a91c2secret";
const TOKEN: &str = "Tk5be0d4e8token";
const FILE_PASSWORD: &str = "Fp0c4d88e1file";
const ENV_PASSWORD: &str = "Ev99aa12b3env";

/// Each secret, and the forms it could leak in (as is, %-encoded).
fn needles() -> Vec<String> {
    [PASSWORD, TOKEN, FILE_PASSWORD, ENV_PASSWORD]
        .into_iter()
        .map(str::to_owned)
        .collect()
}

struct Case {
    /// Where files the run writes go (outputs, spool, config).
    work: tempfile::TempDir,
    /// Where the secret files are (not searched: they hold the secrets).
    secrets: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        let secrets = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            secrets.path().join("redis.pw"),
            format!("{FILE_PASSWORD}\n"),
        )
        .expect("password file");
        std::fs::write(secrets.path().join("hec.token"), format!("{TOKEN}\n")).expect("token file");
        Case {
            work: tempfile::tempdir().expect("tempdir"),
            secrets,
        }
    }

    fn password_file(&self) -> PathBuf {
        self.secrets.path().join("redis.pw")
    }

    fn token_file(&self) -> PathBuf {
        self.secrets.path().join("hec.token")
    }

    fn spool(&self) -> PathBuf {
        self.work.path().join("spool")
    }

    /// Runs medtap with `args` and the secrets' environment variables set.
    fn run(&self, args: &[String]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_medtap"))
            .args(args)
            .env("MEDTAP_REDIS_PASSWORD", ENV_PASSWORD)
            .env("MEDTAP_HEC_TOKEN", TOKEN)
            .current_dir(self.work.path())
            .output()
            .expect("medtap runs")
    }

    /// Asserts that no secret is in `out` or in any file under the work
    /// directory; returns standard error, for the case's own checks.
    fn assert_clean(&self, what: &str, out: &Output) -> String {
        let mut haystacks: Vec<(String, Vec<u8>)> = vec![
            ("stdout".into(), out.stdout.clone()),
            ("stderr".into(), out.stderr.clone()),
        ];
        for file in walk(self.work.path()) {
            let bytes = std::fs::read(&file).unwrap_or_default();
            haystacks.push((file.display().to_string(), bytes));
            // File names too: a spool directory is named from its URL.
            haystacks.push((
                format!("the name of {}", file.display()),
                file.display().to_string().into_bytes(),
            ));
        }
        for (name, bytes) in &haystacks {
            for needle in needles() {
                assert!(
                    memchr::memmem::find(bytes, needle.as_bytes()).is_none(),
                    "{what}: the secret {needle} is in {name}:\n{}",
                    String::from_utf8_lossy(bytes)
                );
            }
        }
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        out.push(path.clone());
        if path.is_dir() {
            out.extend(walk(&path));
        }
    }
    out.retain(|p| p.is_file() || p.is_dir());
    out
}

fn ward() -> String {
    common::fixture("ward.pcapng").display().to_string()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|a| (*a).to_owned()).collect()
}

#[test]
fn bad_urls_never_show_their_credentials() {
    let case = Case::new();
    for url in [
        format!("redis://:{PASSWORD}@127.0.0.1:6379/key?mode=bogus"),
        format!("redis://user:{PASSWORD}@127.0.0.1:99999/key"),
        format!("redis://u:{PASSWORD}/x@127.0.0.1/key"),
        format!("syslog+tcp://user:{PASSWORD}@127.0.0.1:514"),
        format!("syslog+udp://127.0.0.1?password={PASSWORD}"),
        format!("foo://user:{PASSWORD}@host/x"),
        format!("http://user:{PASSWORD}@127.0.0.1/x?api=ndjson"),
        format!("https://127.0.0.1/x?api=hec&token={TOKEN}"),
        format!("redis://127.0.0.1/k?secret={TOKEN}&mode=xadd#{PASSWORD}"),
        format!("file:///tmp/x.json?format=bogus&token={TOKEN}"),
    ] {
        let out = case.run(&args(&["-r", &ward(), "-o", &url]));
        let stderr = case.assert_clean(&url, &out);
        assert_ne!(out.status.code(), Some(0), "{url}: {stderr}");
        assert!(stderr.contains("bad output URL"), "{url}: {stderr}");
    }
}

#[test]
fn a_target_given_twice_is_named_without_its_credentials() {
    let case = Case::new();
    let url = format!("redis://:{PASSWORD}@127.0.0.1:1/key");
    let out = case.run(&args(&["-r", &ward(), "-o", &url, "-o", &url]));
    let stderr = case.assert_clean("given twice", &out);
    assert!(stderr.contains("given twice"), "{stderr}");
}

#[test]
fn check_config_never_shows_credentials() {
    let case = Case::new();
    // In the secrets' directory: the file itself holds the password.
    let config = case.secrets.path().join("medtap.toml");
    std::fs::write(
        &config,
        format!(
            "outputs = [\"redis://:{PASSWORD}@127.0.0.1/k?mode=bogus\", \
             \"syslog+tcp://u:{PASSWORD}@h\", \
             \"redis://:{PASSWORD}@127.0.0.1/k\", \"redis://:{PASSWORD}@127.0.0.1/k\"]\n"
        ),
    )
    .expect("config");
    let out = case.run(&args(&["--check-config", &config.display().to_string()]));
    let stderr = case.assert_clean("--check-config", &out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // One line for each problem.
    assert!(stderr.lines().count() >= 3, "{stderr}");

    std::fs::write(
        &config,
        format!(
            "outputs = [\"redis://:{PASSWORD}@127.0.0.1/k\", \"redis://127.0.0.1/k2?password_file={}\"]\n",
            case.password_file().display()
        ),
    )
    .expect("config");
    let out = case.run(&args(&["--check-config", &config.display().to_string()]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "config OK\n");
}

#[test]
fn unreachable_receivers_spool_and_log_without_credentials() {
    let case = Case::new();
    let closed = free_port();
    let out = case.run(&args(&[
        "-r",
        &ward(),
        "-v",
        "-v",
        "--log-protocols",
        "--spool",
        &case.spool().display().to_string(),
        "-o",
        &format!("redis://medtap:{PASSWORD}@127.0.0.1:{closed}/eve?mode=xadd"),
        "-o",
        &format!(
            "redis://127.0.0.1:{closed}/eve2?password_file={}",
            case.password_file().display()
        ),
        "-o",
        &format!("redis://127.0.0.1:{closed}/eve3"),
        "-o",
        &format!(
            "http://127.0.0.1:{closed}/services/collector?api=hec&token_file={}",
            case.token_file().display()
        ),
        "-o",
        &format!("http://127.0.0.1:{closed}/hec-from-env?api=hec"),
        "-o",
        "events.json",
    ]));
    let stderr = case.assert_clean("unreachable", &out);
    // Exit 3: read everything, but the events wait in the spools.
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(walk(&case.spool()).len() > 5, "nothing spooled");
}

#[test]
fn refused_and_accepted_credentials_leave_no_trace() {
    let server = Server::start_with(
        &["--requirepass".to_owned(), FILE_PASSWORD.to_owned()],
        &[FILE_PASSWORD],
    );
    let case = Case::new();
    // Refused: a wrong password in the URL.
    let out = case.run(&args(&[
        "-r",
        &ward(),
        "-v",
        "--spool",
        &case.spool().display().to_string(),
        "-o",
        &format!("redis://:{PASSWORD}@127.0.0.1:{}/k", server.port),
    ]));
    let stderr = case.assert_clean("refused", &out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("authentication refused"), "{stderr}");
    std::fs::remove_dir_all(case.spool()).expect("clear the spool");

    // Refused: the environment's password, which is not this server's.
    let out = case.run(&args(&[
        "-r",
        &ward(),
        "--spool",
        &case.spool().display().to_string(),
        "-o",
        &format!("redis://127.0.0.1:{}/k", server.port),
    ]));
    case.assert_clean("refused from the environment", &out);
    assert_eq!(out.status.code(), Some(1));
    std::fs::remove_dir_all(case.spool()).expect("clear the spool");

    // Accepted: the password from its file; the stats event, the output
    // file and the -v logs name the sink.
    let out = case.run(&args(&[
        "-r",
        &ward(),
        "-v",
        "-v",
        "--log-protocols",
        "--spool",
        &case.spool().display().to_string(),
        "-o",
        "-",
        "-o",
        "events.json",
        "-o",
        &format!(
            "redis://default@127.0.0.1:{}/k?password_file={}",
            server.port,
            case.password_file().display()
        ),
    ]));
    let stderr = case.assert_clean("accepted", &out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "\"name\":\"redis://127.0.0.1:{}/k?password_file=",
            server.port
        )),
        "the sink is named in stats"
    );
}
