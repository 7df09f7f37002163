//! Which threads take SIGINT and SIGTERM: only the capture (main) thread. Every other
//! thread is started with both blocked, so the signal interrupts the capture's blocking
//! read (the handlers are installed without SA_RESTART, see `install_signal_handlers`) instead of landing
//! on a thread that cannot act on it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Calls `spawn` with SIGINT and SIGTERM blocked in the calling thread, so the thread it
/// starts inherits the mask and never takes them; the caller's mask is restored.
pub fn without_stop_signals<T>(spawn: impl FnOnce() -> T) -> T {
    // SAFETY: plain signal-mask calls on a local set; the old mask is restored.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        let blocked = libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old) == 0;
        let out = spawn();
        if blocked {
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        }
        out
    }
}

/// Sets `flag` on SIGINT/SIGTERM; a second signal removes the temporary output files being
/// written (`output::temp_files`) and exits at once (status 130).
///
/// The handlers are installed without SA_RESTART, and the threads `run_until` starts block
/// both signals, so the signal is taken by the capture (calling) thread and interrupts a
/// read(2) it is blocked in with EINTR: a `-file -` pipe that stays open and quiet still
/// stops at once (the capture module reads EINTR as a stop, not as damage).
pub fn install_signal_handlers(flag: &Arc<AtomicBool>) -> Result<(), String> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    for sig in [SIGINT, SIGTERM] {
        // The second signal: exit at once, without leaving a temporary output file.
        let first = Arc::clone(flag);
        let shutdown = move || {
            if first.load(Ordering::SeqCst) {
                crate::output::temp_files::TABLE.remove_all_now();
                signal_hook::low_level::exit(130);
            }
        };
        // SAFETY: the handler only loads atomics and calls unlink(2) and _exit(2), all
        // async-signal-safe.
        unsafe { signal_hook::low_level::register(sig, shutdown) }
            .map_err(|e| format!("cannot install signal handler: {e}"))?;
        signal_hook::flag::register(sig, Arc::clone(flag))
            .map_err(|e| format!("cannot install signal handler: {e}"))?;
        // signal-hook installs its handler with SA_RESTART; keep the handler, drop the flag.
        // SAFETY: reads the installed action and writes it back with one flag cleared.
        let cleared = unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut act) == 0 && {
                act.sa_flags &= !libc::SA_RESTART;
                libc::sigaction(sig, &act, std::ptr::null_mut()) == 0
            }
        };
        if !cleared {
            return Err(format!(
                "cannot install signal handler: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}
