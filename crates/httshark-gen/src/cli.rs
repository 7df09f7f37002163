//! The `httshark-gen` command line: arguments to a [`GenConfig`] or a [`HostileConfig`], then
//! the capture and its ground truth written to files.
//!
//! In the library rather than in `main.rs` so that httshark's tests can run the exact
//! command lines of `fixtures/README.md` in-process ([`run_from`]): a binary of another
//! package has no `CARGO_BIN_EXE_` path in their tests. The binary only parses and reports.
//!
//! The capture is streamed (bounded memory whatever its size); the same arguments always
//! give the same bytes. See `fixtures/README.md` for the command lines behind committed
//! fixtures, and the crate documentation for what the traffic contains.
//!
//! `httshark-gen hostile KIND --out FILE` writes one of the memory-exhaustion attacks of
//! [`crate::hostile`] instead, interleaved with legitimate connections whose ground truth
//! goes to `--expected` (`scripts/robustness.sh` runs them all).
//!
//! `httshark-gen stack CASE --out FILE` writes one TCP stack behaviour of [`crate::stack`]
//! (fast-open, keepalive, zero-window, simultaneous-open, syn-new-isn, overlap-conflict,
//! rexmit-after-delivery): one connection, two transactions, their ground truth to
//! `--expected`.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::hostile::{self, HostileConfig, Kind};
use crate::stack;
use crate::{
    write_capture_with_keylog, FaultSpec, Format, GenConfig, HttpParams, LinkKind, Suite,
    TlsParams, TsResolution,
};

/// The command line (`--help` has the details).
#[derive(Parser, Debug)]
#[command(
    name = "httshark-gen",
    about = "Write a deterministic HTTP/1.1 capture (pcap/pcapng) and its ground truth (TSV)",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Output capture file.
    #[arg(long, required = true)]
    out: Option<PathBuf>,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Parameter preset: small (the committed fixture), mixed (every feature) or bench
    /// (bulk traffic).
    #[arg(long, default_value = "mixed")]
    profile: String,
    /// Approximate capture size in MB (10^6 bytes); generation stops starting connections
    /// once reached.
    #[arg(long, conflicts_with = "connections")]
    size_mb: Option<f64>,
    /// Number of connections.
    #[arg(long)]
    connections: Option<u64>,
    /// Link type: ethernet, raw, null or sll.
    #[arg(long, default_value = "ethernet")]
    link: String,
    /// Use IPv6 addresses.
    #[arg(long)]
    ipv6: bool,
    /// Faults per frame, e.g. drop=0.01,dup=0.01,reorder=0.05,truncate=0.001,window=4,
    /// swap=0.1,swap_window=6 (swap: two frames exchanged, each keeping its timestamp).
    #[arg(long)]
    faults: Option<String>,
    /// Write the ground truth (one transaction per line) to this TSV file.
    #[arg(long)]
    expected: Option<PathBuf>,
    /// Timestamp resolution of classic pcap: us or ns.
    #[arg(long, default_value = "us")]
    tsres: String,
    /// Write pcapng instead of classic pcap.
    #[arg(long)]
    pcapng: bool,
    /// Cut every frame at this many bytes.
    #[arg(long)]
    snaplen: Option<u32>,
    /// TCP maximum segment size (payload bytes per segment).
    #[arg(long)]
    mss: Option<usize>,
    /// Largest response body in bytes (sizes are log-uniform up to it); smaller values give
    /// more transactions per MB.
    #[arg(long)]
    max_body: Option<u64>,
    /// Share of connections the capture joins after their handshake (midstream), instead
    /// of the profile's.
    #[arg(long)]
    midstream_share: Option<f64>,
    /// Put every connection inside TLS 1.3 (the same HTTP bytes, so the same ground truth
    /// but for times); needs --tls-keylog. Midstream connections get records without
    /// hellos and no key log lines (undecryptable). Faults that lose bytes are refused.
    #[arg(long, requires = "tls_keylog")]
    tls: bool,
    /// Where --tls writes the NSS key log (SSLKEYLOGFILE format) of every connection.
    #[arg(long, requires = "tls")]
    tls_keylog: Option<PathBuf>,
    /// TLS 1.3 cipher suite: aes128 (TLS_AES_128_GCM_SHA256), aes256 or chacha20.
    #[arg(long, default_value = "aes128", requires = "tls")]
    tls_suite: String,
    /// Also log the secrets of midstream connections (under a client random never sent):
    /// a decryptor can only find them by trial decryption.
    #[arg(long, requires = "tls")]
    tls_log_midstream: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write a hostile capture: an attack on a sniffer's memory (syn-flood, pending,
    /// endless-chunked, huge-header, pipelined, ooo-window) interleaved with legitimate
    /// connections.
    Hostile(HostileArgs),
    /// Write one TCP stack behaviour (fast-open, keepalive, zero-window,
    /// simultaneous-open, syn-new-isn, overlap-conflict,
    /// rexmit-after-delivery): one connection, two transactions.
    Stack(StackArgs),
}

#[derive(clap::Args, Debug)]
struct StackArgs {
    /// fast-open, keepalive, zero-window, simultaneous-open, syn-new-isn, overlap-conflict
    /// or rexmit-after-delivery.
    case: String,
    /// Output capture file (classic pcap, Ethernet).
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the transactions' ground truth to this TSV file.
    #[arg(long)]
    expected: Option<PathBuf>,
}

fn run_stack(a: &StackArgs) -> Result<(), String> {
    let names: Vec<&str> = stack::Case::ALL.iter().map(|c| c.as_str()).collect();
    let case = stack::Case::parse(&a.case)
        .ok_or_else(|| format!("unknown case `{}` ({})", a.case, names.join(", ")))?;
    let out = File::create(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let mut tsv = Vec::new();
    let cap = stack::write_case(case, a.seed, BufWriter::new(out), &mut tsv)
        .map_err(|e| format!("writing: {e}"))?;
    if let Some(p) = &a.expected {
        std::fs::write(p, &tsv).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    eprintln!(
        "httshark-gen: stack {}: {} packets, {} transactions",
        case.as_str(),
        cap.packets.len(),
        cap.txs.len()
    );
    Ok(())
}

#[derive(clap::Args, Debug)]
struct HostileArgs {
    /// syn-flood, pending, endless-chunked, huge-header, pipelined or ooo-window.
    kind: String,
    /// Output capture file (classic pcap, Ethernet).
    #[arg(long)]
    out: PathBuf,
    /// Size of the attack in the kind's unit: SYNs (syn-flood, default 1000000),
    /// connections (pending 100000, ooo-window 1000), body bytes (endless-chunked
    /// 2000000000), header value bytes (huge-header 10000000), requests (pipelined 10000).
    #[arg(long)]
    scale: Option<u64>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Legitimate connections spread evenly through the attack.
    #[arg(long, default_value_t = 100)]
    legit: u32,
    /// ooo-window: bytes each connection sends after its lost first segment (the first
    /// connection sends 16 times as many).
    #[arg(long, default_value_t = hostile::DEFAULT_OOO_BYTES)]
    ooo_bytes: u64,
    /// Write the legitimate transactions' ground truth to this TSV file.
    #[arg(long)]
    expected: Option<PathBuf>,
}

/// Attack sizes beyond these would make captures of terabytes (or, for ooo-window, a
/// per-connection plan of gigabytes): refused rather than attempted.
const MAX_SCALE: u64 = 1_000_000_000_000;
const MAX_OOO_CONNECTIONS: u64 = 10_000_000;
const MAX_LEGIT: u32 = 1_000_000;

fn run_hostile(a: &HostileArgs) -> Result<(), String> {
    let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    let kind = Kind::parse(&a.kind)
        .ok_or_else(|| format!("unknown kind `{}` ({})", a.kind, names.join(", ")))?;
    let scale = a.scale.unwrap_or(kind.default_scale());
    if scale > MAX_SCALE || (kind == Kind::OooWindow && scale > MAX_OOO_CONNECTIONS) {
        return Err(format!("--scale {scale}: too large for {}", kind.as_str()));
    }
    if a.legit > MAX_LEGIT {
        return Err(format!("--legit {}: at most {MAX_LEGIT}", a.legit));
    }
    if a.ooo_bytes > MAX_SCALE {
        return Err(format!("--ooo-bytes {}: too large", a.ooo_bytes));
    }
    let cfg = HostileConfig {
        kind,
        scale,
        seed: a.seed,
        legit: a.legit,
        ooo_bytes: a.ooo_bytes,
    };
    let out = File::create(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let out = BufWriter::with_capacity(1 << 20, out);
    let expected = match &a.expected {
        Some(p) => Some(BufWriter::new(
            File::create(p).map_err(|e| format!("{}: {e}", p.display()))?,
        )),
        None => None,
    };
    let sum = hostile::write_hostile(&cfg, out, expected).map_err(|e| format!("writing: {e}"))?;
    eprintln!(
        "httshark-gen: hostile {}: {scale} {}, {} attack connections, {} attack packets; {} legitimate connections, {} transactions; {} packets, {} bytes",
        kind.as_str(),
        kind.unit(),
        sum.attack_connections,
        sum.attack_packets,
        sum.legit_connections,
        sum.legit_transactions,
        sum.packets,
        sum.bytes
    );
    Ok(())
}

fn config(a: &Args) -> Result<GenConfig, String> {
    let mut http = HttpParams::preset(&a.profile, a.seed)
        .ok_or_else(|| format!("unknown profile `{}` (small, mixed, bench)", a.profile))?;
    if let Some(mb) = a.size_mb {
        if !(mb > 0.0 && mb <= 1_000_000.0) {
            return Err(format!("--size-mb {mb}: expected a positive size"));
        }
        http.target_bytes = Some((mb * 1_000_000.0) as u64);
        http.connections = None;
    }
    if let Some(c) = a.connections {
        http.connections = Some(c);
        http.target_bytes = None;
    }
    http.tcp.link = LinkKind::parse(&a.link)
        .ok_or_else(|| format!("unknown link `{}` (ethernet, raw, null, sll)", a.link))?;
    http.ipv6 = a.ipv6;
    if let Some(mss) = a.mss {
        if !(1..=65_000).contains(&mss) {
            return Err(format!("--mss {mss}: expected 1..=65000"));
        }
        http.tcp.mss = mss;
    }
    if let Some(m) = a.midstream_share {
        if !(0.0..=1.0).contains(&m) {
            return Err(format!("--midstream-share {m}: expected a share in [0, 1]"));
        }
        http.midstream_share = m;
    }
    if a.tls {
        let suite = Suite::parse(&a.tls_suite).ok_or_else(|| {
            format!(
                "unknown --tls-suite `{}` (aes128, aes256, chacha20)",
                a.tls_suite
            )
        })?;
        http.tls = Some(TlsParams {
            suite,
            log_midstream: a.tls_log_midstream,
            ..TlsParams::default()
        });
    }
    if let Some(m) = a.max_body {
        http.resp_body.max = m;
        http.resp_body.min = http.resp_body.min.min(m);
    }
    let res = match a.tsres.as_str() {
        "us" => TsResolution::Micro,
        "ns" => TsResolution::Nano,
        other => return Err(format!("unknown --tsres `{other}` (us, ns)")),
    };
    let cfg = GenConfig {
        http,
        faults: a.faults.as_deref().map(FaultSpec::parse).transpose()?,
        format: if a.pcapng {
            Format::Pcapng
        } else {
            Format::Pcap(res)
        },
        snaplen: a.snaplen,
    };
    cfg.validate()?;
    Ok(cfg)
}

/// Parses `args` (the program name first, as `std::env::args_os` gives it) and runs them.
/// A usage error comes back as clap's message, `--help` included.
pub fn run_from<I, T>(args: I) -> Result<(), String>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let a = Args::try_parse_from(args).map_err(|e| e.to_string())?;
    run(&a)
}

/// Writes what `a` asks for, with a one-line summary on standard error.
pub fn run(a: &Args) -> Result<(), String> {
    match &a.command {
        Some(Command::Hostile(h)) => return run_hostile(h),
        Some(Command::Stack(s)) => return run_stack(s),
        None => {}
    }
    let cfg = config(a)?;
    let path = a.out.as_ref().ok_or("--out is required")?;
    let out = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let out = BufWriter::with_capacity(1 << 20, out);
    let expected = match &a.expected {
        Some(p) => Some(BufWriter::new(
            File::create(p).map_err(|e| format!("{}: {e}", p.display()))?,
        )),
        None => None,
    };
    let keylog = match &a.tls_keylog {
        Some(p) => Some(BufWriter::new(
            File::create(p).map_err(|e| format!("{}: {e}", p.display()))?,
        )),
        None => None,
    };
    let sum = write_capture_with_keylog(&cfg, out, expected, keylog)
        .map_err(|e| format!("writing: {e}"))?;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "httshark-gen: {} connections, {} transactions ({} intact), {} packets, {} bytes",
        sum.connections, sum.transactions, sum.intact_transactions, sum.packets, sum.bytes
    );
    if cfg.http.tls.is_some() {
        let _ = writeln!(
            err,
            "httshark-gen: TLS 1.3: {} connections with their hellos and secrets in the key log, {} midstream (no hellos)",
            sum.tls_connections, sum.tls_midstream
        );
    }
    if cfg.faults.is_some() {
        let f = &sum.faults;
        let _ = writeln!(
            err,
            "httshark-gen: faults: {} dropped, {} duplicated, {} reordered, {} truncated",
            f.dropped, f.duplicated, f.reordered, f.truncated
        );
    }
    Ok(())
}
