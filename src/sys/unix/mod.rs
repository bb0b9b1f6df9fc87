//! The POSIX backend, for Linux, macOS and FreeBSD. Functions that may run
//! between `fork` and `exec` ([`probe`] and the hook of [`inherit_on_exec`])
//! make only async-signal-safe calls and never allocate.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Weak;

mod fifo;
mod group;
mod process;

// What differs between the Unixes, chosen here and nowhere else: the calls
// that `pipe2` gives in one step where it exists, and how a child's exit
// becomes a readable fd. Everything else in `sys` is POSIX.
#[cfg(all(target_os = "linux", not(dynamic_port_posix)))]
#[path = "pidfd.rs"]
mod exit_fd;
#[cfg(any(target_os = "macos", target_os = "freebsd"))]
#[path = "kqueue.rs"]
mod exit_fd;
#[cfg(all(target_os = "linux", dynamic_port_posix))]
#[path = "no_exit_fd.rs"]
mod exit_fd;
#[cfg(all(
    any(target_os = "linux", target_os = "freebsd"),
    not(dynamic_port_posix)
))]
#[path = "with_pipe2.rs"]
mod os;
#[cfg(any(target_vendor = "apple", dynamic_port_posix))]
#[path = "without_pipe2.rs"]
mod os;

pub(crate) use exit_fd::{exit_fd, exit_through};
pub(crate) use fifo::{effective_uid, mkfifo};
pub(crate) use group::{announce_pid_on_exec, signal_group, Stop};
pub(crate) use process::{exit_of_pid, signal_name};

/// The lowest fd number the write end may have: 0, 1 and 2 are the child's
/// stdio, which `Command` overwrites before `exec`.
const FIRST_NON_STDIO_FD: RawFd = 3;

/// The access mode of a pipe's write end. FreeBSD's pipes are
/// bidirectional: both ends are `O_RDWR`, and only their inodes (one per
/// end, which the writer's text names) tell them apart.
#[cfg(not(target_os = "freebsd"))]
const WRITE_END_MODE: libc::c_int = libc::O_WRONLY;
/// The access mode of a pipe's write end (see above).
#[cfg(target_os = "freebsd")]
const WRITE_END_MODE: libc::c_int = libc::O_RDWR;

/// Returns `-1`'s `errno` as an `io::Error`, and any other value as is.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Creates an anonymous pipe `(read end, write end)`, both close-on-exec.
///
/// The read end is nonblocking (only the parent reads it). The write end
/// stays blocking, as a child expects of an inherited fd, and is given a
/// number of 3 or more, so that a child's stdio setup cannot overwrite it.
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let fds = os::pipe_cloexec()?;
    // SAFETY: the pipe was just made, so both fds are open and owned by nobody else.
    let (read, mut write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: F_SETFL takes an int argument; a pipe's read end has no other
    // status flags to keep.
    check(unsafe { libc::fcntl(read.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) })?;
    if write.as_raw_fd() < FIRST_NON_STDIO_FD {
        // SAFETY: F_DUPFD_CLOEXEC on an open fd takes no pointers.
        let moved = check(unsafe {
            libc::fcntl(write.as_raw_fd(), libc::F_DUPFD_CLOEXEC, FIRST_NON_STDIO_FD)
        })?;
        // SAFETY: fcntl returned a new open fd that nothing else owns; the
        // low-numbered original is closed when `write` is replaced.
        write = unsafe { OwnedFd::from_raw_fd(moved) };
    }
    Ok((read, write))
}

/// Makes `fd` blocking (clears `O_NONBLOCK` on its open file description).
pub(crate) fn blocking(fd: OwnedFd) -> io::Result<OwnedFd> {
    // SAFETY: F_GETFL and F_SETFL take no pointers; `fd` is open.
    let flags = check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) })?;
    Ok(fd)
}

/// What an fd number turned out to be, as seen by [`probe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Probe {
    /// The write end of a pipe with this inode (and the expected one, if any).
    WriteEnd {
        /// The pipe's inode number.
        inode: u64,
    },
    /// No open fd has this number.
    NotOpen,
    /// Something other than a pipe or FIFO.
    NotAPipe {
        /// What it is instead, in words.
        file_type: &'static str,
    },
    /// The read end of a pipe.
    ReadEnd,
    /// A pipe's write end, but not the pipe expected.
    OtherPipe {
        /// The inode of the pipe found.
        inode: u64,
    },
}

/// Finds out whether `fd` is the write end of a pipe, and of the pipe with
/// inode `expected` if given.
///
/// Async-signal-safe: only `fstat` and `fcntl(F_GETFL)`, no allocation.
pub(crate) fn probe(fd: RawFd, expected: Option<u64>) -> Probe {
    let Ok(stat) = fstat(fd) else {
        return Probe::NotOpen;
    };
    let file_type = match stat.st_mode & libc::S_IFMT {
        libc::S_IFIFO => None,
        libc::S_IFREG => Some("regular file"),
        libc::S_IFDIR => Some("directory"),
        libc::S_IFCHR => Some("character device"),
        libc::S_IFBLK => Some("block device"),
        libc::S_IFSOCK => Some("socket"),
        libc::S_IFLNK => Some("symbolic link"),
        _ => Some("file of unknown type"),
    };
    if let Some(file_type) = file_type {
        return Probe::NotAPipe { file_type };
    }
    // SAFETY: F_GETFL takes no pointers.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags == -1 {
        return Probe::NotOpen;
    }
    if flags & libc::O_ACCMODE != WRITE_END_MODE {
        return Probe::ReadEnd;
    }
    let inode = inode_number(&stat);
    match expected {
        Some(expected) if expected != inode => Probe::OtherPipe { inode },
        _ => Probe::WriteEnd { inode },
    }
}

/// Marks `fd` close-on-exec, so that children spawned from here on do not inherit it.
fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_SETFD takes an int argument, no pointers; a bad fd is EBADF.
    check(unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) }).map(drop)
}

/// Proof that a pipe's write end was handed to this process by its parent
/// and that nothing in this process owns it: only [`take_inherited`] makes
/// one, it is neither `Clone` nor `Copy`, and [`adopt`] consumes it.
#[derive(Debug)]
pub(crate) struct Inherited {
    /// The fd number.
    fd: RawFd,
}

/// If `fd` is the write end of pipe `expected` (any pipe if `None`) and is
/// not close-on-exec, marks it close-on-exec and returns the proof that it
/// was inherited.
///
/// std and this crate open every fd close-on-exec, so an fd without the flag
/// that no writer parsed before was inherited, and no object here owns it.
/// Marking it makes the proof unique: a second look finds the flag set.
pub(crate) fn take_inherited(fd: RawFd, expected: Option<u64>) -> (Probe, Option<Inherited>) {
    let found = probe(fd, expected);
    if !matches!(found, Probe::WriteEnd { .. }) {
        return (found, None);
    }
    // SAFETY: F_GETFD takes no argument and no pointers; a bad fd is EBADF.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags == -1 || flags & libc::FD_CLOEXEC != 0 {
        return (found, None);
    }
    match set_cloexec(fd) {
        Ok(()) => (found, Some(Inherited { fd })),
        Err(_) => (found, None),
    }
}

/// Takes ownership of an inherited fd, so that dropping the result closes it.
pub(crate) fn adopt(inherited: Inherited) -> OwnedFd {
    // SAFETY: `inherited` proves the fd was inherited and owned by nothing
    // here (see `take_inherited`), and it is consumed: this is the only
    // adoption. The fd is open: nothing here owned it, so nothing closed it.
    unsafe { OwnedFd::from_raw_fd(inherited.fd) }
}

/// Gives back an adopted fd that is to be kept for another report: its
/// proof again, so that nothing here owns it but the registry.
pub(crate) fn give_back(fd: OwnedFd) -> Inherited {
    Inherited {
        fd: fd.into_raw_fd(),
    }
}

/// Writes all of `bytes` to the pipe's write end `fd`. A reader that has gone
/// away is `Err(BrokenPipe)`, never a SIGPIPE, whatever the process's
/// SIGPIPE disposition.
pub(crate) fn write_all_without_sigpipe(fd: BorrowedFd<'_>, bytes: &[u8]) -> io::Result<()> {
    // Rust programs ignore SIGPIPE unless told otherwise; then a plain write
    // is enough. Otherwise, block it in this thread around the write.
    let mut guard = if sigpipe_ignored() {
        None
    } else {
        Some(SigpipeBlocked::new()?)
    };
    let written = write_all(fd, bytes);
    if let (Some(guard), Err(err)) = (&mut guard, &written) {
        guard.raised = err.kind() == io::ErrorKind::BrokenPipe;
    }
    written
}

/// Writes all of `bytes`, retrying on EINTR.
fn write_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a valid slice for reads of its length.
        let written = unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
        if written < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        bytes = &bytes[written as usize..];
    }
    Ok(())
}

/// Blocks SIGPIPE in the calling thread for its lifetime; on drop it takes
/// the SIGPIPE that this thread's write raised (not one that was pending
/// before) and restores the thread's signal mask.
struct SigpipeBlocked {
    /// The thread's signal mask before.
    old_mask: libc::sigset_t,
    /// `{SIGPIPE}`.
    sigpipe: libc::sigset_t,
    /// Whether a SIGPIPE was already pending before we blocked it.
    was_pending: bool,
    /// Whether the write failed with `EPIPE`, and so raised a SIGPIPE for
    /// this thread: only then is one surely pending, for `sigwait` to take
    /// without waiting.
    raised: bool,
}

impl SigpipeBlocked {
    /// Blocks SIGPIPE in this thread.
    fn new() -> io::Result<Self> {
        let mut sigpipe = MaybeUninit::<libc::sigset_t>::uninit();
        let mut old_mask = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initialises the set; sigaddset and
        // pthread_sigmask get valid pointers; pthread_sigmask fills
        // `old_mask` when it returns 0 (it cannot fail with valid arguments).
        let sigpipe = unsafe {
            libc::sigemptyset(sigpipe.as_mut_ptr());
            libc::sigaddset(sigpipe.as_mut_ptr(), libc::SIGPIPE);
            let sigpipe = sigpipe.assume_init();
            let ret = libc::pthread_sigmask(libc::SIG_BLOCK, &sigpipe, old_mask.as_mut_ptr());
            if ret != 0 {
                return Err(io::Error::from_raw_os_error(ret));
            }
            sigpipe
        };
        Ok(SigpipeBlocked {
            // SAFETY: pthread_sigmask returned 0, so it filled `old_mask`.
            old_mask: unsafe { old_mask.assume_init() },
            sigpipe,
            was_pending: sigpipe_pending(),
            raised: false,
        })
    }
}

impl Drop for SigpipeBlocked {
    fn drop(&mut self) {
        if self.raised && !self.was_pending && sigpipe_pending() {
            os::take_pending(&self.sigpipe);
        }
        // SAFETY: restores the mask saved in `new`; valid pointer.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old_mask, std::ptr::null_mut()) };
    }
}

/// Whether the process ignores SIGPIPE (as Rust's runtime arranges by default).
fn sigpipe_ignored() -> bool {
    let mut action = MaybeUninit::<libc::sigaction>::uninit();
    // SAFETY: with a null new action, sigaction only fills `action`.
    if unsafe { libc::sigaction(libc::SIGPIPE, std::ptr::null(), action.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: sigaction returned 0, so it filled `action`.
    unsafe { action.assume_init() }.sa_sigaction == libc::SIG_IGN
}

/// Waits until one of `fds` is readable (or at its end, or in error), for
/// at most `timeout` (`None`: no limit). Returns, for each fd in order,
/// whether it is ready: all `false` if the time ran out or the wait was
/// interrupted (the caller looks again either way).
pub(crate) fn wait_readable(
    fds: &[BorrowedFd<'_>],
    timeout: Option<std::time::Duration>,
) -> io::Result<Vec<bool>> {
    let mut polls: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // Round up, so that a wait never ends before the deadline.
    let millis = timeout.map_or(-1, |t| {
        t.as_nanos()
            .div_ceil(1_000_000)
            .min(libc::c_int::MAX as u128) as libc::c_int
    });
    // SAFETY: `polls` is a valid array of `polls.len()` pollfds.
    match unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, millis) } {
        -1 if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted => {
            Ok(vec![false; fds.len()])
        }
        -1 => Err(io::Error::last_os_error()),
        _ => Ok(polls.iter().map(|poll| poll.revents != 0).collect()),
    }
}

/// Fills `bytes` from the OS's random source.
pub(crate) fn random_bytes(bytes: &mut [u8]) -> io::Result<()> {
    os::random_bytes(bytes)
}

/// Whether SIGPIPE is pending for this thread or process.
fn sigpipe_pending() -> bool {
    let mut pending = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigpending fills the set on success; sigismember reads it.
    unsafe {
        libc::sigpending(pending.as_mut_ptr()) == 0
            && libc::sigismember(pending.as_ptr(), libc::SIGPIPE) == 1
    }
}

/// Makes the child that `command` spawns inherit `fd`, and no other process.
///
/// Between `fork` and `exec`, in the child only, the hook checks that
/// `owner` (if given) still has a strong reference, and that `fd` is still
/// the write end of pipe `inode`, and then clears its close-on-exec flag. If
/// not, the spawn fails with `EBADF` and nothing is inherited. The parent's
/// fd stays close-on-exec throughout, so children spawned at the same moment
/// by other threads never see it.
pub(crate) fn inherit_on_exec<T: Send + Sync + 'static>(
    command: &mut Command,
    fd: RawFd,
    inode: Option<u64>,
    owner: Option<Weak<T>>,
) {
    let hook = move || {
        let alive = owner.as_ref().is_none_or(|owner| owner.strong_count() > 0);
        if !alive || !matches!(probe(fd, inode), Probe::WriteEnd { .. }) {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        // SAFETY: F_SETFD with an int argument takes no pointers.
        check(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) }).map(drop)
    };
    // SAFETY: the hook runs in the forked child before exec. It calls only
    // `Weak::strong_count` (one atomic load: no lock, no allocation), fstat
    // and fcntl (async-signal-safe, through `probe`), and builds an
    // `io::Error` from an errno, which does not allocate. It touches no lock
    // and no memory another thread may hold.
    unsafe { command.pre_exec(hook) };
}

/// The inode number of the open file `fd`.
pub(crate) fn inode(fd: BorrowedFd<'_>) -> io::Result<u64> {
    fstat(fd.as_raw_fd()).map(|stat| inode_number(&stat))
}

/// `fstat(2)`. Async-signal-safe: no allocation, and on failure only
/// `errno` is read (EBADF for a closed or negative fd).
fn fstat(fd: RawFd) -> io::Result<libc::stat> {
    let mut stat = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes a whole `stat` into the pointer on success; on
    // failure it writes nothing.
    check(unsafe { libc::fstat(fd, stat.as_mut_ptr()) })?;
    // SAFETY: fstat returned 0, so it initialised `stat`.
    Ok(unsafe { stat.assume_init() })
}

/// `st_ino` as a `u64`, whatever its width on this platform.
#[allow(clippy::unnecessary_cast)] // u64 on Linux, narrower elsewhere
fn inode_number(stat: &libc::stat) -> u64 {
    stat.st_ino as u64
}
