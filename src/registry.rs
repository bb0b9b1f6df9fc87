//! What this process knows about the pipes it reports through, in one place.
//!
//! - **Created**: the pipes [`create`](crate::DynamicPortWriter::create)
//!   made here whose write end is still open, by fd number, so that a writer
//!   parsed in the creating process shares the creator's fd instead of
//!   closing it.
//! - **Inherited**: the pipes, by fd number and inode, that were *not*
//!   close-on-exec when this process first parsed a writer naming them.
//!   std and this crate open every fd close-on-exec, so such an fd was handed
//!   to this process by its parent, for us: it is ours to write through and
//!   close. Any other fd belongs to someone else here and is never touched.
//! - **Claims**: for every inherited pipe, named FIFO and remote token a
//!   writer of this process reported through or tried to, whether a report
//!   went through, so that a second report is a clear error. A claim is
//!   keyed by everything the writer text names (a FIFO's path with its
//!   inode, a token's every digit), so a FIFO whose inode number the kernel
//!   reuses is a new writer; and it is made only once the report was
//!   written, so a failed write can be tried again.
//!
//! # The one rule
//!
//! [`WriteEnd::drop`] locks the registry, so nothing may drop an
//! `Arc<WriteEnd>` while holding the lock: [`Registry::created`] hands out a
//! `Weak`, to be upgraded after the lock is released.

use std::collections::BTreeMap;
#[cfg(unix)]
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
#[cfg(unix)]
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
#[cfg(unix)]
use std::sync::Weak;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

#[cfg(unix)]
use crate::sys::Inherited;

/// The write end held by the process that created the pipe, shared by all
/// clones of its writer and closed when the last one drops.
#[cfg(unix)]
#[derive(Debug)]
pub(crate) struct WriteEnd {
    /// The fd itself (close-on-exec; number 3 or more).
    pub(crate) fd: OwnedFd,
    /// The pipe's inode, which the text form names.
    pub(crate) inode: u64,
    /// Whether a report went through any clone.
    pub(crate) claim: Arc<Claim>,
}

#[cfg(unix)]
impl Drop for WriteEnd {
    fn drop(&mut self) {
        Registry::lock().forget_created(self);
    }
}

/// Something a report goes through, as the claims know it: everything its
/// writer text names.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ClaimKey {
    /// An inherited pipe: its fd number and inode.
    #[cfg(unix)]
    Pipe(RawFd, u64),
    /// A named FIFO: its device, inode and path.
    #[cfg(unix)]
    Fifo(u64, u64, PathBuf),
    /// A remote writer: its whole token, and where it connects.
    Remote(String, std::net::SocketAddr),
}

/// Whether a writer reported: shared by every copy of one writer in this
/// process. A report is made in two steps, [`begin`](Claim::begin) and
/// [`Sending::commit`], so that it is recorded only once it was written,
/// and two copies on two threads cannot both report.
#[derive(Debug, Default)]
pub(crate) struct Claim {
    /// [`IDLE`], [`SENDING`] or [`REPORTED`].
    state: AtomicU8,
}

/// No report yet, and none under way.
const IDLE: u8 = 0;
/// A report is being written through a copy.
const SENDING: u8 = 1;
/// A report went through.
const REPORTED: u8 = 2;

/// Why a report cannot begin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// A report went through already.
    Reported,
    /// Another copy is writing one right now.
    Sending,
}

impl Claim {
    /// Starts a report: `Err` if one went through or is under way.
    pub(crate) fn begin(self: &Arc<Self>) -> Result<Sending, Refused> {
        match self
            .state
            .compare_exchange(IDLE, SENDING, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Ok(Sending {
                claim: Arc::clone(self),
                committed: false,
            }),
            Err(REPORTED) => Err(Refused::Reported),
            Err(_) => Err(Refused::Sending),
        }
    }

    /// Whether a report went through.
    #[cfg(unix)]
    pub(crate) fn is_reported(&self) -> bool {
        self.state.load(Ordering::Acquire) == REPORTED
    }
}

/// A report under way; dropped without [`commit`](Sending::commit) (the
/// write failed), the writer may report again.
#[derive(Debug)]
pub(crate) struct Sending {
    /// The claim it holds.
    claim: Arc<Claim>,
    /// Set by `commit`.
    committed: bool,
}

impl Sending {
    /// The report was written: records it.
    pub(crate) fn commit(mut self) {
        self.committed = true;
        self.claim.state.store(REPORTED, Ordering::Release);
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        if !self.committed {
            self.claim.state.store(IDLE, Ordering::Release);
        }
    }
}

/// The process-wide registry; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct Registry {
    /// Pipes created here whose write end is open, by fd number.
    #[cfg(unix)]
    created: BTreeMap<RawFd, Weak<WriteEnd>>,
    /// Pipes inherited by this process, by `(fd, inode)`, with the proof.
    #[cfg(unix)]
    inherited: BTreeMap<(RawFd, u64), Inherited>,
    /// What has been reported through, or tried.
    claims: BTreeMap<ClaimKey, Arc<Claim>>,
}

/// The one registry of the process.
static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    #[cfg(unix)]
    created: BTreeMap::new(),
    #[cfg(unix)]
    inherited: BTreeMap::new(),
    claims: BTreeMap::new(),
});

impl Registry {
    /// Locks the registry. It holds plain data, so a poisoned lock is harmless.
    pub(crate) fn lock() -> MutexGuard<'static, Registry> {
        REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(unix)]
    /// Records a pipe just created here.
    pub(crate) fn add_created(&mut self, end: Weak<WriteEnd>, fd: RawFd) {
        self.created.insert(fd, end);
    }

    #[cfg(unix)]
    /// The pipe created here whose write end has fd number `fd`, if still
    /// open. Upgrade it only after releasing the lock (see the module docs).
    pub(crate) fn created(&self, fd: RawFd) -> Option<Weak<WriteEnd>> {
        self.created.get(&fd).cloned()
    }

    #[cfg(unix)]
    /// Forgets `end`, which is being dropped (and not a newer pipe that
    /// reused its fd number).
    fn forget_created(&mut self, end: &WriteEnd) {
        let fd = end.fd.as_raw_fd();
        if self
            .created
            .get(&fd)
            .is_some_and(|entry| std::ptr::eq(entry.as_ptr(), end))
        {
            self.created.remove(&fd);
        }
    }

    #[cfg(unix)]
    /// Records that pipe `inode` at `fd` was inherited.
    pub(crate) fn add_inherited(&mut self, fd: RawFd, inode: u64, proof: Inherited) {
        self.inherited.insert((fd, inode), proof);
    }

    /// The claim of `key`, the same for every writer that names it.
    pub(crate) fn claim(&mut self, key: ClaimKey) -> Arc<Claim> {
        Arc::clone(self.claims.entry(key).or_default())
    }

    #[cfg(unix)]
    /// Hands over the proof that pipe `inode` at `fd` was inherited, to
    /// adopt and close the fd; `None` if this process did not inherit it
    /// (or a report through it took the proof already).
    pub(crate) fn take_inherited(&mut self, fd: RawFd, inode: u64) -> Option<Inherited> {
        self.inherited.remove(&(fd, inode))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::DynamicPortWriter;

    #[test]
    fn a_dropped_write_end_is_forgotten_by_the_registry() {
        let (writer, port) = DynamicPortWriter::create().unwrap();
        let fd = writer.fd().unwrap();
        let ours = Registry::lock()
            .created(fd)
            .expect("a new pipe is recorded");
        assert!(ours.upgrade().is_some());
        drop((writer, port));
        // Gone, or (another test's pipe took the fd number since) another entry.
        let now = Registry::lock().created(fd);
        assert!(
            now.is_none_or(|entry| !Weak::ptr_eq(&entry, &ours)),
            "the dropped write end is still recorded for fd {fd}"
        );
    }
}
