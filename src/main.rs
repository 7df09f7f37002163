//! The `httshark` binary, thin: arguments -> config (with the pre-capture checks) -> capture
//! -> processors -> pipeline -> summary and exit status.
//!
//! Exit status: 0 when the run completed, 1 when it completed with output errors (or an
//! output failure stopped it), 2 for a bad command line or when the capture or a processor
//! could not be set up, 130 when a second SIGINT/SIGTERM quit at once. Every message on
//! stderr is one line starting with `httshark: `; standard output is left to the `console`
//! and `ndjson` processors.
//!
//! What a run says on stderr, as tcpdump does: one startup line (the source, its link
//! type, the filter and where it came from, where the output goes), then at the end a short
//! summary (why it stopped, packets read and matched, elapsed time and throughput,
//! transactions, what each processor wrote, warnings such as a filter that matched
//! nothing). The full counter table (`httshark: name  value`) comes with `-counters` or
//! `-verbose` 3 and up.

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use httshark::capture::PacketSource;
use httshark::cli::{self, CliError};
use httshark::config::{Config, Source};
use httshark::pipeline::{self, Ended, Summary};
use httshark::time::Timestamp;
use httshark::{output, processor};
use httshark::{stderr_line, stderr_write};

/// The allocator (feature `jemalloc`, on by default): small blocks from jemalloc, large
/// ones from the system's (`httshark::allocator` says why), and jemalloc's options.
#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
mod allocator_setup {
    #[global_allocator]
    static ALLOCATOR: httshark::allocator::SplitAllocator = httshark::allocator::SplitAllocator;

    /// jemalloc's options, read when it starts (`_rjem_` is tikv-jemalloc-sys's symbol
    /// prefix; `_RJEM_MALLOC_CONF` in the environment overrides them): freed pages go back
    /// to the system after 1 s unused instead of jemalloc's 10 s (4-7 MiB less peak RSS on
    /// the bench's HAR runs with jemalloc for every size, at the same speed; at 100 ms its
    /// workers took 10-25% more CPU there). Here, not in the library: the binary is always
    /// linked whole.
    #[export_name = "_rjem_malloc_conf"]
    static JEMALLOC_CONF: Conf = Conf(c"dirty_decay_ms:1000".as_ptr());

    /// A C string pointer in a static, as jemalloc reads `malloc_conf` (`const char *`).
    #[repr(transparent)]
    struct Conf(*const std::ffi::c_char);

    // SAFETY: the pointer is to a 'static C string literal, never written.
    unsafe impl Sync for Conf {}
}

/// Counters printed even when zero: the three numbers every run is judged by.
const ALWAYS_SHOWN: &[&str] = &["packets", "transactions", "unanswered"];

fn main() -> ExitCode {
    let prepared = match cli::prepare(std::env::args_os()) {
        Ok(p) => p,
        Err(CliError::Display(help)) => {
            // --help / --version: clap prints to stdout (with colour on a terminal).
            let _ = help.print();
            return ExitCode::SUCCESS;
        }
        Err(CliError::ListInterfaces) => return list_interfaces(),
        Err(e) => return fail(e.exit_code(), &e),
    };
    let mut config = prepared.config;
    let created_folders = prepared.created_folders;
    // Outputs first: an unwritable output is reported without needing capture privileges.
    // The output folder before the notes and the logger (the log snapshot may live in it).
    // A run refused from here on removes what its outputs created (`output::Undo`).
    let folders: Vec<_> = config
        .output_folders()
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    let undo = output::Undo::record(&folders, &config.output_files());
    let refuse = |e: &dyn std::fmt::Display| {
        undo.run();
        fail(2, e)
    };
    if let Err(e) = output::prepare_output_folder(&config.output_folder) {
        return refuse(&e);
    }
    for note in &prepared.notes {
        stderr_line!("httshark: note: {note}");
    }

    if let Err(e) = httshark::log::init(&config.log) {
        return refuse(&e);
    }
    // -- COMMAND: who runs it, and its private key log (followed like -tls-keylog).
    let command_user = match &config.command {
        // SAFETY: geteuid takes no arguments and cannot fail.
        Some(c) => match httshark::command::run_as(unsafe { libc::geteuid() }, c.as_root, |k| {
            std::env::var(k).ok()
        }) {
            Ok(u) => u,
            Err(e) => return refuse(&e),
        },
        None => None,
    };
    let command_keylog = match &config.command {
        Some(_) => match httshark::command::KeyLog::create(command_user.as_ref()) {
            Ok(k) => {
                config.tls.keylogs.push(k.file.clone());
                Some(k)
            }
            Err(e) => return refuse(&e),
        },
        None => None,
    };
    let mut processors = match processor::build(
        &config.processors,
        config.memory_shares().held(),
        config.metrics_listen.is_some() || config.ui.is_some(),
        config.har.as_deref(),
    ) {
        Ok(p) => p,
        Err(e) => return refuse(&e),
    };
    // The stop signals are caught from here on: anything that answers the outside world
    // (the web view, the metrics socket) is a readiness signal, and a SIGTERM sent after
    // it must flush the run, not kill it.
    let stop = Arc::new(AtomicBool::new(false));
    if let Err(e) = httshark::signals::install_signal_handlers(&stop) {
        return refuse(&e);
    }
    // The web view: bound before the capture opens (a taken port fails fast), served and
    // fed from here on. Its URL carries the token: stderr only.
    let ui_url = match (&config.ui, &processors.metrics) {
        (Some(ui), Some(metrics)) => {
            let bound = match httshark::ui::server::bind(ui) {
                Ok(b) => b,
                Err(e) => return refuse(&e),
            };
            let shared = httshark::ui::Shared::new(ui, metrics.clone(), config.memory_limit as u64);
            let url = bound.url();
            let plain = format!("http://{}/", bound.addr);
            let ui = httshark::ui::processor::UiProcessor::new(shared.clone(), plain.clone());
            metrics.set_counters(&httshark::ui::processor::zeroes(&ui));
            processors.processors.push(Box::new(ui));
            if let Err(e) = bound.serve(shared) {
                return refuse(&e);
            }
            stderr_line!("httshark: ui: open {url}");
            Some(plain)
        }
        _ => None,
    };
    // After the web view's counters joined the registry: the first scrape has every
    // series (a scrape in between lacked the `ui_*` ones: `counters_doc` caught it).
    if let (Some(addr), Some(shared)) = (&config.metrics_listen, &processors.metrics) {
        if let Err(e) = httshark::metrics::serve(addr, shared.clone()) {
            return refuse(&e);
        }
    }
    // The key logs before -Z: they may be readable by root only. Before the capture opens:
    // TLS secrets (a key log, or a pcapng file's own) widen the default filter to HTTPS.
    let keys = match pipeline::Keys::load(&config) {
        Ok(k) => k,
        Err(e) => return refuse(&e),
    };
    for note in &keys.notes {
        stderr_line!("{note}");
    }
    if keys.settings.enabled && config.watch_https_by_default() {
        stderr_line!(
            "httshark: note: TLS secrets given and no -hosts: watching {} (give -hosts for other ports)",
            httshark::config::DEFAULT_HOSTS_WITH_TLS
        );
    }
    let source = match PacketSource::open(&config) {
        Ok(s) => s,
        Err(e) => return refuse(&e),
    };
    // -Z: the capture, the outputs and the metrics socket are open; root is not needed
    // for anything after this point, and the packet parser should not run with it.
    if let Some(user) = &config.run_as {
        let folders = config.output_folders();
        if let Err(e) = httshark::privileges::drop_to(user, &created_folders, &folders) {
            return refuse(&e);
        }
    }
    if !source.is_live() {
        httshark::log_info!(
            "process attribution: off for a capture file (its processes are gone); live captures only"
        );
    }
    // -- COMMAND starts once the capture is open (none of its packets is missed), and only
    // its process tree's traffic is kept.
    let command = match (&config.command, &command_keylog) {
        (Some(c), Some(k)) => {
            match httshark::command::spawn(&c.argv, command_user.as_ref(), &k.file, &stop) {
                Ok(r) => {
                    config.process_filter = Some(httshark::attrib::ProcessFilter::Pid(r.pid()));
                    Some(r)
                }
                Err(e) => return refuse(&e),
            }
        }
        _ => None,
    };
    // Everything is open and set up: say what the run is, once (as tcpdump does).
    stderr_line!("httshark: {}", startup_line(&source.describe(), &config));
    let live = source.is_live();
    let started = WallClock::now();
    match pipeline::run_until(&config, source, processors, keys, &stop) {
        Ok(summary) => {
            httshark::log::flush();
            let end = WallClock::now();
            let run = Run {
                config: &config,
                live,
                elapsed: end.since(started),
                finished: end.at,
            };
            if config.print_counters {
                stderr_write!("{}", format_counters(&summary));
            }
            stderr_write!("{}", format_summary(&summary, &run));
            // Over a file, the view stays up after the end until SIGINT/SIGTERM.
            if let (Some(url), Ended::Source) = (&ui_url, summary.ended) {
                stderr_line!(
                    "httshark: ui: the capture ended; the view stays up at {url} until Ctrl-C"
                );
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            if let Some(running) = command {
                // COMMAND's status, whatever the run's (output errors were printed).
                drop(command_keylog);
                return match running.finish() {
                    Ok(status) => ExitCode::from(httshark::command::exit_code(status)),
                    Err(e) => fail(1, &e),
                };
            }
            if summary.errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            if let Some(running) = command {
                let _ = running.finish();
            }
            fail(1, &e)
        }
    }
}

/// `-D`: the interfaces, one per line on stdout (tcpdump's format), exit status 0.
fn list_interfaces() -> ExitCode {
    match httshark::capture::list_interfaces() {
        Ok(lines) if lines.is_empty() => fail(
            1,
            &"no interface to capture on (as root, or with cap_net_raw,cap_net_admin)",
        ),
        Ok(lines) => {
            let mut out = lines.join("\n");
            out.push('\n');
            use std::io::Write as _;
            let _ = std::io::stdout().write_all(out.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => fail(1, &e),
    }
}

/// The wall clock: the summary's timestamp and elapsed time (this binary is an I/O edge;
/// the pipeline itself only ever sees packet time).
struct WallClock {
    at: Timestamp,
    instant: std::time::Instant,
}

impl WallClock {
    // Elapsed time is measured, not derived from packet time: this binary is an I/O edge.
    #[allow(clippy::disallowed_methods)]
    fn now() -> WallClock {
        use httshark::log::Clock;
        WallClock {
            at: httshark::log::WallClock.now(),
            instant: std::time::Instant::now(),
        }
    }

    fn since(&self, earlier: WallClock) -> Duration {
        self.instant.saturating_duration_since(earlier.instant)
    }
}

/// What the summary needs besides the pipeline's `Summary`.
struct Run<'a> {
    config: &'a Config,
    live: bool,
    elapsed: Duration,
    /// Wall-clock time the run finished.
    finished: Timestamp,
}

/// The capture filter as the user should read it: quoted, with where it came from.
fn filter_text(config: &Config) -> String {
    let filter = config.bpf.trim();
    if filter.is_empty() {
        format!("no filter ({})", config.filter_origin)
    } else {
        format!("'{filter}' ({})", config.filter_origin)
    }
}

/// The one startup line: source and link type (tcpdump's words), filter, outputs.
fn startup_line(source: &str, config: &Config) -> String {
    let outputs: Vec<String> = config
        .processors
        .iter()
        .map(processor::ProcessorConfig::destination)
        .collect();
    let filter = filter_text(config);
    let filter = if config.bpf.trim().is_empty() {
        filter
    } else {
        format!("filter {filter}")
    };
    format!("{source}; {filter}; output: {}", outputs.join(", "))
}

fn fail(code: u8, message: &dyn std::fmt::Display) -> ExitCode {
    stderr_line!("httshark: {}", one_line(&message.to_string()));
    ExitCode::from(code)
}

/// Messages from libpcap or the OS may carry newlines; stderr gets one line per problem.
fn one_line(s: &str) -> String {
    s.split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The full counter table (`-counters`, `-verbose` 3 and up): an aligned `name  value`
/// table of the non-zero counters plus `ALWAYS_SHOWN`, in the pipeline's order.
/// `scripts/outputs-diff.sh` and the tests read these lines.
fn format_counters(summary: &Summary) -> String {
    let rows: Vec<&(&str, u64)> = summary
        .counters
        .iter()
        .filter(|(name, value)| *value != 0 || ALWAYS_SHOWN.contains(name))
        .collect();
    let width = rows.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (name, value) in rows {
        out.push_str(&format!("httshark: {name:<width$}  {value}\n"));
    }
    out
}

/// `0.052 s`, `12.3 s`, `2m5s`.
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.3} s")
    } else if s < 120.0 {
        format!("{s:.1} s")
    } else {
        httshark::go_syntax::format_duration(Duration::from_secs(d.as_secs()))
    }
}

/// The end-of-run summary, for a person: when and why the capture stopped, packets read
/// and matched, throughput, transactions, what each processor wrote; then warnings (a
/// filter that matched nothing says so) and output errors.
fn format_summary(summary: &Summary, run: &Run<'_>) -> String {
    let c = |name| summary.get(name);
    let config = run.config;
    let matched = c("packets");
    let stopped = match summary.ended {
        Ended::Signal => "interrupted".to_string(),
        Ended::Count => format!("-c {} reached", config.count.unwrap_or(0)),
        Ended::Duration => format!(
            "-duration {} reached",
            httshark::go_syntax::format_duration(config.duration.unwrap_or_default())
        ),
        Ended::Source if run.live => "capture ended".to_string(),
        Ended::Source => "end of input".to_string(),
    };
    let filter = filter_text(config);
    let secs = run.elapsed.as_secs_f64();
    let mut out = String::new();
    let mut line = |text: String| out.push_str(&format!("httshark: {text}\n"));
    let (packets, read) = if run.live {
        let dropped = c("kernel_dropped") + c("interface_dropped");
        (
            format!("{matched} packets captured ({filter}), {dropped} dropped by the kernel"),
            matched,
        )
    } else {
        let read = matched + c("filtered_out");
        (
            format!("{read} packets read, {matched} matched {filter}"),
            read,
        )
    };
    let speed = if secs > 0.0 {
        format!(
            "; {:.0} packets/s, {:.1} MB/s",
            read as f64 / secs,
            c("bytes") as f64 / secs / 1e6
        )
    } else {
        String::new()
    };
    line(format!(
        "{} done ({stopped}) in {}: {packets}{speed}",
        httshark::log::format_time(run.finished),
        seconds(run.elapsed),
    ));
    let transactions = c("transactions");
    let unanswered = c("unanswered");
    line(format!(
        "transactions: {transactions} ({} answered, {unanswered} unanswered, {} flagged)",
        transactions.saturating_sub(unanswered),
        summary.flagged
    ));
    for (name, written) in &summary.written {
        line(format!("{name}: {written}"));
    }
    if let Some(cpu) = cpu_line(&summary.cpu) {
        line(cpu);
    }
    for w in summary_warnings(summary, run, read) {
        line(format!("warning: {w}"));
    }
    for w in &summary.warnings {
        out.push_str(&format!("httshark: warning: {}\n", one_line(w)));
    }
    for e in &summary.errors {
        out.push_str(&format!("httshark: error: {}\n", one_line(e)));
    }
    out
}

/// Each stage's CPU time: which one a faster run needs (none when not measured).
fn cpu_line(cpu: &httshark::pipeline::StageCpu) -> Option<String> {
    if cpu.capture + cpu.workers + cpu.outputs == Duration::ZERO {
        return None;
    }
    let workers = match cpu.worker_threads {
        1 => "worker".to_string(),
        n => format!("{n} workers"),
    };
    Some(format!(
        "CPU: capture {}, {workers} {}, outputs {}",
        seconds(cpu.capture),
        seconds(cpu.workers),
        seconds(cpu.outputs)
    ))
}

/// What a person should not miss: a filter that matched nothing, packets without HTTP,
/// kernel drops.
fn summary_warnings(summary: &Summary, run: &Run<'_>, read: u64) -> Vec<String> {
    let c = |name| summary.get(name);
    let config = run.config;
    let matched = c("packets");
    let filter = filter_text(config);
    let mut w = Vec::new();
    let hint = "give -hosts the servers' address or port, or -hosts '' for every TCP connection";
    if matched == 0 && read > 0 {
        w.push(format!("0 of {read} packets matched {filter}; {hint}"));
    } else if matched == 0 && run.live && summary.ended != Ended::Count {
        let on = match &config.source {
            Source::Device(d) => d.as_str(),
            _ => "the interface",
        };
        w.push(format!(
            "no packet matched {filter} on {on} in {}; {hint}",
            seconds(run.elapsed)
        ));
    } else if matched > 0 && c("transactions") == 0 {
        let tls = c("tls_connections");
        let mut text = format!("{matched} packets matched but no HTTP transaction was found");
        if tls > 0 && config.tls.keylogs.is_empty() && c("tls_decrypted_connections") == 0 {
            let stdin = if matches!(config.source, Source::Stdin) {
                "; a pcapng's own secrets are read from a -file path, not from standard input"
            } else {
                ""
            };
            text.push_str(&format!(
                " ({tls} TLS connections: give their clients' key log with -tls-keylog{stdin})"
            ));
        }
        w.push(text);
    }
    // TLS connections that were not decrypted, once per cause (issue 10).
    for (counter, why) in [
        (
            "tls_no_key",
            if run.live {
                "their secrets did not reach the key log within -tls-keylog-wait"
            } else {
                "their secrets are not in the key log"
            },
        ),
        ("tls_no_client_hello", "the capture began after their handshake (for TLS 1.3, -tls-pickup-trial looks for their secret in the key log)"),
        ("tls_unsupported_suite", "their cipher suite is not one httshark decrypts"),
        ("tls_wrong_key", "the key log's secrets for them do not decrypt them"),
    ] {
        let n = c(counter);
        if n > 0 {
            w.push(format!("{n} TLS connections were not decrypted: {why} ({counter})"));
        }
    }
    let outliers = c("timestamp_outliers");
    if outliers > 0 {
        w.push(format!(
            "{outliers} records were stamped more than a day ahead of the capture, and the \
             next record did not follow them there (damaged timestamps?): they were used \
             with the capture's time instead (timestamp_outliers)"
        ));
    }
    // Frames cut by the snaplen: their missing bytes are gaps, and HTTP past a gap is lost.
    let cut = c("snaplen_cut");
    if cut > 0 && c("transactions") == 0 {
        w.push(format!(
            "{cut} packets were cut by the capture's snapshot length, so their HTTP bytes \
             are missing (snaplen_cut): capture with a larger snaplen (tcpdump -s 0)"
        ));
    }
    // Records of decrypted connections that did not authenticate (damage, or bytes the
    // capture lost): each became a gap, so the HTTP entries around it are flagged.
    let failed = c("tls_auth_failures");
    if failed > 0 {
        w.push(format!(
            "{failed} TLS records failed authentication (damaged, misframed, or under a wrong key); their plaintext is a gap (tls_auth_failures)"
        ));
    }
    // The outputs were behind and the workers dropped body bytes rather than packets.
    let shed = c("outputs_behind_bodies_dropped");
    if shed > 0 {
        w.push(format!(
            "{shed} bodies lost their bytes because the outputs were behind the capture (-overload \
             drop-bodies; sizes exact, entries flagged body-dropped-outputs-behind): write to a \
             faster -output-folder, keep fewer body bytes (-max-body-size, -drop-content-type), \
             or -overload wait to slow the capture instead (live, the kernel then drops packets)"
        ));
    }
    // Which stage was behind decides the advice: the first one that made the stage
    // before it wait (the outputs hold up the workers, which hold up the capture).
    let dropped = c("kernel_dropped") + c("interface_dropped");
    if dropped > 0 {
        let outputs = c("output_queue_full_waits") + c("memory_limit_in_flight_waits");
        let advice = if outputs > 0 {
            // Unless the workers did (`-har-encoding`), the output thread also encoded the
            // HAR files' entries (the other outputs encode their own).
            let bodies = config.processors.iter().any(|p| p.writes_entries());
            let har_files = config.processor(processor::har_file::NAME).is_some();
            let on_output = har_files && !summary.workers_encoded_har;
            format!(
                "the outputs were behind (the workers waited for them {outputs} times): write \
                 them to a faster -output-folder{}, or choose fewer -har-processors;{} a larger \
                 -buffer-size rides out bursts",
                if bodies {
                    ", keep fewer body bytes (-max-body-size, -drop-content-type)"
                } else {
                    ""
                },
                match (on_output, config.workers) {
                    (false, _) => "",
                    (true, 0 | 1) => {
                        " -workers 2 -har-encoding workers moves the encoding of the entries off \
                         the output thread;"
                    }
                    (true, _) => {
                        " -har-encoding workers moves the encoding of the entries off the output \
                         thread;"
                    }
                }
            )
        } else if c("worker_queue_full_waits") > 0 {
            format!(
                "the workers were behind (the capture waited for them {} times): raise \
                 -workers if cores are free; a larger -buffer-size rides out bursts",
                c("worker_queue_full_waits")
            )
        } else {
            "raise -buffer-size (no stage of httshark was behind: the capture thread \
             waited for a core)"
                .to_string()
        };
        w.push(format!(
            "{dropped} packets were dropped before httshark read them: {advice}"
        ));
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_table_shows_nonzero_and_key_counters_aligned() {
        let summary = Summary {
            counters: vec![
                ("packets", 0),
                ("bytes", 1234),
                ("connections_opened", 0),
                ("transactions", 7),
                ("unanswered", 0),
                ("body_gaps", 2),
            ],
            ..Summary::default()
        };
        assert_eq!(
            format_counters(&summary),
            "httshark: packets       0\n\
             httshark: bytes         1234\n\
             httshark: transactions  7\n\
             httshark: unanswered    0\n\
             httshark: body_gaps     2\n"
        );
    }

    fn file_run(config: &Config) -> Run<'_> {
        Run {
            config,
            live: false,
            elapsed: Duration::from_millis(500),
            finished: Timestamp::from_secs_nanos(1_700_000_000, 0),
        }
    }

    #[test]
    fn summary_for_a_person() {
        let config = Config {
            bpf: "tcp and (port 80)".into(),
            filter_origin: "-hosts :80".into(),
            ..Config::default()
        };
        let summary = Summary {
            counters: vec![
                ("packets", 100),
                ("filtered_out", 50),
                ("bytes", 2_000_000),
                ("transactions", 7),
                ("unanswered", 2),
            ],
            flagged: 1,
            written: vec![("file", "1 HAR file (7 entries) in out: out/a.har".into())],
            warnings: vec!["file truncated\nin the middle of a record".into()],
            errors: vec!["file: disk full".into()],
            ..Summary::default()
        };
        assert_eq!(
            format_summary(&summary, &file_run(&config)),
            "httshark: 2023-11-14T22:13:20.000Z done (end of input) in 0.500 s: 150 packets \
             read, 100 matched 'tcp and (port 80)' (-hosts :80); 300 packets/s, 4.0 MB/s\n\
             httshark: transactions: 7 (5 answered, 2 unanswered, 1 flagged)\n\
             httshark: file: 1 HAR file (7 entries) in out: out/a.har\n\
             httshark: warning: file truncated in the middle of a record\n\
             httshark: error: file: disk full\n"
        );
    }

    #[test]
    fn the_summary_says_each_stages_cpu_time() {
        let config = Config::default();
        let summary = Summary {
            counters: vec![("packets", 100), ("transactions", 1)],
            cpu: pipeline::StageCpu {
                capture: Duration::from_millis(250),
                workers: Duration::from_millis(1120),
                worker_threads: 2,
                outputs: Duration::from_millis(12_500),
            },
            ..Summary::default()
        };
        let text = format_summary(&summary, &file_run(&config));
        assert!(
            text.contains("httshark: CPU: capture 0.250 s, 2 workers 1.120 s, outputs 12.5 s\n"),
            "{text}"
        );
        let one = pipeline::StageCpu {
            worker_threads: 1,
            ..summary.cpu
        };
        assert!(cpu_line(&one).is_some_and(|l| l.contains(", worker 1.120 s,")));
        assert_eq!(cpu_line(&pipeline::StageCpu::default()), None);
    }

    #[test]
    fn a_filter_that_matched_nothing_is_a_warning() {
        let config = Config {
            source: Source::File("capture.pcapng".into()),
            bpf: "tcp and (port 80)".into(),
            filter_origin: "-hosts :80".into(),
            ..Config::default()
        };
        let summary = Summary {
            counters: vec![("packets", 0), ("filtered_out", 653)],
            ..Summary::default()
        };
        let run = file_run(&config);
        assert_eq!(
            summary_warnings(&summary, &run, 653),
            [
                "0 of 653 packets matched 'tcp and (port 80)' (-hosts :80); give -hosts the \
              servers' address or port, or -hosts '' for every TCP connection"
            ]
        );
        // Nothing read: nothing to warn about (an empty file).
        assert!(summary_warnings(&Summary::default(), &run, 0).is_empty());
        // Live: nothing captured says so too.
        let live = Run {
            live: true,
            ..file_run(&config)
        };
        let w = summary_warnings(&Summary::default(), &live, 0);
        assert!(
            w[0].starts_with("no packet matched 'tcp and (port 80)' (-hosts :80) on "),
            "{w:?}"
        );
        // Packets but no HTTP.
        let summary = Summary {
            counters: vec![
                ("packets", 10),
                ("tls_connections", 2),
                ("kernel_dropped", 3),
            ],
            ..Summary::default()
        };
        assert_eq!(
            summary_warnings(&summary, &run, 10),
            [
                "10 packets matched but no HTTP transaction was found (2 TLS connections: give their clients' key log with -tls-keylog)",
                "3 packets were dropped before httshark read them: raise -buffer-size (no stage of httshark was behind: the capture thread waited for a core)"
            ]
        );
        // The stage that was behind decides the advice (the outputs first).
        let behind = |counters: Vec<(&'static str, u64)>| {
            let summary = Summary {
                counters,
                ..Summary::default()
            };
            summary_warnings(&summary, &run, 10)
                .pop()
                .unwrap_or_default()
        };
        // Bodies dropped rather than packets (-overload drop-bodies) say so, and how to
        // keep them.
        assert_eq!(
            behind(vec![("packets", 10), ("outputs_behind_bodies_dropped", 4)]),
            "4 bodies lost their bytes because the outputs were behind the capture (-overload drop-bodies; sizes exact, entries flagged body-dropped-outputs-behind): write to a faster -output-folder, keep fewer body bytes (-max-body-size, -drop-content-type), or -overload wait to slow the capture instead (live, the kernel then drops packets)"
        );
        let workers = behind(vec![
            ("packets", 10),
            ("kernel_dropped", 2),
            ("interface_dropped", 1),
            ("worker_queue_full_waits", 5),
        ]);
        assert_eq!(
            workers,
            "3 packets were dropped before httshark read them: the workers were behind (the capture waited for them 5 times): raise -workers if cores are free; a larger -buffer-size rides out bursts"
        );
        let outputs = behind(vec![
            ("packets", 10),
            ("kernel_dropped", 3),
            ("worker_queue_full_waits", 5),
            ("output_queue_full_waits", 4),
            ("memory_limit_in_flight_waits", 1),
        ]);
        assert_eq!(
            outputs,
            "3 packets were dropped before httshark read them: the outputs were behind (the workers waited for them 5 times): write them to a faster -output-folder, keep fewer body bytes (-max-body-size, -drop-content-type), or choose fewer -har-processors; -workers 2 -har-encoding workers moves the encoding of the entries off the output thread; a larger -buffer-size rides out bursts"
        );
        // CSV statistics keep no body bytes, and workers that encoded the entries already
        // took that off the output thread: the advice leaves out what would not help.
        let outputs_encoded = |config: &Config, workers_encoded_har: bool| {
            let summary = Summary {
                counters: vec![
                    ("packets", 10),
                    ("kernel_dropped", 3),
                    ("output_queue_full_waits", 4),
                ],
                workers_encoded_har,
                ..Summary::default()
            };
            summary_warnings(&summary, &file_run(config), 10)
                .pop()
                .unwrap_or_default()
        };
        let outputs_with = |config: &Config| outputs_encoded(config, false);
        let csv_only = Config {
            processors: vec![processor::ProcessorConfig::SitesStats(Default::default())],
            ..Config::default()
        };
        assert_eq!(
            outputs_with(&csv_only),
            "3 packets were dropped before httshark read them: the outputs were behind (the workers waited for them 4 times): write them to a faster -output-folder, or choose fewer -har-processors; a larger -buffer-size rides out bursts"
        );
        // NDJSON lines are encoded on the output thread whatever -workers says.
        let ndjson_only = Config {
            processors: vec![processor::ProcessorConfig::Ndjson(Default::default())],
            ..Config::default()
        };
        assert_eq!(
            outputs_with(&ndjson_only),
            "3 packets were dropped before httshark read them: the outputs were behind (the workers waited for them 4 times): write them to a faster -output-folder, keep fewer body bytes (-max-body-size, -drop-content-type), or choose fewer -har-processors; a larger -buffer-size rides out bursts"
        );
        let two_workers = Config {
            workers: 2,
            ..Config::default()
        };
        assert_eq!(
            outputs_encoded(&two_workers, true),
            "3 packets were dropped before httshark read them: the outputs were behind (the workers waited for them 4 times): write them to a faster -output-folder, keep fewer body bytes (-max-body-size, -drop-content-type), or choose fewer -har-processors; a larger -buffer-size rides out bursts"
        );
        // Two workers that left the encoding to the output thread (`-har-encoding auto` on
        // a machine without a CPU per thread).
        assert_eq!(
            outputs_encoded(&two_workers, false),
            "3 packets were dropped before httshark read them: the outputs were behind (the workers waited for them 4 times): write them to a faster -output-folder, keep fewer body bytes (-max-body-size, -drop-content-type), or choose fewer -har-processors; -har-encoding workers moves the encoding of the entries off the output thread; a larger -buffer-size rides out bursts"
        );
        // From standard input a pcapng's own secrets are not read: the hint says so.
        let from_stdin = Config {
            source: Source::Stdin,
            ..Config::default()
        };
        let w = summary_warnings(&summary, &file_run(&from_stdin), 10);
        assert!(
            w[0].ends_with("-tls-keylog; a pcapng's own secrets are read from a -file path, not from standard input)"),
            "{w:?}"
        );
        // TLS that was not decrypted: one line per cause.
        let summary = Summary {
            counters: vec![
                ("packets", 10),
                ("transactions", 1),
                ("tls_no_key", 2),
                ("tls_wrong_key", 1),
                ("tls_auth_failures", 3),
            ],
            ..Summary::default()
        };
        assert_eq!(
            summary_warnings(&summary, &run, 10),
            [
                "2 TLS connections were not decrypted: their secrets are not in the key log (tls_no_key)",
                "1 TLS connections were not decrypted: the key log's secrets for them do not decrypt them (tls_wrong_key)",
                "3 TLS records failed authentication (damaged, misframed, or under a wrong key); their plaintext is a gap (tls_auth_failures)"
            ]
        );
        // Live, a missing secret is one that did not come in time.
        let live = Run {
            live: true,
            ..file_run(&config)
        };
        assert_eq!(
            summary_warnings(&summary, &live, 10)[0],
            "2 TLS connections were not decrypted: their secrets did not reach the key log within -tls-keylog-wait (tls_no_key)"
        );
    }

    #[test]
    fn startup_line_names_source_filter_and_outputs() {
        let config = Config {
            bpf: "tcp and (port 8080)".into(),
            filter_origin: "-hosts :8080".into(),
            output_folder: "out".into(),
            ..Config::default()
        };
        assert_eq!(
            startup_line(
                "listening on lo, link-type EN10MB (Ethernet), snapshot length 262144 bytes",
                &config
            ),
            "listening on lo, link-type EN10MB (Ethernet), snapshot length 262144 bytes; \
             filter 'tcp and (port 8080)' (-hosts :8080); output: file -> ./"
        );
        let config = Config {
            bpf: String::new(),
            filter_origin: "-bpf".into(),
            ..config
        };
        assert!(startup_line("x", &config).contains("; no filter (-bpf); "));
    }

    #[test]
    fn seconds_read_well() {
        assert_eq!(seconds(Duration::from_millis(52)), "0.052 s");
        assert_eq!(seconds(Duration::from_millis(12_345)), "12.3 s");
        assert_eq!(seconds(Duration::from_secs(125)), "2m5s");
    }

    #[test]
    fn one_line_joins_lines() {
        assert_eq!(one_line("a\n  b\r\n\nc"), "a b c");
        assert_eq!(one_line("plain"), "plain");
    }
}
