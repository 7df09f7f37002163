//! The `httshark` binary's command line, end to end: every refused command line exits with
//! status 2 and one `httshark: ` line on stderr naming the problem, before any capture
//! starts (nothing is written); `--help` exits 0 and documents every flag with its default.
//!
//! Every case here stops before the capture is opened, so these tests need neither a
//! network interface nor privileges.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary in `cwd` (so the default output folder `.` is a fresh directory).
fn run_in(cwd: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_httshark"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .expect("run httshark");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Entries of `dir`, to prove nothing was written.
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// Runs `args` in an empty directory and checks the refusal: exit status 2, nothing on
/// stdout, exactly one stderr line, starting `httshark: ` and containing every `needles`,
/// and nothing created in the directory other than `allowed` (set up by the caller).
fn assert_refused_in(dir: &Path, args: &[&str], needles: &[&str]) -> String {
    let before = entries(dir);
    let r = run_in(dir, args);
    assert_eq!(r.code, Some(2), "{args:?}: status; stderr: {}", r.stderr);
    assert_eq!(r.stdout, "", "{args:?}: stdout");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{args:?}: one stderr line, got {:?}",
        r.stderr
    );
    let line = lines[0];
    assert!(line.starts_with("httshark: "), "{args:?}: {line}");
    for n in needles {
        assert!(line.contains(n), "{args:?}: '{line}' does not name '{n}'");
    }
    assert_eq!(
        entries(dir),
        before,
        "{args:?}: files were created before refusing"
    );
    line.to_string()
}

fn assert_refused(args: &[&str], needles: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    assert_refused_in(dir.path(), args, needles)
}

#[test]
fn unknown_flag() {
    assert_refused(&["-devise", "eth0"], &["unknown flag '-devise'", "-device"]);
    // Echoed as typed (issue 13): `--nope`, not `-nope`.
    assert_refused(&["-device", "lo", "--nope"], &["unknown flag '--nope'"]);
    assert_refused(&["-device", "lo", "-nope"], &["unknown flag '-nope'"]);
    assert_refused(&["-device", "lo", "-z"], &["unknown flag '-z'"]);
    assert_refused(
        &["-device", "lo", "capture.pcap"],
        &["unexpected argument 'capture.pcap'"],
    );
}

#[test]
fn bad_duration() {
    assert_refused(
        &["-device", "lo", "-export-interval=10x"],
        &["-export-interval", "'10x'", "unknown unit 'x'"],
    );
    assert_refused(
        &["-device", "lo", "-response-timeout", "5"],
        &["-response-timeout", "missing unit"],
    );
    assert_refused(
        &["-device", "lo", "-response-check-interval=0s"],
        &["-response-check-interval", "greater than zero"],
    );
    assert_refused(
        &["-device", "lo", "--export-interval=-1s"],
        &["-export-interval", "greater than zero"],
    );
}

#[test]
fn bad_bool() {
    assert_refused(
        &["-device", "lo", "-split-by-host=maybe"],
        &["-split-by-host", "'maybe'"],
    );
    assert_refused(
        &["-device", "lo", "-split-by-host", "false"],
        &["-split-by-host=false"],
    );
}

#[test]
fn bad_hosts() {
    assert_refused(
        &["-device", "lo", "-hosts=:80,:99999"],
        &["-hosts", "':99999'"],
    );
    assert_refused(
        &["-device", "lo", "-hosts", "::1:80"],
        &["-hosts", "brackets"],
    );
    assert_refused(&["-device", "lo", "-hosts"], &["-hosts", "needs a value"]);
}

#[test]
fn missing_source() {
    assert_refused(&[], &["-device", "-file"]);
    assert_refused(&["-hosts=:8080"], &["-device", "-file"]);
}

#[test]
fn both_sources() {
    assert_refused(
        &["-device", "lo", "-file", "x.pcap"],
        &["only one of -device and -file"],
    );
}

#[test]
fn unknown_processor() {
    assert_refused(
        &["-device", "lo", "-har-processors=file,sites-statz"],
        &["unknown processor 'sites-statz'", "known: file"],
    );
}

#[test]
fn bad_numbers() {
    assert_refused(&["-device", "lo", "-verbose", "9"], &["-verbose", "'9'"]);
    assert_refused(&["-device", "lo", "-workers=0"], &["-workers", "'0'"]);
    assert_refused(
        &["-device", "lo", "-buffer-size=4GiB"],
        &["-buffer-size", "'4GiB'"],
    );
    assert_refused(
        &["-device", "lo", "-capture=wireshark"],
        &["-capture", "tshark, httpdump"],
    );
}

#[test]
fn missing_or_unreadable_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    assert_refused_in(
        dir.path(),
        &["-file", "nope.pcap", "-output-folder", out],
        &["-file 'nope.pcap'", "No such file"],
    );
    fs::create_dir(dir.path().join("d")).unwrap();
    assert_refused_in(
        dir.path(),
        &["-file=d", "-output-folder", out],
        &["-file 'd'", "is a directory"],
    );
    assert!(!dir.path().join("out").exists());
}

#[cfg(unix)]
#[test]
fn unreadable_file_when_permissions_bite() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("secret.pcap");
    fs::write(&f, b"").unwrap();
    fs::set_permissions(&f, fs::Permissions::from_mode(0o000)).unwrap();
    if fs::File::open(&f).is_ok() {
        return; // running as root: permissions don't bite, nothing to test here
    }
    assert_refused_in(
        dir.path(),
        &["-file", "secret.pcap", "-output-folder", "out"],
        &["secret.pcap", "can't be read"],
    );
}

#[test]
fn output_folder_is_a_file() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("plain"), b"x").unwrap();
    assert_refused_in(
        dir.path(),
        &["-device", "lo", "-output-folder", "plain"],
        &["-output-folder 'plain'", "not a directory"],
    );
    assert_eq!(fs::read(dir.path().join("plain")).unwrap(), b"x");
}

#[test]
fn output_folder_under_a_file() {
    // What a read-only parent does for a non-root user, made to bite for root too.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("plain"), b"x").unwrap();
    assert_refused_in(
        dir.path(),
        &["-device", "lo", "-output-folder=plain/sub/dir"],
        &["-output-folder 'plain/sub/dir'", "can't be created"],
    );
    if Path::new("/etc/hostname").is_file() {
        assert_refused(
            &["-device", "lo", "-output-folder", "/etc/hostname/sub"],
            &["/etc/hostname/sub", "can't be created"],
        );
    }
}

#[cfg(unix)]
#[test]
fn output_folder_under_a_read_only_dir_when_permissions_bite() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("ro");
    fs::create_dir(&ro).unwrap();
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).unwrap();
    let bites = fs::create_dir(ro.join("probe")).is_err();
    if bites {
        assert_refused_in(
            dir.path(),
            &["-device", "lo", "-output-folder", "ro/out"],
            &["ro/out", "can't be created"],
        );
        assert_refused_in(
            dir.path(),
            &["-device", "lo", "-output-folder", "ro"],
            &["'ro'", "not writable"],
        );
    }
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o755)).unwrap();
}

/// The flag's help block, whitespace-normalised (clap wraps long lines). A block starts
/// at a flag line (`      --name` or `  -x, --name`); the lines indented deeper
/// are its text, blank lines between its paragraphs included; anything else (a heading,
/// the text after the options) ends it.
fn help_blocks(help: &str) -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    let mut open = false;
    for line in help.lines() {
        let indent = line.len() - line.trim_start().len();
        let t = line.trim_start();
        if (2..=6).contains(&indent) && t.starts_with('-') {
            blocks.push(String::new());
            open = true;
        } else if line.trim().is_empty() {
            continue;
        } else if indent <= 6 {
            open = false;
            continue;
        }
        if let (true, Some(b)) = (open, blocks.last_mut()) {
            b.push(' ');
            b.push_str(&line.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    blocks.into_iter().filter(|b| !b.is_empty()).collect()
}

#[test]
fn help_lists_every_flag_with_its_default() {
    let dir = tempfile::tempdir().unwrap();
    let r = run_in(dir.path(), &["--help"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stderr, "");
    let blocks = help_blocks(&r.stdout);
    let expected: &[(&str, &str)] = &[
        ("--device", "[default: none]"),
        ("--file", "[default: none]"),
        ("--hosts", "[default: :80]"),
        ("--bpf", "[default: built from -hosts]"),
        ("-c, --count", "[default: none]"),
        ("--duration", "[default: none]"),
        ("-D, --list-interfaces", "and exit"),
        ("--snaplen", "[default: 262144]"),
        ("--buffer-size", "[default: 64MiB]"),
        ("--response-timeout", "[default: 5m0s]"),
        ("--response-check-interval", "[default: 10s]"),
        ("--export-interval", "[default: 10s]"),
        ("--output-folder", "[default: .]"),
        ("--split-by-host", "[default: true]"),
        ("--har-processors", "[default: file]"),
        ("--workers", "[default: 1]"),
        ("--har-encoding", "[default: auto]"),
        ("--overload", "[default: auto]"),
        ("--verbose", "[default: 0]"),
        ("--counters", "[default: false]"),
        ("--max-body-size", "[default: 10MiB]"),
        ("--memory-limit", "[default: 512MiB]"),
        ("--stats-interval", "[default: 10s]"),
        ("--sites-stats-file", "[default: statistics.csv]"),
        ("--stats-group-by", "[default: host]"),
        (
            "--requests-sizes-stats-file",
            "[default: requests_sizes.csv]",
        ),
        (
            "--responses-sizes-stats-file",
            "[default: responses_sizes.csv]",
        ),
        ("--sample-transactions-rate", "[default: 1]"),
        ("--sampled-transactions-folder", "[default: sampled]"),
        ("--ndjson-file", "[default: -]"),
        ("--head", "[default: false]"),
        ("--body", "[default: false]"),
        ("--drop-content-type", "[default: image,audio,video]"),
        ("--keep-content-type", "[default: none]"),
        ("--redact-headers", "[default: none]"),
        ("-Z, --relinquish-privileges", "[default: none]"),
        ("--metrics-listen", "[default: none]"),
        ("--ui", "[default: none]"),
        ("--ui-token-file", "[default: a random token per run]"),
        ("--ui-allowed-hosts", "[default: none]"),
        ("--ui-max-entries", "[default: 10000]"),
        (
            "--ui-memory",
            "[default: 64MiB, or -memory-limit/8 when smaller]",
        ),
        ("--aggregated-log-interval", "[default: 1m0s]"),
        ("--limited-error-length", "[default: 20]"),
        ("--log-snapshot-amount", "[default: 0]"),
        ("--log-snapshot-file", "[default: snapshot.log]"),
        ("--log-snapshot-interval", "[default: 0s]"),
        ("--log-snapshot-level", "[default: 0]"),
        ("--tls-keylog", "[default: none]"),
        ("--tls-pickup-trial", "[default: false]"),
        ("--tls-keylog-wait", "[default: 5s]"),
        ("--file-pace", "[default: 0]"),
        ("--attribution", "[default: true]"),
        (
            "--attribution-immediate",
            "[default: true with -- COMMAND, else false]",
        ),
        ("--process", "[default: none]"),
        ("--har", "[default: none]"),
        ("--command-as-root", "[default: false]"),
        ("--capture", "[HttShark's default: tshark]"),
        ("--channel-buffer", "[HttShark's default: 1]"),
        (
            "--network-stream-channel-size",
            "[HttShark's default: 1024]",
        ),
        (
            "--network-stream-channel-timeout",
            "[HttShark's default: 5s]",
        ),
    ];
    // The positional `-- COMMAND` (not a flag block) is listed under Arguments.
    assert!(r.stdout.contains("[COMMAND]..."), "{}", r.stdout);
    for (flag, default) in expected {
        let block = blocks
            .iter()
            .find(|b| {
                b.trim_start().starts_with(&format!("{flag} "))
                    || b.trim_start().starts_with(&format!("{flag}["))
            })
            .unwrap_or_else(|| panic!("--help does not list {flag}:\n{}", r.stdout));
        assert!(
            block.contains(default),
            "{flag} does not show {default}: {block}"
        );
    }
    assert_eq!(
        blocks.len(),
        expected.len() + 2,
        "a flag without a documented default (+ help, version): {blocks:#?}"
    );
    assert!(
        r.stdout.contains("-split-by-host=false"),
        "the Go spellings are explained"
    );
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn every_help_spelling_exits_zero() {
    for args in [
        &["-h"][..],
        &["-help"],
        &["--help"],
        &["-device", "lo", "-help"],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let r = run_in(dir.path(), args);
        assert_eq!(r.code, Some(0), "{args:?}");
        assert!(
            r.stdout.contains("--har-processors"),
            "{args:?}: {}",
            r.stdout
        );
        assert_eq!(r.stderr, "", "{args:?}");
        assert!(entries(dir.path()).is_empty());
    }
}

#[test]
fn version_exits_zero() {
    for flag in ["--version", "-version", "-V"] {
        let dir = tempfile::tempdir().unwrap();
        let r = run_in(dir.path(), &[flag]);
        assert_eq!(r.code, Some(0), "{flag}");
        assert_eq!(
            r.stdout.trim(),
            format!("httshark {}", env!("CARGO_PKG_VERSION")),
            "{flag}"
        );
    }
}

/// Processes are known on live captures with attribution only (docs/processes.md):
/// `-process` and `-stats-group-by process` are refused on a file or with
/// `-attribution=false`, saying why.
#[test]
fn process_flags_need_a_live_capture_with_attribution() {
    let pcap = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/real-curl.pcap").to_string();
    assert_refused(
        &["-file", &pcap, "-process", "curl"],
        &["-process: processes are known on live captures only"],
    );
    assert_refused(
        &["-device", "lo", "-attribution=false", "-process", "42"],
        &["-process needs process attribution"],
    );
    for source in [["-file", pcap.as_str()], ["-device", "lo"]] {
        let mut args = source.to_vec();
        if source[0] == "-device" {
            args.push("-attribution=false");
        }
        args.extend([
            "-har-processors",
            "sites-stats",
            "-stats-group-by",
            "process",
        ]);
        assert_refused(
            &args,
            &["-stats-group-by process: processes are known on live"],
        );
    }
}
