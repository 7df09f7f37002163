//! The `-metrics-listen` endpoint: a one-thread HTTP server answering `GET /metrics` with
//! the shared registry rendered. It reads at most [`MAX_REQUEST_BYTES`] per request, gives
//! up on a client after [`READ_TIMEOUT`] and serves one connection at a time.
//!
//! What it does not do: keep-alive, TLS, authentication, any path but `/metrics`.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::{SharedMetrics, CONTENT_TYPE, MAX_REQUEST_BYTES, READ_TIMEOUT, WRITE_TIMEOUT};

/// Binds the metrics listener. `addr` is `host:port`, or `:port` for every IPv4 address
/// (Go's spelling, as HttShark's flags use).
pub fn bind(addr: &str) -> Result<TcpListener, String> {
    let full = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_string()
    };
    let addrs: Vec<_> = full
        .to_socket_addrs()
        .map_err(|e| format!("-metrics-listen {addr}: not a listen address: {e}"))?
        .collect();
    TcpListener::bind(&addrs[..]).map_err(|e| format!("-metrics-listen {addr}: cannot listen: {e}"))
}

/// Binds `addr` and serves `GET /metrics` from `shared` on a new thread.
pub fn serve(addr: &str, shared: SharedMetrics) -> Result<JoinHandle<()>, String> {
    serve_listener(bind(addr)?, shared)
}

/// Serves `GET /metrics` on an already bound listener, one connection at a time, for the
/// life of the process.
pub fn serve_listener(
    listener: TcpListener,
    shared: SharedMetrics,
) -> Result<JoinHandle<()>, String> {
    crate::signals::without_stop_signals(|| {
        thread::Builder::new()
            .name("httshark-metrics".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    match stream {
                        Ok(s) => {
                            if let Err(e) = handle(s, &shared) {
                                crate::log_debug!(key: "metrics_client", "metrics client: {e}");
                            }
                        }
                        Err(e) => {
                            // Out of descriptors and the like: back off rather than spin.
                            crate::log_warn!(key: "metrics_accept", "metrics listener: {e}");
                            thread::sleep(Duration::from_millis(50));
                        }
                    }
                }
            })
    })
    .map_err(|e| format!("cannot start the metrics thread: {e}"))
}

/// Reads one request (bounded, with a timeout) and answers it; always closes.
fn handle(mut stream: TcpStream, shared: &SharedMetrics) -> io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let mut buf = vec![0u8; MAX_REQUEST_BYTES];
    let mut len = 0;
    let response = loop {
        let Some(free) = buf.get_mut(len..) else {
            break reply(431, "Request Header Fields Too Large", "", "");
        };
        if free.is_empty() {
            break reply(431, "Request Header Fields Too Large", "", "");
        }
        let n = stream.read(free)?;
        if n == 0 {
            return Ok(()); // closed before a whole request: nothing to answer
        }
        len += n;
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(buf.get(..len).unwrap_or(&[])) {
            Ok(httparse::Status::Partial) => continue,
            Ok(httparse::Status::Complete(_)) => {
                let method = req.method.unwrap_or("");
                let path = req.path.unwrap_or("");
                let path = path.split('?').next().unwrap_or("");
                break match (method, path) {
                    ("GET", "/metrics") => reply(200, "OK", CONTENT_TYPE, &shared.render()),
                    ("HEAD", "/metrics") => {
                        let body = shared.render();
                        let mut r = reply(200, "OK", CONTENT_TYPE, &body);
                        r.truncate(r.len() - body.len());
                        r
                    }
                    (_, "/metrics") => reply(405, "Method Not Allowed", "", ""),
                    _ => reply(404, "Not Found", "", ""),
                };
            }
            Err(httparse::Error::TooManyHeaders) => {
                break reply(431, "Request Header Fields Too Large", "", "")
            }
            Err(_) => break reply(400, "Bad Request", "", ""),
        }
    };
    stream.write_all(response.as_bytes())?;
    stream.flush()?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    Ok(())
}

fn reply(status: u16, reason: &str, content_type: &str, body: &str) -> String {
    let (content_type, body) = if content_type.is_empty() {
        ("text/plain; charset=utf-8", format!("{status} {reason}\n"))
    } else {
        (content_type, body.to_string())
    };
    let allow = if status == 405 {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         {allow}Connection: close\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_framing() {
        let r = reply(404, "Not Found", "", "");
        assert!(r.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(r.ends_with("\r\n\r\n404 Not Found\n"));
        assert!(r.contains("Content-Length: 14\r\n"));
    }
}
