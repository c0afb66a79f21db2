//! The command line: subcommands and their flags. Each subcommand's flags live beside its code in
//! `commands/`.

use crate::commands;
use clap::{Parser, Subcommand};

/// Live hand-gesture recognition from a webcam, and the tools that convert, train and evaluate
/// its models.
#[derive(Debug, Parser)]
#[command(
    name = "gesture-app",
    version,
    about = "Live hand-gesture recognition (TSN/TRN on squeezenet1_1 or BNInception)",
    long_about = "Recognises dynamic hand gestures (swipes, zooms, rolls, thumbs...) live from a \
                  webcam, and converts, trains, evaluates and benchmarks the models it runs.",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Classify clips (folders of frames) and print the top-5 gestures
    Classify(commands::classify::ClassifyArgs),
    /// Convert an original PyTorch checkpoint (.pth.tar) or ImageNet state_dict to our weights file
    Convert(commands::convert::ConvertArgs),
    /// Show what a weights file holds: model, labels, preprocessing, provenance
    Info(commands::info::InfoArgs),
    /// Benchmark the model on this machine (CPU or CUDA)
    Bench(commands::bench::BenchArgs),
}
