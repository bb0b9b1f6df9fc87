//! The Windows backend: a child's exit through its process handle, Job
//! objects for a server's process tree, and random bytes from the system's RNG. Windows has no fds to inherit and no
//! FIFOs, so its only transport is TCP (on loopback for a local child).

use std::io;
use std::os::windows::io::{AsHandle, AsRawHandle, BorrowedHandle, FromRawHandle, OwnedHandle};

#[cfg(feature = "cli")]
use windows_sys::Win32::System::Console::SetConsoleCtrlHandler;
use windows_sys::Win32::System::Console::{GenerateConsoleCtrlEvent, CTRL_BREAK_EVENT};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JobObjectExtendedLimitInformation,
    SetInformationJobObject, TerminateJobObject, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
};

use windows_sys::Win32::Foundation::{ERROR_INVALID_PARAMETER, WAIT_OBJECT_0, WAIT_TIMEOUT};
use windows_sys::Win32::Security::Cryptography::{
    BCryptGenRandom, BCRYPT_USE_SYSTEM_PREFERRED_RNG,
};
use windows_sys::Win32::System::Threading::{
    GetExitCodeProcess, OpenProcess, WaitForSingleObject, PROCESS_QUERY_LIMITED_INFORMATION,
    PROCESS_SYNCHRONIZE,
};

use crate::sys::Exit;

/// A handle to process `pid` that is signaled once it exits, and lets its
/// exit code be read. The caller holds the child's own handle (its `Child`),
/// so the pid cannot be reused meanwhile.
pub(crate) fn exit_handle(pid: u32) -> io::Result<OwnedHandle> {
    // SAFETY: OpenProcess takes integers only; it returns null on failure.
    let handle = unsafe {
        OpenProcess(
            PROCESS_SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION,
            0,
            pid,
        )
    };
    if handle.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: OpenProcess returned a new handle that nothing else owns.
    Ok(unsafe { OwnedHandle::from_raw_handle(handle) })
}

/// Whether the process behind `handle` has exited, and with which code.
/// Windows never reaps: the child's own handle still reads the same code.
pub(crate) fn exit_of_handle(handle: BorrowedHandle<'_>) -> io::Result<Option<Exit>> {
    // SAFETY: a valid process handle; a zero timeout never blocks.
    match unsafe { WaitForSingleObject(handle.as_raw_handle(), 0) } {
        WAIT_TIMEOUT => return Ok(None),
        WAIT_OBJECT_0 => {}
        _ => return Err(io::Error::last_os_error()),
    }
    let mut code = 0u32;
    // SAFETY: a valid process handle with PROCESS_QUERY_LIMITED_INFORMATION,
    // and a valid pointer to a u32.
    if unsafe { GetExitCodeProcess(handle.as_raw_handle(), &mut code) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // The whole 32-bit code, as std's `ExitStatus::code` gives it.
    Ok(Some(Exit::Code(code as i32)))
}

/// Whether process `pid` (a child whose `Child` the caller holds) has
/// exited, for the watcher that polls when its handle could not be
/// registered. A pid that names no process any more is [`Exit::Collected`].
pub(crate) fn exit_of_pid(pid: u32) -> io::Result<Option<Exit>> {
    match exit_handle(pid) {
        Ok(handle) => exit_of_handle(handle.as_handle()),
        Err(err) if err.raw_os_error() == Some(ERROR_INVALID_PARAMETER as i32) => {
            Ok(Some(Exit::Collected))
        }
        Err(err) => Err(err),
    }
}

/// Fills `bytes` from the system's preferred RNG (`BCryptGenRandom`).
pub(crate) fn random_bytes(bytes: &mut [u8]) -> io::Result<()> {
    for chunk in bytes.chunks_mut(u32::MAX as usize) {
        // SAFETY: `chunk` is a valid, writable buffer of its length; a null
        // algorithm handle is allowed with BCRYPT_USE_SYSTEM_PREFERRED_RNG.
        let status = unsafe {
            BCryptGenRandom(
                std::ptr::null_mut(),
                chunk.as_mut_ptr(),
                chunk.len() as u32,
                BCRYPT_USE_SYSTEM_PREFERRED_RNG,
            )
        };
        if status != 0 {
            return Err(io::Error::other(format!(
                "BCryptGenRandom failed with NTSTATUS {status:#x}"
            )));
        }
    }
    Ok(())
}

/// A Job object that kills its processes when its last handle closes. Its
/// handle is not inheritable, so only this process holds it: when this
/// process ends, however it ends, so does every process of the job.
// `pub` for the `dynamic-port` binary (the `__windows` module, feature `cli`).
#[cfg_attr(not(feature = "cli"), allow(unreachable_pub))]
#[derive(Debug)]
pub struct Job {
    /// The job's handle.
    handle: OwnedHandle,
}

impl Job {
    /// Creates a job with `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`.
    #[cfg_attr(not(feature = "cli"), allow(unreachable_pub))]
    pub fn new() -> io::Result<Job> {
        // SAFETY: null attributes (not inheritable) and no name are allowed;
        // it returns null on failure.
        let handle = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
        if handle.is_null() {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: CreateJobObjectW returned a new handle nothing else owns.
        let handle = unsafe { OwnedHandle::from_raw_handle(handle) };
        let job = Job { handle };
        // SAFETY: an all-zero JOBOBJECT_EXTENDED_LIMIT_INFORMATION is valid
        // (integers and sizes only).
        let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
        limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
        // SAFETY: a valid job handle, and a pointer to a structure of the
        // size given, of the class given.
        let set = unsafe {
            SetInformationJobObject(
                job.handle.as_raw_handle(),
                JobObjectExtendedLimitInformation,
                (&raw const limits).cast(),
                std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
            )
        };
        if set == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(job)
    }

    /// Assigns `child` to the job; what it starts from then on joins it too.
    #[cfg_attr(not(feature = "cli"), allow(unreachable_pub))]
    pub fn assign(&self, child: &std::process::Child) -> io::Result<()> {
        // SAFETY: two valid handles: the job's, and the child's process
        // handle, which `child` keeps open.
        if unsafe { AssignProcessToJobObject(self.handle.as_raw_handle(), child.as_raw_handle()) }
            == 0
        {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Ends every process of the job, with exit code 1.
    #[cfg_attr(not(feature = "cli"), allow(unreachable_pub))]
    pub fn terminate(&self) -> io::Result<()> {
        // SAFETY: a valid job handle.
        if unsafe { TerminateJobObject(self.handle.as_raw_handle(), 1) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

// `pub` for the `dynamic-port` binary (the `__windows` module, feature `cli`).
/// Sends `Ctrl-Break` to the console process group that process `pid`
/// leads (it was started with `CREATE_NEW_PROCESS_GROUP`): Windows' nearest
/// to `SIGTERM`. It reaches only processes that share this console.
#[cfg_attr(not(feature = "cli"), allow(unreachable_pub))]
pub fn ctrl_break(pid: u32) -> io::Result<()> {
    // SAFETY: GenerateConsoleCtrlEvent takes integers only.
    if unsafe { GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, pid) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The process that console control events (Ctrl-C, Ctrl-Break, closing
/// the console) are passed on to, as Ctrl-Break; 0 for none.
#[cfg(feature = "cli")]
static CONTROL_TARGET: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Passes console control events from now on to the console process group
/// that process `pid` leads, as Ctrl-Break, instead of ending this process
/// (`pid` 0: to none, still not ending this process).
#[cfg(feature = "cli")]
pub fn on_console_control(pid: u32) -> io::Result<()> {
    use std::sync::atomic::Ordering;
    use std::sync::Once;
    static INSTALLED: Once = Once::new();
    CONTROL_TARGET.store(pid, Ordering::SeqCst);
    let mut result = Ok(());
    INSTALLED.call_once(|| {
        // SAFETY: `pass_on` is a valid handler for the life of the process.
        if unsafe { SetConsoleCtrlHandler(Some(pass_on), 1) } == 0 {
            result = Err(io::Error::last_os_error());
        }
    });
    result
}

/// The console control handler: Ctrl-Break to the target, and the event
/// taken as handled (this process goes on, and waits for its child).
#[cfg(feature = "cli")]
unsafe extern "system" fn pass_on(_event: u32) -> windows_sys::core::BOOL {
    let target = CONTROL_TARGET.load(std::sync::atomic::Ordering::SeqCst);
    if target != 0 {
        let _ = ctrl_break(target);
    }
    1
}
