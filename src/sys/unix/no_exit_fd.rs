//! No fd for a child's exit: Linux built with `--cfg dynamic_port_posix`,
//! where the kqueue of macOS and FreeBSD cannot run, so that the code above
//! it takes the path that looks at the child by polling.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};

use crate::sys::Exit;

/// Always `Err(Unsupported)`: there is no exit fd here.
pub(crate) fn exit_fd(_pid: u32) -> io::Result<OwnedFd> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Never called: there is no exit fd to read through.
pub(crate) fn exit_through(_fd: BorrowedFd<'_>, _pid: u32) -> io::Result<Option<Exit>> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}
