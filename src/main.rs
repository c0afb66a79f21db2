//! `gesture-app`: thin entry point. Parses the command line, runs the command, and turns errors
//! into one line on stderr and a non-zero exit code (never a panic backtrace for user mistakes).

mod cli;
mod commands;
mod process;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    process::keep_freed_memory();
    // Before any thread exists: candle's element-wise pool would compete with rayon's, and
    // without a fixed thread count candle reads /proc/cpuinfo at every matrix product.
    process::candle_elementwise_on_caller();
    process::fix_thread_count();
    let args = cli::Cli::parse();
    if !matches!(args.command, None | Some(cli::Command::Run(_))) {
        process::die_quietly_on_closed_stdout();
    }
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
