//! Handing medtap's files to the `--user` it switches to.
//!
//! With `--user`, the outputs, the spool and the inventory are opened as root,
//! before the live capture (which needs root) is open; then every thread
//! switches to the user. What medtap opens again after that must be the
//! user's: an output file reopened on SIGHUP, a spool segment appended to,
//! cut or deleted, the inventory replaced. So, as Suricata does with its log
//! files for its run-as user, just before the switch [`Handover::give`] makes
//! the user (its uid and primary group) the owner of
//!
//! * each output file medtap opened,
//! * the inventory file and the state file (`--state`), if there are any yet,
//! * each network sink's own spool directory and every file in it.
//!
//! Only regular files are given, and only with one link: a symbolic link, a
//! device (`-o /dev/null`) or a file with other hard links is left as it is
//! and logged, since its owner is not medtap's to change. Directories medtap
//! did not make are never changed either: the directory given with `--spool`
//! (it may be shared; a sink needs only to pass through it) and those of the
//! output files and the inventory.
//!
//! Files created after the switch are created by the user, since every thread
//! has switched. Where medtap will have to create files, the user must be
//! allowed to: next to each output file (the new file after logrotate renamed
//! the old one), next to the inventory and the state file (each replaced
//! through a temporary file) and
//! in each spool directory. [`Handover::check`], run after the switch, tries
//! each and returns the first it cannot create a file in, so medtap refuses
//! to start rather than fail at the first rotation or inventory write.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The files and directories a live run hands to `--user`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Handover {
    /// Output files opened for appending.
    pub outputs: Vec<PathBuf>,
    /// Each network sink's spool directory.
    pub spools: Vec<PathBuf>,
    /// The inventory file (`--inventory`), which may not exist yet.
    pub inventory: Option<PathBuf>,
    /// The state file (`--state`), which may not exist yet.
    pub state: Option<PathBuf>,
}

impl Handover {
    /// Makes `uid`:`gid` the owner of every output file, the inventory file
    /// and every spool directory with its files. What cannot be changed is
    /// logged and left: writing goes on through the files already open.
    pub fn give(&self, uid: u32, gid: u32) {
        for path in self
            .outputs
            .iter()
            .chain(&self.inventory)
            .chain(&self.state)
        {
            give_file(path, uid, gid);
        }
        for dir in &self.spools {
            let given = give_dir(dir, uid, gid);
            if let Err(e) = given {
                tracing::warn!(spool = %dir.display(), uid, gid, "cannot hand the spool to the user: {e}");
            }
        }
    }

    /// After the switch: whether the user can create files in every
    /// directory where medtap will have to. The first that fails, as one
    /// sentence naming it and what needs it.
    pub fn check(&self) -> Result<(), String> {
        let outputs = self
            .outputs
            .iter()
            .filter(|path| is_plain_file(path))
            .map(|path| (parent(path), format!("output {}", path.display())));
        let inventory = self
            .inventory
            .iter()
            .map(|path| (parent(path), format!("inventory {}", path.display())));
        let state = self
            .state
            .iter()
            .map(|path| (parent(path), format!("state file {}", path.display())));
        let spools = self
            .spools
            .iter()
            .map(|dir| (dir.clone(), "spool".to_owned()));
        for (dir, what) in outputs.chain(inventory).chain(state).chain(spools) {
            if let Err(e) = probe(&dir) {
                return Err(format!(
                    "cannot create files in {} for the {what}: {e}",
                    dir.display()
                ));
            }
        }
        Ok(())
    }
}

/// A regular file with no other hard link, not through a symbolic link.
fn is_plain_file(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file() && m.nlink() == 1)
}

fn give_file(path: &Path, uid: u32, gid: u32) {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return,
        Err(e) => {
            tracing::warn!(file = %path.display(), "cannot hand the file to the user: {e}");
            return;
        }
    };
    if !meta.file_type().is_file() {
        tracing::info!(file = %path.display(), "not a regular file: its owner is left as it is");
        return;
    }
    if meta.nlink() > 1 {
        tracing::warn!(file = %path.display(), links = meta.nlink(), "the file has other hard links: its owner is left as it is");
        return;
    }
    if let Err(e) = std::os::unix::fs::lchown(path, Some(uid), Some(gid)) {
        tracing::warn!(file = %path.display(), uid, gid, "cannot hand the file to the user: {e}");
    }
}

/// `dir` itself (not through a link) and the files in it.
fn give_dir(dir: &Path, uid: u32, gid: u32) -> io::Result<()> {
    if !fs::symlink_metadata(dir)?.is_dir() {
        return Err(io::Error::other("not a directory"));
    }
    std::os::unix::fs::lchown(dir, Some(uid), Some(gid))?;
    for entry in fs::read_dir(dir)? {
        give_file(&entry?.path(), uid, gid);
    }
    Ok(())
}

/// The directory a file is created in.
fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Creates and removes a file in `dir`.
fn probe(dir: &Path) -> io::Result<()> {
    let path = dir.join(format!(".medtap-probe.{}", std::process::id()));
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    fs::remove_file(&path)
}

#[cfg(test)]
mod tests {
    //! These change owners, so they need root (as CI runs).

    use super::*;

    /// `nobody` on Debian.
    const NOBODY: u32 = 65534;

    fn owner(path: &Path) -> (u32, u32) {
        let meta = fs::symlink_metadata(path).expect("metadata");
        (meta.uid(), meta.gid())
    }

    /// A new file `name` in `dir` holding `text`, made by root.
    fn file(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, text).expect("write");
        path
    }

    #[test]
    fn outputs_inventory_and_spools_change_hands() {
        let dir = tempfile::tempdir().expect("tempdir");
        let output = file(dir.path(), "eve.json", "");
        let inventory = file(dir.path(), "devices.json", "{}");
        let state = file(dir.path(), "state.json", "{}");
        let spool = dir.path().join("spool");
        let sink = spool.join("redis-1");
        fs::create_dir_all(&sink).expect("spool");
        let segment = file(&sink, "00000000000000000000.seg", "medtap-spool 1\n");
        let handover = Handover {
            outputs: vec![output.clone()],
            spools: vec![sink.clone()],
            inventory: Some(inventory.clone()),
            state: Some(state.clone()),
        };
        handover.give(NOBODY, NOBODY);
        for path in [&output, &inventory, &state, &sink, &segment] {
            assert_eq!(owner(path), (NOBODY, NOBODY), "{}", path.display());
        }
        // The directory given as the spool is not medtap's to change.
        assert_eq!(owner(&spool), (0, 0));
        assert_eq!(owner(dir.path()), (0, 0));
    }

    #[test]
    fn links_devices_and_missing_files_are_left_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = file(dir.path(), "target", "");
        let symlink = dir.path().join("symlink");
        std::os::unix::fs::symlink(&target, &symlink).expect("symlink");
        let linked = file(dir.path(), "linked", "");
        fs::hard_link(&linked, dir.path().join("other-name")).expect("hard link");
        let null = Path::new("/dev/null");
        let null_owner = owner(null);
        let handover = Handover {
            outputs: vec![symlink.clone(), linked.clone(), null.to_owned()],
            spools: Vec::new(),
            inventory: Some(dir.path().join("not-yet.json")),
            state: None,
        };
        handover.give(NOBODY, NOBODY);
        assert_eq!(owner(&target), (0, 0));
        assert_eq!(owner(&symlink), (0, 0));
        assert_eq!(owner(&linked), (0, 0));
        assert_eq!(owner(null), null_owner);
        assert!(!dir.path().join("not-yet.json").exists());
    }

    #[test]
    fn check_names_the_first_directory_without_room() {
        let dir = tempfile::tempdir().expect("tempdir");
        let output = file(dir.path(), "eve.json", "");
        let fine = Handover {
            outputs: vec![output, PathBuf::from("/dev/null")],
            spools: vec![dir.path().to_owned()],
            inventory: Some(dir.path().join("devices.json")),
            state: Some(dir.path().join("state.json")),
        };
        assert_eq!(fine.check(), Ok(()));
        let missing = dir.path().join("gone");
        let bad = Handover {
            inventory: Some(missing.join("devices.json")),
            ..fine.clone()
        };
        let problem = bad.check().expect_err("no such directory");
        assert!(
            problem.starts_with(&format!(
                "cannot create files in {} for the inventory {}/devices.json: ",
                missing.display(),
                missing.display()
            )),
            "{problem}"
        );
        let bad = Handover {
            state: Some(missing.join("state.json")),
            ..fine.clone()
        };
        let problem = bad.check().expect_err("no such directory");
        assert!(problem.contains("for the state file"), "{problem}");
        // The probe leaves nothing behind.
        assert_eq!(fs::read_dir(dir.path()).expect("dir").count(), 1);
    }
}
