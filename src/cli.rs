//! The command line: subcommands and their flags.

use crate::commands;
use clap::{Parser, Subcommand};

/// Live dynamic hand-gesture recognition, and the tools that train and evaluate its models.
#[derive(Parser, Debug)]
#[command(name = "gesture-app", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a model (the original's recipe; flags, a TOML recipe, or --resume RUN_DIR).
    Train(Box<commands::train::TrainArgs>),
    /// Evaluate a weights file on a labelled clip list: top-1/top-5, per class, confusion.
    Eval(commands::eval::EvalArgs),
    /// Generate Jester-layout clips of a drawn hand doing Jester gestures.
    Synth(commands::synth::SynthArgs),
    /// Data set tools (`data check`).
    Data(commands::data::DataArgs),
    /// Measure training and data-loading throughput.
    BenchTrain(commands::bench_train::BenchTrainArgs),
}
