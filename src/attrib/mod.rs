//! Process attribution (issue 15): which local process owns each connection of a live
//! capture, found off the packet path.
//!
//! ```text
//!  capture thread ──Seen{id, client, server} (try_send, SYNs only)──▶ prober thread:
//!                                sock_diag by 4-tuple; quick /proc look at recent owners
//!  processor thread ──Join{id}──▶ prober ──(request, probe)──▶ namer thread:
//!    (blocks ≤ JOIN_TIMEOUT)                                    inode → pid (/proc), process
//!    stamps Transaction::process, applies -process,             info; answers kept by id
//!    then the processors
//! ```
//!
//! - **When**: the capture thread asks as soon as it reads a connection's SYN (with
//!   attribution the kernel ring hands packets over within 2 ms, or at once with
//!   `-attribution-immediate`). The request is a `try_send`: a full queue drops it
//!   (counted), the capture never waits. The prober asks the kernel at once (microseconds),
//!   so the socket is seen while it exists; the namer reads /proc, in order.
//! - **Join, deterministic**: connections are keyed by `ConnInfo::id`, the capture index of
//!   their first packet, which is the SYN's index the capture thread sent. Before any
//!   processor sees a transaction, the processor thread asks for its connection's answer
//!   (`Join`), through the same two queues, so the SYN's look-up, queued earlier, is
//!   answered first; a connection whose SYN was not seen (picked up mid-stream, or dropped
//!   from a full queue) is looked up then. Every transaction of a connection thus carries
//!   the same answer, whatever the thread timing.
//! - **Which end**: the client's socket first ("which program made the request"); when the
//!   client is not local, the server's (an accepted socket, or the listener).
//! - **Misses say why** (`NoOwner`), each counted (`AttribCounters`); a miss is never
//!   guessed into a wrong process: a pid comes only from a descriptor that holds the
//!   socket's inode.
//!
//! What it does not do: see other network namespaces' sockets (netlink answers for its
//! own), or attribute offline files (the processes are gone; the run says so once).

pub mod diag;
pub mod procfs;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

use crate::model::{NoOwner, Owner, Side};
pub use procfs::AttribCounters;

/// Look-up requests waiting for the attribution thread; past it the capture thread's are
/// dropped (counted `attrib_queue_full`), never waited for.
pub const MAX_QUEUED_LOOKUPS: usize = 4_096;
/// Answers kept by connection id until their first transaction asks (oldest forgotten
/// first, counted `attrib_answers_evicted`).
pub const MAX_ANSWERS: usize = 65_536;
/// Answers the processor thread keeps per connection id (later transactions of a
/// connection need no round trip).
pub const MAX_JOINED: usize = 65_536;
/// Owners the namer tells the prober about, waiting (more are dropped: a hint only).
pub const MAX_HOT_HINTS: usize = 1_024;
/// How long the processor thread waits for an answer (wall clock) before the transaction
/// goes on marked "overloaded".
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(2);

enum Request {
    /// A SYN was read: look the connection up now.
    Seen {
        id: u64,
        client: SocketAddr,
        server: SocketAddr,
    },
    /// A transaction of connection `id` is about to be exported: its answer, please.
    Join {
        id: u64,
        client: SocketAddr,
        server: SocketAddr,
        reply: Sender<Arc<Owner>>,
    },
}

/// The capture thread's handle: asks, never waits.
#[derive(Clone)]
pub struct Asker {
    tx: Sender<Request>,
    dropped: Arc<std::sync::atomic::AtomicU64>,
}

impl Asker {
    /// A connection's SYN was read (packet `id`, from `client` to `server`).
    pub fn seen(&self, id: u64, client: SocketAddr, server: SocketAddr) {
        if let Err(TrySendError::Full(_)) = self.tx.try_send(Request::Seen { id, client, server }) {
            self.dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// The processor thread's handle: joins answers onto transactions.
pub struct Joiner {
    tx: Sender<Request>,
    joined: HashMap<u64, Arc<Owner>>,
    order: VecDeque<u64>,
    /// Answers that did not come within `JOIN_TIMEOUT`.
    pub timeouts: u64,
}

impl Joiner {
    /// The owner of connection `id`.
    pub fn owner(&mut self, id: u64, client: SocketAddr, server: SocketAddr) -> Arc<Owner> {
        if let Some(o) = self.joined.get(&id) {
            return Arc::clone(o);
        }
        let (reply, answer) = bounded(1);
        let sent = self.tx.send(Request::Join {
            id,
            client,
            server,
            reply,
        });
        let owner = match sent
            .ok()
            .and_then(|()| answer.recv_timeout(JOIN_TIMEOUT).ok())
        {
            Some(o) => o,
            None => {
                self.timeouts += 1;
                Arc::new(Owner::Unattributed {
                    why: NoOwner::Overloaded,
                    uid: None,
                })
            }
        };
        if self.order.len() >= MAX_JOINED {
            if let Some(old) = self.order.pop_front() {
                self.joined.remove(&old);
            }
        }
        self.order.push_back(id);
        self.joined.insert(id, Arc::clone(&owner));
        owner
    }
}

/// The running attribution thread.
pub struct Service {
    handle: thread::JoinHandle<AttribCounters>,
    dropped: Arc<std::sync::atomic::AtomicU64>,
}

impl Service {
    /// Starts the thread (without the stop signals, like every pipeline thread). Fails
    /// when the kernel refuses a sock_diag socket: the caller says what is missing.
    pub fn start() -> Result<(Service, Asker, Joiner), String> {
        let diag = diag::Diag::open().map_err(|e| {
            format!("process attribution: cannot open a sock_diag netlink socket: {e}")
        })?;
        let (tx, rx) = bounded(MAX_QUEUED_LOOKUPS);
        let (probed_tx, probed_rx) = bounded(MAX_QUEUED_LOOKUPS);
        let (owners_tx, owners_rx) = bounded(MAX_HOT_HINTS);
        let prober = Prober::new(diag);
        crate::signals::without_stop_signals(|| {
            thread::Builder::new()
                .name("httshark-probe".into())
                .spawn(move || {
                    crate::sched::raise_this_thread("attribution prober");
                    probe_loop(rx, probed_tx, owners_rx, prober)
                })
        })
        .map_err(|e| format!("cannot start the attribution thread: {e}"))?;
        let handle = crate::signals::without_stop_signals(|| {
            thread::Builder::new()
                .name("httshark-attrib".into())
                .spawn(move || {
                    crate::sched::raise_this_thread("attribution namer");
                    name_loop(probed_rx, owners_tx, Namer::default())
                })
        })
        .map_err(|e| format!("cannot start the attribution thread: {e}"))?;
        let dropped = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let asker = Asker {
            tx: tx.clone(),
            dropped: Arc::clone(&dropped),
        };
        let joiner = Joiner {
            tx,
            joined: HashMap::new(),
            order: VecDeque::new(),
            timeouts: 0,
        };
        Ok((Service { handle, dropped }, asker, joiner))
    }

    /// Waits for the thread (every `Asker` and `Joiner` must be dropped first) and returns
    /// its counters.
    pub fn finish(self, joiner_timeouts: u64) -> AttribCounters {
        let mut c = self.handle.join().unwrap_or_default();
        c.attrib_queue_full += self.dropped.load(std::sync::atomic::Ordering::Relaxed);
        c.attrib_overloaded += joiner_timeouts;
        c
    }
}

/// The prober thread: asks the kernel about each connection as soon as it is asked
/// (microseconds), so the socket is seen while it exists, and hands the answer on to the
/// namer. Joins pass through it too, so they reach the namer after the SYN's probe.
fn probe_loop(
    rx: Receiver<Request>,
    tx: Sender<(Request, Probe)>,
    owners: Receiver<u32>,
    mut diag: Prober,
) {
    for req in rx {
        // The owners the namer found: read first at the next SYNs (a client that opens
        // many connections is found at once).
        while let Ok(pid) = owners.try_recv() {
            diag.procfs.touch(pid);
        }
        let (client, server) = match &req {
            Request::Seen { client, server, .. } | Request::Join { client, server, .. } => {
                (*client, *server)
            }
        };
        let probe = diag.probe(client, server);
        if tx.send((req, probe)).is_err() {
            return;
        }
    }
}

/// The namer thread: /proc for each probed connection (milliseconds when it scans), in
/// order; keeps the answers until their connection's first transaction asks.
fn name_loop(
    rx: Receiver<(Request, Probe)>,
    owners: Sender<u32>,
    mut namer: Namer,
) -> AttribCounters {
    let mut answers: HashMap<u64, Arc<Owner>> = HashMap::new();
    let mut order: VecDeque<u64> = VecDeque::new();
    for (req, probe) in rx {
        match req {
            Request::Seen { id, .. } => {
                if answers.contains_key(&id) {
                    continue;
                }
                let owner = namer.finish(probe);
                if let Owner::Process(p) = &*owner {
                    let _ = owners.try_send(p.pid);
                }
                if order.len() >= MAX_ANSWERS {
                    if let Some(old) = order.pop_front() {
                        if answers.remove(&old).is_some() {
                            namer.counters.attrib_answers_evicted += 1;
                        }
                    }
                }
                order.push_back(id);
                answers.insert(id, owner);
            }
            Request::Join { id, reply, .. } => {
                let owner = match answers.remove(&id) {
                    Some(o) => o,
                    None => namer.finish(probe),
                };
                let _ = reply.send(owner);
            }
        }
    }
    namer.counters
}

/// The kernel's half of a look-up (sock_diag).
pub struct Prober {
    diag: diag::Diag,
    /// The prober's own view of /proc, for `quick_holder` hints.
    procfs: procfs::Procfs,
}

impl Prober {
    pub fn new(diag: diag::Diag) -> Prober {
        Prober {
            diag,
            procfs: procfs::Procfs::default(),
        }
    }

    /// Which socket, while it still exists (microseconds).
    pub fn probe(&mut self, client: SocketAddr, server: SocketAddr) -> Probe {
        let mut closed = None;
        for (side, local, remote) in [
            (Side::Client, client, server),
            (Side::Server, server, client),
        ] {
            match self.diag.find(local, remote) {
                Err(_) => return Probe::Done(NoOwner::Failed, None),
                Ok(diag::Found::None) => continue,
                Ok(diag::Found::Socket { state, inode, uid }) => {
                    if inode == 0 || state == diag::TCP_TIME_WAIT {
                        // The client side closed first: its connection is over; a server's
                        // half-open request socket: its accept is still to come.
                        closed.get_or_insert(uid);
                        if side == Side::Client {
                            break;
                        }
                        continue;
                    }
                    let holder = self.procfs.quick_holder(inode);
                    return Probe::Socket {
                        side,
                        inode,
                        uid,
                        holder,
                    };
                }
            }
        }
        if let Some(uid) = closed {
            return Probe::Done(NoOwner::Closed, Some(uid));
        }
        let locals = local_addresses();
        if !locals.is_empty() && !locals.contains(&client.ip()) && !locals.contains(&server.ip()) {
            return Probe::Done(NoOwner::Remote, None);
        }
        Probe::Done(NoOwner::NotFound, None)
    }
}

/// The /proc half of a look-up, and the counters.
#[derive(Default)]
pub struct Namer {
    procfs: procfs::Procfs,
    pub counters: AttribCounters,
}

impl Namer {
    /// Names the owner of a probed connection, and counts the answer. Its duration is
    /// logged (debug): a wall-clock edge, not the core.
    #[allow(clippy::disallowed_methods)]
    pub fn finish(&mut self, probe: Probe) -> Arc<Owner> {
        self.counters.attrib_lookups += 1;
        let started = std::time::Instant::now();
        let owner = self.name(probe);
        crate::log_debug!(
            key: "attribution",
            "attribution {probe:?}: {} in {:?}",
            match &owner {
                Owner::Process(p) => format!("{} {}", p.name, p.pid),
                Owner::Unattributed { why, .. } => why.name().to_string(),
            },
            started.elapsed()
        );
        self.count(&owner);
        Arc::new(owner)
    }

    /// Which process holds the socket found.
    fn name(&mut self, probe: Probe) -> Owner {
        let unattributed = |why, uid| Owner::Unattributed { why, uid };
        let (side, inode, uid) = match probe {
            Probe::Socket {
                side,
                inode,
                uid,
                holder,
            } => {
                if let Some((pid, at)) = holder {
                    self.procfs.remember(inode, pid, at);
                }
                (side, inode, uid)
            }
            Probe::Done(why, uid) => return unattributed(why, uid),
        };
        match self.procfs.holder(inode, &mut self.counters) {
            procfs::Holder::Pid(pid) => match self.procfs.process_holding(pid, inode) {
                Some(info) => {
                    let mut info = (*info).clone();
                    info.side = Some(side);
                    Owner::Process(info)
                }
                None => unattributed(NoOwner::NoProcess, Some(uid)),
            },
            procfs::Holder::Unreadable => unattributed(NoOwner::NoPermission, Some(uid)),
            procfs::Holder::Nobody => unattributed(NoOwner::NoProcess, Some(uid)),
        }
    }

    fn count(&mut self, owner: &Owner) {
        let c = &mut self.counters;
        match owner {
            Owner::Process(_) => c.attrib_attributed += 1,
            Owner::Unattributed { why, .. } => match why {
                NoOwner::Closed => c.attrib_closed += 1,
                NoOwner::Remote => c.attrib_remote += 1,
                NoOwner::NotFound => c.attrib_not_found += 1,
                NoOwner::NoPermission => c.attrib_no_permission += 1,
                NoOwner::NoProcess => c.attrib_no_process += 1,
                NoOwner::Overloaded => c.attrib_overloaded += 1,
                NoOwner::Failed => c.attrib_failed += 1,
            },
        }
    }
}

/// Both halves at once, on the calling thread (tests, tools).
pub struct Resolver {
    pub prober: Prober,
    pub namer: Namer,
}

impl Resolver {
    pub fn new(diag: diag::Diag) -> Resolver {
        Resolver {
            prober: Prober::new(diag),
            namer: Namer::default(),
        }
    }

    /// Who owns the connection from `client` to `server` (and counts the answer).
    pub fn resolve(&mut self, client: SocketAddr, server: SocketAddr) -> Arc<Owner> {
        let probe = self.prober.probe(client, server);
        self.namer.finish(probe)
    }
}

/// What the kernel said of a connection, before /proc is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The socket, and its holder when the prober's quick look found it at once: (pid,
    /// when seen, in boot clock ticks).
    Socket {
        side: Side,
        inode: u64,
        uid: u32,
        holder: Option<(u32, u64)>,
    },
    Done(NoOwner, Option<u32>),
}

/// What the end-of-run summary says about connections left unattributed, one line per
/// cause that needs the user's attention (what is missing, and how to get it).
pub fn missing_warnings(c: &AttribCounters) -> Vec<String> {
    let mut out = Vec::new();
    if c.attrib_no_permission > 0 {
        out.push(format!(
            "process attribution: {} connections of other users' processes not attributed: their \
             /proc/PID/fd cannot be read; run as root, or add cap_sys_ptrace (or \
             cap_dac_read_search) to cap_net_raw,cap_net_admin",
            c.attrib_no_permission
        ));
    }
    if c.attrib_failed > 0 {
        out.push(format!(
            "process attribution: {} look-ups refused by the kernel (sock_diag: is the \
             inet_diag module available?)",
            c.attrib_failed
        ));
    }
    if c.attrib_not_found > 0 {
        out.push(format!(
            "process attribution: {} connections had no socket in this network namespace \
             (another namespace, e.g. a container's, or closed before the look-up)",
            c.attrib_not_found
        ));
    }
    if c.attrib_overloaded + c.attrib_queue_full > 0 {
        out.push(format!(
            "process attribution: {} look-ups dropped or late (queue of {MAX_QUEUED_LOOKUPS} full, \
             or no answer within {JOIN_TIMEOUT:?})",
            c.attrib_overloaded + c.attrib_queue_full
        ));
    }
    out
}

/// The addresses of this namespace's interfaces (getifaddrs); empty when unknown.
pub fn local_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `ifap` with a list freed below with freeifaddrs; every
    // pointer read is checked for null and read only while the list lives.
    unsafe {
        if libc::getifaddrs(&mut ifap) != 0 {
            return out;
        }
        let mut p = ifap;
        while !p.is_null() {
            let a = (*p).ifa_addr;
            if !a.is_null() {
                match i32::from((*a).sa_family) {
                    libc::AF_INET => {
                        let sin = &*(a as *const libc::sockaddr_in);
                        out.push(IpAddr::from(
                            u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                        ));
                    }
                    libc::AF_INET6 => {
                        let sin6 = &*(a as *const libc::sockaddr_in6);
                        out.push(IpAddr::from(sin6.sin6_addr.s6_addr));
                    }
                    _ => {}
                }
            }
            p = (*p).ifa_next;
        }
        libc::freeifaddrs(ifap);
    }
    out
}

/// `-process NAME|PID` (and `--` COMMAND's tree): which processes' traffic is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProcessFilter {
    /// The process with this pid and its descendants.
    Pid(u32),
    /// Processes whose command name (comm) or executable's file name is NAME, and their
    /// descendants.
    Name(String),
}

impl ProcessFilter {
    /// `NAME` or `PID` (all digits).
    pub fn parse(text: &str) -> Result<ProcessFilter, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("-process: empty (give a command name or a pid)".into());
        }
        if t.bytes().all(|b| b.is_ascii_digit()) {
            return t
                .parse()
                .map(ProcessFilter::Pid)
                .map_err(|_| format!("-process {t}: not a pid"));
        }
        Ok(ProcessFilter::Name(t.to_string()))
    }

    /// True when `owner` is a matching process or a descendant of one. An unattributed
    /// connection never matches: it could be anyone's.
    pub fn matches(&self, owner: &Owner) -> bool {
        let Some(p) = owner.process() else {
            return false;
        };
        match self {
            ProcessFilter::Pid(pid) => p.pid == *pid || p.ancestors.iter().any(|(a, _)| a == pid),
            ProcessFilter::Name(name) => {
                let exe_name = p
                    .exe
                    .as_deref()
                    .and_then(|e| e.rsplit('/').next())
                    .map(|e| e.trim_end_matches(" (deleted)"));
                // comm is cut at 15 bytes: a longer NAME matches its first 15.
                let short: String = name.chars().take(15).collect();
                p.name == *name
                    || p.name == short
                    || exe_name == Some(name.as_str())
                    || p.ancestors.iter().any(|(_, c)| *c == *name || *c == short)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProcessInfo;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    fn process(pid: u32, name: &str, ancestors: &[(u32, &str)]) -> Owner {
        Owner::Process(ProcessInfo {
            pid,
            name: name.into(),
            exe: Some(format!("/usr/bin/{name}")),
            ancestors: ancestors.iter().map(|(p, n)| (*p, n.to_string())).collect(),
            ..ProcessInfo::default()
        })
    }

    /// The summary names each cause that needs the user's attention, and only those.
    #[test]
    fn missing_warnings_name_what_is_missing() {
        assert!(missing_warnings(&AttribCounters::default()).is_empty());
        let c = AttribCounters {
            attrib_closed: 5,
            attrib_remote: 5,
            attrib_no_process: 5,
            ..AttribCounters::default()
        };
        assert!(
            missing_warnings(&c).is_empty(),
            "expected misses: no warning"
        );
        let c = AttribCounters {
            attrib_no_permission: 2,
            attrib_failed: 3,
            attrib_not_found: 4,
            attrib_overloaded: 1,
            attrib_queue_full: 5,
            ..AttribCounters::default()
        };
        let w = missing_warnings(&c);
        assert_eq!(w.len(), 4, "{w:?}");
        assert!(w[0].contains("2 connections of other users'") && w[0].contains("cap_sys_ptrace"));
        assert!(w[1].contains("3 look-ups refused") && w[1].contains("inet_diag"));
        assert!(w[2].contains("4 connections had no socket in this network namespace"));
        assert!(w[3].contains("6 look-ups dropped or late"));
    }

    /// The capture thread's side never waits: with the prober stalled (nobody reads the
    /// queue), every request past the queue's room is dropped and counted.
    #[test]
    fn a_full_lookup_queue_drops_and_counts_without_waiting() {
        let (tx, _stalled) = bounded(2);
        let dropped = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let asker = Asker {
            tx,
            dropped: Arc::clone(&dropped),
        };
        let (c, s) = (
            "10.0.0.1:1".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap(),
        );
        for id in 0..10 {
            asker.seen(id, c, s);
        }
        assert_eq!(dropped.load(std::sync::atomic::Ordering::Relaxed), 8);
    }

    #[test]
    fn filter_matches_process_and_descendants_only() {
        let curl = process(30, "curl", &[(20, "bash"), (10, "sshd"), (1, "init")]);
        assert!(ProcessFilter::parse("30").unwrap().matches(&curl));
        assert!(ProcessFilter::parse("20").unwrap().matches(&curl));
        assert!(!ProcessFilter::parse("31").unwrap().matches(&curl));
        assert!(ProcessFilter::parse("curl").unwrap().matches(&curl));
        assert!(ProcessFilter::parse("bash").unwrap().matches(&curl));
        assert!(!ProcessFilter::parse("wget").unwrap().matches(&curl));
        let none = Owner::Unattributed {
            why: NoOwner::Closed,
            uid: Some(0),
        };
        assert!(!ProcessFilter::parse("curl").unwrap().matches(&none));
        assert!(ProcessFilter::parse(" ").is_err());
        let long = process(5, "a-very-long-com", &[]);
        assert!(ProcessFilter::parse("a-very-long-command")
            .unwrap()
            .matches(&long));
    }

    #[test]
    fn resolves_both_ends_of_a_loopback_connection_to_this_process() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let mut r = Resolver::new(diag::Diag::open().unwrap());
        let (c, s) = (client.local_addr().unwrap(), server.local_addr().unwrap());
        let owner = r.resolve(c, s);
        let p = owner.process().expect("attributed");
        assert_eq!(p.pid, std::process::id());
        assert_eq!(p.side, Some(Side::Client));
        assert_eq!(p.uid, unsafe { libc::getuid() });
        // Closed by the client first: TIME_WAIT on its side, never a process.
        client.write_all(b"x").unwrap();
        drop(client);
        let mut b = [0u8; 4];
        let _ = server.read(&mut b);
        drop(server);
        let owner = r.resolve(c, s);
        assert!(
            matches!(
                *owner,
                Owner::Unattributed {
                    why: NoOwner::Closed,
                    ..
                }
            ),
            "{owner:?}"
        );
        // Nobody's connection, with addresses of this host.
        // (A connection to a listening port would be the listener's: its server.)
        let nobody: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let closed_port: SocketAddr = "127.0.0.1:2".parse().unwrap();
        let owner = r.resolve(nobody, closed_port);
        assert!(
            matches!(
                *owner,
                Owner::Unattributed {
                    why: NoOwner::NotFound,
                    ..
                }
            ),
            "{owner:?}"
        );
        // Two addresses of no interface here (TEST-NET-2; checked below).
        assert!(!local_addresses()
            .iter()
            .any(|a| a.to_string().starts_with("198.51.100.")));
        let (a, b): (SocketAddr, SocketAddr) = (
            "198.51.100.1:40000".parse().unwrap(),
            "198.51.100.2:80".parse().unwrap(),
        );
        let owner = r.resolve(a, b);
        assert!(
            matches!(
                *owner,
                Owner::Unattributed {
                    why: NoOwner::Remote,
                    ..
                }
            ),
            "{owner:?}"
        );
        assert_eq!(r.namer.counters.attrib_lookups, 4);
        assert_eq!(r.namer.counters.attrib_attributed, 1);
        assert_eq!(r.namer.counters.attrib_closed, 1);
    }

    #[test]
    fn the_service_answers_a_join_with_the_syn_time_answer() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let (c, s) = (client.local_addr().unwrap(), server.local_addr().unwrap());
        let (service, asker, mut joiner) = Service::start().unwrap();
        asker.seen(7, c, s);
        // A join on another connection: served after the SYN's look-up (one queue, in order).
        let nobody: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let closed_port: SocketAddr = "127.0.0.1:2".parse().unwrap();
        assert!(joiner.owner(99, nobody, closed_port).process().is_none());
        // Gone before the join: the answer from the SYN's look-up still names us.
        drop(client);
        drop(server);
        let owner = joiner.owner(7, c, s);
        assert_eq!(owner.process().map(|p| p.pid), Some(std::process::id()));
        // Cached on the processor side: the same Arc.
        assert!(Arc::ptr_eq(&owner, &joiner.owner(7, c, s)));
        drop(asker);
        let t = joiner.timeouts;
        drop(joiner);
        let counters = service.finish(t);
        assert_eq!(counters.attrib_lookups, 2);
        assert_eq!(counters.attrib_attributed, 1);
    }
}
