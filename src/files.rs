//! Files medtap reads or replaces whole: the inventory (`--inventory`), the
//! state file (`--state`) and the segments of a network sink's spool.
//!
//! medtap often runs as root in directories other users may write to, so
//! each of these is only ever a regular file:
//!
//! * A file is replaced ([`replace`]) through a temporary file in the same
//!   directory, named `.NAME.tmp.` and 16 random hex digits (from the
//!   kernel's random source), created with `O_CREAT | O_EXCL | O_NOFOLLOW`:
//!   a name planted in advance is never opened, let alone followed. It is
//!   written, flushed to disk, renamed over the target, and the directory is
//!   flushed too; a crash leaves the old file or the new one.
//! * A target that is a symbolic link, a FIFO, a device, a socket or a
//!   directory is refused ([`check_target`]), never replaced nor followed.
//! * A file is read ([`read_regular`]) with `O_NOFOLLOW | O_NONBLOCK`, so
//!   a FIFO cannot block the open, then checked to be a regular file no
//!   larger than the caller's limit before a byte is read.
//!
//! A refusal is an [`io::Error`] of kind [`io::ErrorKind::InvalidInput`]
//! (not a regular file) or [`io::ErrorKind::FileTooLarge`], whose message
//! says what the path is.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

/// Temporary names tried before giving up, should each already exist.
const TEMP_ATTEMPTS: usize = 16;

/// What a file that is not regular is, in words.
fn describe(file_type: &fs::FileType) -> &'static str {
    if file_type.is_symlink() {
        "a symbolic link"
    } else if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

fn not_regular(file_type: &fs::FileType) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a regular file ({})", describe(file_type)),
    )
}

/// Whether `path` may be replaced: it does not exist, or is a regular file
/// (not a symbolic link to one).
pub fn check_target(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_file() => Ok(()),
        Ok(meta) => Err(not_regular(&meta.file_type())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether a file can be written at `path` at the end of a run: its
/// directory exists, and it does not exist yet or is a regular file (see
/// [`check_target`]). Checked before a run starts, so a long replay does
/// not fail at its end.
pub fn check_replaceable(path: &Path) -> io::Result<()> {
    check_directory(path)?;
    check_target(path)
}

/// Whether events can be appended at `path`: its directory exists, and it
/// is not a directory itself (a FIFO or `/dev/null` is fine). Checked for
/// every output before any is opened.
pub fn check_writable_target(path: &Path) -> io::Result<()> {
    check_directory(path)?;
    match fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Err(io::Error::from(io::ErrorKind::IsADirectory)),
        _ => Ok(()),
    }
}

/// Whether the directory a file at `path` would be written in exists.
pub fn check_directory(path: &Path) -> io::Result<()> {
    let meta = fs::metadata(directory_of(path))?;
    if !meta.is_dir() {
        return Err(io::Error::from(io::ErrorKind::NotADirectory));
    }
    Ok(())
}

fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Sixteen hex digits from the kernel's random source.
fn random_suffix() -> io::Result<String> {
    let mut bytes = [0u8; 8];
    rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty())?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Creates a new temporary file beside `path`, never following or reusing
/// anything already there.
fn create_temp(path: &Path) -> io::Result<(File, PathBuf)> {
    let dir = directory_of(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "medtap".to_owned());
    let mut last = None;
    for _ in 0..TEMP_ATTEMPTS {
        let temp = dir.join(format!(".{name}.tmp.{}", random_suffix()?));
        let created = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags((OFlags::NOFOLLOW | OFlags::CLOEXEC).bits() as i32)
            .mode(0o666)
            .open(&temp);
        match created {
            Ok(file) => return Ok((file, temp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no temporary name left")))
}

/// Replaces `path` with what `write` writes, through a temporary file (see
/// the module docs). A target that exists keeps its permission bits. On any
/// failure the target is left as it was and the temporary file removed.
pub fn replace(path: &Path, write: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    check_target(path)?;
    let (mut file, temp) = create_temp(path)?;
    let result = (|| {
        write(&mut file)?;
        if let Ok(meta) = fs::symlink_metadata(path)
            && meta.file_type().is_file()
        {
            let mode = meta.permissions().mode() & 0o7777;
            file.set_permissions(fs::Permissions::from_mode(mode))?;
        }
        file.sync_all()?;
        drop(file);
        // Checked again just before: what was planted meanwhile is refused.
        check_target(path)?;
        fs::rename(&temp, path)?;
        File::open(directory_of(path))?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Opens `path` for reading without following a symbolic link and without
/// blocking on a FIFO; `None` when it does not exist. Refuses anything but a
/// regular file of at most `max_bytes` bytes.
pub fn open_regular(path: &Path, max_bytes: u64) -> io::Result<Option<(File, u64)>> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        // O_NOFOLLOW on a symbolic link.
        Err(rustix::io::Errno::LOOP) => {
            let meta = fs::symlink_metadata(path)?;
            return Err(not_regular(&meta.file_type()));
        }
        Err(e) => return Err(e.into()),
    };
    let file = File::from(fd);
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(not_regular(&meta.file_type()));
    }
    if meta.len() > max_bytes {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("{} bytes, larger than {max_bytes}", meta.len()),
        ));
    }
    Ok(Some((file, meta.len())))
}

/// Reads the whole of `path` as [`open_regular`] opens it; `None` when it
/// does not exist. Stops at `max_bytes` should the file grow meanwhile.
pub fn read_regular(path: &Path, max_bytes: u64) -> io::Result<Option<Vec<u8>>> {
    let Some((file, len)) = open_regular(path, max_bytes)? else {
        return Ok(None);
    };
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(max_bytes).read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

/// Writes `bytes` to `path` through [`replace`].
pub fn replace_with(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, |file| file.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_is_written_and_no_temporary_is_left() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.json");
        replace_with(&path, b"one").expect("write");
        replace_with(&path, b"two").expect("replace");
        assert_eq!(fs::read(&path).expect("read"), b"two");
        assert_eq!(fs::read_dir(dir.path()).expect("dir").count(), 1);
    }

    #[test]
    fn a_replaced_file_keeps_its_permissions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        fs::write(&path, b"old").expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
        replace_with(&path, b"new").expect("replace");
        let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }

    #[test]
    fn a_symbolic_link_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("target");
        fs::write(&target, b"keep").expect("write");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let e = replace_with(&link, b"x").expect_err("refused");
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(fs::read(&target).expect("read"), b"keep");
        assert!(fs::symlink_metadata(&link).expect("meta").is_symlink());
        let e = read_regular(&link, 100).expect_err("refused");
        assert!(e.to_string().contains("symbolic link"), "{e}");
    }

    #[test]
    fn a_device_is_neither_replaced_nor_read() {
        let e = check_target(Path::new("/dev/null")).expect_err("refused");
        assert!(e.to_string().contains("character device"), "{e}");
        let e = read_regular(Path::new("/dev/zero"), 100).expect_err("refused");
        assert!(e.to_string().contains("character device"), "{e}");
    }

    #[test]
    fn a_file_over_the_limit_is_refused_before_reading() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big");
        fs::write(&path, [0u8; 11]).expect("write");
        let e = read_regular(&path, 10).expect_err("refused");
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(read_regular(&path, 11).expect("read"), Some(vec![0u8; 11]));
        assert_eq!(
            read_regular(&dir.path().join("none"), 10).expect("ok"),
            None
        );
    }

    #[test]
    fn temporary_names_differ() {
        let a = random_suffix().expect("random");
        let b = random_suffix().expect("random");
        assert_eq!(a.len(), 16);
        assert_ne!(a, b);
    }
}
