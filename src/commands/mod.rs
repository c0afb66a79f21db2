//! One module per subcommand: its flags (clap) and its `run`. Commands print for people (or JSON
//! with `--json`) and return `anyhow` errors with context naming what failed.

pub mod bench;
pub mod bench_pipeline;
pub mod bench_train;
pub mod cameras;
pub mod classify;
pub mod convert;
pub mod data;
pub mod dataset_args;
pub mod eval;
pub mod fuzz;
pub mod info;
pub mod run;
pub mod synth;
pub mod train;

use crate::cli::{Cli, Command};
use std::process::ExitCode;

/// Dispatches the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::Classify(a)) => classify::run(a),
        Some(Command::Convert(a)) => convert::run(a),
        Some(Command::Info(a)) => info::run(a),
        Some(Command::Bench(a)) => bench::run(a),
        Some(Command::Run(a)) => run::run(a),
        Some(Command::Cameras) => cameras::run(),
        Some(Command::BenchPipeline(a)) => bench_pipeline::run(a),
        Some(Command::Train(a)) => train::run(*a),
        Some(Command::Eval(a)) => eval::run(a),
        Some(Command::Synth(a)) => synth::run(a),
        Some(Command::Data(a)) => data::run(a),
        Some(Command::BenchTrain(a)) => bench_train::run(a),
        Some(Command::Fuzz(a)) => fuzz::run(a),
        // No subcommand: the live app (README's first command is `gesture-app`).
        None => run::run(cli.run),
    }
}
