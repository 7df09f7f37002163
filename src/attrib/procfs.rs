//! /proc: which process holds a socket inode (`/proc/PID/fd/*` → `socket:[INODE]`), and
//! what a process is (comm, exe, uid, cgroup, ancestors).
//!
//! The inode → pid map is cached and refreshed on a miss: first the descriptors of the
//! processes that owned recent connections (a client opening many connections is the
//! common case: a few hundred readlinks, not the whole of /proc), then a full scan.
//! Bounded: `MAX_INODES` entries, `MAX_HOT_PIDS` recent owners, `MAX_PROCESSES` cached
//! process descriptions (keyed by pid and start time, so a reused pid is not mistaken).
//!
//! What it does not do: talk to the kernel's socket tables (`diag`).

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::sync::Arc;

use crate::model::ProcessInfo;

/// Socket inodes remembered (inode → pid). Past it the map is emptied and filled again
/// (counted `attrib_inode_limit`).
pub const MAX_INODES: usize = 65_536;
/// Recent socket owners whose descriptors are read first on a miss.
pub const MAX_HOT_PIDS: usize = 32;
/// Process descriptions cached (pid + start time → comm, exe, user, cgroup, ancestors).
pub const MAX_PROCESSES: usize = 4_096;
/// Newest processes whose descriptors the prober reads at SYN time.
pub const QUICK_NEWEST: usize = 8;
/// Pids below the kernel's last one the prober looks at for them.
pub const QUICK_WINDOW: u32 = 64;
/// Ancestors walked for a process (parent, grandparent, ...), to init at most.
pub const MAX_ANCESTORS: usize = 64;

crate::counters! {
    /// Attribution (live captures: the thread that names each connection's process).
    pub struct AttribCounters {
        /// Connections the attribution thread looked up (live captures with attribution).
        attrib_lookups,
        /// Connections given a process (HAR `_process.pid`).
        attrib_attributed,
        /// Connections not attributed: their socket was gone or in TIME_WAIT when looked up
        /// (`_process.unattributed` "closed").
        attrib_closed,
        /// Connections not attributed: no socket with their 4-tuple in this network
        /// namespace ("not-found": another namespace, or closed before the look-up).
        attrib_not_found,
        /// Connections not attributed: neither address is on this host ("remote").
        attrib_remote,
        /// Connections not attributed: the socket's owner's descriptors could not be read
        /// ("no-permission": needs CAP_SYS_PTRACE or CAP_DAC_READ_SEARCH, or root).
        attrib_no_permission,
        /// Connections not attributed: no process held the socket's inode ("no-process").
        attrib_no_process,
        /// Connections not attributed: the look-up queue was full (`MAX_QUEUED_LOOKUPS`) or
        /// the answer did not come within `JOIN_TIMEOUT` ("overloaded").
        attrib_overloaded,
        /// Connections not attributed: the kernel refused the sock_diag look-up.
        attrib_failed,
        /// Look-up requests from the capture thread dropped: the queue held
        /// `MAX_QUEUED_LOOKUPS` (the connection is looked up later, when its first
        /// transaction comes, if its socket still exists).
        attrib_queue_full,
        /// Answers forgotten before their connection's first transaction asked for them
        /// (`MAX_ANSWERS` held): looked up again then.
        attrib_answers_evicted,
        /// Partial /proc scans (the descriptors of recent socket owners).
        attrib_hot_scans,
        /// Full /proc scans (every process's descriptors).
        attrib_full_scans,
        /// Times the socket inode map was emptied: it held `MAX_INODES`.
        attrib_inode_limit,
        /// Transactions left out by `-process` (or `--` COMMAND): another process's.
        attrib_filtered_out,
    }
}

/// What a scan of /proc found for an inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    Pid(u32),
    /// Not found, and some processes' descriptors could not be read.
    Unreadable,
    /// Not found, and every process's descriptors were read.
    Nobody,
}

/// The cached view of /proc.
#[derive(Default)]
pub struct Procfs {
    /// inode → (pid, boot time in clock ticks when the pid was seen holding it).
    inodes: HashMap<u64, (u32, u64)>,
    hot: VecDeque<u32>,
    processes: HashMap<u32, (u64, Arc<ProcessInfo>)>,
    users: HashMap<u32, Option<String>>,
    /// This process's network namespace (`/proc/self/ns/net`), read once.
    netns: Option<std::path::PathBuf>,
}

impl Procfs {
    /// The pid holding socket `inode`: the cache, then recent owners, then every process.
    ///
    /// A remembered holder is trusted even when the socket is closed since: socket inode
    /// numbers are not reused before the kernel's 32-bit counter wraps, so the socket the
    /// kernel named is the one that process held. `process` then checks that the pid was
    /// not reused by a later process (its start time).
    /// The quick part of `holder`, for the prober at SYN time: the cache, the recent
    /// owners, then the `QUICK_NEWEST` newest processes (a new connection is often a new
    /// process's, and a short one is gone before a full scan could reach it). Returns the
    /// holder and when it was seen holding the inode (for `remember`).
    pub fn quick_holder(&mut self, inode: u64) -> Option<(u32, u64)> {
        let mut counters = AttribCounters::default();
        if let Some(&e) = self.inodes.get(&inode) {
            return Some(e);
        }
        let hot: Vec<u32> = self.hot.iter().copied().collect();
        for pid in hot {
            self.scan_pid(pid, &mut counters);
        }
        if let Some(&e) = self.inodes.get(&inode) {
            self.touch(e.0);
            return Some(e);
        }
        // The newest pids without listing /proc: down from the last pid the kernel gave
        // out (pids that do not exist fail at once).
        if self.netns.is_none() {
            self.netns = fs::read_link("/proc/self/ns/net").ok();
        }
        let last = fs::read_to_string("/proc/sys/kernel/ns_last_pid")
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())?;
        let mut found = 0;
        for pid in (last.saturating_sub(QUICK_WINDOW)..=last).rev() {
            if found >= QUICK_NEWEST {
                break;
            }
            // Only processes of this network namespace can hold its sockets (bar a
            // descriptor passed across): others are not read here (the namer's full scan
            // still would).
            match fs::read_link(format!("/proc/{pid}/ns/net")) {
                Ok(ns) if Some(&ns) == self.netns.as_ref() => {}
                _ => continue,
            }
            // Counting down from the last pid given out also meets thread ids (/proc/TID
            // exists though /proc does not list it): only a thread group's leader is a
            // process.
            if tgid(pid) != Some(pid) {
                continue;
            }
            found += 1;
            self.scan_pid(pid, &mut counters);
            if let Some(&e) = self.inodes.get(&inode) {
                if e.0 == pid {
                    self.touch(pid);
                    return Some(e);
                }
            }
        }
        None
    }

    /// Records that `pid` was seen holding `inode` at `at` (a hint from the prober).
    pub fn remember(&mut self, inode: u64, pid: u32, at: u64) {
        if self.inodes.len() >= MAX_INODES {
            self.inodes.clear();
        }
        self.inodes.insert(inode, (pid, at));
    }

    pub fn holder(&mut self, inode: u64, counters: &mut AttribCounters) -> Holder {
        if let Some(&(pid, _)) = self.inodes.get(&inode) {
            return Holder::Pid(pid);
        }
        if !self.hot.is_empty() {
            counters.attrib_hot_scans += 1;
            let hot: Vec<u32> = self.hot.iter().copied().collect();
            for pid in hot {
                self.scan_pid(pid, counters);
            }
            if let Some(&(pid, _)) = self.inodes.get(&inode) {
                self.touch(pid);
                return Holder::Pid(pid);
            }
        }
        counters.attrib_full_scans += 1;
        // Newest processes first (the highest pids, until the pid counter wraps), and stop
        // at the holder: a new client is usually a new process, and a short-lived one may
        // exit while a whole-/proc scan is still on its way to it.
        let mut pids: Vec<u32> = match fs::read_dir("/proc") {
            Ok(dir) => dir
                .flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
                .collect(),
            Err(_) => Vec::new(),
        };
        pids.sort_unstable_by(|a, b| b.cmp(a));
        let mut unreadable = false;
        for pid in pids {
            if !self.scan_pid(pid, counters) {
                unreadable = true;
            }
            if self.inodes.get(&inode).map(|e| e.0) == Some(pid) {
                self.touch(pid);
                return Holder::Pid(pid);
            }
        }
        if unreadable {
            Holder::Unreadable
        } else {
            Holder::Nobody
        }
    }

    /// Puts `pid` first among the recent owners (read first on a miss).
    pub fn touch(&mut self, pid: u32) {
        if let Some(i) = self.hot.iter().position(|&p| p == pid) {
            self.hot.remove(i);
        }
        self.hot.push_front(pid);
        self.hot.truncate(MAX_HOT_PIDS);
    }

    /// Records the socket inodes `pid` holds; false when its descriptors are unreadable
    /// (a process that exited meanwhile counts as read).
    fn scan_pid(&mut self, pid: u32, counters: &mut AttribCounters) -> bool {
        let dir = match fs::read_dir(format!("/proc/{pid}/fd")) {
            Ok(d) => d,
            Err(e) => return e.kind() != std::io::ErrorKind::PermissionDenied,
        };
        let now = boot_ticks();
        for e in dir.flatten() {
            let Ok(target) = fs::read_link(e.path()) else {
                continue;
            };
            if let Some(inode) = socket_inode(target.as_os_str().as_encoded_bytes()) {
                if self.inodes.len() >= MAX_INODES && !self.inodes.contains_key(&inode) {
                    // Forgetting them all costs only later scans.
                    counters.attrib_inode_limit += 1;
                    self.inodes.clear();
                }
                self.inodes.insert(inode, (pid, now));
            }
        }
        true
    }

    /// What process `pid`, seen holding `inode`, is: None when it has exited, or when the
    /// pid now belongs to a process started after that (a reused pid).
    pub fn process_holding(&mut self, pid: u32, inode: u64) -> Option<Arc<ProcessInfo>> {
        let seen = self.inodes.get(&inode).map(|e| e.1);
        let info = self.process(pid)?;
        let start = self.processes.get(&pid).map(|e| e.0)?;
        match seen {
            Some(at) if start > at => None,
            _ => Some(info),
        }
    }

    /// What process `pid` is (None when it has exited).
    pub fn process(&mut self, pid: u32) -> Option<Arc<ProcessInfo>> {
        let stat = Stat::read(pid)?;
        if let Some((start, info)) = self.processes.get(&pid) {
            if *start == stat.start {
                return Some(Arc::clone(info));
            }
        }
        let mut ancestors = Vec::new();
        let mut parent = stat.ppid;
        while parent > 0 && ancestors.len() < MAX_ANCESTORS {
            let Some(p) = Stat::read(parent) else { break };
            ancestors.push((parent, p.comm.clone()));
            parent = p.ppid;
        }
        let uid = status_uid(pid).unwrap_or(u32::MAX);
        let cgroup = cgroup_path(pid);
        let container = cgroup.as_deref().and_then(container_id);
        let info = Arc::new(ProcessInfo {
            pid,
            name: stat.comm,
            exe: fs::read_link(format!("/proc/{pid}/exe"))
                .ok()
                .map(|p| p.display().to_string()),
            uid,
            user: self.user(uid),
            cgroup,
            container,
            ancestors,
            side: None,
        });
        if self.processes.len() >= MAX_PROCESSES {
            self.processes.clear();
        }
        self.processes.insert(pid, (stat.start, Arc::clone(&info)));
        Some(info)
    }

    /// The user name of `uid` (cached, misses too).
    pub fn user(&mut self, uid: u32) -> Option<String> {
        if let Some(u) = self.users.get(&uid) {
            return u.clone();
        }
        let name = user_name(uid);
        if self.users.len() < MAX_PROCESSES {
            self.users.insert(uid, name.clone());
        }
        name
    }
}

/// Now, in clock ticks since boot (the unit of /proc/PID/stat's start time).
fn boot_ticks() -> u64 {
    // SAFETY: clock_gettime fills the live timespec; sysconf takes a constant.
    let (ts, hz) = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts);
        (ts, libc::sysconf(libc::_SC_CLK_TCK))
    };
    let hz = u64::try_from(hz).unwrap_or(100).max(1);
    // Rounded up: a process started in this tick is not taken for a later one.
    ts.tv_sec as u64 * hz + (ts.tv_nsec as u64 * hz).div_ceil(1_000_000_000)
}

/// `socket:[12345]` → 12345.
pub fn socket_inode(link: &[u8]) -> Option<u64> {
    let rest = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(rest).ok()?.parse().ok()
}

/// The fields of /proc/PID/stat used here.
struct Stat {
    comm: String,
    ppid: u32,
    /// Start time in clock ticks after boot: with the pid, a process's identity.
    start: u64,
}

impl Stat {
    fn read(pid: u32) -> Option<Stat> {
        parse_stat(&fs::read(format!("/proc/{pid}/stat")).ok()?)
    }
}

/// `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so the fields after
/// it are counted from its last `)`.
fn parse_stat(text: &[u8]) -> Option<Stat> {
    let open = text.iter().position(|&b| b == b'(')?;
    let close = text.iter().rposition(|&b| b == b')')?;
    let comm = String::from_utf8_lossy(text.get(open + 1..close)?).into_owned();
    let rest = std::str::from_utf8(text.get(close + 1..)?).ok()?;
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // fields[0] is the state (field 3); ppid is field 4, starttime field 22.
    Some(Stat {
        comm,
        ppid: fields.get(1)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

/// The thread group (process) `pid` belongs to.
fn tgid(pid: u32) -> Option<u32> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with("Tgid:"))?;
    line.split_ascii_whitespace().nth(1)?.parse().ok()
}

fn status_uid(pid: u32) -> Option<u32> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// The cgroup v2 path (`0::PATH`), else the first v1 line's path.
fn cgroup_path(pid: u32) -> Option<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let line = text
        .lines()
        .find(|l| l.starts_with("0::"))
        .or_else(|| text.lines().next())?;
    let path = line.splitn(3, ':').nth(2)?;
    (!path.is_empty()).then(|| path.to_string())
}

/// A container id in a cgroup path: the last 64-hex-digit run of a segment
/// (`docker-<id>.scope`, `/docker/<id>`, `cri-containerd-<id>.scope`, `libpod-<id>`).
pub fn container_id(cgroup: &str) -> Option<String> {
    cgroup.rsplit('/').find_map(|seg| {
        let seg = seg.strip_suffix(".scope").unwrap_or(seg);
        let id = seg.rsplit('-').next()?;
        (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id[..12].to_string())
    })
}

/// Largest buffer `getpwuid_r` is given.
const PASSWD_BUFFER: usize = 16 * 1024;

fn user_name(uid: u32) -> Option<String> {
    let mut buf: Vec<libc::c_char> = vec![0; PASSWD_BUFFER];
    // SAFETY: `pwd` is plain data filled by getpwuid_r; `buf` outlives the read of
    // `pw_name`, which points into it; the length passed is `buf`'s.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result);
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        Some(
            std::ffi::CStr::from_ptr(pwd.pw_name)
                .to_string_lossy()
                .into_owned(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_comm() {
        let s =
            parse_stat(b"42 (a) b (c)) S 7 42 42 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 999 1 2")
                .unwrap();
        assert_eq!(s.comm, "a) b (c)");
        assert_eq!(s.ppid, 7);
        assert_eq!(s.start, 999);
        assert!(parse_stat(b"42 (x").is_none());
    }

    #[test]
    fn socket_links() {
        assert_eq!(socket_inode(b"socket:[123]"), Some(123));
        assert_eq!(socket_inode(b"pipe:[123]"), None);
        assert_eq!(socket_inode(b"socket:[12x]"), None);
    }

    #[test]
    fn container_ids() {
        let id = "0123456789abcdef".repeat(4);
        assert_eq!(
            container_id(&format!("/system.slice/docker-{id}.scope")).as_deref(),
            Some("0123456789ab")
        );
        assert_eq!(
            container_id(&format!("/kubepods/besteffort/pod1/{id}")).as_deref(),
            Some("0123456789ab")
        );
        assert_eq!(
            container_id("/user.slice/user-1000.slice/session-2.scope"),
            None
        );
    }

    #[test]
    fn finds_this_process_by_one_of_its_sockets() {
        use std::os::unix::fs::MetadataExt;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        use std::os::fd::AsRawFd;
        let inode = fs::metadata(format!("/proc/self/fd/{}", l.as_raw_fd()))
            .unwrap()
            .ino();
        let mut p = Procfs::default();
        let mut c = AttribCounters::default();
        assert_eq!(p.holder(inode, &mut c), Holder::Pid(std::process::id()));
        assert_eq!(c.attrib_full_scans, 1);
        // The second time from the cache, no scan.
        assert_eq!(p.holder(inode, &mut c), Holder::Pid(std::process::id()));
        assert_eq!(c.attrib_full_scans, 1);
        let info = p.process(std::process::id()).unwrap();
        assert_eq!(info.uid, unsafe { libc::getuid() });
        assert!(!info.name.is_empty());
        // The cgroup as /proc/self/cgroup gives it (the v2 line, else the first), and the
        // container id read from it.
        let text = fs::read_to_string("/proc/self/cgroup").unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with("0::"))
            .or_else(|| text.lines().next())
            .unwrap();
        let want = line.splitn(3, ':').nth(2).filter(|p| !p.is_empty());
        assert_eq!(info.cgroup.as_deref(), want);
        assert_eq!(info.container, want.and_then(container_id));
        assert_eq!(
            info.exe.as_deref().map(std::path::Path::new),
            fs::read_link("/proc/self/exe").ok().as_deref()
        );
        if info.uid == 0 {
            assert_eq!(info.user.as_deref(), Some("root"));
        }
        assert!(
            info.ancestors.iter().any(|(pid, _)| *pid == 1)
                || info.ancestors.len() == MAX_ANCESTORS
                || std::process::id() == 1
                || !info.ancestors.is_empty()
        );
    }
}
