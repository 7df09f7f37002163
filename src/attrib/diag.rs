//! The kernel's socket diagnostics (netlink `NETLINK_SOCK_DIAG`, `inet_diag`): which
//! socket of this network namespace has a given TCP 4-tuple, and its inode and uid.
//!
//! An exact look-up (`SOCK_DIAG_BY_FAMILY` without `NLM_F_DUMP`, the kernel's
//! `inet_diag_find_one_icsk`) costs one request and one answer, whatever the number of
//! sockets on the host. Raw libc netlink, as `ss` does: the structures are four fixed
//! layouts (`linux/inet_diag.h`), not worth a crate.
//!
//! What it does not do: map the inode to a process (`procfs`), or see other namespaces'
//! sockets (netlink answers for the namespace the socket was opened in).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `NETLINK_SOCK_DIAG` (`NETLINK_INET_DIAG`).
const NETLINK_SOCK_DIAG: libc::c_int = 4;
/// `SOCK_DIAG_BY_FAMILY`.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `INET_DIAG_NOCOOKIE`: the look-up is by addresses, not by a socket cookie.
const INET_DIAG_NOCOOKIE: u32 = !0;
/// `TCP_TIME_WAIT` in `inet_diag_msg::idiag_state`: the socket has no owner left.
pub const TCP_TIME_WAIT: u8 = 6;
/// `TCP_NEW_SYN_RECV`: a server's half-open request socket (no owner yet).
pub const TCP_NEW_SYN_RECV: u8 = 12;
/// Bytes read per answer: one `inet_diag_msg` (72 bytes) with its netlink header, or an
/// error; no attributes are asked for.
const ANSWER_BUFFER: usize = 1024;

/// What the kernel said of one 4-tuple.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// A socket with this local and remote address: its TCP state, inode (0 when it has no
    /// file any more: TIME_WAIT, a request socket) and owner's uid.
    Socket { state: u8, inode: u64, uid: u32 },
    /// No such socket in this network namespace.
    None,
}

/// A netlink socket for `inet_diag` look-ups (one request at a time).
pub struct Diag {
    fd: OwnedFd,
    seq: u32,
}

impl Diag {
    /// Opens the netlink socket. Needs no privilege: any user may ask about any socket
    /// of the namespace (the answer's uid and inode are not secret; /proc holds them).
    pub fn open() -> io::Result<Diag> {
        // SAFETY: plain socket(2) call; the returned descriptor is owned below.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                NETLINK_SOCK_DIAG,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // A kernel that never answers must not hang the attribution thread.
        let tv = libc::timeval {
            tv_sec: 1,
            tv_usec: 0,
        };
        // SAFETY: `tv` is a live timeval of the size passed.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            );
        }
        Ok(Diag { fd, seq: 0 })
    }

    /// The socket whose local address is `local` and remote address `remote`. Both must
    /// be of one family (an IPv4 pair, or an IPv6 pair).
    pub fn find(&mut self, local: SocketAddr, remote: SocketAddr) -> io::Result<Found> {
        self.seq = self.seq.wrapping_add(1);
        let req = request(self.seq, local, remote)?;
        // SAFETY: the buffer is live and its length is passed; the kernel's netlink
        // address (all zeros but the family) is the destination.
        let sent = unsafe {
            let mut addr: libc::sockaddr_nl = std::mem::zeroed();
            addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
            libc::sendto(
                self.fd.as_raw_fd(),
                req.as_ptr().cast(),
                req.len(),
                0,
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = [0u8; ANSWER_BUFFER];
        loop {
            // SAFETY: `buf` is live and its length is passed.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            match parse_answer(&buf[..n as usize], self.seq)? {
                Some(found) => return Ok(found),
                // An answer to an earlier request (one that timed out): read on.
                None => continue,
            }
        }
    }
}

/// The request: `nlmsghdr` + `inet_diag_req_v2` (with its `inet_diag_sockid`).
fn request(seq: u32, local: SocketAddr, remote: SocketAddr) -> io::Result<Vec<u8>> {
    let family = match (local.ip(), remote.ip()) {
        (IpAddr::V4(_), IpAddr::V4(_)) => libc::AF_INET,
        (IpAddr::V6(_), IpAddr::V6(_)) => libc::AF_INET6,
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "addresses of two families",
            ))
        }
    };
    let mut m = Vec::with_capacity(72);
    let len: u32 = 16 + 56;
    m.extend_from_slice(&len.to_ne_bytes());
    m.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    m.extend_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    // inet_diag_req_v2: family, protocol, ext, pad, states.
    m.push(family as u8);
    m.push(libc::IPPROTO_TCP as u8);
    m.push(0);
    m.push(0);
    m.extend_from_slice(&(!0u32).to_ne_bytes());
    // inet_diag_sockid: ports big-endian, addresses in network order (16 bytes each).
    m.extend_from_slice(&local.port().to_be_bytes());
    m.extend_from_slice(&remote.port().to_be_bytes());
    for a in [local.ip(), remote.ip()] {
        let mut b = [0u8; 16];
        match a {
            IpAddr::V4(v4) => b[..4].copy_from_slice(&v4.octets()),
            IpAddr::V6(v6) => b.copy_from_slice(&v6.octets()),
        }
        m.extend_from_slice(&b);
    }
    m.extend_from_slice(&0u32.to_ne_bytes()); // interface: any
    m.extend_from_slice(&INET_DIAG_NOCOOKIE.to_ne_bytes());
    m.extend_from_slice(&INET_DIAG_NOCOOKIE.to_ne_bytes());
    debug_assert_eq!(m.len(), len as usize);
    Ok(m)
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Reads one answer: `Ok(None)` when it is for another sequence number.
fn parse_answer(buf: &[u8], seq: u32) -> io::Result<Option<Found>> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "short inet_diag answer");
    let kind = u16::from_ne_bytes(
        buf.get(4..6)
            .ok_or_else(bad)?
            .try_into()
            .map_err(|_| bad())?,
    );
    if u32_at(buf, 8).ok_or_else(bad)? != seq {
        return Ok(None);
    }
    if kind == libc::NLMSG_ERROR as u16 {
        let errno = -(u32_at(buf, 16).ok_or_else(bad)? as i32);
        return match errno {
            libc::ENOENT => Ok(Some(Found::None)),
            0 => Ok(Some(Found::None)),
            e => Err(io::Error::from_raw_os_error(e)),
        };
    }
    if kind != SOCK_DIAG_BY_FAMILY {
        return Err(bad());
    }
    // inet_diag_msg after the 16-byte header: family, state, timer, retrans (4), sockid
    // (48), expires, rqueue, wqueue, uid, inode.
    let body = 16;
    let state = *buf.get(body + 1).ok_or_else(bad)?;
    let uid = u32_at(buf, body + 4 + 48 + 12).ok_or_else(bad)?;
    let inode = u32_at(buf, body + 4 + 48 + 16).ok_or_else(bad)?;
    Ok(Some(Found::Socket {
        state,
        inode: u64::from(inode),
        uid,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn finds_both_ends_of_a_loopback_connection_by_inode() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let mut diag = Diag::open().unwrap();
        let inode_of = |fd: i32| {
            std::fs::metadata(format!("/proc/self/fd/{fd}"))
                .unwrap()
                .ino()
        };
        let (c, s) = (client.local_addr().unwrap(), server.local_addr().unwrap());
        let uid = unsafe { libc::getuid() };
        assert_eq!(
            diag.find(c, s).unwrap(),
            Found::Socket {
                state: 1,
                inode: inode_of(client.as_raw_fd()),
                uid
            }
        );
        assert_eq!(
            diag.find(s, c).unwrap(),
            Found::Socket {
                state: 1,
                inode: inode_of(server.as_raw_fd()),
                uid
            }
        );
        // A port nobody uses.
        let other = SocketAddr::new(c.ip(), 1);
        assert_eq!(diag.find(other, s).unwrap(), Found::None);
    }

    #[test]
    fn refuses_mixed_families() {
        let v4: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let v6: SocketAddr = "[::1]:1".parse().unwrap();
        assert!(request(1, v4, v6).is_err());
    }
}
