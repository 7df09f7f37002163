//! Scheduling priority of the threads that race the kernel: the live capture thread (the
//! ring fills while it waits for a core) and process attribution's two threads (a short
//! connection's socket, and its process, may be gone a millisecond after the SYN).
//!
//! On a loaded machine every runnable thread waits its turn for a core; these ask for
//! `URGENT_NICE` so that the kernel's fair scheduler runs them first when they wake (a
//! lower nice value weighs more: their virtual run time grows about ten times slower, so
//! a wake-up preempts ordinary threads). They run briefly and then block, so the others
//! lose little. Granted to root or a holder of `CAP_SYS_NICE`; otherwise the thread stays
//! at the process's priority (said at `-verbose 2`, not an error).
//!
//! The other way: a live processor thread whose work may be shed as body bytes
//! (`-overload drop-bodies`) asks for `YIELDING_NICE`, so that the threads whose work
//! cannot be shed go first when the cores are short (anyone may lower a priority; one
//! lower already stays).
//!
//! Also each thread's CPU time (`this_thread_cpu`), which the run's summary reports by stage.
//!
//! What it does not do: real-time scheduling (a stuck real-time thread can freeze a
//! core), or change any thread but the caller (on Linux nice is per thread; threads the
//! caller creates afterwards inherit it, so call it after spawning).

/// Nice value the urgent threads ask for (-20 highest, 0 ordinary, 19 lowest).
pub const URGENT_NICE: i32 = -10;

/// Nice value of a thread whose work may be shed when it is behind (the processor thread
/// of a live capture that drops bodies rather than wait, `-overload`): the capture thread
/// and the workers, whose work cannot be shed, run first when the cores are short (a nice
/// 0 thread weighs about nine times as much), and what it cannot do is dropped as body
/// bytes, not as packets.
pub const YIELDING_NICE: i32 = 10;

/// Raises the calling thread to `URGENT_NICE`; `what` names it in the debug line. Returns
/// whether the kernel granted it.
pub fn raise_this_thread(what: &str) -> bool {
    set_this_thread_nice(what, URGENT_NICE)
}

/// Lowers the calling thread to `YIELDING_NICE` (always allowed), unless it runs lower
/// already (`nice -n 15 httshark ...`): then it stays.
pub fn lower_this_thread(what: &str) -> bool {
    this_thread_nice() >= YIELDING_NICE || set_this_thread_nice(what, YIELDING_NICE)
}

fn set_this_thread_nice(what: &str, nice: i32) -> bool {
    // SAFETY: gettid has no preconditions; setpriority with PRIO_PROCESS and a thread id
    // of this process changes only that thread's nice value and touches no memory.
    let granted = unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) == 0
    };
    if granted {
        crate::log_debug!(key: "sched", "{what}: running at nice {nice}");
    } else {
        let e = std::io::Error::last_os_error();
        crate::log_debug!(
            key: "sched",
            "{what}: stays at the process's priority (nice {nice} refused: {e}; \
             needs root or CAP_SYS_NICE)"
        );
    }
    granted
}

/// The calling thread's nice value.
pub fn this_thread_nice() -> i32 {
    // SAFETY: as in `raise_this_thread`; getpriority only reads. A return of -1 is also a
    // valid nice value, which is fine for what this is used for (tests, diagnostics).
    unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
}

/// CPU time (user + system) the calling thread has used so far: what each stage of the
/// pipeline reports at the end of a run (`pipeline::StageCpu`). Zero where the kernel
/// does not say.
pub fn this_thread_cpu() -> std::time::Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes one `rusage` into the pointer it is given, which points to
    // one; RUSAGE_THREAD (Linux) reads only the calling thread's accounting.
    let ok = unsafe { libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()) } == 0;
    if !ok {
        return std::time::Duration::ZERO;
    }
    // SAFETY: zeroed, then filled by a successful getrusage.
    let usage = unsafe { usage.assume_init() };
    let t = |tv: libc::timeval| {
        std::time::Duration::new(
            u64::try_from(tv.tv_sec).unwrap_or(0),
            u32::try_from(tv.tv_usec).unwrap_or(0).saturating_mul(1000),
        )
    };
    t(usage.ru_utime) + t(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raises_only_the_calling_thread_when_allowed() {
        let main_before = this_thread_nice();
        let (granted, nice) = std::thread::spawn(|| {
            let granted = raise_this_thread("test");
            (granted, this_thread_nice())
        })
        .join()
        .unwrap();
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        if root {
            assert!(granted, "root may lower nice values");
        }
        if granted {
            assert_eq!(nice, URGENT_NICE);
        } else {
            assert_eq!(nice, main_before, "refused: unchanged");
        }
        assert_eq!(this_thread_nice(), main_before, "other threads keep theirs");
    }

    /// Anyone may lower a thread's priority; only that thread changes.
    #[test]
    fn lowers_only_the_calling_thread() {
        let main_before = this_thread_nice();
        let (granted, nice) = std::thread::spawn(|| {
            let granted = lower_this_thread("test");
            (granted, this_thread_nice())
        })
        .join()
        .unwrap();
        assert!(granted);
        // A process started at a lower priority keeps it.
        assert_eq!(nice, main_before.max(YIELDING_NICE));
        assert_eq!(this_thread_nice(), main_before);
    }

    #[test]
    fn thread_cpu_counts_the_calling_thread_only() {
        // Spins until the thread's own CPU time grew by `ms` (bounded: a clock that never
        // moves ends the loop after a few seconds, and the assertions below fail).
        let spin = |ms: u64| {
            let start = this_thread_cpu();
            let mut n = 0u64;
            while this_thread_cpu() - start < std::time::Duration::from_millis(ms) && n < 20_000_000
            {
                n = std::hint::black_box(n + 1);
            }
        };
        let before = this_thread_cpu();
        let other = std::thread::spawn(move || {
            spin(150);
            this_thread_cpu()
        })
        .join()
        .unwrap();
        let mine = this_thread_cpu() - before;
        // The spinning thread's time is its own, and the joining thread, which waited, is
        // not charged with it (as it would be with the process's time, RUSAGE_SELF).
        assert!(other >= std::time::Duration::from_millis(150), "{other:?}");
        assert!(mine < other, "{mine:?} against {other:?}");
    }
}
