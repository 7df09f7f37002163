//! httshark-gen: writes a deterministic HTTP/1.1 capture and its ground truth (or a hostile
//! capture). The command line is [`httshark_gen::cli`]; this only parses and reports.

use std::process::ExitCode;

use clap::Parser;
use httshark_gen::cli::{run, Args};

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("httshark-gen: {e}");
            ExitCode::FAILURE
        }
    }
}
