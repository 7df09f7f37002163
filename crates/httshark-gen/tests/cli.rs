//! The `httshark-gen` binary itself: it writes what `cli::run_from` writes for the same
//! arguments (httshark's tests use the latter, in-process), and refuses bad arguments
//! with a failing exit status and one `httshark-gen:` line (clap's own usage errors aside).

use std::path::Path;
use std::process::Command;

fn gen() -> Command {
    Command::new(env!("CARGO_BIN_EXE_httshark-gen"))
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn binary_and_library_write_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (name, args) in [
        ("plain", vec!["--seed", "9", "--connections", "12"]),
        (
            "faulty",
            vec![
                "--seed",
                "4",
                "--connections",
                "8",
                "--pcapng",
                "--link",
                "sll",
                "--ipv6",
                "--faults",
                "drop=0.05,dup=0.05,reorder=0.1",
            ],
        ),
    ] {
        let (bin_cap, bin_tsv) = (
            d.join(format!("{name}-bin.pcap")),
            d.join(format!("{name}-bin.tsv")),
        );
        let (lib_cap, lib_tsv) = (
            d.join(format!("{name}-lib.pcap")),
            d.join(format!("{name}-lib.tsv")),
        );
        let st = gen()
            .args(&args)
            .arg("--out")
            .arg(&bin_cap)
            .arg("--expected")
            .arg(&bin_tsv)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "{name}: {st}");
        let mut lib_args: Vec<std::ffi::OsString> = vec!["httshark-gen".into()];
        lib_args.extend(args.iter().map(|a| a.into()));
        lib_args.extend([
            "--out".into(),
            lib_cap.clone().into_os_string(),
            "--expected".into(),
            lib_tsv.clone().into_os_string(),
        ]);
        httshark_gen::cli::run_from(lib_args).unwrap();
        assert!(read(&bin_cap).len() > 1000, "{name}: capture too small");
        assert_eq!(read(&bin_cap), read(&lib_cap), "{name}: capture");
        assert_eq!(read(&bin_tsv), read(&lib_tsv), "{name}: ground truth");
    }
}

#[test]
fn bad_arguments_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.pcap");
    for args in [
        vec!["--link", "tokenring"],
        vec!["--faults", "drop=7"],
        vec!["--size-mb", "0"],
        vec!["hostile", "nope"],
        vec![
            "--tls",
            "--tls-keylog",
            "/dev/null",
            "--faults",
            "drop=0.01",
        ],
        vec!["--tls", "--tls-keylog", "/dev/null", "--snaplen", "100"],
        vec!["--tls", "--tls-keylog", "/dev/null", "--tls-suite", "rc4"],
        vec!["--midstream-share", "1.5"],
    ] {
        let o = gen().args(&args).arg("--out").arg(&out).output().unwrap();
        assert!(!o.status.success(), "{args:?} accepted");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.starts_with("httshark-gen: ") && err.lines().count() == 1,
            "{args:?}: {err}"
        );
    }
    let o = gen().output().unwrap();
    assert!(!o.status.success(), "--out is required");
}

#[test]
fn tls_needs_its_key_log_and_writes_four_secrets_per_connection() {
    let dir = tempfile::tempdir().unwrap();
    let (out, keys) = (dir.path().join("t.pcap"), dir.path().join("t.keys"));
    // clap's usage error: --tls without --tls-keylog, and the reverse.
    for args in [vec!["--tls"], vec!["--tls-keylog", "k"]] {
        let o = gen().args(&args).arg("--out").arg(&out).output().unwrap();
        assert!(!o.status.success(), "{args:?} accepted");
    }
    let o = gen()
        .args([
            "--profile",
            "small",
            "--seed",
            "3",
            "--tls",
            "--tls-suite",
            "aes256",
        ])
        .arg("--tls-keylog")
        .arg(&keys)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    let n: usize = err
        .split("TLS 1.3: ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no TLS summary: {err}"));
    let log = String::from_utf8(read(&keys)).unwrap();
    assert!(n > 0);
    assert_eq!(log.lines().count(), 4 * n);
    // SHA-384 suite: 48-byte secrets.
    assert!(log
        .lines()
        .all(|l| l.split(' ').nth(2).map(str::len) == Some(96)));
}
