//! Who may use the view: a per-run random token (or `-ui-token-file`), exchanged once for
//! an HttpOnly SameSite=Strict cookie, or sent as `Authorization: Bearer` by scripts; and
//! Host and Origin checks against DNS rebinding and cross-site requests
//! (mitmweb's CVE-2018-14505 and CVE-2025-23217 are the bug classes this closes).
//!
//! What it does not do: users, passwords, TLS. A non-loopback bind is refused without a
//! token file (`check_bind`), and docs/security.md recommends an SSH tunnel instead.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

/// The cookie that carries the token after the exchange.
pub const COOKIE: &str = "httshark_ui";
/// Shortest token accepted from `-ui-token-file`.
pub const MIN_TOKEN_CHARS: usize = 16;

/// A fresh 128-bit token, hex, from the OS's random source.
pub fn random_token() -> Result<String, String> {
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| format!("-ui: cannot read /dev/urandom for the access token: {e}"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// The token of `-ui-token-file`: its first line, trimmed; at least [`MIN_TOKEN_CHARS`]
/// printable ASCII characters without spaces or `;` (it goes into a cookie).
pub fn token_from_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("-ui-token-file {}: {e}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.len() < MIN_TOKEN_CHARS
        || !token
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b';' && b != b',' && b != b'"')
    {
        return Err(format!(
            "-ui-token-file {}: the token must be at least {MIN_TOKEN_CHARS} printable characters, without spaces, quotes, commas or semicolons",
            path.display()
        ));
    }
    Ok(token)
}

/// Refuses a non-loopback listen address without a token file: a token generated per run
/// is printed on stderr, where it is easily lost or logged, so exposing the view to the
/// network must be a deliberate act with a token the operator chose.
pub fn check_bind(addr: SocketAddr, has_token_file: bool) -> Result<(), String> {
    if addr.ip().is_loopback() || has_token_file {
        Ok(())
    } else {
        Err(format!(
            "-ui {addr}: not a loopback address; give -ui-token-file to serve the view to the network (or bind 127.0.0.1 and use ssh -L)"
        ))
    }
}

/// Constant-time equality (the token must not leak through timing).
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// The `Set-Cookie` value that carries `token`.
pub fn set_cookie(token: &str) -> String {
    format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/")
}

/// The Host names the server answers to.
#[derive(Clone, Debug)]
pub struct HostCheck {
    names: Vec<String>,
}

impl HostCheck {
    /// Loopback names, the bound address, plus `extra` (`-ui-allowed-hosts`).
    pub fn new(bound: SocketAddr, extra: &[String]) -> HostCheck {
        let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        if !bound.ip().is_unspecified() {
            names.push(bound.ip().to_string());
        }
        names.extend(extra.iter().map(|h| h.trim().to_ascii_lowercase()));
        HostCheck { names }
    }

    /// Whether a `Host` value names this server. Any IP literal is accepted (a rebinding
    /// attack needs a DNS name the attacker controls); names must be on the list.
    pub fn host_ok(&self, host: &str) -> bool {
        let name = host_name(host).to_ascii_lowercase();
        if name.is_empty() {
            return false;
        }
        name.parse::<IpAddr>().is_ok() || self.names.contains(&name)
    }
}

/// `example.com:80` -> `example.com`, `[::1]:80` -> `::1`.
pub fn host_name(host: &str) -> &str {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// Whether `origin` (when sent) is this very server: `http://` + the Host the browser
/// used. `null` and any other origin are cross-site.
pub fn origin_ok(origin: Option<&str>, host: &str) -> bool {
    match origin {
        None => true,
        Some(o) => o
            .strip_prefix("http://")
            .is_some_and(|h| h.eq_ignore_ascii_case(host.trim())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_cookies() {
        let t = random_token().unwrap();
        assert_eq!(t.len(), 32);
        assert_ne!(t, random_token().unwrap());
        assert!(same(&t, &t.clone()));
        assert!(!same(&t, "x"));
        assert!(!same(&t, &"0".repeat(32)));
        assert_eq!(cookie("a=1; httshark_ui=abc; b=2", COOKIE), Some("abc"));
        assert_eq!(cookie("xhttshark_ui=abc", COOKIE), None);
        assert!(set_cookie("t").contains("HttpOnly; SameSite=Strict"));
    }

    #[test]
    fn token_file_rules() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t");
        std::fs::write(&p, "short\n").unwrap();
        assert!(token_from_file(&p).is_err());
        std::fs::write(&p, "0123456789abcdef0123\nignored\n").unwrap();
        assert_eq!(token_from_file(&p).unwrap(), "0123456789abcdef0123");
        std::fs::write(&p, "0123456789abcdef;0123\n").unwrap();
        assert!(token_from_file(&p).is_err());
        assert!(token_from_file(&dir.path().join("none")).is_err());
    }

    #[test]
    fn non_loopback_needs_a_token_file() {
        assert!(check_bind("127.0.0.1:1".parse().unwrap(), false).is_ok());
        assert!(check_bind("[::1]:1".parse().unwrap(), false).is_ok());
        assert!(check_bind("0.0.0.0:1".parse().unwrap(), false).is_err());
        assert!(check_bind("10.0.0.1:1".parse().unwrap(), false).is_err());
        assert!(check_bind("0.0.0.0:1".parse().unwrap(), true).is_ok());
    }

    #[test]
    fn host_and_origin() {
        let h = HostCheck::new("127.0.0.1:8484".parse().unwrap(), &["ui.corp".into()]);
        for ok in [
            "127.0.0.1:8484",
            "localhost:8484",
            "[::1]:8484",
            "ui.corp",
            "10.0.0.5:1",
        ] {
            assert!(h.host_ok(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8484",
            "localhost.evil.example",
            "",
        ] {
            assert!(!h.host_ok(bad), "{bad}");
        }
        assert!(origin_ok(None, "127.0.0.1:8484"));
        assert!(origin_ok(Some("http://127.0.0.1:8484"), "127.0.0.1:8484"));
        assert!(!origin_ok(Some("http://evil.example"), "127.0.0.1:8484"));
        assert!(!origin_ok(Some("null"), "127.0.0.1:8484"));
        assert!(!origin_ok(Some("https://127.0.0.1:8484"), "127.0.0.1:8484"));
    }
}
