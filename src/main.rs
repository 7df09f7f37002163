//! The `httshark` binary, thin: arguments -> config (with the pre-capture checks) -> capture
//! -> processors -> pipeline -> summary and exit status.
//!
//! Exit status: 0 when the run completed, 1 when it completed with output errors (or an
//! output failure stopped it), 2 for a bad command line or when the capture or a processor
//! could not be set up. Every message on stderr is one line starting with `httshark: `.

use std::process::ExitCode;

use httshark::capture::PacketSource;
use httshark::cli::{self, CliError};
use httshark::pipeline::{self, Summary};
use httshark::{output, processor};
use httshark::{stderr_line, stderr_write};

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
        Err(e) => return fail(e.exit_code(), &e),
    };
    let config = prepared.config;
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
    let processors = match processor::build(
        &config.processors,
        config.memory_shares().held(),
        config.metrics_listen.is_some(),
    ) {
        Ok(p) => p,
        Err(e) => return refuse(&e),
    };
    if let (Some(addr), Some(shared)) = (&config.metrics_listen, &processors.metrics) {
        if let Err(e) = httshark::metrics::serve(addr, shared.clone()) {
            return refuse(&e);
        }
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
    match pipeline::run(&config, source, processors) {
        Ok(summary) => {
            httshark::log::flush();
            stderr_write!("{}", format_summary(&summary));
            if summary.errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => fail(1, &e),
    }
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

/// The end-of-run report: an aligned `name  value` table of the non-zero counters plus
/// `ALWAYS_SHOWN`, in the pipeline's order, then one line per warning and per output error.
fn format_summary(summary: &Summary) -> String {
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
    for w in &summary.warnings {
        out.push_str(&format!("httshark: warning: {}\n", one_line(w)));
    }
    for e in &summary.errors {
        out.push_str(&format!("httshark: error: {}\n", one_line(e)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_shows_nonzero_and_key_counters_aligned() {
        let summary = Summary {
            counters: vec![
                ("packets", 0),
                ("bytes", 1234),
                ("connections_opened", 0),
                ("transactions", 7),
                ("unanswered", 0),
                ("body_gaps", 2),
            ],
            warnings: vec!["file truncated\nin the middle of a record".into()],
            errors: vec!["file: disk full".into()],
            ..Summary::default()
        };
        assert_eq!(
            format_summary(&summary),
            "httshark: packets       0\n\
             httshark: bytes         1234\n\
             httshark: transactions  7\n\
             httshark: unanswered    0\n\
             httshark: body_gaps     2\n\
             httshark: warning: file truncated in the middle of a record\n\
             httshark: error: file: disk full\n"
        );
    }

    #[test]
    fn empty_summary_is_empty() {
        assert_eq!(format_summary(&Summary::default()), "");
    }

    #[test]
    fn one_line_joins_lines() {
        assert_eq!(one_line("a\n  b\r\n\nc"), "a b c");
        assert_eq!(one_line("plain"), "plain");
    }
}
