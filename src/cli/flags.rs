//! The flags, as clap sees them (ripgrep's `defs`): names, help text, value syntax and
//! defaults. Every default is taken from the constant or `Default` impl of the component
//! that uses it, so `-help` can't drift from what the program does.
//!
//! What it does not do: check flags against each other or resolve them (`resolve`).

use std::path::PathBuf;

use clap::Parser;

use super::go::{
    byte_size, go_duration, parse_body_size, parse_buffer_size, parse_go_bool,
    parse_go_duration_std, parse_memory_limit, parse_positive_duration, ByteSize, GoDuration,
};
use crate::config::{
    HarEncoding, Overload, DEFAULT_BUFFER_SIZE, DEFAULT_MEMORY_LIMIT,
    DEFAULT_RESPONSE_CHECK_INTERVAL, DEFAULT_WORKERS, MAX_SNAPLEN,
};
use crate::http::HttpLimits;
use crate::log::{
    LogConfig, SnapshotConfig, DEFAULT_AGGREGATE_INTERVAL, DEFAULT_MAX_ERROR_CHARS,
    DEFAULT_SNAPSHOT_FILE,
};
use crate::processor::console::ConsoleConfig;
use crate::processor::har_file::{self, HarFileConfig};
use crate::processor::stats::group_by::GroupBy;
use crate::processor::{ndjson, sampled, sites_stats, sizes_stats, stats};
use crate::transform::body_select;

/// Smallest `-snaplen`: an Ethernet header with a VLAN tag, an IPv6 header and a TCP header
/// with the most options (18 + 40 + 60 = 118 bytes) must fit, or no payload is ever seen.
pub const MIN_SNAPLEN: i32 = 128;
/// Most `-workers`. Connections are sharded over them; more threads than this only add
/// channels and memory on any machine this runs on.
pub const MAX_WORKERS: u16 = 256;

/// `-h`'s last lines: where the rest is.
const AFTER_SHORT_HELP: &str = "\
-help: every flag, -- COMMAND, value syntaxes, processors, exit statuses and examples.";

/// `-help`'s last lines: syntaxes, processors, exit statuses, examples.
const AFTER_LONG_HELP: &str = "\
HttShark's Go spellings work too: -device eth0, -hosts=:80,10.0.0.1:8080, -export-interval=10s,
-split-by-host=false, bare -split-by-host (= true). A bool flag takes its value only after '='.
Durations use Go's syntax: 300ms, 10s, 5m, 1m0s, 1.5h, 1h2m3.5s (units ns, us, ms, s, m, h).
Byte sizes are a number of bytes, optionally followed by KB, MB, GB (powers of 1000)
or KiB, MiB, GiB (powers of 1024): 33554432, 32MiB.

Processors (-har-processors, comma-separated, each at most once):
  file                  HAR files in -output-folder, one per -export-interval (and host)
  sites-stats           per-site statistics CSV (-sites-stats-file, -stats-group-by)
  transactions-sizes    request and response size histograms (two CSV files)
  sampled-transactions  a deterministic sample per -stats-interval, as HAR files
  ndjson                one HAR entry per line, to -ndjson-file or standard output
  console               one short block per transaction on standard output (-head, -body)

Exit status:
  0    the run completed
  1    output errors happened during the run (or stopped it)
  2    a bad command line, or the capture or an output could not be set up
  130  interrupted twice (the second SIGINT/SIGTERM quits without flushing)

Examples:
  httshark -D
  httshark -device lo -hosts :8080 -har-processors console
  httshark -device eth0 -output-folder out -har-processors file,sites-stats
  httshark -file capture.pcap -hosts '' -output-folder out -c 1000
  tcpdump -i eth0 -w - 'tcp port 80' | httshark -file - -har-processors ndjson";

/// Help headings: the flags in the order a new user looks for them.
const CAPTURE: &str = "Capture";
const OUTPUT: &str = "Output";
const PROCESSORS: &str = "Processors";
const CONSOLE: &str = "Console (-har-processors console)";
const PROCESS: &str = "Processes (live captures; -- COMMAND)";
const LOGGING: &str = "Logging";
const METRICS: &str = "Metrics";
const COMPAT: &str = "HttShark compatibility (ignored)";

/// httshark: a passive HTTP sniffer (HTTP/1.x, HTTP/2, HTTPS with a key log) writing HAR files.
#[derive(Parser, Debug, Clone, PartialEq, Eq)]
#[command(
    name = "httshark",
    version,
    args_override_self = true,
    max_term_width = 100,
    after_help = AFTER_SHORT_HELP,
    after_long_help = AFTER_LONG_HELP
)]
pub struct Cli {
    /// Network interface to capture on, or `any` for all of them (-D lists them).
    ///
    /// Exactly one of -device and -file is required. [default: none]
    #[arg(help_heading = CAPTURE, long, value_name = "IFACE")]
    pub device: Option<String>,

    /// pcap or pcapng file to read, `-` for standard input.
    ///
    /// Exactly one of -device and -file is required. [default: none]
    #[arg(help_heading = CAPTURE, long, value_name = "PATH")]
    pub file: Option<PathBuf>,

    /// Servers to watch: `ip:port`, `:port`, `ip:`, comma-separated; '' for every TCP connection.
    ///
    /// `:port` is any address, `ip:` any port; IPv6 in brackets (`[::1]:8080`). Builds the
    /// capture filter and tells which side of a connection is the server. An empty list
    /// watches every TCP connection. With TLS secrets (-tls-keylog, or a pcapng file's own)
    /// and neither -hosts nor -bpf, the default is `:80,:443`.
    #[arg(help_heading = CAPTURE, long, value_name = "LIST", default_value = crate::config::DEFAULT_HOSTS)]
    pub hosts: String,

    /// Raw libpcap filter used instead of the one built from -hosts.
    ///
    /// -hosts still tells which side is the server. An empty filter captures everything.
    /// [default: built from -hosts]
    #[arg(help_heading = CAPTURE, long, value_name = "FILTER")]
    pub bpf: Option<String>,

    /// Stop after COUNT packets that matched the capture filter (as tcpdump -c).
    /// [default: none]
    #[arg(help_heading = CAPTURE, short = 'c', long = "count", value_name = "COUNT",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Stop after this much capture time (a duration: 30s, 5m).
    ///
    /// Counted from the first packet of a file, from the start of a live capture; packets
    /// stamped later are not used. [default: none]
    #[arg(help_heading = CAPTURE, long, value_name = "DURATION",
          value_parser = go_duration(parse_positive_duration))]
    pub duration: Option<GoDuration>,

    /// Read -file at the pace its packets were captured, times FACTOR: 1 as recorded, 10
    /// ten times as fast; 0 as fast as it can be read. For watching a capture in -ui or
    /// the console as it happened; the output is the same at any pace. [default: 0]
    #[arg(help_heading = CAPTURE, hide_short_help = true, long, value_name = "FACTOR",
          default_value = "0", hide_default_value = true, value_parser = parse_pace)]
    pub file_pace: u32,

    /// NSS key log (SSLKEYLOGFILE) to decrypt HTTPS with; repeatable.
    ///
    /// Written by curl, Firefox, Chrome, Python, Node (--tls-keylog), Go (KeyLogWriter) and
    /// others when SSLKEYLOGFILE is set. A live capture follows the files as they grow (and
    /// reopens them when replaced); a pcapng file's own Decryption Secrets Blocks are read
    /// without it. Whoever holds a key log can read the traffic it covers: keep it private.
    /// [default: none]
    #[arg(help_heading = CAPTURE, long, value_name = "FILE", action = clap::ArgAction::Append)]
    pub tls_keylog: Vec<PathBuf>,

    /// TLS 1.3 connections picked up without their handshake: look for their secret among
    /// the key log's by trial decryption (CPU: up to 1024 trials of a short record each).
    #[arg(help_heading = CAPTURE, hide_short_help = true, long, value_name = "BOOL", action = clap::ArgAction::Set,
          value_parser = parse_go_bool, num_args = 0..=1, require_equals = true,
          default_value_t = false, default_missing_value = "true")]
    pub tls_pickup_trial: bool,

    /// Live capture: how long (capture time) TLS records wait for their secrets to appear in
    /// the key log before the connection is given up (counted as tls_no_key).
    #[arg(help_heading = CAPTURE, hide_short_help = true, long, value_name = "DURATION", default_value_t = GoDuration(crate::tls::DEFAULT_KEYLOG_WAIT),
          value_parser = go_duration(parse_positive_duration))]
    pub tls_keylog_wait: GoDuration,

    /// Live capture: name the local process that owns each connection (HAR `_process`,
    /// the console's `--->` line, -stats-group-by process). Off: no look-ups, and libpcap
    /// keeps its batched (not immediate) delivery. Offline files are never attributed.
    #[arg(help_heading = PROCESS, hide_short_help = true, long, value_name = "BOOL", action = clap::ArgAction::Set,
          value_parser = parse_go_bool, num_args = 0..=1, require_equals = true,
          default_value_t = true, default_missing_value = "true")]
    pub attribution: bool,

    /// Live capture with attribution: libpcap's immediate mode (each packet read at once),
    /// so connections of a millisecond are looked up while they exist. Costs a wake-up per
    /// packet (about 10x the capture's CPU per packet; kernel drops at high rates). Off:
    /// packets come in 2 ms batches and short connections are mostly unattributed.
    /// [default: true with -- COMMAND, else false]
    #[arg(help_heading = PROCESS, hide_short_help = true, long, value_name = "BOOL", action = clap::ArgAction::Set,
          value_parser = parse_go_bool, num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    pub attribution_immediate: Option<bool>,

    /// Keep only the traffic of the process with this pid or command name (comm, or the
    /// executable's file name), and of its descendants. Live captures only. [default: none]
    #[arg(help_heading = PROCESS, hide_short_help = true, long, value_name = "NAME|PID")]
    pub process: Option<String>,

    /// Write every transaction into this one HAR file at the end (atomically), as
    /// httptap's --dump-har; with or without -- COMMAND. [default: none]
    #[arg(help_heading = PROCESS, hide_short_help = true, long, value_name = "FILE")]
    pub har: Option<PathBuf>,

    /// -- COMMAND: run it as root when httshark runs as root without sudo (otherwise
    /// refused: COMMAND runs as SUDO_UID/SUDO_GID under sudo, else as the current user).
    #[arg(help_heading = PROCESS, hide_short_help = true, long, value_name = "BOOL", action = clap::ArgAction::Set,
          value_parser = parse_go_bool, num_args = 0..=1, require_equals = true,
          default_value_t = false, default_missing_value = "true")]
    pub command_as_root: bool,

    /// Run COMMAND and show its HTTP and HTTPS (`httshark [flags] -- COMMAND [ARGS...]`).
    ///
    /// Captures on `any` (or -device) only COMMAND's process tree's connections, prints them
    /// (console), decrypts its HTTPS through an SSLKEYLOGFILE set for it, and exits with its
    /// exit status. [default: none]
    #[arg(last = true, hide_short_help = true, value_name = "COMMAND")]
    pub command: Vec<std::ffi::OsString>,

    /// -hosts was not given (its default applies): `--` COMMAND widens it to every TCP
    /// connection.
    #[arg(skip)]
    pub hosts_defaulted: bool,

    /// -har-processors was not given: `--` COMMAND prints to the console instead.
    #[arg(skip)]
    pub processors_defaulted: bool,

    /// Live-capture flags given on the command line (`-snaplen`, `-buffer-size`): a note
    /// says they do nothing when reading a file.
    #[arg(skip)]
    pub live_flags_given: Vec<&'static str>,

    /// List the interfaces that can be captured on, and exit (as tcpdump -D).
    #[arg(help_heading = CAPTURE, short = 'D', long = "list-interfaces")]
    pub list_interfaces: bool,

    /// Bytes captured per packet, 128 to 262144. Longer packets are cut and counted.
    #[arg(help_heading = CAPTURE, hide_short_help = true, long, value_name = "BYTES", default_value_t = MAX_SNAPLEN,
          value_parser = clap::value_parser!(i32).range(i64::from(MIN_SNAPLEN)..=i64::from(MAX_SNAPLEN)))]
    pub snaplen: i32,

    /// Kernel capture buffer of a live capture, in bytes (a byte size: 64MiB).
    /// Packets arriving while it is full are dropped by the kernel and counted.
    #[arg(help_heading = CAPTURE, hide_short_help = true, long, value_name = "SIZE", default_value_t = ByteSize(DEFAULT_BUFFER_SIZE),
          value_parser = byte_size(parse_buffer_size))]
    pub buffer_size: ByteSize<i32>,

    /// A request with no response for this long is exported unanswered.
    #[arg(help_heading = CAPTURE, long, value_name = "DURATION", default_value_t = GoDuration(HttpLimits::default().response_timeout),
          value_parser = go_duration(parse_positive_duration))]
    pub response_timeout: GoDuration,

    /// How often requests waiting for a response are checked against -response-timeout.
    #[arg(help_heading = CAPTURE, hide_short_help = true, long, value_name = "DURATION", default_value_t = GoDuration(DEFAULT_RESPONSE_CHECK_INTERVAL),
          value_parser = go_duration(parse_positive_duration))]
    pub response_check_interval: GoDuration,

    /// How often collected transactions are exported to the processors (HAR files).
    #[arg(help_heading = OUTPUT, long, value_name = "DURATION", default_value_t = GoDuration(har_file::DEFAULT_EXPORT_INTERVAL),
          value_parser = go_duration(parse_positive_duration))]
    pub export_interval: GoDuration,

    /// Folder for the HAR files and for every output given as a relative path.
    ///
    /// Unless their flags give absolute paths, every other file the run writes goes under it
    /// (statistics CSVs, sampled HAR, NDJSON, log snapshot). Created if missing. Must be
    /// writable.
    #[arg(help_heading = OUTPUT, long, value_name = "DIR", default_value = har_file::DEFAULT_FOLDER)]
    pub output_folder: PathBuf,

    /// Split output files by the request's host. Give a value only with '=': -split-by-host=false.
    #[arg(help_heading = OUTPUT, long, value_name = "BOOL", action = clap::ArgAction::Set, value_parser = parse_go_bool,
          num_args = 0..=1, require_equals = true, default_value_t = HarFileConfig::default().split_by_host,
          default_missing_value = "true")]
    pub split_by_host: bool,

    /// Comma-separated processors the transactions go to: file, sites-stats,
    /// transactions-sizes, sampled-transactions, ndjson, console (-help says what each does).
    #[arg(help_heading = PROCESSORS, long, value_name = "LIST", default_value = har_file::NAME)]
    pub har_processors: String,

    /// Worker threads that reassemble and parse; connections are sharded over them. 1 to 256.
    ///
    /// Give each worker a core of its own beside the capture thread's: on 2 cores a second
    /// worker shares one, and reading 1 GB files it ran CSV only from 5% faster (many
    /// connections) to 17% slower (few), HAR output from 10% faster to 18% slower
    /// (docs/benchmarks.md: the bench and Scaling).
    #[arg(help_heading = CAPTURE, long, value_name = "N", default_value_t = DEFAULT_WORKERS,
          value_parser = clap::value_parser!(u16).range(1..=i64::from(MAX_WORKERS)))]
    pub workers: u16,

    /// Which threads encode HAR entries: workers (in parallel), processor (the thread that
    /// writes them), or auto: the workers when -workers is 2 or more and the capture is live
    /// or every thread (capture, workers, processor) has a CPU of its own, else the processor
    /// thread (docs/architecture.md has the measurements). Same output.
    #[arg(help_heading = CAPTURE, hide_short_help = true, long, value_name = "WHERE",
          default_value = "auto", value_parser = HarEncoding::parse)]
    pub har_encoding: HarEncoding,

    /// When the outputs fall behind the traffic: drop-bodies keeps every transaction and,
    /// once a batch has waited 20 ms for the outputs, drops the body bytes of the largest
    /// ones until the rest fits in the bytes allowed in flight (sizes stay exact; flagged body-dropped-outputs-behind, counted
    /// outputs_behind_bodies_dropped); wait slows the capture instead (live, the kernel then
    /// drops packets once -buffer-size is full); auto: drop-bodies on a live capture, wait
    /// when reading a file (a replay gives the same output every time).
    #[arg(help_heading = CAPTURE, hide_short_help = true, long, value_name = "POLICY",
          default_value = "auto", value_parser = Overload::parse)]
    pub overload: Overload,

    /// Verbosity, 0 = nothing to 5 = everything; 3 or more also prints every counter at the end.
    #[arg(help_heading = LOGGING, long, value_name = "LEVEL", default_value_t = LogConfig::default().verbose,
          value_parser = clap::value_parser!(u8).range(0..=5))]
    pub verbose: u8,

    /// Print every non-zero counter at the end, one `httshark: name value` line each.
    #[arg(help_heading = LOGGING, long, value_name = "BOOL", action = clap::ArgAction::Set,
          value_parser = parse_go_bool, num_args = 0..=1, require_equals = true,
          default_value_t = false, default_missing_value = "true")]
    pub counters: bool,

    /// Body bytes kept per message (a byte size: 10MiB).
    ///
    /// Longer bodies are cut and counted; their sizes stay exact. 0 keeps no body bytes.
    #[arg(help_heading = OUTPUT, long, value_name = "SIZE", default_value_t = ByteSize(HttpLimits::default().max_body_keep),
          value_parser = byte_size(parse_body_size))]
    pub max_body_size: ByteSize<usize>,

    /// Global memory budget (a byte size, at least 8MiB).
    ///
    /// What it covers: connection state, out-of-order
    /// data, heads, bodies and pending requests (half, split over the workers), transactions
    /// on their way to the outputs (1/8), HAR entries waiting for their export (1/4) and
    /// sampled transactions (1/8). When a share runs out, bodies stop being kept, the least
    /// recently active connections are evicted, HAR files are written early; each counted.
    #[arg(help_heading = CAPTURE, long, value_name = "SIZE", default_value_t = ByteSize(DEFAULT_MEMORY_LIMIT),
          value_parser = byte_size(parse_memory_limit))]
    pub memory_limit: ByteSize<usize>,

    /// How often (in capture time) the statistics CSV files are rewritten; also at exit.
    #[arg(help_heading = PROCESSORS, long, value_name = "DURATION", default_value_t = GoDuration(stats::common::DEFAULT_INTERVAL),
          value_parser = go_duration(parse_positive_duration))]
    pub stats_interval: GoDuration,

    /// sites-stats processor: the per-site statistics CSV file (relative: under
    /// -output-folder).
    #[arg(help_heading = PROCESSORS, long, value_name = "PATH", default_value = sites_stats::DEFAULT_PATH)]
    pub sites_stats_file: PathBuf,

    /// sites-stats processor: what a site is: `host` (Host header, else server address),
    /// `path-prefix:N` (first N path segments), `query:NAME` (a query parameter) or
    /// `header:NAME` (a request header).
    #[arg(help_heading = PROCESSORS, hide_short_help = true, long, value_name = "SPEC", default_value_t = GroupBy::default().to_string())]
    pub stats_group_by: String,

    /// transactions-sizes processor: the request sizes CSV file (relative: under
    /// -output-folder).
    #[arg(help_heading = PROCESSORS, hide_short_help = true, long, value_name = "PATH", default_value = sizes_stats::DEFAULT_REQUESTS_PATH)]
    pub requests_sizes_stats_file: PathBuf,

    /// transactions-sizes processor: the response sizes CSV file (relative: under
    /// -output-folder).
    #[arg(help_heading = PROCESSORS, hide_short_help = true, long, value_name = "PATH", default_value = sizes_stats::DEFAULT_RESPONSES_PATH)]
    pub responses_sizes_stats_file: PathBuf,

    /// sampled-transactions processor: transactions written per -stats-interval (chosen by
    /// a hash of the transaction, so the same capture gives the same sample).
    #[arg(help_heading = PROCESSORS, hide_short_help = true, long, value_name = "N", default_value_t = sampled::DEFAULT_RATE as u32,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub sample_transactions_rate: u32,

    /// sampled-transactions processor: folder of the sampled HAR files (relative: under
    /// -output-folder); created if missing.
    #[arg(help_heading = PROCESSORS, hide_short_help = true, long, value_name = "DIR", default_value = sampled::DEFAULT_FOLDER)]
    pub sampled_transactions_folder: PathBuf,

    /// ndjson processor: file the HAR entries are appended to, one per line (relative:
    /// under -output-folder), `-` for standard output.
    #[arg(help_heading = PROCESSORS, long, value_name = "PATH", default_value = ndjson::STDOUT)]
    pub ndjson_file: String,

    /// console processor: also print header fields (`> ` request, `< ` response).
    #[arg(help_heading = CONSOLE, long, value_name = "BOOL", action = clap::ArgAction::Set, value_parser = parse_go_bool,
          num_args = 0..=1, require_equals = true, default_value_t = ConsoleConfig::default().head,
          default_missing_value = "true")]
    pub head: bool,

    /// console processor: also print decoded bodies (binary ones as a short note).
    #[arg(help_heading = CONSOLE, long, value_name = "BOOL", action = clap::ArgAction::Set, value_parser = parse_go_bool,
          num_args = 0..=1, require_equals = true, default_value_t = ConsoleConfig::default().body,
          default_missing_value = "true")]
    pub body: bool,

    /// Comma-separated media-type patterns whose bodies are not kept (case-insensitive
    /// substring of the message's own Content-Type). Sizes stay exact; only the text goes.
    /// Ignored when -keep-content-type is given. Empty drops nothing.
    #[arg(help_heading = OUTPUT, hide_short_help = true, long, value_name = "LIST", default_value = body_select::DEFAULT_DROP)]
    pub drop_content_type: String,

    /// Comma-separated media-type patterns whose bodies are the only ones kept; when given
    /// it alone decides and -drop-content-type is ignored. [default: none]
    #[arg(help_heading = OUTPUT, hide_short_help = true, long, value_name = "LIST")]
    pub keep_content_type: Option<String>,

    /// Header names whose values are replaced by `[redacted]` in every output.
    ///
    /// Comma-separated, case-insensitive; every output (HAR, console, statistics), e.g.
    /// Authorization,Cookie,Set-Cookie,Proxy-Authorization. Cookie names are kept; sizes stay
    /// exact. Host can't be redacted. [default: none]
    #[arg(help_heading = OUTPUT, long, value_name = "LIST")]
    pub redact_headers: Option<String>,

    /// After opening the capture and the outputs, drop root and run as USER (as tcpdump -Z).
    /// Output folders created by this run are handed to USER; existing ones must be
    /// writable by USER. [default: none]
    #[arg(help_heading = CAPTURE, hide_short_help = true, short = 'Z', long, value_name = "USER")]
    pub relinquish_privileges: Option<String>,

    /// Serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9100 or :9100).
    ///
    /// [default: none]
    #[arg(help_heading = METRICS, long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,

    /// Serve the live web view on ADDR, e.g. 127.0.0.1:8484.
    ///
    /// Port 0 picks one (docs/ui.md). The URL with a per-run access token is printed on stderr. Loopback only, unless
    /// -ui-token-file is given. Over a file, the view stays up after the end until Ctrl-C.
    /// [default: none]
    #[arg(help_heading = OUTPUT, long, value_name = "ADDR")]
    pub ui: Option<String>,

    /// A file whose first line is the view's access token (at least 16 characters);
    /// required to bind -ui to a non-loopback address. [default: a random token per run]
    #[arg(help_heading = OUTPUT, hide_short_help = true, long, value_name = "FILE")]
    pub ui_token_file: Option<PathBuf>,

    /// Extra Host names the view answers to (comma-separated), e.g. a reverse proxy's
    /// name; loopback names and IP addresses are always accepted. [default: none]
    #[arg(help_heading = OUTPUT, hide_short_help = true, long, value_name = "LIST")]
    pub ui_allowed_hosts: Option<String>,

    /// Most transactions the view holds; older ones are evicted (and counted).
    #[arg(help_heading = OUTPUT, hide_short_help = true, long, value_name = "N", default_value_t = crate::ui::DEFAULT_MAX_ENTRIES)]
    pub ui_max_entries: usize,

    /// Most bytes the view holds (entries with their bodies), part of -memory-limit: at
    /// most a quarter of it. [default: 64MiB, or -memory-limit/8 when smaller]
    #[arg(help_heading = OUTPUT, hide_short_help = true, long, value_name = "SIZE",
          value_parser = byte_size(parse_body_size))]
    pub ui_memory: Option<ByteSize<usize>>,

    /// Repeated log messages of one kind are printed once per this interval, with a count.
    #[arg(help_heading = LOGGING, hide_short_help = true, long, value_name = "DURATION", default_value_t = GoDuration(DEFAULT_AGGREGATE_INTERVAL),
          value_parser = go_duration(parse_go_duration_std))]
    pub aggregated_log_interval: GoDuration,

    /// Long error texts in logs are cut to this many characters (0: no limit).
    #[arg(help_heading = LOGGING, hide_short_help = true, long, value_name = "N", default_value_t = DEFAULT_MAX_ERROR_CHARS)]
    pub limited_error_length: usize,

    /// Log snapshot: keep the last N messages (with -log-snapshot-level > 0). 0: off.
    #[arg(help_heading = LOGGING, hide_short_help = true, long, value_name = "N", default_value_t = SnapshotConfig::default().amount)]
    pub log_snapshot_amount: usize,

    /// Log snapshot: the file rewritten with the last messages (relative: under
    /// -output-folder).
    #[arg(help_heading = LOGGING, hide_short_help = true, long, value_name = "PATH", default_value = DEFAULT_SNAPSHOT_FILE)]
    pub log_snapshot_file: PathBuf,

    /// Log snapshot: how often the file is rewritten (0s: at exit only).
    #[arg(help_heading = LOGGING, hide_short_help = true, long, value_name = "DURATION", default_value_t = GoDuration(SnapshotConfig::default().interval),
          value_parser = go_duration(parse_go_duration_std))]
    pub log_snapshot_interval: GoDuration,

    /// Log snapshot: keep messages of this verbosity level and below (0: off, 5: all).
    #[arg(help_heading = LOGGING, hide_short_help = true, long, value_name = "LEVEL", default_value_t = SnapshotConfig::default().level,
          value_parser = clap::value_parser!(u8).range(0..=5))]
    pub log_snapshot_level: u8,

    /// Ignored, for HttShark command lines: httshark has its own capture engine.
    /// [HttShark's default: tshark]
    #[arg(help_heading = COMPAT, hide_short_help = true, long, value_name = "ENGINE", value_parser = ["tshark", "httpdump"])]
    pub capture: Option<String>,

    /// Ignored, for HttShark command lines: httshark sizes its channels itself.
    /// [HttShark's default: 1]
    #[arg(help_heading = COMPAT, hide_short_help = true, long, value_name = "N", value_parser = clap::value_parser!(i64))]
    pub channel_buffer: Option<i64>,

    /// Ignored, for HttShark command lines: a workaround for an httpdump bug httshark does
    /// not have. [HttShark's default: 1024]
    #[arg(help_heading = COMPAT, hide_short_help = true, long, value_name = "N", value_parser = clap::value_parser!(i64))]
    pub network_stream_channel_size: Option<i64>,

    /// Ignored, for HttShark command lines: a workaround for an httpdump bug httshark does
    /// not have. [HttShark's default: 5s]
    #[arg(help_heading = COMPAT, hide_short_help = true, long, value_name = "DURATION", value_parser = crate::go_syntax::parse_go_duration)]
    pub network_stream_channel_timeout: Option<i64>,
}

/// `-file-pace`: a factor from 0 to 1,000,000, kept in thousandths (so flags and config
/// stay `Eq`).
fn parse_pace(s: &str) -> Result<u32, String> {
    match s.trim().parse::<f64>() {
        Ok(f) if f.is_finite() && (0.0..=1e6).contains(&f) => Ok((f * 1000.0).round() as u32),
        _ => Err(format!(
            "{s:?} is not a pace factor (a number from 0 to 1000000: 1 replays as recorded)"
        )),
    }
}
