//! `gesture-app convert`: an original checkpoint (or ImageNet state_dict) to our weights file.

use anyhow::Context;
use clap::Args;
use gesture_app::weights::convert::{convert_checkpoint, ConvertOptions};
use gesture_app::weights::Contents;
use gesture_app::{Arch, Consensus};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Flags of `convert`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  gesture-app convert TRN_jester.pth.tar jester_trn.safetensors --arch BNInception \\\n      --consensus TRNmultiscale --segments 8 --labels jester/category.txt\n  gesture-app convert squeezenet1_1-b8a52dc0.pth squeezenet_imagenet.safetensors --arch squeezenet1_1\n\nBoth the zip format (PyTorch >= 1.6) and the older pickle format are read; nothing in the\ncheckpoint is executed. Nothing is written if any tensor is missing, unexpected or mis-shaped."
)]
pub struct ConvertArgs {
    /// The original checkpoint (.pth.tar / .pth) or an ImageNet state_dict
    pub input: PathBuf,
    /// The weights file to write (.safetensors)
    pub output: PathBuf,
    /// Backbone: squeezenet1_1 or BNInception
    #[arg(long)]
    pub arch: Arch,
    /// Consensus head: MLP, TRNmultiscale, RNN_TANH, RNN_RELU, LSTM, GRU, BLSTM, FCN (or FCN2D), avg
    #[arg(long, default_value = "TRNmultiscale")]
    pub consensus: Consensus,
    /// Number of segments N the model was trained with
    #[arg(long, default_value_t = 8)]
    pub segments: usize,
    /// Label list, one class a line in index order (Jester's category.txt). Required for a model;
    /// not used for an ImageNet backbone
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Per-frame feature width after new_fc (inferred from the checkpoint when left out)
    #[arg(long)]
    pub img_feature_dim: Option<usize>,
    /// Frame rate of the clips the model was trained on (Jester: 12)
    #[arg(long, default_value_t = 12.0)]
    pub clip_fps: f32,
}

/// Reads a label list: one class a line, blank lines ignored.
pub fn read_labels(path: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read label list {}", path.display()))?;
    let labels: Vec<String> = text
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    anyhow::ensure!(
        !labels.is_empty(),
        "{}: the label list is empty",
        path.display()
    );
    Ok(labels)
}

pub fn run(args: ConvertArgs) -> anyhow::Result<ExitCode> {
    let labels = match &args.labels {
        Some(p) => read_labels(p)?,
        None => Vec::new(),
    };
    let opts = ConvertOptions {
        arch: args.arch,
        consensus: args.consensus,
        num_segments: args.segments,
        labels,
        img_feature_dim: args.img_feature_dim,
        clip_fps: args.clip_fps,
    };
    // Library errors already name the file and what is wrong with it.
    let summary = convert_checkpoint(&args.input, &args.output, &opts)?;
    let c = &summary.config;
    match summary.contents {
        Contents::Model => println!(
            "wrote {}: {} + {} (N={}, {} classes), {} tensors, {:.2} M parameters",
            args.output.display(),
            c.arch,
            c.consensus,
            c.num_segments,
            c.num_classes,
            summary.tensors,
            summary.parameters as f64 / 1e6
        ),
        Contents::Backbone => println!(
            "wrote {}: {} ImageNet backbone for `train --pretrained`, {} tensors, {:.2} M parameters",
            args.output.display(),
            c.arch,
            summary.tensors,
            summary.parameters as f64 / 1e6
        ),
    }
    Ok(ExitCode::SUCCESS)
}
