//! Scenario parameters ([`HttpParams`]) and their presets: the shares of each feature
//! and the size distributions ([`Sizes`]) bodies are drawn from.

use std::time::Duration;

use crate::rng::Rng;
use crate::tcp::TcpParams;
use crate::time::Timestamp;
use crate::tls_conn::TlsParams;

/// A size distribution: `zero_share` of zero, the rest log-uniform in `min..=max`.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub zero_share: f64,
    pub min: u64,
    pub max: u64,
}

impl Sizes {
    pub fn draw(&self, rng: &mut Rng) -> u64 {
        if rng.chance(self.zero_share) {
            0
        } else {
            rng.log_uniform(self.min, self.max)
        }
    }
}

/// Scenario parameters. Shares are probabilities in `[0, 1]`.
#[derive(Clone, Debug)]
pub struct HttpParams {
    pub seed: u64,
    /// Stop after this many connections (`None`: until `target_bytes`).
    pub connections: Option<u64>,
    /// Stop starting connections once the capture reaches about this many bytes.
    pub target_bytes: Option<u64>,
    /// Transactions per connection, uniform in this range.
    pub tx_per_conn: (u32, u32),
    /// Share of connections with several transactions that pipeline their requests.
    pub pipelining: f64,
    /// At most this many requests are sent ahead of their responses.
    pub max_pipeline: u32,
    /// Number of distinct virtual hosts (each on its own server address).
    pub hosts: u32,
    /// Number of distinct client addresses.
    pub clients: u32,
    pub resp_body: Sizes,
    pub req_body: Sizes,
    /// Share of requests that are POST or PUT with a body.
    pub post_put_share: f64,
    /// Share of bodies (requests and responses) sent chunked.
    pub chunked_share: f64,
    /// Share of text responses sent gzip-coded.
    pub gzip_share: f64,
    pub head_share: f64,
    /// Share of requests answered 204 (POST/PUT) or 304 (conditional GET).
    pub no_content_share: f64,
    /// Share of requests with a body that send `Expect: 100-continue` (not pipelined).
    pub expect_continue_share: f64,
    /// Share of connections whose last response is delimited by the server's FIN.
    pub close_delimited_share: f64,
    /// Share of connections the capture joins after the handshake.
    pub midstream_share: f64,
    /// Share of connections ended by a RST (half of them with the last request unanswered).
    pub rst_share: f64,
    /// Share of connections still open at the end.
    pub open_share: f64,
    /// Share of connections whose ISNs are within 4 KiB of 2^32, so sequence numbers wrap.
    pub isn_wrap_share: f64,
    pub ipv6: bool,
    /// Link type, MSS, RTT and gaps (ISNs are drawn per connection).
    pub tcp: TcpParams,
    /// Time of the first connection.
    pub start: Timestamp,
    /// Mean time between connection starts (uniform in `0..=2*conn_interval`).
    pub conn_interval: Duration,
    /// At most this many connections have packets pending at once.
    pub max_concurrent: usize,
    /// Client think time between transactions, uniform up to this.
    pub think_max: Duration,
    /// Server processing time, uniform up to this.
    pub server_time_max: Duration,
    /// Every connection inside TLS 1.3 (`None`: plaintext HTTP). The HTTP bytes, and so
    /// the ground truth's transactions, sizes and stream offsets (then offsets in the
    /// decrypted stream), are those of the plaintext scenario; only times differ, by the
    /// handshake and the record overhead. See [`crate::tls_conn`].
    pub tls: Option<TlsParams>,
}

impl HttpParams {
    /// A mix of every feature, moderate sizes.
    pub fn mixed(seed: u64) -> HttpParams {
        HttpParams {
            seed,
            connections: Some(100),
            target_bytes: None,
            tx_per_conn: (1, 6),
            pipelining: 0.15,
            max_pipeline: 4,
            hosts: 8,
            clients: 32,
            resp_body: Sizes {
                zero_share: 0.1,
                min: 16,
                max: 64 * 1024,
            },
            req_body: Sizes {
                zero_share: 0.05,
                min: 8,
                max: 16 * 1024,
            },
            post_put_share: 0.2,
            chunked_share: 0.2,
            gzip_share: 0.2,
            head_share: 0.05,
            no_content_share: 0.08,
            expect_continue_share: 0.3,
            close_delimited_share: 0.1,
            midstream_share: 0.05,
            rst_share: 0.08,
            open_share: 0.04,
            isn_wrap_share: 0.1,
            ipv6: false,
            tcp: TcpParams::default(),
            start: Timestamp::from_secs_nanos(1_700_000_000, 0),
            conn_interval: Duration::from_millis(30),
            max_concurrent: 32,
            think_max: Duration::from_millis(150),
            server_time_max: Duration::from_millis(40),
            tls: None,
        }
    }

    /// The committed fixture `fixtures/generated-small.pcap`: a few dozen transactions on
    /// 3 hosts, every feature present, under 200 KB.
    pub fn small(seed: u64) -> HttpParams {
        HttpParams {
            connections: Some(14),
            tx_per_conn: (1, 5),
            pipelining: 0.25,
            hosts: 3,
            clients: 4,
            resp_body: Sizes {
                zero_share: 0.1,
                min: 10,
                max: 12 * 1024,
            },
            req_body: Sizes {
                zero_share: 0.05,
                min: 5,
                max: 3000,
            },
            post_put_share: 0.3,
            chunked_share: 0.35,
            gzip_share: 0.25,
            head_share: 0.08,
            no_content_share: 0.1,
            expect_continue_share: 0.5,
            close_delimited_share: 0.2,
            midstream_share: 0.15,
            rst_share: 0.15,
            open_share: 0.07,
            isn_wrap_share: 0.2,
            max_concurrent: 6,
            ..HttpParams::mixed(seed)
        }
    }

    /// Bulk traffic for benchmarks: many transactions, bodies up to 256 KiB, fewer rarities.
    pub fn bench(seed: u64) -> HttpParams {
        HttpParams {
            connections: None,
            target_bytes: Some(100 * 1_000_000),
            tx_per_conn: (1, 20),
            hosts: 50,
            clients: 500,
            resp_body: Sizes {
                zero_share: 0.2,
                min: 100,
                max: 256 * 1024,
            },
            gzip_share: 0.1,
            expect_continue_share: 0.1,
            close_delimited_share: 0.05,
            midstream_share: 0.01,
            rst_share: 0.03,
            open_share: 0.01,
            conn_interval: Duration::from_millis(5),
            max_concurrent: 64,
            ..HttpParams::mixed(seed)
        }
    }

    /// Checks what the generator cannot work with (shares need no check: a share above 1
    /// acts as 1, below 0 as 0).
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=65_000).contains(&self.tcp.mss) {
            return Err(format!("MSS {} outside 1..=65000", self.tcp.mss));
        }
        if self.tx_per_conn.0 > self.tx_per_conn.1 {
            return Err(format!("tx_per_conn {:?}: min above max", self.tx_per_conn));
        }
        if self.hosts == 0 || self.clients == 0 || self.max_concurrent == 0 {
            return Err("hosts, clients and max_concurrent must be at least 1".to_string());
        }
        Ok(())
    }

    /// The preset of this name: `small`, `mixed` or `bench`.
    pub fn preset(name: &str, seed: u64) -> Option<HttpParams> {
        match name {
            "small" => Some(HttpParams::small(seed)),
            "mixed" => Some(HttpParams::mixed(seed)),
            "bench" => Some(HttpParams::bench(seed)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_rejects_unusable_parameters() {
        assert!(HttpParams::small(1).validate().is_ok());
        let mut p = HttpParams::small(1);
        p.tcp.mss = 0;
        assert!(p.validate().is_err());
        let mut p = HttpParams::small(1);
        p.tx_per_conn = (5, 2);
        assert!(p.validate().is_err());
        assert!(HttpParams::preset("nope", 1).is_none());
    }
}
