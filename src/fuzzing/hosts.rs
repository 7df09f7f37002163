//! `-hosts` (`hosts::ServerSet::parse`) on arbitrary strings (lossy UTF-8). `-max_len` 4096
//! (fuzz/run.sh): a command-line value; a hundred items fit.
//!
//! Checks: a refused list says `-hosts:`; a parsed one has items with an address, a port
//! or both, ports never 0; written back in the documented syntax (`ip:port`, `:port`,
//! `ip:`, IPv6 in brackets) it parses to the same set; each item with both matches its own
//! endpoint and `is_server` says so; the BPF filter is made of the parsed values only
//! (letters of the BPF keywords, digits, hex, `.:()` and spaces), so nothing from the
//! command line reaches libpcap's compiler unparsed.

use std::net::{IpAddr, SocketAddr};

use crate::hosts::{HostSpec, ServerSet};

fn write(s: &HostSpec) -> String {
    let ip = match s.ip {
        Some(IpAddr::V6(v6)) => format!("[{v6}]"),
        Some(IpAddr::V4(v4)) => v4.to_string(),
        None => String::new(),
    };
    let port = s.port.map(|p| p.to_string()).unwrap_or_default();
    format!("{ip}:{port}")
}

/// Runs one input; panics when an invariant above breaks.
pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let set = match ServerSet::parse(&text) {
        Ok(s) => s,
        Err(e) => {
            assert!(e.0.starts_with("-hosts: "), "{e}");
            return;
        }
    };
    for s in &set.specs {
        assert!(s.ip.is_some() || s.port.is_some(), "an item with neither");
        assert_ne!(s.port, Some(0), "port 0");
        if let (Some(ip), Some(port)) = (s.ip, s.port) {
            let addr = SocketAddr::new(ip, port);
            assert!(s.matches(&addr) && set.is_server(&addr));
        }
    }
    let written: Vec<String> = set.specs.iter().map(write).collect();
    assert_eq!(
        ServerSet::parse(&written.join(",")).as_ref(),
        Ok(&set),
        "{written:?} does not parse back"
    );
    for f in [set.bpf(), set.bpf_ethernet()] {
        assert!(
            f.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b" .:()".contains(&b)),
            "filter {f:?} holds unparsed text"
        );
    }
}
