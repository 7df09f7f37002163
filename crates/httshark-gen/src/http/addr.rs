//! Addresses: virtual hosts (name, server address and port) and clients (address and
//! source port), each distinct for as many as the parameters ask for.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

const HOST_NAMES: &[&str] = &[
    "www.example.com",
    "api.example.net",
    "static.example.org",
    "shop.example.com",
    "cdn.example.net",
    "news.example.org",
    "mail.example.com",
    "img.example.net",
];

/// The Host header, server address and port of virtual host `i`.
pub fn host(i: u32, ipv6: bool) -> (String, SocketAddr) {
    let base = HOST_NAMES[i as usize % HOST_NAMES.len()];
    let round = i as usize / HOST_NAMES.len();
    let name = if round == 0 {
        base.to_string()
    } else {
        format!("h{round}.{base}")
    };
    // Every third host listens on 8080 (a port tshark also dissects as HTTP by default).
    let port = if i % 3 == 2 { 8080 } else { 80 };
    let ip = if ipv6 {
        IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            0x5,
            0,
            0,
            0,
            (i >> 16) as u16,
            (i as u16).wrapping_add(10),
        ))
    } else {
        // Documentation ranges (RFC 5737) first, then a private range.
        let v = match i {
            0..=239 => Ipv4Addr::new(192, 0, 2, 10 + i as u8),
            240..=479 => Ipv4Addr::new(198, 51, 100, (i - 230) as u8),
            480..=719 => Ipv4Addr::new(203, 0, 113, (i - 470) as u8),
            _ => Ipv4Addr::new(172, 16 + ((i >> 16) & 0x0f) as u8, (i >> 8) as u8, i as u8),
        };
        IpAddr::V4(v)
    };
    let header = if port == 80 {
        name
    } else {
        format!("{name}:{port}")
    };
    (header, SocketAddr::new(ip, port))
}

/// The address of client `k` and the source port of connection `conn`.
pub(super) fn client_addr(k: u32, conn: u32, ipv6: bool) -> SocketAddr {
    // Ephemeral ports cycle through 32768..61000 with the connection index: two
    // connections only share a 4-tuple 28232 connections apart, long after the first ended.
    let port = 32768 + (conn % 28_232) as u16;
    // Host numbers from 2 up, 250 per /24, so no address ends in .0, .1 or .255.
    let (net, host) = (k / 250, k % 250 + 2);
    let ip = if ipv6 {
        IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            0xc,
            0,
            0,
            0,
            net as u16,
            host as u16,
        ))
    } else {
        IpAddr::V4(Ipv4Addr::new(
            10,
            1 + (net >> 8) as u8,
            net as u8,
            host as u8,
        ))
    };
    SocketAddr::new(ip, port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_clients_have_distinct_addresses() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..2000 {
            assert!(seen.insert(host(i, false).1.ip()), "host {i}");
            assert!(seen.insert(host(i, true).1.ip()), "v6 host {i}");
        }
        let mut clients = std::collections::HashSet::new();
        for k in 0..70_000 {
            assert!(clients.insert(client_addr(k, 0, false).ip()), "client {k}");
            assert!(clients.insert(client_addr(k, 0, true).ip()));
        }
        assert_eq!(host(2, false).0, "static.example.org:8080");
    }
}
