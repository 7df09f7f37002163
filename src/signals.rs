//! Which threads take SIGINT and SIGTERM: only the capture (main) thread. Every other
//! thread is started with both blocked, so the signal interrupts the capture's blocking
//! read (the handlers are installed without SA_RESTART, see `install_signal_handlers`) instead of landing
//! on a thread that cannot act on it.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
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

/// A second SIGINT/SIGTERM this soon after the first is the same request to stop, not a
/// request to quit at once: coreutils `timeout` signals its child, then the child's whole
/// process group, so httshark gets its signal twice within microseconds (and lost every
/// output not yet written to the second one). A person pressing Ctrl-C twice is slower.
pub const SAME_STOP_WITHIN: std::time::Duration = std::time::Duration::from_millis(500);

/// When the first stop signal came (`CLOCK_MONOTONIC`, nanoseconds; 0: none yet).
static FIRST_SIGNAL_AT: AtomicI64 = AtomicI64::new(0);

/// `CLOCK_MONOTONIC` in nanoseconds (at least 1). Async-signal-safe (clock_gettime(2)).
// `time_t` and `c_long` are 32 bits on some targets: the casts are not always no-ops.
#[allow(clippy::unnecessary_cast)]
fn monotonic_ns() -> i64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given; async-signal-safe (POSIX).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    (t.tv_sec as i64)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.tv_nsec as i64)
        .max(1)
}

/// Whether a stop signal arriving now, after the first one, ends the process at once:
/// not within `SAME_STOP_WITHIN` of a first one this process took.
fn quits_at_once(first_at: i64, now: i64) -> bool {
    first_at == 0 || now.saturating_sub(first_at) >= SAME_STOP_WITHIN.as_nanos() as i64
}

/// Sets `flag` on SIGINT/SIGTERM; a second signal, `SAME_STOP_WITHIN` or more after the
/// first, removes the temporary output files being written (`output::temp_files`) and
/// exits at once (status 130).
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
            let now = monotonic_ns();
            if !first.load(Ordering::SeqCst) {
                // The first: the flag is set next (registered after this handler).
                let _ =
                    FIRST_SIGNAL_AT.compare_exchange(0, now, Ordering::SeqCst, Ordering::SeqCst);
            } else if quits_at_once(FIRST_SIGNAL_AT.load(Ordering::SeqCst), now) {
                crate::output::temp_files::TABLE.remove_all_now();
                signal_hook::low_level::exit(130);
            }
        };
        // SAFETY: the handler only loads and stores atomics and calls clock_gettime(2),
        // unlink(2), rmdir(2) and _exit(2), all async-signal-safe.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A second signal within `SAME_STOP_WITHIN` of the first (coreutils `timeout`'s two)
    /// is the same stop; later, or with no first one recorded (the stop came from
    /// elsewhere: COMMAND's end), it quits at once.
    #[test]
    fn a_second_signal_quits_only_after_the_window() {
        let w = SAME_STOP_WITHIN.as_nanos() as i64;
        assert!(!quits_at_once(1_000, 1_000));
        assert!(!quits_at_once(1_000, 1_000 + w - 1));
        assert!(quits_at_once(1_000, 1_000 + w));
        assert!(quits_at_once(0, 5));
        assert!(monotonic_ns() > 0);
    }
}
