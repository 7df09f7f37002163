//! Which threads take SIGINT and SIGTERM: only the capture (main) thread. Every other
//! thread is started with both blocked, so the signal interrupts the capture's blocking
//! read (the handlers are installed without SA_RESTART, see `pipeline`) instead of landing
//! on a thread that cannot act on it.

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
