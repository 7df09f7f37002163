//! Environment checks made before anything is opened (ripgrep's `hiargs` side): `-Z` can
//! be honoured, and the `-file` is readable.
//!
//! What it does not do: create or probe output folders; those are prepared when the outputs
//! are opened, still before the capture starts (`output::prepare_output_folder`).

use std::fs;
use std::path::Path;

use super::CliError;
use crate::config::{Config, Source};
use crate::output::io_reason;

/// Checks, before anything is opened, what the command line names on disk: the `-file` must
/// be readable (unless `-`). A failure here is a `Setup` error (exit status 2). `-Z USER`
/// is checked first (as root anything goes; otherwise only when already USER), then the
/// input; both before the output folder is prepared, so a refused `-Z` or a bad `-file`
/// creates nothing.
pub fn check_environment(config: &Config) -> Result<(), CliError> {
    if let Some(user) = &config.run_as {
        crate::privileges::check_can_become(user).map_err(CliError::Setup)?;
    }
    if let Source::File(path) = &config.source {
        check_input_file(path)?;
    }
    Ok(())
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
