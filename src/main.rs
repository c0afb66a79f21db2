//! `gesture-app`: parses the command line and runs a subcommand; errors print as one line with
//! their cause chain.

mod cli;
mod commands;

use clap::Parser;
use std::process::ExitCode;

fn run(cli: cli::Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        cli::Command::Train(a) => commands::train::run(*a),
        cli::Command::Eval(a) => commands::eval::run(a),
        cli::Command::Synth(a) => commands::synth::run(a),
        cli::Command::Data(a) => commands::data::run(a),
        cli::Command::BenchTrain(a) => commands::bench_train::run(a),
    }
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
