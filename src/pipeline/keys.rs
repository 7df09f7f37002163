//! Where the workers' TLS secrets come from: the `-tls-keylog` files and a pcapng file's
//! Decryption Secrets Blocks, read before the capture starts; in a live capture, the key
//! logs followed as clients append to them.
//!
//! What it does: loads everything a file replay needs before the first packet (so a replay
//! gives the same result every time and with any `-workers`), and in a live capture polls
//! the followed files from the capture thread right before each batch of packets leaves
//! it, so the secrets reach every worker (as a `ToWorker::Secrets` message) ahead of the
//! packets captured after they were written: in packet order, with no lock between
//! workers.
//!
//! What it does not do: log a secret or a key log line (only counts and line numbers), or
//! read `SSLKEYLOGFILE` from the environment (only files named on the command line).

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{Config, Source};
use crate::keylog::{self, Entry, Follower, KeyStore, LineProblem, ParseReport};
use crate::tls::TlsSettings;

/// The secrets known at start, and the files to follow in a live capture.
pub struct Keys {
    /// Every secret known before the first packet.
    pub initial: Arc<KeyStore>,
    pub settings: TlsSettings,
    /// Live only: the key logs to follow.
    pub followers: Vec<Follower>,
    /// What each follower's parser saw (counts and line numbers only), and which of its
    /// problems were said already: each kind once per file.
    reports: Vec<(ParseReport, [bool; LineProblem::COUNT])>,
    /// Lines for the startup log (no secret in them).
    pub notes: Vec<String>,
    /// Per follower: its last poll failed and that was said (once until one succeeds).
    failing: Vec<bool>,
}

impl Keys {
    /// Reads the key logs and, for a pcapng file, its Decryption Secrets Blocks. A key log
    /// that cannot be read is an error in a file replay; live, a missing one is followed
    /// until a client creates it.
    pub fn load(config: &Config) -> Result<Keys, String> {
        let live = matches!(config.source, Source::Device(_));
        let mut entries = Vec::new();
        let mut notes = Vec::new();
        let mut reports = Vec::new();
        let mut followers = Vec::new();
        let mut sources = 0usize;
        if let Source::File(path) = &config.source {
            // Not pcapng, or unreadable: nothing here (the capture reports the file).
            if let Ok(scan) = keylog::read_pcapng_secrets(path) {
                if !scan.texts.is_empty() {
                    sources += 1;
                    let before = entries.len();
                    let mut report = ParseReport::default();
                    scan.parse(&mut entries, &mut report);
                    notes.push(format!(
                        "httshark: {}: {} TLS secrets from its Decryption Secrets Blocks",
                        path.display(),
                        entries.len() - before
                    ));
                    let what = format!("{} (Decryption Secrets Blocks)", path.display());
                    notes.extend(problems_note(
                        &what,
                        &report,
                        &mut [false; LineProblem::COUNT],
                    ));
                }
                if scan.over_limit > 0 {
                    notes.push(format!(
                        "httshark: warning: {}: {} Decryption Secrets {} skipped: the secrets read from one file stop at {} MiB (keylog::MAX_DSB_SECRETS_BYTES); give the rest with -tls-keylog",
                        path.display(),
                        scan.over_limit,
                        if scan.over_limit == 1 { "Block" } else { "Blocks" },
                        keylog::dsb::MAX_DSB_SECRETS_BYTES >> 20
                    ));
                }
                if scan.other_secrets > 0 {
                    notes.push(format!(
                        "httshark: {}: {} Decryption Secrets {} of another kind than a TLS key log (SSH, WireGuard, ...) left unused",
                        path.display(),
                        scan.other_secrets,
                        if scan.other_secrets == 1 { "Block" } else { "Blocks" }
                    ));
                }
                // A broken block is the capture's to report; here it matters only when it
                // may hide secrets (some were found before it).
                if scan.corrupt && !scan.texts.is_empty() {
                    notes.push(format!(
                        "httshark: warning: {}: a pcapng block is broken; secrets after it were not read",
                        path.display()
                    ));
                }
            }
        }
        for path in &config.tls.keylogs {
            sources += 1;
            if live {
                let mut f = Follower::open(path).map_err(|e| keylog_error(path, &e))?;
                if f.state() == keylog::FollowState::Missing {
                    notes.push(format!(
                        "httshark: -tls-keylog {}: no such file yet; followed until a client writes it",
                        path.display()
                    ));
                }
                let mut report = (ParseReport::default(), [false; LineProblem::COUNT]);
                f.poll(&mut entries, &mut report.0)
                    .map_err(|e| keylog_error(path, &e))?;
                let what = format!("-tls-keylog {}", path.display());
                notes.extend(problems_note(&what, &report.0, &mut report.1));
                followers.push(f);
                reports.push(report);
            } else {
                let before = entries.len();
                let mut report = ParseReport::default();
                keylog::read_keylog_file(path, &mut entries, &mut report)
                    .map_err(|e| keylog_error(path, &e))?;
                if entries.len() == before {
                    notes.push(format!(
                        "httshark: warning: -tls-keylog {}: no usable secret in it",
                        path.display()
                    ));
                }
                let what = format!("-tls-keylog {}", path.display());
                notes.extend(problems_note(
                    &what,
                    &report,
                    &mut [false; LineProblem::COUNT],
                ));
            }
        }
        let mut store = KeyStore::default();
        store.extend(entries);
        if store.evicted() > 0 {
            notes.push(format!(
                "httshark: warning: key logs: {} client randoms beyond the {} kept were dropped (the oldest)",
                store.evicted(),
                keylog::MAX_KEYLOG_CLIENT_RANDOMS
            ));
        }
        Ok(Keys {
            initial: Arc::new(store),
            settings: TlsSettings {
                enabled: sources > 0,
                keys_final: !live,
                keylog_wait: config.tls.wait,
                pickup_trial: config.tls.pickup_trial,
            },
            failing: vec![false; followers.len()],
            followers,
            reports,
            notes,
        })
    }

    /// Live: the secrets appended since the last poll. A followed file that cannot be read
    /// (its replacement is not readable, say) is said once on stderr, whatever
    /// `-verbose`, and polled again later; when it is read again, that is said too.
    pub fn poll(&mut self) -> Option<Arc<[Entry]>> {
        if self.followers.is_empty() {
            return None;
        }
        let mut fresh = Vec::new();
        for ((f, failing), (report, said)) in self
            .followers
            .iter_mut()
            .zip(&mut self.failing)
            .zip(&mut self.reports)
        {
            let result = f.poll(&mut fresh, report);
            if let Some(line) = report_once(failing, f.path(), &result) {
                crate::stderr_line!("{line}");
            }
            let what = format!("-tls-keylog {}", f.path().display());
            if let Some(line) = problems_note(&what, report, said) {
                crate::stderr_line!("{line}");
            }
        }
        (!fresh.is_empty()).then(|| Arc::from(fresh))
    }
}

/// The warning for the kinds of unusable lines of one source not said yet (each kind once,
/// with its count so far and its first line number; never a line's text, which may hold a
/// secret), marking them said.
fn problems_note(
    what: &str,
    report: &ParseReport,
    said: &mut [bool; LineProblem::COUNT],
) -> Option<String> {
    let mut fresh = Vec::new();
    for (p, n, first) in report.problems() {
        if !std::mem::replace(&mut said[p.index()], true) {
            fresh.push(format!("{p} {n} (first at line {first})"));
        }
    }
    (!fresh.is_empty()).then(|| {
        format!(
            "httshark: warning: {what}: lines that could not be used: {}",
            fresh.join(", ")
        )
    })
}

/// What to say about one poll of a followed key log: its first failure, and its first
/// success after failures; nothing else (a poll runs before every batch of packets).
fn report_once(
    failing: &mut bool,
    path: &std::path::Path,
    result: &std::io::Result<()>,
) -> Option<String> {
    match (result, *failing) {
        (Err(e), false) => {
            *failing = true;
            Some(format!(
                "httshark: warning: -tls-keylog {}: {e}; still followed, its new secrets wait until it can be read",
                path.display()
            ))
        }
        (Ok(()), true) => {
            *failing = false;
            Some(format!(
                "httshark: -tls-keylog {}: readable again",
                path.display()
            ))
        }
        _ => None,
    }
}

fn keylog_error(path: &std::path::Path, e: &std::io::Error) -> String {
    format!("-tls-keylog {}: {e}", PathBuf::from(path).display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_followed_file_that_fails_is_reported_once_until_it_recovers() {
        let path = std::path::Path::new("/k.log");
        let denied = || Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        let mut failing = false;
        assert_eq!(report_once(&mut failing, path, &Ok(())), None);
        let first = report_once(&mut failing, path, &denied()).unwrap();
        assert!(
            first.starts_with("httshark: warning: -tls-keylog /k.log: "),
            "{first}"
        );
        for _ in 0..100 {
            assert_eq!(report_once(&mut failing, path, &denied()), None);
        }
        let back = report_once(&mut failing, path, &Ok(())).unwrap();
        assert!(back.ends_with("readable again"), "{back}");
        assert_eq!(report_once(&mut failing, path, &Ok(())), None);
        assert!(
            report_once(&mut failing, path, &denied()).is_some(),
            "a new failure"
        );
    }

    /// Each kind of unusable line is said once per source, with its first line number and
    /// never the line; a followed file's later lines of a new kind are said when they come.
    /// A pcapng file's Decryption Secrets Blocks of another kind (here SSH's) are said,
    /// not silently left out, beside the TLS secrets read.
    #[test]
    fn secrets_blocks_of_another_kind_are_said() {
        fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
            let mut body = body.to_vec();
            body.resize(body.len().next_multiple_of(4), 0);
            let len = 12 + body.len() as u32;
            for part in [
                &kind.to_le_bytes()[..],
                &len.to_le_bytes(),
                &body,
                &len.to_le_bytes(),
            ] {
                out.extend_from_slice(part);
            }
        }
        fn dsb(out: &mut Vec<u8>, kind: &[u8; 4], text: &[u8]) {
            let mut body = u32::from_be_bytes(*kind).to_le_bytes().to_vec();
            body.extend_from_slice(&(text.len() as u32).to_le_bytes());
            body.extend_from_slice(text);
            block(out, 0x0000_000A, &body);
        }
        let mut file = Vec::new();
        let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
        shb.extend_from_slice(&[1, 0, 0, 0]);
        shb.extend_from_slice(&[0xFF; 8]);
        block(&mut file, 0x0a0d_0d0a, &shb);
        let tls = "CLIENT_RANDOM ".to_string() + &"11".repeat(32) + " " + &"22".repeat(48) + "\n";
        dsb(&mut file, b"TLSK", tls.as_bytes());
        dsb(&mut file, b"SSHK", b"not a key log");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.pcapng");
        std::fs::write(&path, &file).unwrap();
        let config = Config {
            source: Source::File(path),
            ..Config::default()
        };
        let keys = Keys::load(&config).unwrap();
        assert_eq!(keys.initial.len(), 1, "{:?}", keys.notes);
        assert!(
            keys.notes
                .iter()
                .any(|n| n.ends_with("1 Decryption Secrets Block of another kind than a TLS key log (SSH, WireGuard, ...) left unused")),
            "{:?}",
            keys.notes
        );
    }

    #[test]
    fn unusable_lines_are_said_once_per_kind_and_source() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.log");
        let good = "CLIENT_RANDOM ".to_string() + &"11".repeat(32) + " " + &"22".repeat(48);
        let secret_bad = "CLIENT_RANDOM ".to_string() + &"33".repeat(32) + " zz" + &"44".repeat(47);
        std::fs::write(&path, format!("# c\n{good}\n{secret_bad}\n{secret_bad}\n")).unwrap();
        let config = Config {
            source: Source::Device("lo".into()),
            tls: crate::config::TlsConfig {
                keylogs: vec![path.clone()],
                ..Default::default()
            },
            ..Config::default()
        };
        let mut keys = Keys::load(&config).unwrap();
        let warned: Vec<&String> = keys
            .notes
            .iter()
            .filter(|n| n.contains("could not"))
            .collect();
        assert_eq!(warned.len(), 1, "{:?}", keys.notes);
        assert!(
            warned[0].ends_with("lines that could not be used: bad-hex 2 (first at line 3)"),
            "{}",
            warned[0]
        );
        assert!(!warned[0].contains("zz"), "no line text");
        assert_eq!(keys.initial.len(), 1);
        // Appended: the same kind again (said already), then a new kind.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        use std::io::Write;
        writeln!(f, "{secret_bad}").unwrap();
        keys.poll();
        let (report, said) = &keys.reports[0];
        assert_eq!(report.count(LineProblem::BadHex), 3);
        assert!(problems_note("x", report, &mut said.clone()).is_none());
        writeln!(f, "CLIENT_RANDOM 00").unwrap();
        keys.poll();
        let (report, said) = &keys.reports[0];
        assert!(said[LineProblem::MissingField.index()]);
        assert_eq!(report.first_line(LineProblem::MissingField), Some(6));
    }

    /// A live capture's key log that cannot be read at each poll: one line, not one per
    /// batch (the follower is polled before every batch of packets).
    #[test]
    fn polling_a_directory_in_place_of_the_key_log_fails_quietly_after_the_first_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.log");
        std::fs::write(&path, "").unwrap();
        let mut keys = Keys {
            initial: Arc::new(KeyStore::default()),
            settings: TlsSettings::default(),
            followers: vec![Follower::open(&path).unwrap()],
            reports: vec![(ParseReport::default(), [false; LineProblem::COUNT])],
            notes: Vec::new(),
            failing: vec![false],
        };
        assert!(keys.poll().is_none());
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        assert!(keys.poll().is_none());
        assert_eq!(keys.failing, [true]);
        std::fs::remove_dir(&path).unwrap();
        let line = "CLIENT_RANDOM ".to_string() + &"11".repeat(32) + " " + &"22".repeat(48) + "\n";
        std::fs::write(&path, line).unwrap();
        assert_eq!(keys.poll().map(|e| e.len()), Some(1));
        assert_eq!(keys.failing, [false]);
    }
}
