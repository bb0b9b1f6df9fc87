//! Every `unsafe` of the binary, in one place: signal dispositions and the
//! signal mask, which neither rustix nor signal-hook reads or sets safely,
//! and the hook that hands the terminal to a child between fork and exec.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Arc;

use rustix::process::{kill_current_process_group, Pid, Signal};

/// An all-zero `sigaction`: `SIG_DFL`, no flags, an empty mask.
fn no_action() -> libc::sigaction {
    // SAFETY: `sigaction` is plain data (integers, a mask, a handler
    // address); all zeroes is a valid value of it.
    unsafe { std::mem::zeroed() }
}

/// Sets the action of `signal` to `handler` (`SIG_IGN` or `SIG_DFL`) and
/// returns the action it replaced, for [`restore`]. It cannot fail for a
/// valid signal and valid pointers (EINVAL and EFAULT are the only errors).
fn set_action(signal: i32, handler: libc::sighandler_t) -> libc::sigaction {
    let mut action = no_action();
    action.sa_sigaction = handler;
    let mut old = no_action();
    // SAFETY: both pointers are valid for a `sigaction`; the kernel reads
    // the first and fills the second.
    unsafe { libc::sigaction(signal, &action, &mut old) };
    old
}

/// Puts back an action that [`set_action`] returned.
fn restore(signal: i32, action: &libc::sigaction) {
    // SAFETY: `action` is a whole `sigaction` read from the kernel; a null
    // old action asks for nothing back.
    unsafe { libc::sigaction(signal, action, std::ptr::null_mut()) };
}

/// Whether `signal` is ignored (`SIG_IGN`), as this process inherited it.
/// An invalid signal counts as not ignored.
pub(crate) fn is_ignored(signal: i32) -> bool {
    let mut old = no_action();
    // SAFETY: a null new action only reads the current one into `old`, a
    // valid `sigaction`; on failure `old` stays `SIG_DFL`.
    unsafe { libc::sigaction(signal, std::ptr::null(), &mut old) };
    old.sa_sigaction == libc::SIG_IGN
}

/// Changes the calling thread's mask for `signal` (`how`: `SIG_BLOCK` or
/// `SIG_UNBLOCK`) and returns the mask it had. Async-signal-safe.
fn mask(how: libc::c_int, signal: i32) -> io::Result<libc::sigset_t> {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    let mut old = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: `sigemptyset` initializes the whole set before `sigaddset`
    // and `pthread_sigmask` read it; `pthread_sigmask` fills `old` on
    // success. None of them allocates.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), signal);
        match libc::pthread_sigmask(how, set.as_ptr(), old.as_mut_ptr()) {
            0 => Ok(old.assume_init()),
            errno => Err(io::Error::from_raw_os_error(errno)),
        }
    }
}

/// Puts back a mask that [`mask`] returned. Async-signal-safe.
fn set_mask(old: &libc::sigset_t) {
    // SAFETY: `old` is a whole mask read from the kernel.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut()) };
}

/// Blocks `signal` in the calling thread, and so in every thread it starts
/// afterwards. A child inherits the mask of the thread that spawns it (std
/// leaves it as it is): spawn with [`unblocked`].
pub(crate) fn block(signal: i32) -> io::Result<()> {
    mask(libc::SIG_BLOCK, signal).map(drop)
}

/// Runs `spawn` with `signal` unblocked in the calling thread, so that the
/// child it spawns starts with it unblocked.
pub(crate) fn unblocked<T>(signal: i32, spawn: impl FnOnce() -> T) -> T {
    let old = mask(libc::SIG_UNBLOCK, signal);
    let spawned = spawn();
    if let Ok(old) = old {
        set_mask(&old);
    }
    spawned
}

/// Stops this process and the rest of its process group, as Ctrl-Z would
/// have if the terminal had not been handed to the program, and returns
/// once they are continued (`fg` or `bg` in the shell). Where the kernel
/// discards a terminal stop (an orphaned process group, which no shell
/// could continue), it returns at once.
pub(crate) fn stop_process_group() {
    // Ignored while it goes to the group, so that ours is dropped rather
    // than handed to our own handler (which would pass it on again); then
    // the default action, raised in this thread, so that the stop happens
    // before `raise` returns; then our handler again. A SIGCONT discards
    // any stop still pending, so none reaches the handler afterwards.
    let handler = set_action(libc::SIGTSTP, libc::SIG_IGN);
    let _ = kill_current_process_group(Signal::TSTP);
    set_action(libc::SIGTSTP, libc::SIG_DFL);
    let _ = signal_hook::low_level::raise(libc::SIGTSTP);
    restore(libc::SIGTSTP, &handler);
}

/// Makes the child that `command` spawns (in a process group of its own,
/// `process_group(0)`) take the terminal `tty` for its group before it
/// execs, if the process group `parent` holds it then: the child cannot
/// read the terminal before it is in the foreground. The parent does not
/// do it after the spawn instead, because the program may read the terminal
/// before that.
pub(crate) fn take_terminal_on_exec(command: &mut Command, tty: Arc<OwnedFd>, parent: Pid) {
    let hook = move || {
        if rustix::termios::tcgetpgrp(&*tty).ok() == Some(parent) {
            // The child is in the background until this succeeds, and a
            // background tcsetpgrp sends SIGTTOU, which stops it, unless it
            // is blocked (std has just emptied the child's mask).
            if let Ok(old) = mask(libc::SIG_BLOCK, libc::SIGTTOU) {
                let _ = rustix::termios::tcsetpgrp(&*tty, rustix::process::getpid());
                set_mask(&old);
            }
        }
        Ok(())
    };
    // SAFETY: the hook runs in the forked child before exec. It makes only
    // async-signal-safe system calls (two ioctls, getpid, pthread_sigmask),
    // reads an `Arc` it owns without touching its count, allocates nothing
    // and takes no lock.
    unsafe { command.pre_exec(hook) };
}
