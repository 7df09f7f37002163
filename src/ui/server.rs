//! The view's server: binds `-ui`, prints the URL with the token, accepts connections
//! (at most [`super::MAX_CONNECTIONS`], a thread each, started with the stop signals
//! blocked) and routes each request after the Host, Origin and token checks.
//!
//! Routes (all GET; everything else is 405):
//! - `/` the page (a `?token=` is exchanged for the cookie and redirected away);
//! - `/assets/*` the page's script and style (Host check only: nothing secret in them);
//! - `/api/v1/*` the JSON API (`api`) and `/api/v1/stream` the event stream (`sse`).

use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::auth::{self, HostCheck};
use super::http::{self, ReadError, Request, Response};
use super::{bump, Shared, UiConfig, MAX_CONNECTIONS};

/// A bound, not yet serving, view server.
pub struct Bound {
    listener: TcpListener,
    pub addr: SocketAddr,
    token: String,
    /// The token came from `-ui-token-file` (it outlives the run).
    token_from_file: bool,
    hosts: HostCheck,
}

/// What every connection thread needs.
pub struct Ctx {
    pub shared: Arc<Shared>,
    pub token: String,
    pub hosts: HostCheck,
    open: AtomicUsize,
}

/// Resolves and binds `config.listen` (`:port` is every IPv4 address, as `-metrics-listen`
/// spells it), refuses a non-loopback address without a token file, and reads or makes
/// the token.
pub fn bind(config: &UiConfig) -> Result<Bound, String> {
    let full = if config.listen.starts_with(':') {
        format!("0.0.0.0{}", config.listen)
    } else {
        config.listen.clone()
    };
    let addrs: Vec<SocketAddr> = full
        .to_socket_addrs()
        .map_err(|e| format!("-ui {}: not a listen address: {e}", config.listen))?
        .collect();
    for a in &addrs {
        auth::check_bind(*a, config.token_file.is_some())?;
    }
    let token = match &config.token_file {
        Some(p) => auth::token_from_file(p)?,
        None => auth::random_token()?,
    };
    let listener = TcpListener::bind(&addrs[..])
        .map_err(|e| format!("-ui {}: cannot listen: {e}", config.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("-ui {}: {e}", config.listen))?;
    Ok(Bound {
        listener,
        addr,
        hosts: HostCheck::new(addr, &config.allowed_hosts),
        token,
        token_from_file: config.token_file.is_some(),
    })
}

impl Bound {
    /// The URL to open (printed on stderr, never logged elsewhere), with the token when
    /// it was made for this run. A token from `-ui-token-file` outlives the run, so it is
    /// not printed where logs collect stderr: the operator has it in the file.
    pub fn url(&self) -> String {
        let host = if self.addr.ip().is_unspecified() {
            format!("127.0.0.1:{}", self.addr.port())
        } else {
            self.addr.to_string()
        };
        if self.token_from_file {
            format!("http://{host}/ (add ?token= and the token of -ui-token-file)")
        } else {
            format!("http://{host}/?token={}", self.token)
        }
    }

    /// Serves on a thread of its own for the life of the process.
    pub fn serve(self, shared: Arc<Shared>) -> Result<(), String> {
        let ctx = Arc::new(Ctx {
            shared,
            token: self.token,
            hosts: self.hosts,
            open: AtomicUsize::new(0),
        });
        let listener = self.listener;
        crate::signals::without_stop_signals(|| {
            thread::Builder::new()
                .name("httshark-ui".into())
                .spawn(move || accept_loop(listener, ctx))
        })
        .map(|_| ())
        .map_err(|e| format!("cannot start the ui thread: {e}"))
    }
}

fn accept_loop(listener: TcpListener, ctx: Arc<Ctx>) {
    for stream in listener.incoming() {
        let mut stream = match stream {
            Ok(s) => s,
            Err(e) => {
                crate::log_warn!(key: "ui_accept", "ui listener: {e}");
                thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if ctx.open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            ctx.open.fetch_sub(1, Ordering::SeqCst);
            bump(&ctx.shared.stats.connections_refused, 1);
            let _ = http::write_response(
                &mut stream,
                &Response::error(503, "too many connections to the view"),
                true,
            );
            continue;
        }
        let c = Arc::clone(&ctx);
        // Threads spawned from here inherit the accept thread's blocked stop signals.
        let spawned = thread::Builder::new()
            .name("httshark-ui-conn".into())
            .spawn(move || {
                handle(stream, &c);
                c.open.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            ctx.open.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn handle(mut stream: TcpStream, ctx: &Ctx) {
    let req = match http::read_request(&mut stream) {
        Ok(r) => r,
        Err(ReadError::Gone) => return,
        Err(ReadError::Status(s)) => {
            let _ = http::write_response(&mut stream, &Response::error(s, "bad request"), true);
            return;
        }
    };
    if req.path == "/api/v1/stream" && req.method == "GET" {
        match check(&req, ctx, true) {
            Ok(()) => super::sse::serve(stream, &req, ctx),
            Err(r) => {
                let _ = http::write_response(&mut stream, &r, true);
            }
        }
        return;
    }
    let r = route(&req, ctx);
    let _ = http::write_response(&mut stream, &r, req.method != "HEAD");
}

/// Host and Origin checks, then (when `auth`) the token: the response to send instead.
pub fn check(req: &Request, ctx: &Ctx, need_auth: bool) -> Result<(), Response> {
    let host = req.header("host").unwrap_or("");
    if !ctx.hosts.host_ok(host) {
        bump(&ctx.shared.stats.origin_refused, 1);
        return Err(Response::error(
            421,
            "this Host is not one the view answers to (see -ui-allowed-hosts)",
        ));
    }
    let cross_site = req.header("sec-fetch-site") == Some("cross-site");
    if !auth::origin_ok(req.header("origin"), host) || cross_site {
        bump(&ctx.shared.stats.origin_refused, 1);
        return Err(Response::error(403, "cross-origin request refused"));
    }
    if need_auth && !authorized(req, ctx) {
        bump(&ctx.shared.stats.auth_refused, 1);
        return Err(Response::error(
            401,
            "open the URL with the token that httshark printed on stderr",
        ));
    }
    Ok(())
}

fn authorized(req: &Request, ctx: &Ctx) -> bool {
    let by_cookie = req
        .header("cookie")
        .and_then(|c| auth::cookie(c, auth::COOKIE))
        .is_some_and(|t| auth::same(t, &ctx.token));
    let by_bearer = req
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .is_some_and(|t| auth::same(t.trim(), &ctx.token));
    by_cookie || by_bearer
}

/// Every route but the stream.
pub fn route(req: &Request, ctx: &Ctx) -> Response {
    if req.method != "GET" && req.method != "HEAD" {
        return Response::error(405, "the view's API is read-only").with("Allow", "GET, HEAD");
    }
    if let Some(name) = req.path.strip_prefix("/assets/") {
        if let Err(r) = check(req, ctx, false) {
            return r;
        }
        return match super::assets::get(name) {
            Some((ct, body)) => Response::new(200, ct, body),
            None => Response::error(404, "no such asset"),
        };
    }
    if req.path == "/" {
        if let Err(r) = check(req, ctx, false) {
            return r;
        }
        if let Some(t) = req.param("token") {
            if auth::same(t, &ctx.token) {
                // The token leaves the URL (and the history) at once.
                return Response::new(303, "text/plain; charset=utf-8", "")
                    .with("Location", "/")
                    .with("Set-Cookie", auth::set_cookie(&ctx.token));
            }
            bump(&ctx.shared.stats.auth_refused, 1);
            return Response::error(401, "wrong token");
        }
        if let Err(r) = check(req, ctx, true) {
            return r;
        }
        return Response::new(200, "text/html; charset=utf-8", super::assets::INDEX);
    }
    if let Some(rest) = req.path.strip_prefix("/api/v1/") {
        if let Err(r) = check(req, ctx, true) {
            return r;
        }
        return super::api::route(rest, req, &ctx.shared);
    }
    Response::error(404, "no such page")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token made for the run is in the URL printed on stderr; one from
    /// `-ui-token-file` outlives the run and is not.
    #[test]
    fn printed_url_carries_only_a_per_run_token() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "LONGLIVEDTOKEN-0123456789\n").unwrap();
        let mut config = UiConfig {
            listen: "127.0.0.1:0".into(),
            ..UiConfig::default()
        };
        let per_run = bind(&config).unwrap();
        assert!(per_run.url().contains(&format!("?token={}", per_run.token)));
        config.token_file = Some(file);
        let from_file = bind(&config).unwrap();
        let url = from_file.url();
        assert_eq!(from_file.token, "LONGLIVEDTOKEN-0123456789");
        assert!(!url.contains("LONGLIVEDTOKEN"), "{url}");
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    }
}
