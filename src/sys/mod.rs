//! Every raw system call of the crate, and so every `unsafe` block, lives
//! here: one backend per platform, chosen in this file and nowhere else.
//!
//! - [`unix`]: POSIX, for Linux, macOS and FreeBSD. What differs between
//!   them (`pipe2` or not, a pidfd or a kqueue for a child's exit) is
//!   chosen in `unix/mod.rs`.
//! - `windows`: a child's exit through its process handle, and the
//!   system's RNG.
//!
//! The rest of the crate is `#![deny(unsafe_code)]` and the same on every
//! target.

mod exit;
pub(crate) use exit::Exit;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;
#[cfg(windows)]
pub(crate) mod windows;
#[cfg(windows)]
pub(crate) use windows::*;
