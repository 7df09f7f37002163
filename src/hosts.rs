//! `-hosts`: which endpoints are servers. Builds the BPF filter and, when no SYN and no
//! message start tells, decides which side of a connection is the server.
//!
//! Syntax (HttShark's): a comma list of `ip:port`, `:port` (any address), `ip:` (any port),
//! with IPv6 addresses in brackets (`[::1]:8080`, `[2001:db8::1]:`).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// One `-hosts` item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostSpec {
    pub ip: Option<IpAddr>,
    pub port: Option<u16>,
}

impl HostSpec {
    pub fn matches(&self, addr: &SocketAddr) -> bool {
        self.ip.is_none_or(|ip| ip == addr.ip()) && self.port.is_none_or(|p| p == addr.port())
    }

    fn bpf(&self) -> String {
        let host = self.ip.map(|ip| format!("host {ip}"));
        let port = self.port.map(|p| format!("port {p}"));
        match (host, port) {
            (Some(h), Some(p)) => format!("({h} and {p})"),
            (Some(h), None) => h,
            (None, Some(p)) => p,
            (None, None) => "tcp".to_string(),
        }
    }
}

/// The parsed `-hosts` list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerSet {
    pub specs: Vec<HostSpec>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostsError(pub String);

impl fmt::Display for HostsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ServerSet {
    /// Parses `-hosts`. An empty string means "no hosts": every TCP connection is watched.
    pub fn parse(s: &str) -> Result<ServerSet, HostsError> {
        let mut specs = Vec::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            specs.push(parse_item(item)?);
        }
        Ok(ServerSet { specs })
    }

    /// True if `addr` is one of the listed servers.
    pub fn is_server(&self, addr: &SocketAddr) -> bool {
        self.specs.iter().any(|s| s.matches(addr))
    }

    /// The capture filter: TCP to or from any listed endpoint.
    pub fn bpf(&self) -> String {
        if self.specs.is_empty() {
            return "tcp".to_string();
        }
        let parts: Vec<String> = self.specs.iter().map(HostSpec::bpf).collect();
        format!("tcp and ({})", parts.join(" or "))
    }

    /// The capture filter for an Ethernet link: [`ServerSet::bpf`], also matched inside one
    /// or two VLAN tags (802.1Q, QinQ). A BPF `tcp` only looks at an untagged frame's ether
    /// type, so a trunk port's tagged traffic would be silently filtered out. Each `vlan`
    /// shifts the offsets of what follows it, hence the nesting. Only valid on Ethernet:
    /// libpcap rejects `vlan` on other link types.
    pub fn bpf_ethernet(&self) -> String {
        let f = self.bpf();
        format!("({f}) or (vlan and (({f}) or (vlan and ({f}))))")
    }
}

fn parse_item(item: &str) -> Result<HostSpec, HostsError> {
    let bad = |why: &str| {
        HostsError(format!(
            "-hosts: '{item}' is not ip:port, :port or ip: ({why})"
        ))
    };
    let (ip_part, port_part) = if let Some(rest) = item.strip_prefix('[') {
        let end = rest.find(']').ok_or_else(|| bad("missing ']'"))?;
        let after = &rest[end + 1..];
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| bad("expected ':' after ']'"))?;
        (&rest[..end], port)
    } else {
        let colon = item.rfind(':').ok_or_else(|| bad("missing ':'"))?;
        if item[..colon].contains(':') {
            return Err(bad("IPv6 addresses go in brackets, as [::1]:80"));
        }
        (&item[..colon], &item[colon + 1..])
    };
    let ip = if ip_part.is_empty() {
        None
    } else {
        Some(
            ip_part
                .parse::<IpAddr>()
                .map_err(|_| bad("bad IP address"))?,
        )
    };
    let port = if port_part.is_empty() {
        None
    } else {
        match port_part.parse::<u16>() {
            Ok(p) if p != 0 => Some(p),
            _ => return Err(bad("bad port")),
        }
    };
    if ip.is_none() && port.is_none() {
        return Err(bad("give an address, a port or both"));
    }
    Ok(HostSpec { ip, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let s = ServerSet::parse(":80,10.0.0.1:8080,10.0.0.2:,[::1]:8443,[2001:db8::1]:").unwrap();
        assert_eq!(s.specs.len(), 5);
        assert!(s.is_server(&"1.2.3.4:80".parse().unwrap()));
        assert!(s.is_server(&"10.0.0.1:8080".parse().unwrap()));
        assert!(!s.is_server(&"10.0.0.3:8080".parse().unwrap()));
        assert!(s.is_server(&"10.0.0.2:1234".parse().unwrap()));
        assert!(s.is_server(&"[::1]:8443".parse().unwrap()));
        assert!(s.is_server(&"[2001:db8::1]:9".parse().unwrap()));
        assert_eq!(
            s.bpf(),
            "tcp and (port 80 or (host 10.0.0.1 and port 8080) or host 10.0.0.2 or (host ::1 and port 8443) or host 2001:db8::1)"
        );
    }

    #[test]
    fn rejects_bad_items() {
        for bad in [
            "80", "::1:80", ":", "x.y:80", ":70000", ":0", "[::1]80", "[::1",
        ] {
            assert!(ServerSet::parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn empty_means_all_tcp() {
        let s = ServerSet::parse("").unwrap();
        assert_eq!(s.bpf(), "tcp");
        assert_eq!(
            s.bpf_ethernet(),
            "(tcp) or (vlan and ((tcp) or (vlan and (tcp))))"
        );
        assert!(!s.is_server(&"1.2.3.4:80".parse().unwrap()));
    }
}
