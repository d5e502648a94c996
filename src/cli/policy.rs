//! `medtap policy`: the segmentation policy learned in a state file, on
//! standard output. Everything is made before a byte is written, so a
//! refused input leaves standard output empty.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::policy::render::{self, Format};

/// The `policy` subcommand's options.
#[derive(Debug, clap::Args)]
pub struct PolicyArgs {
    /// The state file learned with `--state FILE` (e.g. after `--learn all`).
    #[arg(long, value_name = "FILE", required = true)]
    pub state: PathBuf,

    /// A TOML file naming groups by MAC, CIDR, OUI, AE title or identity
    /// pattern; its groups are tried in order before the defaults, and the
    /// first that matches a device wins.
    #[arg(long, value_name = "FILE.toml")]
    pub groups: Option<PathBuf>,

    /// The rendering.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
}

/// Runs `medtap policy`.
pub fn run(args: &PolicyArgs) -> ExitCode {
    let policy = match crate::policy::from_files(&args.state, args.groups.as_deref()) {
        Ok(policy) => policy,
        Err(e) => return super::fail(e),
    };
    let text = render::render(&policy, args.format);
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that closed the pipe has all it wanted.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => super::fail(format_args!("cannot write the policy: {e}")),
    }
}
