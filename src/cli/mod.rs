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
//! The parts, as ripgrep splits them: `flags` (the clap definitions and their defaults),
//! `go` (the Go-style argv rewrite, clap error translation, value parsers), `resolve`
//! (checks across flags and the `Config` they resolve to) and `env` (the input file and
//! `-Z` checked before anything is opened).
//!
//! What this module deliberately does not do: open the capture, build processors or create
//! folders. The binary prepares the output folder when it opens the outputs, still before
//! any capture starts, so a bad command line never costs a capture.
//!
//! Every error is one line, without the `httshark: ` prefix the binary adds; usage and
//! setup errors exit with status 2, like clap's own.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

use crate::config::Config;

mod env;
pub mod flags;
pub mod go;
mod resolve;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_values;

pub use env::check_environment;
pub use flags::{Cli, MAX_WORKERS, MIN_SNAPLEN};
pub use go::go_style_args;
pub use go::{MIN_MEMORY_LIMIT, MIN_WORKER_SHARE};

/// Why the command line or the environment it names was refused, or help was asked for.
#[derive(Debug)]
pub enum CliError {
    /// `--help` or `--version`: clap prints it to stdout and the exit status is 0.
    Display(clap::Error),
    /// `-D`: the binary lists the interfaces instead of capturing (exit status 0), as
    /// help is a display rather than a run.
    ListInterfaces,
    /// A bad command line (unknown flag, bad value, missing or conflicting flags).
    Usage(String),
    /// A file or folder named on the command line can't be used.
    Setup(String),
}

impl CliError {
    /// 0 for help and version, 2 for everything else (clap's usage status).
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Display(_) | CliError::ListInterfaces => 0,
            CliError::Usage(_) | CliError::Setup(_) => 2,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Display(e) => write!(f, "{}", e.render()),
            CliError::ListInterfaces => f.write_str("-D: list the interfaces"),
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
    /// With `-Z`: the output folders that do not exist yet (the outputs create them),
    /// outermost first; `privileges::drop_to` hands them to the user.
    pub created_folders: Vec<PathBuf>,
}

/// Steps 1 and 2 of a run, before anything touches libpcap or creates a file: parses `args`
/// (the program name first), validates, resolves the `Config`, checks `-Z` and the input
/// file.
pub fn prepare<I, T>(args: I) -> Result<Prepared, CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let cli = Cli::parse_go_style(args)?;
    if cli.list_interfaces {
        return Err(CliError::ListInterfaces);
    }
    let notes = cli.compat_notes();
    let config = cli.into_config()?;
    let created_folders = match &config.run_as {
        Some(_) => crate::privileges::missing_folders(&config.output_folders()),
        None => Vec::new(),
    };
    check_environment(&config)?;
    Ok(Prepared {
        config,
        notes,
        created_folders,
    })
}
