//! Command-line flags: parsing and validation only (ripgrep's split). `config` holds the
//! resolved values; `Cli::into_config` is the one place that turns the first into the second.
//!
//! HttShark's Go-style spellings keep working as its users typed them (`-device eth0`,
//! `-hosts=:80`, `-split-by-host=false`, bare `-split-by-host`), as do `--device` and the rest.
//! Go's `flag` package treats `-name` and `--name` alike, gives a value either after `=` or as
//! the next token (whatever that token looks like), and never gives a bool flag a separate
//! value. `go_style_args` rewrites every token naming a known long flag into clap's
//! `--name=value` before clap sees it, so both spellings parse to the same `Cli`.
//!
//! What this module deliberately does not do: open the capture or build processors. It
//! does check, before any capture starts, that the input file is readable and that the
//! output folder exists (creating it) and is writable (`check_environment`), so a bad
//! command line never costs a capture.
//!
//! Every error is one line, without the `httshark: ` prefix the binary adds; usage and
//! setup errors exit with status 2, like clap's own.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, FromArgMatches, Parser};

use crate::config::{Config, ProcessorKind, Source};
use crate::hosts::ServerSet;
use crate::processor::stats::group_by::GroupBy;

/// Largest snapshot length libpcap accepts (its `MAXIMUM_SNAPLEN`).
pub const MAX_SNAPLEN: i32 = 262_144;
/// Smallest `-snaplen`: an Ethernet header with a VLAN tag, an IPv6 header and a TCP header
/// with the most options (18 + 40 + 60 = 118 bytes) must fit, or no payload is ever seen.
pub const MIN_SNAPLEN: i32 = 128;
/// Most `-workers`. Connections are sharded over them; more threads than this only add
/// channels and memory on any machine this runs on.
pub const MAX_WORKERS: u16 = 256;

const AFTER_HELP: &str = "\
HttShark's Go spellings work too: -device eth0, -hosts=:80,10.0.0.1:8080, -export-interval=10s,
-split-by-host=false, bare -split-by-host (= true). A bool flag takes its value only after '='.
Durations use Go's syntax: 300ms, 10s, 5m, 1m0s, 1.5h, 1h2m3.5s (units ns, us, ms, s, m, h).
Byte sizes are a number of bytes, optionally followed by KB, MB, GB (powers of 1000)
or KiB, MiB, GiB (powers of 1024): 33554432, 32MiB.

Exit status: 0 when the run completed, 1 when output errors happened during the run,
2 for a bad command line or when the capture or an output could not be set up.";

/// httshark: a passive HTTP/1.x sniffer. Captures packets (live or from a pcap file),
/// reassembles TCP, parses HTTP/1.x, pairs requests with responses and writes HAR files.
#[derive(Parser, Debug, Clone, PartialEq, Eq)]
#[command(
    name = "httshark",
    version,
    args_override_self = true,
    max_term_width = 100,
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// Network interface to capture on, or `any` for all of them.
    /// Exactly one of -device and -file is required. [default: none]
    #[arg(long, value_name = "IFACE")]
    pub device: Option<String>,

    /// pcap or pcapng file to read, `-` for standard input.
    /// Exactly one of -device and -file is required. [default: none]
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,

    /// Comma-separated servers to watch: `ip:port`, `:port` (any address), `ip:` (any port),
    /// IPv6 in brackets (`[::1]:8080`). Builds the capture filter and tells which side of a
    /// connection is the server. An empty list watches every TCP connection.
    #[arg(long, value_name = "LIST", default_value = ":80")]
    pub hosts: String,

    /// Raw libpcap filter used instead of the one built from -hosts (-hosts still tells which
    /// side is the server). An empty filter captures everything. [default: built from -hosts]
    #[arg(long, value_name = "FILTER")]
    pub bpf: Option<String>,

    /// Bytes captured per packet, 128 to 262144. Longer packets are cut and counted.
    #[arg(long, value_name = "BYTES", default_value_t = MAX_SNAPLEN,
          value_parser = clap::value_parser!(i32).range(i64::from(MIN_SNAPLEN)..=i64::from(MAX_SNAPLEN)))]
    pub snaplen: i32,

    /// Kernel capture buffer of a live capture, in bytes (a byte size: 32MiB).
    /// Packets arriving while it is full are dropped by the kernel and counted.
    #[arg(long, value_name = "SIZE", default_value = "32MiB", value_parser = parse_buffer_size)]
    pub buffer_size: i32,

    /// A request with no response for this long is exported unanswered.
    #[arg(long, value_name = "DURATION", default_value = "5m0s", value_parser = parse_positive_duration)]
    pub response_timeout: Duration,

    /// How often requests waiting for a response are checked against -response-timeout.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_positive_duration)]
    pub response_check_interval: Duration,

    /// How often collected transactions are exported to the processors (HAR files).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_positive_duration)]
    pub export_interval: Duration,

    /// Folder for the HAR files; created if missing. Must be writable.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub output_folder: PathBuf,

    /// Split output files by the request's host. Give a value only with '=': -split-by-host=false.
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set, value_parser = parse_go_bool,
          num_args = 0..=1, require_equals = true, default_value = "true", default_missing_value = "true")]
    pub split_by_host: bool,

    /// Comma-separated processors the transactions go to.
    #[arg(long, value_name = "LIST", default_value = "file")]
    pub har_processors: String,

    /// Worker threads that reassemble and parse; connections are sharded over them. 1 to 256.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=i64::from(MAX_WORKERS)))]
    pub workers: u16,

    /// Verbosity, 0 = nothing to 5 = everything.
    #[arg(long, value_name = "LEVEL", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=5))]
    pub verbose: u8,

    /// Body bytes kept per message (a byte size: 10MiB). Longer bodies are cut and counted;
    /// their sizes stay exact. 0 keeps no body bytes.
    #[arg(long, value_name = "SIZE", default_value = "10MiB", value_parser = parse_body_size)]
    pub max_body_size: usize,

    /// Global memory budget (a byte size, at least 8MiB): connection state, out-of-order
    /// data, heads, bodies and pending requests (half, split over the workers), transactions
    /// on their way to the outputs (1/8), HAR entries waiting for their export (1/4) and
    /// sampled transactions (1/8). When a share runs out, bodies stop being kept, the least
    /// recently active connections are evicted, HAR files are written early; each counted.
    #[arg(long, value_name = "SIZE", default_value = "512MiB", value_parser = parse_memory_limit)]
    pub memory_limit: usize,

    /// How often (in capture time) the statistics CSV files are rewritten; also at exit.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_positive_duration)]
    pub stats_interval: Duration,

    /// sites-stats processor: the per-site statistics CSV file.
    #[arg(long, value_name = "PATH", default_value = "statistics.csv")]
    pub sites_stats_file: PathBuf,

    /// sites-stats processor: what a site is: `host` (Host header, else server address),
    /// `path-prefix:N` (first N path segments), `query:NAME` (a query parameter) or
    /// `header:NAME` (a request header).
    #[arg(long, value_name = "SPEC", default_value = "host")]
    pub stats_group_by: String,

    /// transactions-sizes processor: the request sizes CSV file.
    #[arg(long, value_name = "PATH", default_value = "requests_sizes.csv")]
    pub requests_sizes_stats_file: PathBuf,

    /// transactions-sizes processor: the response sizes CSV file.
    #[arg(long, value_name = "PATH", default_value = "responses_sizes.csv")]
    pub responses_sizes_stats_file: PathBuf,

    /// sampled-transactions processor: transactions written per -stats-interval (chosen by
    /// a hash of the transaction, so the same capture gives the same sample).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub sample_transactions_rate: u32,

    /// sampled-transactions processor: folder of the sampled HAR files; created if missing.
    #[arg(long, value_name = "DIR", default_value = "sampled")]
    pub sampled_transactions_folder: PathBuf,

    /// ndjson processor: file the HAR entries are appended to, one per line, `-` for
    /// standard output.
    #[arg(long, value_name = "PATH", default_value = "-")]
    pub ndjson_file: String,

    /// console processor: also print header fields (`> ` request, `< ` response).
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set, value_parser = parse_go_bool,
          num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true")]
    pub head: bool,

    /// console processor: also print decoded bodies (binary ones as a short note).
    #[arg(long, value_name = "BOOL", action = clap::ArgAction::Set, value_parser = parse_go_bool,
          num_args = 0..=1, require_equals = true, default_value = "false", default_missing_value = "true")]
    pub body: bool,

    /// Comma-separated media-type patterns whose bodies are not kept (case-insensitive
    /// substring of the message's own Content-Type). Sizes stay exact; only the text goes.
    /// Ignored when -keep-content-type is given. Empty drops nothing.
    #[arg(long, value_name = "LIST", default_value = "image,audio,video")]
    pub drop_content_type: String,

    /// Comma-separated media-type patterns whose bodies are the only ones kept; when given
    /// it alone decides and -drop-content-type is ignored. [default: none]
    #[arg(long, value_name = "LIST")]
    pub keep_content_type: Option<String>,

    /// Comma-separated header names (case-insensitive) whose values are replaced by
    /// `[redacted]` in every output (HAR, console, statistics), e.g.
    /// Authorization,Cookie,Set-Cookie,Proxy-Authorization. Cookie names are kept; sizes stay
    /// exact. Host can't be redacted. [default: none]
    #[arg(long, value_name = "LIST")]
    pub redact_headers: Option<String>,

    /// After opening the capture and the outputs, drop root and run as USER (as tcpdump -Z).
    /// Output folders created by this run are handed to USER; existing ones must be
    /// writable by USER. [default: none]
    #[arg(short = 'Z', long, value_name = "USER")]
    pub relinquish_privileges: Option<String>,

    /// Serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9100 or :9100).
    /// [default: none]
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,

    /// Repeated log messages of one kind are printed once per this interval, with a count.
    #[arg(long, value_name = "DURATION", default_value = "1m0s", value_parser = parse_go_duration_std)]
    pub aggregated_log_interval: Duration,

    /// Long error texts in logs are cut to this many characters (0: no limit).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limited_error_length: usize,

    /// Log snapshot: keep the last N messages (with -log-snapshot-level > 0). 0: off.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub log_snapshot_amount: usize,

    /// Log snapshot: the file rewritten with the last messages.
    #[arg(long, value_name = "PATH", default_value = "snapshot.log")]
    pub log_snapshot_file: PathBuf,

    /// Log snapshot: how often the file is rewritten (0s: at exit only).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = parse_go_duration_std)]
    pub log_snapshot_interval: Duration,

    /// Log snapshot: keep messages of this verbosity level and below (0: off, 5: all).
    #[arg(long, value_name = "LEVEL", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=5))]
    pub log_snapshot_level: u8,

    /// Ignored, for HttShark command lines: httshark has its own capture engine.
    /// [HttShark's default: tshark]
    #[arg(long, value_name = "ENGINE", value_parser = ["tshark", "httpdump"])]
    pub capture: Option<String>,

    /// Ignored, for HttShark command lines: httshark sizes its channels itself.
    /// [HttShark's default: 1]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64))]
    pub channel_buffer: Option<i64>,

    /// Ignored, for HttShark command lines: a workaround for an httpdump bug httshark does
    /// not have. [HttShark's default: 1024]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64))]
    pub network_stream_channel_size: Option<i64>,

    /// Ignored, for HttShark command lines: a workaround for an httpdump bug httshark does
    /// not have. [HttShark's default: 5s]
    #[arg(long, value_name = "DURATION", value_parser = parse_go_duration)]
    pub network_stream_channel_timeout: Option<i64>,
}

/// Why the command line or the environment it names was refused, or help was asked for.
#[derive(Debug)]
pub enum CliError {
    /// `--help` or `--version`: clap prints it to stdout and the exit status is 0.
    Display(clap::Error),
    /// A bad command line (unknown flag, bad value, missing or conflicting flags).
    Usage(String),
    /// A file or folder named on the command line can't be used.
    Setup(String),
}

impl CliError {
    /// 0 for help and version, 2 for everything else (clap's usage status).
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Display(_) => 0,
            CliError::Usage(_) | CliError::Setup(_) => 2,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Display(e) => write!(f, "{}", e.render()),
            CliError::Usage(m) | CliError::Setup(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CliError {}

/// A validated command line, resolved, with the environment checked.
#[derive(Debug)]
pub struct Prepared {
    pub config: Config,
    /// One-line notes for stderr (ignored HttShark flags).
    pub notes: Vec<String>,
    /// With `-Z`: the output folders that did not exist before this run prepared them,
    /// outermost first; `privileges::drop_to` hands them to the user.
    pub created_folders: Vec<PathBuf>,
}

/// Steps 1 and 2 of a run, before anything touches libpcap: parses `args` (the program name
/// first), validates, resolves the `Config`, checks the input file and prepares the output
/// folder.
pub fn prepare<I, T>(args: I) -> Result<Prepared, CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let cli = Cli::parse_go_style(args)?;
    let notes = cli.compat_notes();
    let config = cli.into_config()?;
    let created_folders = match &config.run_as {
        Some(_) => crate::privileges::missing_folders(&crate::privileges::output_folders(&config)),
        None => Vec::new(),
    };
    check_environment(&config)?;
    Ok(Prepared {
        config,
        notes,
        created_folders,
    })
}

impl Cli {
    /// Parses HttShark-style or clap-style arguments (the program name first).
    pub fn parse_go_style<I, T>(args: I) -> Result<Cli, CliError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        let args = go_style_args(args);
        check_bool_separate_values(&args)?;
        let matches = Cli::command()
            .try_get_matches_from(args)
            .map_err(clap_error)?;
        Cli::from_arg_matches(&matches).map_err(clap_error)
    }

    /// A note for each HttShark flag that was given and is ignored.
    pub fn compat_notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(engine) = &self.capture {
            notes.push(format!(
                "-capture={engine} is ignored: httshark has its own capture engine (libpcap, no tshark or httpdump)"
            ));
        }
        if self.channel_buffer.is_some() {
            notes
                .push("-channel-buffer is ignored: httshark sizes its channels itself".to_string());
        }
        if self.network_stream_channel_size.is_some() {
            notes.push(
                "-network-stream-channel-size is ignored: it worked around an httpdump bug httshark does not have"
                    .to_string(),
            );
        }
        if self.network_stream_channel_timeout.is_some() {
            notes.push(
                "-network-stream-channel-timeout is ignored: it worked around an httpdump bug httshark does not have"
                    .to_string(),
            );
        }
        notes
    }

    /// Checks what clap can't (one source, the hosts list, the processors) and resolves the
    /// flags into a `Config`. Touches no file.
    pub fn into_config(self) -> Result<Config, CliError> {
        let source = match (self.device, self.file) {
            (Some(_), Some(_)) => {
                return Err(CliError::Usage(
                    "give only one of -device and -file, not both".to_string(),
                ))
            }
            (None, None) => {
                return Err(CliError::Usage(
                    "nothing to capture from: give -device <interface> or -file <pcap file>"
                        .to_string(),
                ))
            }
            (Some(device), None) => {
                if device.is_empty() {
                    return Err(CliError::Usage(
                        "-device: the interface name is empty".to_string(),
                    ));
                }
                Source::Device(device)
            }
            (None, Some(file)) if file.as_os_str() == "-" => Source::Stdin,
            (None, Some(file)) => {
                if file.as_os_str().is_empty() {
                    return Err(CliError::Usage("-file: the path is empty".to_string()));
                }
                Source::File(file)
            }
        };
        let servers = ServerSet::parse(&self.hosts).map_err(|e| CliError::Usage(e.to_string()))?;
        let bpf = self.bpf.unwrap_or_else(|| servers.bpf());
        let processors = parse_processors(&self.har_processors).map_err(CliError::Usage)?;
        if self.output_folder.as_os_str().is_empty() {
            return Err(CliError::Usage(
                "-output-folder: the path is empty".to_string(),
            ));
        }

        let mut config = Config {
            source,
            servers,
            bpf,
            snaplen: self.snaplen,
            buffer_size: self.buffer_size,
            response_check_interval: self.response_check_interval,
            export_interval: self.export_interval,
            output_folder: self.output_folder,
            split_by_host: self.split_by_host,
            processors,
            workers: usize::from(self.workers),
            verbose: self.verbose,
            ..Config::default()
        };
        config.stats = crate::config::StatsConfig {
            interval: self.stats_interval,
            sites_file: self.sites_stats_file,
            group_by: GroupBy::parse(&self.stats_group_by).map_err(CliError::Usage)?,
            requests_sizes_file: self.requests_sizes_stats_file,
            responses_sizes_file: self.responses_sizes_stats_file,
            ..config.stats
        };
        config.outputs = crate::config::OutputsConfig {
            console: crate::processor::console::ConsoleConfig {
                head: self.head,
                body: self.body,
                ..Default::default()
            },
            ndjson_file: self.ndjson_file,
            sample_rate: self.sample_transactions_rate as usize,
            sampled_folder: self.sampled_transactions_folder,
        };
        let on_stdout = |k: ProcessorKind| config.processors.contains(&k);
        if on_stdout(ProcessorKind::Console)
            && on_stdout(ProcessorKind::Ndjson)
            && config.outputs.ndjson_file == "-"
        {
            return Err(CliError::Usage(
                "-har-processors: console and ndjson would both write to standard output; give -ndjson-file a path"
                    .to_string(),
            ));
        }
        config.bodies = crate::transform::body_select::BodySelector::new(
            &self.drop_content_type,
            self.keep_content_type.as_deref(),
        )
        .map_err(CliError::Usage)?;
        config.metrics_listen = self.metrics_listen;
        config.redaction = crate::transform::redact::Redaction::parse(
            self.redact_headers.as_deref().unwrap_or(""),
        )
        .map_err(CliError::Usage)?;
        if let GroupBy::Header(name) = &config.stats.group_by {
            if config.processors.contains(&ProcessorKind::SitesStats)
                && config.redaction.covers(name)
            {
                return Err(CliError::Usage(format!(
                    "-stats-group-by header:{name}: that header is in -redact-headers, so every request would be one site"
                )));
            }
        }
        // Looked up now, so a misspelt user is refused before anything is opened.
        config.run_as = match &self.relinquish_privileges {
            Some(name) => Some(crate::privileges::User::lookup(name).map_err(CliError::Usage)?),
            None => None,
        };
        config.log = crate::log::LogConfig {
            verbose: self.verbose,
            aggregate_interval: self.aggregated_log_interval,
            max_error_chars: self.limited_error_length,
            snapshot: crate::log::SnapshotConfig {
                amount: self.log_snapshot_amount,
                file: self.log_snapshot_file,
                interval: self.log_snapshot_interval,
                level: self.log_snapshot_level,
            },
        };
        config.http.response_timeout = self.response_timeout;
        config.http.max_body_keep = self.max_body_size;
        config.memory_limit = self.memory_limit;
        let per_worker = config.memory_shares().per_worker;
        if per_worker < MIN_WORKER_SHARE {
            return Err(CliError::Usage(format!(
                "-memory-limit: {} MiB leaves {} KiB to each of the {} workers (half the budget, \
                 split); give at least {} MiB, or fewer -workers",
                self.memory_limit >> 20,
                per_worker >> 10,
                config.workers,
                (MIN_WORKER_SHARE * 2 * config.workers) >> 20
            )));
        }
        Ok(config)
    }
}

/// Rewrites HttShark's Go-style arguments into clap's spelling. The first item (the program
/// name) is kept as is. A token `-name`, `--name`, `-name=v` or `--name=v` where `name` is a
/// long flag of `Cli` becomes `--name` or `--name=v`; a flag that takes a value and has no
/// `=` takes the next token as its value whatever it looks like (Go's rule), and the pair
/// becomes `--name=next`. Bool flags never take the next token. Everything else (`-`, `-h`,
/// `-V`, values, unknown flags) is left for clap; after `--` nothing is rewritten.
pub fn go_style_args<I, T>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let flags = long_flags();
    let mut out = Vec::new();
    let mut args = args.into_iter().map(Into::into);
    if let Some(program) = args.next() {
        out.push(program);
    }
    while let Some(token) = args.next() {
        if token == "--" {
            out.push(token);
            out.extend(args.by_ref());
            break;
        }
        let Some((name, has_value)) = split_flag(&token) else {
            out.push(token);
            continue;
        };
        let Some(kind) = flags.iter().find(|(n, _)| n == name).map(|(_, k)| *k) else {
            // An unknown `-word`: clap would read it as the short flags -w -o -r -d and
            // report '-w'. As `--word` clap names the whole flag and suggests a near one.
            let is_word = name.len() > 1 && name.starts_with(|c: char| c.is_ascii_alphabetic());
            if is_word && !token.as_encoded_bytes().starts_with(b"--") {
                let mut long = OsString::from("-");
                long.push(&token);
                out.push(long);
            } else {
                out.push(token);
            }
            continue;
        };
        // `-name[=v]` -> `--name[=v]`: a dash in front keeps any value bytes as they are.
        let mut rewritten = if token.as_encoded_bytes().starts_with(b"--") {
            OsString::new()
        } else {
            OsString::from("-")
        };
        rewritten.push(&token);
        if kind == FlagKind::Value && !has_value {
            // Go's rule: the next token is the value even when it starts with '-'.
            if let Some(next) = args.next() {
                rewritten.push("=");
                rewritten.push(next);
            }
        }
        out.push(rewritten);
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FlagKind {
    /// Takes a value, after '=' or as the next token.
    Value,
    /// Takes a value only after '=' (Go's bool flags).
    Bool,
    /// Takes no value (help, version).
    NoValue,
}

/// Every long flag of `Cli`, with how it takes its value; read from clap's own definition so
/// the rewrite can't drift from it.
fn long_flags() -> Vec<(String, FlagKind)> {
    let mut cmd = Cli::command();
    cmd.build();
    cmd.get_arguments()
        .filter_map(|a| {
            let long = a.get_long()?;
            let kind = if !a.get_action().takes_values() {
                FlagKind::NoValue
            } else if a.is_require_equals_set() {
                FlagKind::Bool
            } else {
                FlagKind::Value
            };
            Some((long.to_string(), kind))
        })
        .collect()
}

/// `-name[=value]` or `--name[=value]` -> (name, whether a value follows '='). None for
/// anything else: values, `-`, `--`, `---x`, `-=x`, and names that are not UTF-8.
fn split_flag(token: &OsStr) -> Option<(&str, bool)> {
    let bytes = token.as_encoded_bytes();
    let body = bytes
        .strip_prefix(b"--")
        .or_else(|| bytes.strip_prefix(b"-"))?;
    if body.is_empty() || body.starts_with(b"-") || body.starts_with(b"=") {
        return None;
    }
    let (name, has_value) = match body.iter().position(|&b| b == b'=') {
        Some(eq) => (body.get(..eq)?, true),
        None => (body, false),
    };
    Some((std::str::from_utf8(name).ok()?, has_value))
}

/// `-split-by-host false` is a mistake in Go (a bool flag never takes a separate value: Go
/// stops parsing flags at `false` and silently ignores the rest). Say so instead of letting
/// clap report "unexpected argument 'false'".
fn check_bool_separate_values(args: &[OsString]) -> Result<(), CliError> {
    let bools: Vec<String> = long_flags()
        .into_iter()
        .filter(|(_, k)| *k == FlagKind::Bool)
        .map(|(n, _)| format!("--{n}"))
        .collect();
    let before_dashdash = args.iter().position(|a| a == "--").unwrap_or(args.len());
    for pair in args[..before_dashdash].windows(2) {
        let [flag, value] = pair else { continue };
        let (Some(flag), Some(value)) = (flag.to_str(), value.to_str()) else {
            continue;
        };
        if bools.iter().any(|b| b == flag) && parse_go_bool(value).is_ok() {
            let name = flag.trim_start_matches('-');
            return Err(CliError::Usage(format!(
                "-{name} takes its value only after '=': write -{name}={value}, not -{name} {value}"
            )));
        }
    }
    Ok(())
}

/// Turns a clap error into ours: help and version stay clap's; usage errors become one line
/// naming the flag the way HttShark users spell it (`-name`).
fn clap_error(err: clap::Error) -> CliError {
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => return CliError::Display(err),
        _ => {}
    }
    let arg = match err.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => Some(go_flag_name(s)),
        _ => None,
    };
    let value = match err.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let message = match (err.kind(), arg, value) {
        (ErrorKind::ValueValidation, Some(arg), Some(value)) => {
            let why = std::error::Error::source(&err)
                .map(|e| e.to_string())
                .unwrap_or_else(|| "invalid".into());
            format!("{arg}: invalid value '{value}': {why}")
        }
        (ErrorKind::InvalidValue, Some(arg), Some(value)) if value.is_empty() => {
            format!("{arg}: needs a value")
        }
        (ErrorKind::InvalidValue, Some(arg), Some(value)) => {
            let valid = match err.get(ContextKind::ValidValue) {
                Some(ContextValue::Strings(v)) => format!(" (valid: {})", v.join(", ")),
                _ => String::new(),
            };
            format!("{arg}: invalid value '{value}'{valid}")
        }
        (ErrorKind::UnknownArgument, Some(arg), _) if !arg.starts_with('-') => {
            format!("unexpected argument '{arg}': httshark takes only flags; see -help")
        }
        (ErrorKind::UnknownArgument, Some(arg), _) => {
            let mut m = format!("unknown flag '{arg}'");
            let suggested = match err.get(ContextKind::SuggestedArg) {
                Some(ContextValue::String(s)) => Some(s.as_str()),
                Some(ContextValue::Strings(v)) => v.first().map(String::as_str),
                _ => None,
            };
            if let Some(s) = suggested {
                m.push_str(&format!(" (did you mean {}?)", go_flag_name(s)));
            }
            m.push_str("; see -help");
            m
        }
        _ => condense(&err.render().to_string()),
    };
    CliError::Usage(message)
}

/// `--export-interval <DURATION>` -> `-export-interval`. Short flags and other text as is.
fn go_flag_name(clap_arg: &str) -> String {
    let name = clap_arg.split([' ', '=', '[']).next().unwrap_or(clap_arg);
    match name.strip_prefix("--") {
        Some(long) => format!("-{long}"),
        None => name.to_string(),
    }
}

/// clap's multi-line message as one line: the `error: ` prefix, the usage block and the
/// "for more information" line dropped, the rest joined.
fn condense(rendered: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for line in rendered.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("For more information") {
            continue;
        }
        if line.starts_with("Usage:") {
            break;
        }
        parts.push(line.strip_prefix("error: ").unwrap_or(line));
    }
    let joined = parts.join(" ");
    if joined.is_empty() {
        "bad command line; see -help".to_string()
    } else {
        joined
    }
}

/// Parses `-har-processors`: a comma list of known, distinct processor names.
fn parse_processors(list: &str) -> Result<Vec<ProcessorKind>, String> {
    let known = || {
        ProcessorKind::ALL
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if list.trim().is_empty() {
        return Err(format!(
            "-har-processors: the list is empty (known: {})",
            known()
        ));
    }
    let mut kinds = Vec::new();
    for name in list.split(',').map(str::trim) {
        if name.is_empty() {
            return Err(format!(
                "-har-processors: empty name in '{list}' (known: {})",
                known()
            ));
        }
        let kind = ProcessorKind::parse(name).ok_or_else(|| {
            format!(
                "-har-processors: unknown processor '{name}' (known: {})",
                known()
            )
        })?;
        if kinds.contains(&kind) {
            return Err(format!("-har-processors: '{name}' is listed twice"));
        }
        kinds.push(kind);
    }
    Ok(kinds)
}

/// Go's `strconv.ParseBool`, which `flag` uses for bool flags.
pub fn parse_go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err("not a bool (true, false, 1, 0)".to_string()),
    }
}

/// Go's `time.ParseDuration`, to the nanosecond: a possibly signed sequence of decimal
/// numbers, each with an optional fraction and a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`,
/// `h`), as `300ms`, `-1.5h`, `2h45m`; a bare `0` needs no unit. Returns nanoseconds; the
/// range is Go's (an `i64` of nanoseconds, about 292 years).
pub fn parse_go_duration(s: &str) -> Result<i64, String> {
    const UNITS: &[(&str, u64)] = &[
        ("ns", 1),
        ("us", 1_000),
        ("µs", 1_000), // U+00B5 micro sign
        ("μs", 1_000), // U+03BC Greek small letter mu
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60 * 1_000_000_000),
        ("h", 3600 * 1_000_000_000),
    ];
    const LIMIT: u64 = 1 << 63;
    let invalid = || "not a duration (Go syntax: 300ms, 10s, 5m, 1m0s, 1.5h)".to_string();

    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let is_num = |b: u8| b == b'.' || b.is_ascii_digit();
        if !rest.as_bytes().first().copied().is_some_and(is_num) {
            return Err(invalid());
        }
        // Integer part; overflow is an error, as in Go's leadingInt.
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let mut v: u64 = 0;
        for b in rest.bytes().take(int_len) {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
                .filter(|v| *v <= LIMIT)
                .ok_or_else(invalid)?;
        }
        rest = &rest[int_len..];
        // Fraction part; digits beyond what fits are dropped, as in Go's leadingFraction.
        let (mut frac, mut scale, mut frac_len) = (0u64, 1f64, 0usize);
        if let Some(after_dot) = rest.strip_prefix('.') {
            rest = after_dot;
            let mut overflow = false;
            for b in rest.bytes().take_while(u8::is_ascii_digit) {
                frac_len += 1;
                if overflow {
                    continue;
                }
                match frac
                    .checked_mul(10)
                    .and_then(|f| f.checked_add(u64::from(b - b'0')))
                {
                    Some(f) if f <= LIMIT => {
                        frac = f;
                        scale *= 10.0;
                    }
                    _ => overflow = true,
                }
            }
            rest = &rest[frac_len..];
        }
        if int_len == 0 && frac_len == 0 {
            return Err(invalid()); // "." or ".s"
        }
        let unit_len = rest.bytes().take_while(|&b| !is_num(b)).count();
        if unit_len == 0 {
            return Err(format!(
                "missing unit (Go units: ns, us, ms, s, m, h; as in {s}s)"
            ));
        }
        let unit_str = &rest[..unit_len];
        rest = &rest[unit_len..];
        let unit = UNITS
            .iter()
            .find(|(u, _)| *u == unit_str)
            .map(|(_, n)| *n)
            .ok_or_else(|| format!("unknown unit '{unit_str}' (Go units: ns, us, ms, s, m, h)"))?;
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if frac > 0 {
            // Go computes this in float64 too; the result is exact for any realistic input.
            v = v
                .checked_add((frac as f64 * (unit as f64 / scale)) as u64)
                .ok_or_else(invalid)?;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        total = total
            .checked_add(v)
            .filter(|t| *t <= LIMIT)
            .ok_or_else(invalid)?;
    }
    if neg {
        // -(1 << 63) is i64::MIN, the one value whose magnitude does not fit an i64.
        Ok(0i64.wrapping_sub_unsigned(total))
    } else {
        i64::try_from(total).map_err(|_| invalid())
    }
}

/// A Go duration that must be greater than zero (intervals and timeouts).
/// A Go duration that may be zero (but not negative).
pub fn parse_go_duration_std(s: &str) -> Result<Duration, String> {
    let ns = parse_go_duration(s)?;
    u64::try_from(ns)
        .map(Duration::from_nanos)
        .map_err(|_| "must not be negative".to_string())
}

pub fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    let ns = parse_go_duration(s)?;
    match u64::try_from(ns) {
        Ok(ns) if ns > 0 => Ok(Duration::from_nanos(ns)),
        _ => Err("must be greater than zero".to_string()),
    }
}

/// A byte count: digits, optionally followed (after optional spaces) by a unit, case
/// insensitive: `B`, `KB`/`MB`/`GB` (powers of 1000), `KiB`/`MiB`/`GiB` (powers of 1024).
pub fn parse_byte_size(s: &str) -> Result<u64, String> {
    const UNITS: &[(&str, u64)] = &[
        ("", 1),
        ("b", 1),
        ("kb", 1_000),
        ("mb", 1_000_000),
        ("gb", 1_000_000_000),
        ("kib", 1 << 10),
        ("mib", 1 << 20),
        ("gib", 1 << 30),
    ];
    let s = s.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(
            "not a byte size (a number of bytes, or with a unit: 64KiB, 32MiB, 1GB)".to_string(),
        );
    }
    let n: u64 = s[..digits]
        .parse()
        .map_err(|_| "number too large".to_string())?;
    let unit_str = s[digits..].trim_start().to_ascii_lowercase();
    let unit = UNITS
        .iter()
        .find(|(u, _)| *u == unit_str)
        .map(|(_, m)| *m)
        .ok_or_else(|| {
            format!(
                "unknown unit '{}' (B, KB, MB, GB, KiB, MiB, GiB)",
                s[digits..].trim_start()
            )
        })?;
    n.checked_mul(unit)
        .ok_or_else(|| "number too large".to_string())
}

/// `-buffer-size`: libpcap takes an `int`, and a zero buffer captures nothing.
fn parse_buffer_size(s: &str) -> Result<i32, String> {
    match i32::try_from(parse_byte_size(s)?) {
        Ok(0) => Err("must be greater than zero".to_string()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("at most {} bytes (2GiB - 1)", i32::MAX)),
    }
}

/// `-max-body-size`: any size the address space can hold; 0 keeps no body bytes.
/// `-memory-limit`: below 8 MiB a worker could not hold a few heads of 64 KiB.
fn parse_memory_limit(s: &str) -> Result<usize, String> {
    let n = parse_body_size(s)?;
    if n < MIN_MEMORY_LIMIT {
        return Err("must be at least 8MiB".to_string());
    }
    Ok(n)
}

/// Smallest `-memory-limit` accepted.
pub const MIN_MEMORY_LIMIT: usize = 8 << 20;

/// Smallest share of the budget a worker may get: a few connections with heads and bodies
/// in progress. Below it `-memory-limit` is refused as too small for `-workers`.
pub const MIN_WORKER_SHARE: usize = 1 << 20;

fn parse_body_size(s: &str) -> Result<usize, String> {
    usize::try_from(parse_byte_size(s)?).map_err(|_| "too large for this machine".to_string())
}

/// Checks, before any capture starts, what the command line names on disk: the `-file` must
/// be readable (unless `-`), and the output folder is created if missing and must be a
/// writable directory. A failure here is a `Setup` error (exit status 2). `-Z USER` is
/// checked first (as root anything goes; otherwise only when already USER), then the
/// input, so a refused `-Z` or a bad `-file` creates nothing.
pub fn check_environment(config: &Config) -> Result<(), CliError> {
    if let Some(user) = &config.run_as {
        crate::privileges::check_can_become(user).map_err(CliError::Setup)?;
    }
    if let Source::File(path) = &config.source {
        check_input_file(path)?;
    }
    prepare_output_folder(&config.output_folder)
}

fn check_input_file(path: &Path) -> Result<(), CliError> {
    let shown = path.display();
    let meta = fs::metadata(path)
        .map_err(|e| CliError::Setup(format!("-file '{shown}': {}", io_reason(&e))))?;
    if meta.is_dir() {
        return Err(CliError::Setup(format!(
            "-file '{shown}' is a directory, not a pcap file"
        )));
    }
    // Opening a FIFO or a device would block or consume input here; libpcap opens those.
    if meta.is_file() {
        fs::File::open(path).map_err(|e| {
            CliError::Setup(format!("-file '{shown}' can't be read: {}", io_reason(&e)))
        })?;
    }
    Ok(())
}

/// Creates the output folder if missing and proves it writable by creating and removing a
/// probe file in it (permission bits alone don't tell: ACLs, read-only mounts, root).
pub fn prepare_output_folder(dir: &Path) -> Result<(), CliError> {
    let shown = dir.display();
    if let Ok(meta) = fs::metadata(dir) {
        if !meta.is_dir() {
            return Err(CliError::Setup(format!(
                "-output-folder '{shown}' exists and is not a directory"
            )));
        }
    }
    crate::output::prepare_folder(dir).map_err(|(step, e)| {
        use crate::output::FolderStep;
        let reason = io_reason(&e);
        CliError::Setup(match step {
            FolderStep::Create => format!("-output-folder '{shown}' can't be created: {reason}"),
            FolderStep::Write => format!("-output-folder '{shown}' is not writable: {reason}"),
            FolderStep::Remove => {
                format!("-output-folder '{shown}': can't remove its probe file: {reason}")
            }
        })
    })
}

/// An io::Error as a short reason, without Rust's "(os error N)" suffix.
fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: i64 = 1;
    const US: i64 = 1_000;
    const MS: i64 = 1_000_000;
    const S: i64 = 1_000_000_000;
    const M: i64 = 60 * S;
    const H: i64 = 60 * M;

    fn argv(args: &[&str]) -> Vec<OsString> {
        std::iter::once("httshark")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect()
    }

    fn cli(args: &[&str]) -> Result<Cli, CliError> {
        Cli::parse_go_style(argv(args))
    }

    fn config(args: &[&str]) -> Result<Config, CliError> {
        cli(args)?.into_config()
    }

    /// The message of a usage error; panics on success or on another kind of error.
    fn usage_error(args: &[&str]) -> String {
        match config(args) {
            Err(CliError::Usage(m)) => {
                assert!(
                    !m.contains('\n'),
                    "{args:?}: message is not one line: {m:?}"
                );
                m
            }
            other => panic!("{args:?}: expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn go_spellings_parse_like_double_dash_ones() {
        let pairs: &[(&[&str], &[&str])] = &[
            (&["-device", "eth0"], &["--device", "eth0"]),
            (&["-device=eth0"], &["--device=eth0"]),
            (&["--device", "eth0"], &["--device=eth0"]),
            (
                &["-device", "any", "-hosts=:80,10.0.0.1:8080"],
                &["--device", "any", "--hosts", ":80,10.0.0.1:8080"],
            ),
            (
                &["-device", "eth0", "-hosts", "[::1]:8080,10.0.0.2:"],
                &["--device=eth0", "--hosts=[::1]:8080,10.0.0.2:"],
            ),
            (
                &["--hosts=:80", "-device", "e"],
                &["--hosts", ":80", "--device", "e"],
            ),
            (
                &["-device", "e", "-export-interval=10s"],
                &["--device", "e", "--export-interval", "10s"],
            ),
            (
                &["-device", "e", "-export-interval", "1m0s"],
                &["--device", "e", "--export-interval=60s"],
            ),
            (
                &["-device", "e", "-response-timeout=1.5h"],
                &["--device", "e", "--response-timeout", "90m"],
            ),
            (
                &["-device", "e", "-response-check-interval", "300ms"],
                &["--device", "e", "--response-check-interval=300ms"],
            ),
            (
                &["-device", "e", "-split-by-host=false"],
                &["--device", "e", "--split-by-host=false"],
            ),
            (
                &["-device", "e", "-split-by-host"],
                &["--device", "e", "--split-by-host"],
            ),
            (&["-device", "e", "-split-by-host"], &["--device", "e"]),
            (
                &["-device", "e", "-output-folder", "/tmp/x"],
                &["--device", "e", "--output-folder=/tmp/x"],
            ),
            (
                &["-device", "e", "-har-processors=file"],
                &["--device", "e", "--har-processors", "file"],
            ),
            (
                &["-device", "e", "-bpf", "tcp port 8080"],
                &["--device", "e", "--bpf=tcp port 8080"],
            ),
            (
                &["-device", "e", "-snaplen", "1500"],
                &["--device", "e", "--snaplen=1500"],
            ),
            (
                &["-device", "e", "-buffer-size=64MiB"],
                &["--device", "e", "--buffer-size", "67108864"],
            ),
            (
                &["-device", "e", "-workers", "4"],
                &["--device", "e", "--workers=4"],
            ),
            (
                &["-device", "e", "-verbose=5"],
                &["--device", "e", "--verbose", "5"],
            ),
            (
                &["-device", "e", "-max-body-size", "1KiB"],
                &["--device", "e", "--max-body-size=1024"],
            ),
            (&["-file", "-"], &["--file", "-"]),
            (&["-file=-"], &["--file=-"]),
            (&["-file", "x.pcap"], &["--file=x.pcap"]),
            (
                &["-device", "e", "-capture=httpdump", "-channel-buffer", "1"],
                &[
                    "--device",
                    "e",
                    "--capture",
                    "httpdump",
                    "--channel-buffer=1",
                ],
            ),
            (
                &[
                    "-device",
                    "e",
                    "-network-stream-channel-size=1024",
                    "-network-stream-channel-timeout",
                    "5s",
                ],
                &[
                    "--device",
                    "e",
                    "--network-stream-channel-size",
                    "1024",
                    "--network-stream-channel-timeout=5s",
                ],
            ),
        ];
        for (go, clap) in pairs {
            let a = cli(go).unwrap_or_else(|e| panic!("{go:?}: {e}"));
            let b = cli(clap).unwrap_or_else(|e| panic!("{clap:?}: {e}"));
            assert_eq!(a, b, "{go:?} vs {clap:?}");
            let (ca, cb) = (a.into_config().unwrap(), b.into_config().unwrap());
            assert_eq!(format!("{ca:?}"), format!("{cb:?}"), "{go:?} vs {clap:?}");
        }
    }

    #[test]
    fn rewrite_leaves_values_shorts_and_unknown_tokens_alone() {
        let got = go_style_args(argv(&[
            "-h",
            "-V",
            "-",
            "-device",
            "-weird-name",
            "-split-by-host",
            "-hosts=:80",
            "value",
            "-x",
            "-devise",
            "--",
            "-device",
        ]));
        let want = argv(&[
            "-h",
            "-V",
            "-",
            "--device=-weird-name",
            "--split-by-host",
            "--hosts=:80",
            "value",
            "-x",
            "--devise",
            "--",
            "-device",
        ]);
        assert_eq!(got, want);
        // The program name is never rewritten, even when it looks like a flag.
        assert_eq!(go_style_args(["-device"]), vec![OsString::from("-device")]);
        assert_eq!(
            go_style_args(Vec::<OsString>::new()),
            Vec::<OsString>::new()
        );
    }

    #[test]
    fn value_is_the_next_token_whatever_it_looks_like() {
        let c = config(&["-device", "e", "-bpf", "-not-a-flag"]).unwrap();
        assert_eq!(c.bpf, "-not-a-flag");
        let c = config(&["-device", "-file"]).unwrap();
        assert_eq!(c.source, Source::Device("-file".into()));
        let c = config(&["-device", "e", "-bpf=a=b"]).unwrap();
        assert_eq!(c.bpf, "a=b");
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_values_pass_through() {
        use std::os::unix::ffi::{OsStrExt, OsStringExt};
        let path = OsString::from_vec(b"caf\xe9.pcap".to_vec());
        let mut joined = OsString::from("-file=");
        joined.push(&path);
        for args in [vec![OsString::from("-file"), path.clone()], vec![joined]] {
            let mut all = vec![OsString::from("httshark")];
            all.extend(args);
            let c = Cli::parse_go_style(all).unwrap().into_config().unwrap();
            assert_eq!(c.source, Source::File(PathBuf::from(&path)));
            let Source::File(p) = c.source else {
                unreachable!()
            };
            assert_eq!(p.as_os_str().as_bytes(), b"caf\xe9.pcap");
        }
    }

    #[test]
    fn last_repeated_flag_wins_as_in_go() {
        let c = config(&["-device", "a", "-device", "b", "-hosts=:80", "-hosts=:8080"]).unwrap();
        assert_eq!(c.source, Source::Device("b".into()));
        assert_eq!(c.servers, ServerSet::parse(":8080").unwrap());
        let c = config(&["-device", "a", "-split-by-host=false", "-split-by-host"]).unwrap();
        assert!(c.split_by_host);
    }

    #[test]
    fn good_durations() {
        let table: &[(&str, i64)] = &[
            ("10s", 10 * S),
            ("5m", 5 * M),
            ("1m0s", M),
            ("5m0s", 5 * M),
            ("1h", H),
            ("1h2m3.5s", H + 2 * M + 3 * S + 500 * MS),
            ("300ms", 300 * MS),
            ("1.5h", 90 * M),
            ("0s", 0),
            ("0", 0),
            ("-0", 0),
            ("+0", 0),
            ("+5s", 5 * S),
            ("-1.5h", -90 * M),
            ("1ns", NS),
            ("1us", US),
            ("1µs", US),
            ("1μs", US),
            ("2h45m", 2 * H + 45 * M),
            (".5s", 500 * MS),
            ("1.s", S),
            ("0.000000001s", NS),
            ("1.0000000000000000000000001s", S),
            ("100000000000000000ns", 100_000_000_000_000_000),
            ("2562047h47m16.854775807s", i64::MAX),
            ("-2562047h47m16.854775808s", i64::MIN),
            ("9223372036854775807ns", i64::MAX),
        ];
        for (s, want) in table {
            assert_eq!(parse_go_duration(s), Ok(*want), "{s}");
        }
    }

    #[test]
    fn bad_durations() {
        for s in [
            "",
            "10",
            "1",
            "-",
            "+",
            "s",
            ".",
            ".s",
            "1d",
            "1 s",
            " 1s",
            "1s ",
            "1S",
            "1sec",
            "1h-2m",
            "--1s",
            "+-1s",
            "1e3s",
            "1,5s",
            "0x10s",
            "00",
            "1.5",
            "9223372036854775808ns",
            "2562048h",
            "-9223372036854775809ns",
            "99999999999999999999s",
        ] {
            assert!(parse_go_duration(s).is_err(), "{s:?} should not parse");
        }
        assert!(parse_go_duration("10")
            .unwrap_err()
            .contains("missing unit"));
        assert!(parse_go_duration("3d")
            .unwrap_err()
            .contains("unknown unit 'd'"));
    }

    #[test]
    fn intervals_and_timeouts_must_be_positive() {
        assert_eq!(parse_positive_duration("1ns"), Ok(Duration::from_nanos(1)));
        assert_eq!(
            parse_positive_duration("1h2m3.5s"),
            Ok(Duration::from_millis(3_723_500))
        );
        for s in ["0", "0s", "-1s", "-0"] {
            assert!(parse_positive_duration(s).is_err(), "{s}");
        }
        for flag in [
            "-response-timeout",
            "-response-check-interval",
            "-export-interval",
        ] {
            let m = usage_error(&["-device", "e", flag, "0s"]);
            assert!(m.starts_with(&format!("{flag}: invalid value '0s'")), "{m}");
            assert!(m.contains("greater than zero"), "{m}");
            let m = usage_error(&["-device", "e", &format!("{flag}=-5s")]);
            assert!(m.contains("greater than zero"), "{m}");
            let m = usage_error(&["-device", "e", &format!("{flag}=10")]);
            assert!(m.contains("missing unit"), "{m}");
        }
        let c = config(&[
            "-device",
            "e",
            "-response-timeout=90s",
            "-response-check-interval=2s",
            "-export-interval=1m",
        ])
        .unwrap();
        assert_eq!(c.http.response_timeout, Duration::from_secs(90));
        assert_eq!(c.response_check_interval, Duration::from_secs(2));
        assert_eq!(c.export_interval, Duration::from_secs(60));
    }

    #[test]
    fn bool_forms() {
        let split = |args: &[&str]| {
            let mut all = vec!["-device", "e"];
            all.extend_from_slice(args);
            config(&all).map(|c| c.split_by_host)
        };
        assert!(split(&[]).unwrap(), "default is true");
        for t in ["-split-by-host", "--split-by-host"] {
            assert!(split(&[t]).unwrap());
        }
        for v in ["1", "t", "T", "TRUE", "true", "True"] {
            assert!(split(&[&format!("-split-by-host={v}")]).unwrap(), "{v}");
            assert!(split(&[&format!("--split-by-host={v}")]).unwrap(), "{v}");
        }
        for v in ["0", "f", "F", "FALSE", "false", "False"] {
            assert!(!split(&[&format!("-split-by-host={v}")]).unwrap(), "{v}");
            assert!(!split(&[&format!("--split-by-host={v}")]).unwrap(), "{v}");
        }
        for v in ["yes", "no", "", "tRuE", "2"] {
            let m = usage_error(&["-device", "e", &format!("-split-by-host={v}")]);
            assert!(m.starts_with("-split-by-host: invalid value"), "{m}");
        }
        // Go never gives a bool flag the next token as its value.
        let m = usage_error(&["-device", "e", "-split-by-host", "false"]);
        assert!(m.contains("-split-by-host=false"), "{m}");
        // A bool flag followed by another flag is just the bool.
        assert!(
            config(&["-split-by-host", "-device", "e"])
                .unwrap()
                .split_by_host
        );
    }

    #[test]
    fn hosts_errors_name_the_item() {
        for (hosts, item) in [
            ("80", "80"),
            (":80,:99999", ":99999"),
            ("::1:80", "::1:80"),
            ("x.y:80", "x.y:80"),
            (":0", ":0"),
        ] {
            let m = usage_error(&["-device", "e", &format!("-hosts={hosts}")]);
            assert!(m.starts_with("-hosts: "), "{m}");
            assert!(m.contains(&format!("'{item}'")), "{m}");
        }
        let m = usage_error(&["-device", "e", "-hosts"]);
        assert_eq!(m, "-hosts: needs a value");
    }

    #[test]
    fn hosts_build_the_filter_and_bpf_overrides_it() {
        let c = config(&["-device", "e", "-hosts=:80,10.0.0.1:8080"]).unwrap();
        assert_eq!(c.servers, ServerSet::parse(":80,10.0.0.1:8080").unwrap());
        assert_eq!(c.bpf, "tcp and (port 80 or (host 10.0.0.1 and port 8080))");

        let c = config(&["-device", "e", "-hosts=:8080", "-bpf", "tcp port 9000"]).unwrap();
        assert_eq!(c.bpf, "tcp port 9000");
        assert_eq!(
            c.servers,
            ServerSet::parse(":8080").unwrap(),
            "-hosts still picks the server side"
        );

        let c = config(&["-device", "e", "-bpf="]).unwrap();
        assert_eq!(c.bpf, "", "an explicit empty filter captures everything");

        let c = config(&["-device", "e", "-hosts="]).unwrap();
        assert!(c.servers.specs.is_empty());
        assert_eq!(c.bpf, "tcp");
    }

    #[test]
    fn processors() {
        let c = config(&["-device", "e", "-har-processors", " file "]).unwrap();
        assert_eq!(c.processors, vec![ProcessorKind::File]);
        let m = usage_error(&["-device", "e", "-har-processors=file,nope"]);
        assert!(m.contains("unknown processor 'nope'"), "{m}");
        let known: Vec<&str> = ProcessorKind::ALL.iter().map(|(n, _)| *n).collect();
        assert!(m.contains(&format!("(known: {})", known.join(", "))), "{m}");
        let m = usage_error(&["-device", "e", "-har-processors=file,file"]);
        assert!(m.contains("'file' is listed twice"), "{m}");
        for list in ["", "file,", ",file"] {
            let m = usage_error(&["-device", "e", &format!("-har-processors={list}")]);
            assert!(m.starts_with("-har-processors: "), "{m}");
        }
    }

    #[test]
    fn exactly_one_source() {
        assert!(usage_error(&[]).contains("-device"));
        assert!(
            usage_error(&["-hosts=:80"]).contains("give -device <interface> or -file <pcap file>")
        );
        let m = usage_error(&["-device", "eth0", "-file", "x.pcap"]);
        assert!(m.contains("only one of -device and -file"), "{m}");
        assert_eq!(
            config(&["-device", "any"]).unwrap().source,
            Source::Device("any".into())
        );
        assert_eq!(config(&["-file", "-"]).unwrap().source, Source::Stdin);
        assert_eq!(
            config(&["-file", "./-"]).unwrap().source,
            Source::File("./-".into())
        );
        assert_eq!(
            usage_error(&["-device="]),
            "-device: the interface name is empty"
        );
        assert_eq!(usage_error(&["-file="]), "-file: needs a value");
        assert_eq!(
            usage_error(&["-device", "e", "-output-folder="]),
            "-output-folder: needs a value"
        );
    }

    #[test]
    fn defaults_match_httshark_and_config() {
        let c = config(&["-device", "eth0"]).unwrap();
        // HttShark's README defaults.
        assert_eq!(c.servers, ServerSet::parse(":80").unwrap());
        assert_eq!(c.bpf, "tcp and (port 80)");
        assert_eq!(c.http.response_timeout, Duration::from_secs(5 * 60));
        assert_eq!(c.response_check_interval, Duration::from_secs(10));
        assert_eq!(c.export_interval, Duration::from_secs(10));
        assert_eq!(c.output_folder, PathBuf::from("."));
        assert!(c.split_by_host);
        assert_eq!(c.processors, vec![ProcessorKind::File]);
        assert_eq!(c.verbose, 0);
        // httshark's own.
        assert_eq!(c.snaplen, 262_144);
        assert_eq!(c.buffer_size, 32 << 20);
        assert_eq!(c.workers, 1);
        assert_eq!(c.http.max_body_keep, 10 << 20);
        // Flag defaults and Config::default() must not drift apart.
        let d = Config::default();
        let fields = |c: &Config| {
            format!(
                "{} {} {:?} {:?} {:?} {} {:?} {} {} {} {:?} {:?} {}",
                c.snaplen,
                c.buffer_size,
                c.response_check_interval,
                c.export_interval,
                c.output_folder,
                c.split_by_host,
                c.processors,
                c.workers,
                c.channel_capacity,
                c.verbose,
                c.http,
                c.reassembly,
                c.memory_limit
            )
        };
        assert_eq!(fields(&c), fields(&d));
    }

    #[test]
    fn byte_sizes() {
        let table: &[(&str, u64)] = &[
            ("0", 0),
            ("33554432", 32 << 20),
            ("32MiB", 32 << 20),
            ("32mib", 32 << 20),
            ("32 MiB", 32 << 20),
            ("64KiB", 64 << 10),
            ("1GiB", 1 << 30),
            ("1KB", 1_000),
            ("2MB", 2_000_000),
            ("1gb", 1_000_000_000),
            ("7B", 7),
        ];
        for (s, want) in table {
            assert_eq!(parse_byte_size(s), Ok(*want), "{s}");
        }
        for s in [
            "",
            "MiB",
            "-1",
            "1.5MiB",
            "1K",
            "1M",
            "1 TiB",
            "18446744073709551616",
            "17179869184GiB",
        ] {
            assert!(parse_byte_size(s).is_err(), "{s:?}");
        }
        assert_eq!(parse_buffer_size("2147483647"), Ok(i32::MAX));
        assert!(parse_buffer_size("2GiB").is_err());
        assert!(parse_buffer_size("0").is_err());
        assert_eq!(
            config(&["-device", "e", "-max-body-size=0"])
                .unwrap()
                .http
                .max_body_keep,
            0
        );
        let c = config(&["-device", "e", "-memory-limit", "64MiB", "-workers=2"]).unwrap();
        assert_eq!(c.memory_limit, 64 << 20);
        let shares = c.memory_shares();
        assert_eq!(shares.per_worker, 16 << 20);
        assert_eq!(
            shares.per_worker * 2 + shares.in_flight + shares.har_held + shares.sampled_held,
            64 << 20
        );
        let m = usage_error(&["-device", "e", "-memory-limit=16MiB", "-workers=16"]);
        assert_eq!(
            m,
            "-memory-limit: 16 MiB leaves 512 KiB to each of the 16 workers (half the budget, \
             split); give at least 32 MiB, or fewer -workers"
        );
        assert!(config(&["-device", "e", "-memory-limit=16MiB", "-workers=8"]).is_ok());
        assert!(config(&["-device", "e", "-workers=256"]).is_ok());
        let m = usage_error(&["-device", "e", "-memory-limit=1MiB"]);
        assert!(
            m.starts_with("-memory-limit: invalid value '1MiB': must be at least 8MiB"),
            "{m}"
        );
        let m = usage_error(&["-device", "e", "-buffer-size", "3x"]);
        assert!(
            m.starts_with("-buffer-size: invalid value '3x': unknown unit 'x'"),
            "{m}"
        );
    }

    #[test]
    fn numeric_ranges() {
        assert_eq!(
            config(&["-device", "e", "-snaplen=128"]).unwrap().snaplen,
            128
        );
        assert_eq!(
            config(&["-device", "e", "-workers=256"]).unwrap().workers,
            256
        );
        assert_eq!(config(&["-device", "e", "-verbose=5"]).unwrap().verbose, 5);
        for args in [
            ["-snaplen", "127"],
            ["-snaplen", "262145"],
            ["-snaplen", "abc"],
            ["-workers", "0"],
            ["-workers", "257"],
            ["-verbose", "6"],
            ["-verbose", "-1"],
            ["-channel-buffer", "x"],
        ] {
            let m = usage_error(&["-device", "e", args[0], args[1]]);
            assert!(
                m.starts_with(&format!("{}: invalid value '{}'", args[0], args[1])),
                "{m}"
            );
        }
    }

    #[test]
    fn httshark_only_flags_are_accepted_with_a_note() {
        let c = cli(&["-device", "e"]).unwrap();
        assert!(c.compat_notes().is_empty());
        let c = cli(&[
            "-device",
            "e",
            "-capture=tshark",
            "-channel-buffer=1",
            "-network-stream-channel-size",
            "1024",
            "-network-stream-channel-timeout=5s",
        ])
        .unwrap();
        let notes = c.compat_notes();
        assert_eq!(notes.len(), 4);
        for (note, flag) in notes.iter().zip([
            "-capture",
            "-channel-buffer",
            "-network-stream-channel-size",
            "-network-stream-channel-timeout",
        ]) {
            assert!(
                note.starts_with(flag) && note.contains("ignored") && !note.contains('\n'),
                "{note}"
            );
        }
        let m = usage_error(&["-device", "e", "-capture=wireshark"]);
        assert_eq!(
            m,
            "-capture: invalid value 'wireshark' (valid: tshark, httpdump)"
        );
        let m = usage_error(&["-device", "e", "-network-stream-channel-timeout=5"]);
        assert!(m.contains("missing unit"), "{m}");
    }

    #[test]
    fn unknown_flags_are_named_whole() {
        assert_eq!(
            usage_error(&["-devise", "eth0"]),
            "unknown flag '-devise' (did you mean -device?); see -help"
        );
        assert_eq!(
            usage_error(&["-device", "e", "--hots=:80"]),
            "unknown flag '-hots' (did you mean -hosts?); see -help"
        );
        assert!(usage_error(&["-device", "e", "-zzzzzz"]).starts_with("unknown flag '-zzzzzz'"));
        assert!(usage_error(&["-device", "e", "-x"]).starts_with("unknown flag '-x'"));
        assert!(usage_error(&["-device", "e", "pcap"]).starts_with("unexpected argument 'pcap'"));
        assert!(usage_error(&["-device", "e", "--", "-device"]).contains("'-device'"));
        assert_eq!(usage_error(&["-device"]), "-device: needs a value");
    }

    #[test]
    fn help_and_version_exit_zero() {
        for args in [
            &["-h"][..],
            &["-help"],
            &["--help"],
            &["-device", "e", "-help"],
            &["-V"],
            &["-version"],
            &["--version"],
        ] {
            match cli(args) {
                Err(e @ CliError::Display(_)) => assert_eq!(e.exit_code(), 0, "{args:?}"),
                other => panic!("{args:?}: {other:?}"),
            }
        }
        let Err(CliError::Display(help)) = cli(&["-help"]) else {
            unreachable!()
        };
        let help = help.render().to_string();
        for flag in long_flags().iter().map(|(n, _)| n) {
            assert!(help.contains(&format!("--{flag}")), "help misses --{flag}");
        }
    }

    #[test]
    fn redact_headers_and_run_as_resolve() {
        let c = config(&["-device", "e"]).unwrap();
        assert!(c.redaction.is_noop() && c.run_as.is_none());
        let c = config(&["-device", "e", "-redact-headers", "Cookie, authorization"]).unwrap();
        assert_eq!(c.redaction.names(), ["cookie", "authorization"]);
        let c = config(&["-device", "e", "-Z", "nobody"]).unwrap();
        assert_eq!(c.run_as.unwrap().name, "nobody");
        let c = config(&["-device", "e", "-relinquish-privileges=nobody"]).unwrap();
        assert_eq!(c.run_as.unwrap().name, "nobody");
        assert_eq!(
            usage_error(&["-device", "e", "-Z", "no-such-user-x"]),
            "-Z no-such-user-x: no such user"
        );
        assert!(usage_error(&["-device", "e", "-redact-headers=Host"]).contains("Host"));
        // Grouping by a redacted header only matters when sites-stats runs.
        let group = [
            "-device",
            "e",
            "-redact-headers=X-T",
            "-stats-group-by=header:x-t",
        ];
        assert!(config(&group).is_ok());
        let mut with_stats = group.to_vec();
        with_stats.push("-har-processors=sites-stats");
        assert!(usage_error(&with_stats).starts_with("-stats-group-by header:x-t: "));
    }

    #[test]
    fn usage_errors_exit_two() {
        let e = config(&["-devise"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(CliError::Setup("x".into()).exit_code(), 2);
    }

    #[test]
    fn output_folder_is_created_probed_and_left_clean() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("a/b/c");
        prepare_output_folder(&out).unwrap();
        assert!(out.is_dir());
        assert_eq!(fs::read_dir(&out).unwrap().count(), 0, "probe file removed");
        prepare_output_folder(&out).unwrap(); // existing folder is fine

        let file = tmp.path().join("plain");
        fs::write(&file, b"x").unwrap();
        let Err(CliError::Setup(m)) = prepare_output_folder(&file) else {
            panic!("a file is not a folder")
        };
        assert!(m.contains("is not a directory"), "{m}");
        let Err(CliError::Setup(m)) = prepare_output_folder(&file.join("sub")) else {
            panic!("nothing can be created under a file")
        };
        assert!(
            m.starts_with(&format!(
                "-output-folder '{}' can't be created",
                file.join("sub").display()
            )),
            "{m}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn read_only_output_folder_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let ro = tmp.path().join("ro");
        fs::create_dir(&ro).unwrap();
        fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).unwrap();
        // Root writes anyway; the probe sees what really happens, so only check when it bites.
        let writable = fs::write(ro.join("t"), b"").is_ok();
        let result = prepare_output_folder(&ro);
        fs::set_permissions(&ro, fs::Permissions::from_mode(0o755)).unwrap();
        if writable {
            assert!(result.is_ok());
        } else {
            let Err(CliError::Setup(m)) = result else {
                panic!("read-only folder accepted")
            };
            assert!(m.contains("is not writable"), "{m}");
        }
    }

    #[test]
    fn environment_checks_input_first() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let out_s = out.to_str().unwrap();
        let missing = tmp.path().join("missing.pcap");
        let c = config(&["-file", missing.to_str().unwrap(), "-output-folder", out_s]).unwrap();
        let Err(CliError::Setup(m)) = check_environment(&c) else {
            panic!("missing file accepted")
        };
        assert!(
            m.contains("missing.pcap") && m.contains("No such file"),
            "{m}"
        );
        assert!(!out.exists(), "nothing created when the input is bad");

        let c = config(&[
            "-file",
            tmp.path().to_str().unwrap(),
            "-output-folder",
            out_s,
        ])
        .unwrap();
        let Err(CliError::Setup(m)) = check_environment(&c) else {
            panic!("directory accepted as -file")
        };
        assert!(m.contains("is a directory"), "{m}");

        let pcap = tmp.path().join("in.pcap");
        fs::write(&pcap, b"").unwrap();
        let c = config(&["-file", pcap.to_str().unwrap(), "-output-folder", out_s]).unwrap();
        check_environment(&c).unwrap();
        assert!(out.is_dir());

        // Standard input and live devices are left to the capture.
        check_environment(&config(&["-file", "-", "-output-folder", out_s]).unwrap()).unwrap();
        check_environment(&config(&["-device", "nosuch0", "-output-folder", out_s]).unwrap())
            .unwrap();
    }

    #[test]
    fn prepare_returns_config_and_notes() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("o");
        let p = prepare(argv(&[
            "-device",
            "lo",
            "-capture",
            "tshark",
            "-output-folder",
            out.to_str().unwrap(),
        ]))
        .unwrap();
        assert_eq!(p.config.source, Source::Device("lo".into()));
        assert_eq!(p.notes.len(), 1);
        assert!(out.is_dir());
    }
}
