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

use super::{write_report, Input, Receiver};
use crate::error::{Error, ErrorKind};
use crate::protocol::{self, WriterText};
use crate::reactor::Lazy;
use crate::registry::{Claim, Registry};
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

/// Where the private directory goes: `$XDG_RUNTIME_DIR` if set (and an
/// absolute UTF-8 path to a directory), else `/dev/shm` if present, else
/// the temp dir.
fn base_dir() -> PathBuf {
    let usable = |path: &Path| path.is_absolute() && path.to_str().is_some() && path.is_dir();
    if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        if usable(&runtime) {
            return runtime;
        }
    }
    let shm = Path::new("/dev/shm");
    if usable(shm) {
        return shm.to_owned();
    }
    std::env::temp_dir()
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
        let base = base_dir();
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
            input: Input::File(Lazy::Plain(file)),
            creator: None,
            _dir: Some(dir),
        };
        Ok((writer, receiver))
    }

    /// Opens the FIFO, checks it is the one named and this user's, writes the
    /// report line, and closes it.
    pub(crate) fn send(&self, line: &[u8]) -> Result<(), Error> {
        let claim = Claim::Fifo(self.dev, self.inode);
        if Registry::lock().is_claimed(claim) {
            return Err(super::already_reported(self));
        }
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
        {
            let mut registry = Registry::lock();
            if registry.is_claimed(claim) {
                return Err(super::already_reported(self));
            }
            registry.claim(claim);
        }
        write_report(file.as_fd(), line, self)
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
    let mut builder = DirBuilder::new();
    builder.mode(0o700);
    let mut last = None;
    for _ in 0..16 {
        let path = base.join(fresh_name());
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
