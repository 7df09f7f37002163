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
use crate::keylog::{self, Entry, Follower, KeyStore, ParseReport};
use crate::tls::TlsSettings;

/// The secrets known at start, and the files to follow in a live capture.
pub struct Keys {
    /// Every secret known before the first packet.
    pub initial: Arc<KeyStore>,
    pub settings: TlsSettings,
    /// Live only: the key logs to follow.
    pub followers: Vec<Follower>,
    /// What the parsers saw, for the summary (counts only).
    pub report: ParseReport,
    /// Lines for the startup log (no secret in them).
    pub notes: Vec<String>,
}

impl Keys {
    /// Reads the key logs and, for a pcapng file, its Decryption Secrets Blocks. A key log
    /// that cannot be read is an error in a file replay; live, a missing one is followed
    /// until a client creates it.
    pub fn load(config: &Config) -> Result<Keys, String> {
        let live = matches!(config.source, Source::Device(_));
        let mut entries = Vec::new();
        let mut report = ParseReport::default();
        let mut notes = Vec::new();
        let mut followers = Vec::new();
        let mut sources = 0usize;
        if let Source::File(path) = &config.source {
            // Not pcapng, or unreadable: nothing here (the capture reports the file).
            if let Ok(scan) = keylog::read_pcapng_secrets(path) {
                if !scan.texts.is_empty() {
                    sources += 1;
                    let before = entries.len();
                    scan.parse(&mut entries, &mut report);
                    notes.push(format!(
                        "httshark: {}: {} TLS secrets from its Decryption Secrets Blocks",
                        path.display(),
                        entries.len() - before
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
                f.poll(&mut entries, &mut report)
                    .map_err(|e| keylog_error(path, &e))?;
                followers.push(f);
            } else {
                let before = entries.len();
                keylog::read_keylog_file(path, &mut entries, &mut report)
                    .map_err(|e| keylog_error(path, &e))?;
                if entries.len() == before {
                    notes.push(format!(
                        "httshark: warning: -tls-keylog {}: no usable secret in it",
                        path.display()
                    ));
                }
            }
        }
        if report.total_problems() > 0 {
            notes.push(format!(
                "httshark: warning: key logs: lines that could not be used: {report}"
            ));
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
            followers,
            report,
            notes,
        })
    }

    /// Live: the secrets appended since the last poll. Errors reading a followed file are
    /// logged once per file and the file is polled again later.
    pub fn poll(&mut self) -> Option<Arc<[Entry]>> {
        if self.followers.is_empty() {
            return None;
        }
        let mut fresh = Vec::new();
        for f in &mut self.followers {
            if let Err(e) = f.poll(&mut fresh, &mut self.report) {
                crate::log_warn!("-tls-keylog {}: {}", f.path().display(), e);
            }
        }
        (!fresh.is_empty()).then(|| Arc::from(fresh))
    }
}

fn keylog_error(path: &std::path::Path, e: &std::io::Error) -> String {
    format!("-tls-keylog {}: {e}", PathBuf::from(path).display())
}
