//! The `gesture-app` binary: parse the command line, run the command, print a one-line error.

mod cli;

use clap::Parser;
use cli::{Cli, Command};
use gesture_app::commands;
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        None => commands::run::run(&cli.run),
        Some(Command::Run(args)) => commands::run::run(&args),
        Some(Command::Cameras) => commands::cameras::run(),
        Some(Command::BenchPipeline(args)) => commands::bench_pipeline::run(&args),
    }
}
