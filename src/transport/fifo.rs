//! The named writer: a FIFO in a fresh private directory, which the child
//! opens by path. Nothing is inherited, so spawning needs no `pre_exec` hook
//! and std can use `posix_spawn`.

use std::fmt;
use std::fs::{DirBuilder, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::file::FileInput;
use super::{write_report, Input, Receiver};
use crate::error::{Error, ErrorKind};
use crate::protocol::{self, WriterText};
use crate::registry::{ClaimKey, Registry};
use crate::sys;

/// The FIFO's name inside its directory.
const FIFO_NAME: &str = "port";

/// What starts the private directory's name.
const DIR_PREFIX: &str = "dynamic-port-";

/// A writer that reports through a named FIFO.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct FifoWriter {
    /// The FIFO's device number.
    pub(crate) dev: u64,
    /// The FIFO's inode number.
    pub(crate) inode: u64,
    /// Its absolute path.
    pub(crate) path: PathBuf,
}

/// The private directory that holds the FIFO, removed (with all it holds)
/// when dropped: when the [`PortFuture`](crate::PortFuture) resolves or drops.
#[derive(Debug)]
pub(crate) struct NamedDir {
    /// The directory's path.
    path: PathBuf,
}

impl Drop for NamedDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.path.join(FIFO_NAME));
        if std::fs::remove_dir(&self.path).is_err() {
            // Not empty: a shell child whose `>` raced with the removal may
            // have left a regular file. Remove whatever is there.
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Where the private directory goes: the first of `$XDG_RUNTIME_DIR` (if
/// set), `/dev/shm` and the temp dir that [fits](why_unfit).
fn base_dir() -> Result<PathBuf, Error> {
    let candidates = std::env::var_os("XDG_RUNTIME_DIR")
        .map(|dir| ("$XDG_RUNTIME_DIR", PathBuf::from(dir)))
        .into_iter()
        .chain([
            ("/dev/shm", PathBuf::from("/dev/shm")),
            ("the temp dir", std::env::temp_dir()),
        ]);
    let mut refused = Vec::new();
    for (what, path) in candidates {
        match why_unfit(&path) {
            None => return Ok(path),
            Some(why) => refused.push(format!("{what} {:?} {why}", path.to_string_lossy())),
        }
    }
    Err(Error::new(
        ErrorKind::Io,
        format!(
            "found no directory for a named writer's FIFO: {}; set XDG_RUNTIME_DIR or \
             TMPDIR to a directory of this user's that others cannot write to",
            refused.join("; ")
        ),
    ))
}

/// Why `path` is no place for a private directory, or `None` if it fits:
/// an absolute UTF-8 path (the writer text holds it) to a directory that
/// belongs to this user and that others cannot write to, or that is
/// sticky (as `/tmp` and `/dev/shm` are) and belongs to this user or root,
/// so that nobody else can remove or replace what this user makes in it.
fn why_unfit(path: &Path) -> Option<String> {
    if !path.is_absolute() {
        return Some("is not an absolute path".to_owned());
    }
    if path.to_str().is_none() {
        return Some("is not UTF-8".to_owned());
    }
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(err) => return Some(format!("cannot be looked at ({err})")),
    };
    if !metadata.is_dir() {
        return Some("is not a directory".to_owned());
    }
    let (owner, mode, me) = (metadata.uid(), metadata.mode(), sys::effective_uid());
    let sticky = mode & 0o1000 != 0;
    let others_write = mode & 0o022 != 0;
    if sticky && (owner == me || owner == 0) {
        None
    } else if owner != me {
        Some(format!(
            "belongs to uid {owner}, not to this user (uid {me}), and is not sticky"
        ))
    } else if others_write {
        Some(format!(
            "can be written by others (mode {:o}) and is not sticky",
            mode & 0o7777
        ))
    } else {
        None
    }
}

/// A name no other directory of this process uses, and hard to guess.
fn fresh_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    // Uniqueness comes from mkdir refusing an existing name, not from this.
    let mixed = (u64::from(nanos) ^ count.rotate_left(32))
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .rotate_left(17);
    format!("{DIR_PREFIX}{}-{count}-{mixed:016x}", std::process::id())
}

impl FifoWriter {
    /// Makes a fresh private directory (mode 0700) holding a FIFO (mode
    /// 0600), and opens the FIFO for reading and writing, so that it never
    /// reads end of stream and a child's open never blocks while it is pending.
    pub(crate) fn create() -> Result<(FifoWriter, Receiver), Error> {
        let base = base_dir()?;
        let dir = make_private_dir(&base).map_err(|e| {
            Error::io(
                format!("could not make a private directory in {}", base.display()),
                e,
            )
        })?;
        let path = dir.path.join(FIFO_NAME);
        sys::mkfifo(&path, 0o600)
            .map_err(|e| Error::io(format!("could not make the FIFO {}", path.display()), e))?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| Error::io(format!("could not open the FIFO {}", path.display()), e))?;
        let metadata = file
            .metadata()
            .map_err(|e| Error::io("could not stat the new FIFO", e))?;
        let writer = FifoWriter {
            dev: metadata.dev(),
            inode: metadata.ino(),
            path,
        };
        let receiver = Receiver {
            input: Input::File(FileInput::new(file)),
            creator: None,
            _dir: Some(dir),
        };
        Ok((writer, receiver))
    }

    /// Opens the FIFO, checks it is the one named and this user's, writes the
    /// report line, and closes it.
    pub(crate) fn send(&self, line: &[u8]) -> Result<(), Error> {
        let claim = Registry::lock().claim(ClaimKey::Fifo(self.dev, self.inode, self.path.clone()));
        let sending = claim.begin().map_err(|why| super::refused(self, why))?;
        // Look before opening, so that nothing but our FIFO is ever opened
        // (opening a device can have effects of its own).
        let found = match std::fs::symlink_metadata(&self.path) {
            Ok(found) => found,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(self.abandoned()),
            Err(err) => {
                return Err(Error::io(
                    format!("could not look at {}", self.path.display()),
                    err,
                ))
            }
        };
        self.check(&found)?;
        let file = match OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_NOCTTY)
            .open(&self.path)
        {
            Ok(file) => file,
            // ENXIO: no reader; ENOENT: removed since we looked.
            Err(err) if matches!(err.raw_os_error(), Some(libc::ENXIO | libc::ENOENT)) => {
                return Err(self.abandoned())
            }
            Err(err) => {
                return Err(Error::io(
                    format!("could not open {}", self.path.display()),
                    err,
                ))
            }
        };
        // Check again what was opened: the path may have been replaced meanwhile.
        let opened = file
            .metadata()
            .map_err(|e| Error::io(format!("could not stat {}", self.path.display()), e))?;
        self.check(&opened)?;
        write_report(file.as_fd(), line, self)?;
        sending.commit();
        Ok(())
    }

    /// Checks that `found` is the FIFO named, owned by this process's user.
    fn check(&self, found: &std::fs::Metadata) -> Result<(), Error> {
        let what = if !found.file_type().is_fifo() {
            let kind = found.file_type();
            let kind = if kind.is_symlink() {
                "a symbolic link"
            } else if kind.is_dir() {
                "a directory"
            } else if kind.is_file() {
                "a regular file"
            } else {
                "not a FIFO"
            };
            kind.to_owned()
        } else if (found.dev(), found.ino()) != (self.dev, self.inode) {
            format!("another FIFO (inode {})", found.ino())
        } else if found.uid() != sys::effective_uid() {
            format!("a FIFO owned by uid {}, not this user", found.uid())
        } else {
            return Ok(());
        };
        Err(Error::new(
            ErrorKind::NotInherited,
            format!(
                "{} is {what}, so the writer wrote nothing; is the writer text stale?",
                self.path.display()
            ),
        ))
    }

    /// The error for a report nobody waits for any more.
    fn abandoned(&self) -> Error {
        super::abandoned(&self.path.display())
    }

    /// The debug output of a [`DynamicPortWriter`](crate::DynamicPortWriter) of this kind.
    pub(crate) fn fmt_debug(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicPortWriter")
            .field("fifo", &self.path)
            .field("dev", &self.dev)
            .field("inode", &self.inode)
            .finish()
    }

    /// The parsed text form.
    pub(crate) fn text(&self) -> WriterText {
        WriterText::Fifo {
            dev: self.dev,
            inode: self.inode,
            path: self.path.clone(),
        }
    }
}

/// Makes a fresh directory with mode 0700 in `base`, retrying on a name
/// that exists (which may be another user's trap in a shared directory).
fn make_private_dir(base: &Path) -> io::Result<NamedDir> {
    make_private_dir_from(base, std::iter::repeat_with(fresh_name))
}

/// [`make_private_dir`] with the names to try, at most 16 of them.
fn make_private_dir_from(base: &Path, names: impl Iterator<Item = String>) -> io::Result<NamedDir> {
    let mut builder = DirBuilder::new();
    builder.mode(0o700);
    let mut last = None;
    for name in names.take(16) {
        let path = base.join(name);
        match builder.create(&path) {
            Ok(()) => return Ok(NamedDir { path }),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => last = Some(err),
            Err(err) => return Err(err),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists)))
}

impl fmt::Display for FifoWriter {
    /// `fifo:DEV:INODE:PATH`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&protocol::format_writer(&self.text()))
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A fresh directory with `mode`, removed by the caller.
    fn dir(name: &str, mode: u32) -> PathBuf {
        let path = std::env::temp_dir().join(format!("dp-unit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn a_base_dir_fits_only_if_it_is_this_users_and_closed_to_others_or_sticky() {
        let mine = dir("mine", 0o700);
        assert_eq!(why_unfit(&mine), None);
        let group = dir("group", 0o770);
        assert!(why_unfit(&group).unwrap().contains("written by others"));
        let sticky = dir("sticky", 0o1777);
        assert_eq!(why_unfit(&sticky), None);
        for path in [mine, group, sticky] {
            std::fs::remove_dir(path).unwrap();
        }
        assert!(why_unfit(Path::new("relative"))
            .unwrap()
            .contains("absolute"));
        let not_utf8 = Path::new(OsStr::from_bytes(b"/tmp/\xff"));
        assert!(why_unfit(not_utf8).unwrap().contains("UTF-8"));
        assert!(why_unfit(Path::new("/nonexistent/dp"))
            .unwrap()
            .contains("looked at"));
        assert!(why_unfit(Path::new("/dev/null"))
            .unwrap()
            .contains("not a directory"));
        // /tmp-like: sticky and root's, fine for everyone.
        assert_eq!(why_unfit(Path::new("/tmp")), None);
    }

    #[test]
    fn a_private_dir_passes_over_names_that_exist_and_fails_on_other_errors() {
        let base = dir("names", 0o700);
        std::fs::create_dir(base.join("taken")).unwrap();
        let names = ["taken", "taken", "free"].map(String::from);
        let made = make_private_dir_from(&base, names.into_iter()).unwrap();
        assert_eq!(made.path, base.join("free"));
        let mode = std::fs::metadata(&made.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        drop(made);
        assert!(!base.join("free").exists(), "removed when dropped");
        // Only names that exist: AlreadyExists after trying them all.
        let err = make_private_dir_from(&base, std::iter::repeat("taken".to_owned())).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        // Another error is not retried: a name under a missing directory.
        let err = make_private_dir_from(&base, ["missing/x".to_owned()].into_iter()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        std::fs::remove_dir_all(base).unwrap();
    }

    #[test]
    fn a_sticky_base_dir_of_another_user_is_unfit() {
        if sys::effective_uid() != 0 {
            return; // only root can give a directory away
        }
        let theirs = dir("theirs", 0o1777);
        std::os::unix::fs::chown(&theirs, Some(4242), Some(4242)).unwrap();
        assert!(why_unfit(&theirs).unwrap().contains("belongs to uid 4242"));
        std::os::unix::fs::chown(&theirs, Some(0), Some(0)).unwrap();
        assert_eq!(why_unfit(&theirs), None);
        std::fs::remove_dir(theirs).unwrap();
    }
}
