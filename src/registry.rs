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
//! - **Claimed**: the inherited pipes, named FIFOs and remote tokens already reported
//!   through, so that a second report is a clear error.
//!
//! # The one rule
//!
//! [`WriteEnd::drop`] locks the registry, so nothing may drop an
//! `Arc<WriteEnd>` while holding the lock: [`Registry::created`] hands out a
//! `Weak`, to be upgraded after the lock is released.

use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, MutexGuard, PoisonError, Weak};

use crate::sys::Inherited;

/// The write end held by the process that created the pipe, shared by all
/// clones of its writer and closed when the last one drops.
#[derive(Debug)]
pub(crate) struct WriteEnd {
    /// The fd itself (close-on-exec; number 3 or more).
    pub(crate) fd: OwnedFd,
    /// The pipe's inode, which the text form names.
    pub(crate) inode: u64,
    /// Set by the first `report` through any clone.
    pub(crate) reported: AtomicBool,
}

impl Drop for WriteEnd {
    fn drop(&mut self) {
        Registry::lock().forget_created(self);
    }
}

/// Something a report goes through, as the claimed set knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Claim {
    /// An inherited pipe: its fd number and inode.
    Pipe(RawFd, u64),
    /// A named FIFO: its device and inode.
    Fifo(u64, u64),
    /// A remote writer: its token's first 128 bits.
    Remote(u128),
}

/// The process-wide registry; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct Registry {
    /// Pipes created here whose write end is open, by fd number.
    created: BTreeMap<RawFd, Weak<WriteEnd>>,
    /// Pipes inherited by this process, by `(fd, inode)`, with the proof.
    inherited: BTreeMap<(RawFd, u64), Inherited>,
    /// What has been reported through.
    claimed: BTreeSet<Claim>,
}

/// The one registry of the process.
static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    created: BTreeMap::new(),
    inherited: BTreeMap::new(),
    claimed: BTreeSet::new(),
});

impl Registry {
    /// Locks the registry. It holds plain data, so a poisoned lock is harmless.
    pub(crate) fn lock() -> MutexGuard<'static, Registry> {
        REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a pipe just created here.
    pub(crate) fn add_created(&mut self, end: Weak<WriteEnd>, fd: RawFd) {
        self.created.insert(fd, end);
    }

    /// The pipe created here whose write end has fd number `fd`, if still
    /// open. Upgrade it only after releasing the lock (see the module docs).
    pub(crate) fn created(&self, fd: RawFd) -> Option<Weak<WriteEnd>> {
        self.created.get(&fd).cloned()
    }

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

    /// Records that pipe `inode` at `fd` was inherited.
    pub(crate) fn add_inherited(&mut self, fd: RawFd, inode: u64, proof: Inherited) {
        self.inherited.insert((fd, inode), proof);
    }

    /// Whether `claim` was already reported through.
    pub(crate) fn is_claimed(&self, claim: Claim) -> bool {
        self.claimed.contains(&claim)
    }

    /// Records a report through `claim`. For an inherited pipe, hands over
    /// the proof that it was inherited, to adopt and close the fd; `None`
    /// if this process did not inherit it (then nothing is recorded).
    pub(crate) fn claim(&mut self, claim: Claim) -> Option<Inherited> {
        let proof = match claim {
            Claim::Pipe(fd, inode) => Some(self.inherited.remove(&(fd, inode))?),
            Claim::Fifo(..) | Claim::Remote(_) => None,
        };
        self.claimed.insert(claim);
        proof
    }
}
