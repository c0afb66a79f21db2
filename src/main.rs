//! `gesture-app`: thin entry point. Parses the command line, runs the command, and turns errors
//! into one line on stderr and a non-zero exit code (never a panic backtrace for user mistakes).

mod cli;
mod commands;
mod process;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    process::keep_freed_memory();
    let args = cli::Cli::parse();
    // Training: candle's element-wise thread pool would compete with rayon's (no thread yet).
    if matches!(
        args.command,
        Some(cli::Command::Train(_) | cli::Command::BenchTrain(_))
    ) {
        process::candle_elementwise_on_caller();
    }
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
