//! The command line: subcommands and their flags. With no subcommand the live app runs, so
//! `gesture-app --weights W` starts it.

use clap::{Parser, Subcommand};
use gesture_app::commands::bench_pipeline::BenchPipelineArgs;
use gesture_app::commands::run::RunArgs;

/// Live dynamic hand-gesture recognition from a webcam, and the tools around its models.
#[derive(Parser, Debug)]
#[command(
    name = "gesture-app",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// With no subcommand: the live app's flags (see `gesture-app run --help`).
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the live app: camera (or a frame folder, or generated clips) → gesture, in a window
    /// or --headless as JSON lines. The default when no subcommand is given.
    Run(RunArgs),
    /// List the cameras and their modes.
    Cameras,
    /// Benchmark the live pipeline on a frame folder: predictions/s, backbone passes per
    /// prediction, glass-to-label latency.
    BenchPipeline(BenchPipelineArgs),
}
