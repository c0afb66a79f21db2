//! The command line: subcommands and their flags, and the dispatch to each command. Each
//! subcommand's flags live beside its code in `commands/`.

use crate::commands;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Live hand-gesture recognition from a webcam, and the tools that convert, train and evaluate
/// its models.
#[derive(Debug, Parser)]
#[command(
    name = "gesture-app",
    version,
    about = "Live hand-gesture recognition (TSN/TRN on squeezenet1_1 or BNInception)",
    long_about = "Recognises dynamic hand gestures (swipes, zooms, rolls, thumbs...) live from a \
                  webcam, and converts, trains, evaluates and benchmarks the models it runs.",
    propagate_version = true,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// With no subcommand the live app runs: `gesture-app --weights W` (see `run --help`).
    #[command(flatten)]
    pub run: commands::run::RunArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Classify clips (folders of frames or video files) and print the top-5 gestures
    Classify(commands::classify::ClassifyArgs),
    /// Convert an original PyTorch checkpoint (.pth.tar) or ImageNet state_dict to our weights file
    Convert(commands::convert::ConvertArgs),
    /// Show what a weights file holds: model, labels, preprocessing, provenance
    Info(commands::info::InfoArgs),
    /// Re-save a weights file with its tensors stored as float16 (--half): half the size
    Export(commands::export::ExportArgs),
    /// Join models trained apart (other seeds) into one weights file that predicts the mean of
    /// their probabilities: fewer confident mistakes, as many passes of the head as networks
    Ensemble(commands::ensemble::EnsembleArgs),
    /// Benchmark the model on this machine (CPU or CUDA)
    Bench(commands::bench::BenchArgs),
    /// Run the live app: camera, video file, frame folder or generated clips → gestures, in a window or
    /// --headless as JSON lines (the default when no subcommand is given)
    Run(commands::run::RunArgs),
    /// List the cameras and their modes
    Cameras,
    /// Benchmark the live pipeline on a frame folder at 30 fps: predictions/s, backbone passes
    /// per prediction, glass-to-label latency p50/p95
    BenchPipeline(commands::bench_pipeline::BenchPipelineArgs),
    /// Train a model (the original's recipe; flags, a TOML recipe, or --resume RUN_DIR)
    Train(Box<commands::train::TrainArgs>),
    /// Evaluate a weights file on a labelled clip list: top-1/top-5, per class, confusion (the
    /// list's labels are matched to the model's by name)
    Eval(commands::eval::EvalArgs),
    /// Generate Jester-layout clips of a drawn hand doing Jester gestures
    Synth(commands::synth::SynthArgs),
    /// Generate check clips with a second renderer, independent of synth: to check that a
    /// recipe learns data it was not tuned on
    Checkgen(commands::checkgen::CheckgenArgs),
    /// Generate hand-landmark clips of Jester's 27 gestures (what a hand tracker reports, not
    /// frames), for landmark models
    Handsynth(commands::handsynth::HandSynthArgs),
    /// Generate hand-landmark check clips with a second generator, independent of handsynth:
    /// to check that a landmark model learns motion it was not tuned on
    Handcheck(commands::handcheck::HandCheckArgs),
    /// Data set tools (`data check`)
    Data(commands::data::DataArgs),
    /// Record clips of a gesture from the camera (or a folder, or generated gestures) into a
    /// data set in Jester's layout, for `train` and `eval`
    Record(commands::record::RecordArgs),
    /// Play footage (a video file or frame folder) through the live pipeline as fast as the
    /// model runs: events per hour and, with a script, per-gesture hits, misses and delay
    BenchEvents(commands::bench_events::BenchEventsArgs),
    /// Measure training and data-loading throughput
    BenchTrain(commands::bench_train::BenchTrainArgs),
    /// Benchmark fine-tuning: time to a usable model on 5 classes x 10 clips, and the speed-up
    /// of head training on cached features over full fine-tuning
    BenchFinetune(commands::bench_finetune::BenchFinetuneArgs),
    /// The landmark model's teaching check: teach it 4 gestures it does not know from 5
    /// generated clips each, then top-1 on 50 held-out clips
    BenchTeach(commands::bench_teach::BenchTeachArgs),
    /// Compare heads: train a grid of backbones x heads x N (or only the heads, on one shared
    /// feature cache of a frozen backbone, with --mode fast), then one table of accuracy,
    /// parameters, multiply-adds, ms per clip and training time (markdown, CSV, JSON, PNG)
    Compare(Box<commands::compare::CompareArgs>),
    /// Find hands in photographs with MediaPipe's palm detector and hand landmarker (21
    /// landmarks, handedness); one JSON line per image with --json
    Hands(commands::hands::HandsArgs),
    /// Fuzz the parsers of untrusted input (frames, checkpoints, index files, weights
    /// metadata) with a seeded mutation loop; prints the inputs run per parser
    #[command(hide = true)]
    Fuzz(commands::fuzz::FuzzArgs),
    /// Add the app to the desktop's applications menu (Linux): a .desktop entry running this
    /// executable and its icon, under ~/.local/share (--uninstall removes them)
    InstallDesktop(commands::install_desktop::InstallDesktopArgs),
}

/// Dispatches the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Command::Classify(a)) => commands::classify::run(a),
        Some(Command::Convert(a)) => commands::convert::run(a),
        Some(Command::Info(a)) => commands::info::run(a),
        Some(Command::Export(a)) => commands::export::run(a),
        Some(Command::Ensemble(a)) => commands::ensemble::run(a),
        Some(Command::Bench(a)) => commands::bench::run(a),
        Some(Command::Run(a)) => commands::run::run(a),
        Some(Command::Cameras) => commands::cameras::run(),
        Some(Command::BenchPipeline(a)) => commands::bench_pipeline::run(a),
        Some(Command::Train(a)) => commands::train::run(*a),
        Some(Command::Eval(a)) => commands::eval::run(a),
        Some(Command::Synth(a)) => commands::synth::run(a),
        Some(Command::Checkgen(a)) => commands::checkgen::run(a),
        Some(Command::Handsynth(a)) => commands::handsynth::run(a),
        Some(Command::Handcheck(a)) => commands::handcheck::run(a),
        Some(Command::Data(a)) => commands::data::run(a),
        Some(Command::Record(a)) => commands::record::run(a),
        Some(Command::BenchEvents(a)) => commands::bench_events::run(a),
        Some(Command::BenchTrain(a)) => commands::bench_train::run(a),
        Some(Command::BenchFinetune(a)) => commands::bench_finetune::run(a),
        Some(Command::BenchTeach(a)) => commands::bench_teach::run(a),
        Some(Command::Compare(a)) => commands::compare::run(*a),
        Some(Command::Hands(a)) => commands::hands::run(a),
        Some(Command::Fuzz(a)) => commands::fuzz::run(a),
        Some(Command::InstallDesktop(a)) => commands::install_desktop::run(a),
        // No subcommand: the live app (README's first command is `gesture-app`).
        None => commands::run::run(cli.run),
    }
}
