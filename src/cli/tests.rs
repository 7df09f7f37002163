use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use super::go::*;
use super::*;
use crate::config::Source;
use crate::hosts::ServerSet;

pub(super) const NS: i64 = 1;
pub(super) const US: i64 = 1_000;
pub(super) const MS: i64 = 1_000_000;
pub(super) const S: i64 = 1_000_000_000;
pub(super) const M: i64 = 60 * S;
pub(super) const H: i64 = 60 * M;

pub(super) fn argv(args: &[&str]) -> Vec<OsString> {
    std::iter::once("httshark")
        .chain(args.iter().copied())
        .map(OsString::from)
        .collect()
}

/// The `file` processor's settings (every test command line runs it).
pub(super) fn har(c: &Config) -> crate::processor::har_file::HarFileConfig {
    match c.processor("file") {
        Some(crate::processor::ProcessorConfig::File(h)) => h.clone(),
        other => panic!("no file processor: {other:?}"),
    }
}

fn names(c: &Config) -> Vec<&'static str> {
    c.processors.iter().map(|p| p.name()).collect()
}

pub(super) fn cli(args: &[&str]) -> Result<Cli, CliError> {
    Cli::parse_go_style(argv(args))
}

pub(super) fn config(args: &[&str]) -> Result<Config, CliError> {
    cli(args)?.into_config()
}

/// The message of a usage error; panics on success or on another kind of error.
pub(super) fn usage_error(args: &[&str]) -> String {
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
    assert!(har(&c).split_by_host);
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
    assert_eq!(names(&c), ["file"]);
    let m = usage_error(&["-device", "e", "-har-processors=file,nope"]);
    assert!(m.contains("unknown processor 'nope'"), "{m}");
    let known: Vec<&str> = crate::processor::NAMES.to_vec();
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
    assert!(usage_error(&["-hosts=:80"]).contains("give -device <interface> or -file <pcap file>"));
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
    assert_eq!(har(&c).interval, Duration::from_secs(10));
    assert_eq!(c.output_folder, PathBuf::from("."));
    assert!(har(&c).split_by_host);
    assert_eq!(names(&c), ["file"]);
    assert_eq!(c.log.verbose, 0);
    // httshark's own.
    assert_eq!(c.snaplen, 262_144);
    assert_eq!(c.buffer_size, 64 << 20);
    assert_eq!(c.workers, 1);
    assert_eq!(c.http.max_body_keep, 10 << 20);
    // The flag defaults are the components' own (`Config::default()`, the limit structs
    // and processor configs): resolved with no flags, they are those values.
    let d = Config::default();
    assert_eq!(c.snaplen, d.snaplen);
    assert_eq!(c.buffer_size, d.buffer_size);
    assert_eq!(c.response_check_interval, d.response_check_interval);
    assert_eq!(c.output_folder, d.output_folder);
    assert_eq!(c.processors, d.processors);
    assert_eq!(c.stats_interval, d.stats_interval);
    assert_eq!(c.workers, d.workers);
    assert_eq!(c.memory_limit, d.memory_limit);
    assert_eq!(format!("{:?}", c.http), format!("{:?}", d.http));
    assert_eq!(format!("{:?}", c.reassembly), format!("{:?}", d.reassembly));
    assert_eq!(c.log, d.log);
}

/// TLS secrets widen only a default filter: given -hosts or -bpf (or -- COMMAND, which
/// watches every connection) stay as given.
#[test]
fn tls_secrets_widen_only_the_default_hosts() {
    let mut c = config(&["-file", "x.pcap", "-tls-keylog", "k"]).unwrap();
    assert!(c.watch_https_by_default());
    assert_eq!(c.servers, ServerSet::parse(":80,:443").unwrap());
    assert_eq!(c.bpf, "tcp and (port 80 or port 443)");
    assert_eq!(c.filter_origin, "-hosts :80,:443");
    assert!(!c.watch_https_by_default(), "once");
    for given in [
        &["-hosts", ":80"][..],
        &["-hosts", ":8443"],
        &["-hosts="],
        &["-bpf", "tcp port 80"],
    ] {
        let mut args = vec!["-file", "x.pcap", "-tls-keylog", "k"];
        args.extend_from_slice(given);
        let mut c = config(&args).unwrap();
        let (servers, bpf) = (c.servers.clone(), c.bpf.clone());
        assert!(!c.watch_https_by_default(), "{given:?}");
        assert_eq!((c.servers, c.bpf), (servers, bpf), "{given:?}");
    }
    let mut c = config(&["--", "curl", "https://x"]).unwrap();
    assert!(!c.watch_https_by_default());
    assert_eq!(c.bpf, "tcp");
}

/// `-help` shows HttShark's defaults, spelled as HttShark's users know them, although
/// each is now printed from the constant or `Default` impl the program uses.
#[test]
fn help_shows_httshark_defaults() {
    let Err(CliError::Display(help)) = cli(&["-help"]) else {
        unreachable!()
    };
    let help = help.render().to_string();
    for (flag, default) in [
        ("hosts", ":80"),
        ("snaplen", "262144"),
        ("buffer-size", "64MiB"),
        ("response-timeout", "5m0s"),
        ("response-check-interval", "10s"),
        ("export-interval", "10s"),
        ("output-folder", "."),
        ("split-by-host", "true"),
        ("har-processors", "file"),
        ("workers", "1"),
        ("verbose", "0"),
        ("max-body-size", "10MiB"),
        ("memory-limit", "512MiB"),
        ("stats-interval", "10s"),
        ("sites-stats-file", "statistics.csv"),
        ("stats-group-by", "host"),
        ("requests-sizes-stats-file", "requests_sizes.csv"),
        ("responses-sizes-stats-file", "responses_sizes.csv"),
        ("sample-transactions-rate", "1"),
        ("sampled-transactions-folder", "sampled"),
        ("ndjson-file", "-"),
        ("head", "false"),
        ("body", "false"),
        ("drop-content-type", "image,audio,video"),
        ("aggregated-log-interval", "1m0s"),
        ("limited-error-length", "20"),
        ("log-snapshot-amount", "0"),
        ("log-snapshot-file", "snapshot.log"),
        ("log-snapshot-interval", "0s"),
        ("log-snapshot-level", "0"),
    ] {
        // From the flag's line to the next flag: its help text, ending with the default.
        let start = help
            .find(&format!("--{flag} "))
            .or_else(|| help.find(&format!("--{flag}[")))
            .unwrap_or_else(|| panic!("help misses --{flag}"));
        let rest = &help[start + 2..];
        let end = rest.find("\n  -").unwrap_or(rest.len());
        let text: String = rest[..end].split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            text.contains(&format!("[default: {default}]")),
            "--{flag}: {text}"
        );
    }
}

/// `-snaplen` and `-buffer-size` set up a live capture: given with `-file`, a note says
/// they do nothing (a file's records are as captured); their defaults say nothing.
#[test]
fn live_capture_flags_with_a_file_get_a_note() {
    let c = cli(&["-file", "x.pcap"]).unwrap();
    assert!(c.compat_notes().is_empty());
    let c = cli(&["-device", "e", "-snaplen", "200", "-buffer-size", "8MiB"]).unwrap();
    assert!(c.compat_notes().is_empty());
    let c = cli(&["-file", "x.pcap", "-snaplen", "200", "-buffer-size", "8MiB"]).unwrap();
    let notes = c.compat_notes();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(
        notes[0].starts_with("-snaplen is ignored with -file"),
        "{notes:?}"
    );
    assert!(
        notes[1].starts_with("-buffer-size is ignored with -file"),
        "{notes:?}"
    );
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
        "unknown flag '--hots' (did you mean -hosts?); see -help"
    );
    // Echoed as typed (issue 13): one dash stays one dash.
    assert_eq!(
        usage_error(&["-device", "e", "-hots=:80"]),
        "unknown flag '-hots' (did you mean -hosts?); see -help"
    );
    assert!(usage_error(&["-device", "e", "-zzzzzz"]).starts_with("unknown flag '-zzzzzz'"));
    assert!(usage_error(&["-device", "e", "-x"]).starts_with("unknown flag '-x'"));
    assert!(usage_error(&["-device", "e", "pcap"]).starts_with("unexpected argument 'pcap'"));
    // After `--` a flag name is COMMAND's (issue 15), not httshark's.
    let c = config(&["-device", "e", "--", "-device"]).unwrap();
    assert_eq!(
        c.command.unwrap().argv,
        vec![std::ffi::OsString::from("-device")]
    );
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
    assert!(
        !out.exists(),
        "the output folder is prepared when the outputs are opened"
    );
    crate::output::prepare_output_folder(&out).unwrap();
    assert!(out.is_dir());

    // Standard input and live devices are left to the capture.
    check_environment(&config(&["-file", "-", "-output-folder", out_s]).unwrap()).unwrap();
    check_environment(&config(&["-device", "nosuch0", "-output-folder", out_s]).unwrap()).unwrap();
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
    assert!(!out.exists(), "prepare creates nothing");
}

#[test]
fn relative_output_paths_resolve_under_the_output_folder() {
    use crate::processor::ProcessorConfig as P;
    let all = "file,sites-stats,transactions-sizes,sampled-transactions,ndjson";
    let c = config(&[
        "-device",
        "lo",
        "-output-folder",
        "out",
        "-har-processors",
        all,
        "-requests-sizes-stats-file",
        "/abs/r.csv",
        "-ndjson-file",
        "e/x.ndjson",
        "-log-snapshot-file",
        "logs/s.log",
    ])
    .unwrap();
    let mut paths = Vec::new();
    for p in &c.processors {
        match p {
            P::SitesStats(s) => paths.push(s.path.clone()),
            P::TransactionsSizes(s) => {
                paths.push(s.requests_path.clone());
                paths.push(s.responses_path.clone());
            }
            P::SampledTransactions(s) => paths.push(s.folder.clone()),
            P::Ndjson(n) => paths.extend(n.path.clone()),
            _ => {}
        }
    }
    paths.push(c.log.snapshot.file.clone());
    let want: Vec<PathBuf> = [
        "out/statistics.csv",
        "/abs/r.csv",
        "out/responses_sizes.csv",
        "out/sampled",
        "out/e/x.ndjson",
        "out/logs/s.log",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    assert_eq!(paths, want);
    // -Z hands over and probes the resolved folders.
    let folders: Vec<PathBuf> = c.output_folders().into_iter().map(|(_, d)| d).collect();
    assert_eq!(
        folders,
        [PathBuf::from("out"), "out/sampled".into(), "/abs".into()]
    );

    // The default folder `.` leaves relative paths as given; `-` stays standard output.
    let c = config(&["-device", "lo", "-har-processors", "sites-stats,ndjson"]).unwrap();
    match (&c.processors[0], &c.processors[1]) {
        (P::SitesStats(s), P::Ndjson(n)) => {
            assert_eq!(s.path, PathBuf::from("statistics.csv"));
            assert_eq!(n.path, None);
        }
        other => panic!("{other:?}"),
    }
}

/// Issue 15: `-- COMMAND`, `-process`, `-har`, `-attribution`, `-stats-group-by process`.
#[test]
fn process_flags_resolve_and_refuse_what_cannot_work() {
    // -- COMMAND: `any`, every TCP connection, the console; the given flags win.
    let c = config(&["--", "curl", "-s", "http://x"]).unwrap();
    assert_eq!(c.source, crate::config::Source::Device("any".into()));
    assert_eq!(c.bpf, "tcp");
    assert_eq!(names(&c), vec!["console"]);
    assert!(c.attribution && c.attribution_immediate);
    let cmd = c.command.unwrap();
    assert_eq!(cmd.argv.len(), 3);
    assert!(!cmd.as_root);
    let c = config(&[
        "-device",
        "eth0",
        "-hosts",
        ":8080",
        "-har-processors",
        "ndjson",
        "-ndjson-file",
        "x",
        "-command-as-root",
        "--",
        "true",
    ])
    .unwrap();
    assert_eq!(c.source, crate::config::Source::Device("eth0".into()));
    assert_eq!(names(&c), vec!["ndjson"]);
    assert!(c.command.unwrap().as_root);
    assert!(usage_error(&["-file", "x.pcap", "--", "true"]).contains("not with -file"));
    assert!(usage_error(&["-attribution=false", "--", "true"]).contains("attribution"));
    assert!(usage_error(&["-process", "curl", "--", "true"]).contains("-process"));
    // -process: live only, NAME or PID.
    let c = config(&["-device", "lo", "-process", "curl"]).unwrap();
    assert_eq!(
        c.process_filter,
        Some(crate::attrib::ProcessFilter::Name("curl".into()))
    );
    let c = config(&["-device", "lo", "-process=42"]).unwrap();
    assert_eq!(
        c.process_filter,
        Some(crate::attrib::ProcessFilter::Pid(42))
    );
    assert!(usage_error(&["-file", "x.pcap", "-process", "curl"]).contains("live captures only"));
    assert!(
        usage_error(&["-device", "lo", "-attribution=false", "-process", "1"])
            .contains("-attribution=false")
    );
    // Attribution is for live captures only.
    assert!(!config(&["-file", "x.pcap"]).unwrap().attribution);
    let c = config(&["-device", "lo"]).unwrap();
    assert!(c.attribution && !c.attribution_immediate);
    assert!(
        config(&["-device", "lo", "-attribution-immediate"])
            .unwrap()
            .attribution_immediate
    );
    assert!(
        !config(&["-device", "lo", "-attribution=false"])
            .unwrap()
            .attribution
    );
    // -stats-group-by process needs attribution.
    let e = usage_error(&[
        "-file",
        "x.pcap",
        "-har-processors",
        "sites-stats",
        "-stats-group-by",
        "process",
    ]);
    assert!(e.contains("-stats-group-by process"), "{e}");
    assert!(config(&[
        "-device",
        "lo",
        "-har-processors",
        "sites-stats",
        "-stats-group-by",
        "process",
    ])
    .is_ok());
    // -har FILE.
    let c = config(&["-device", "lo", "-har", "out.har"]).unwrap();
    assert_eq!(c.har, Some(PathBuf::from("out.har")));
    assert!(usage_error(&["-device", "lo", "-har="]).contains("-har"));
}
