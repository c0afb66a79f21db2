//! `gesture-app classify`: run a model on clip folders and print the top-5 gestures per clip, or
//! one JSON line per clip with `--json`.

use candle_core::{Tensor, D};
use clap::Args;
use gesture_app::device::{self, DeviceChoice};
use gesture_app::preprocess::load_clip;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `classify`.
#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// Weights file (.safetensors made by `convert` or `train`)
    #[arg(long, short)]
    pub weights: PathBuf,
    /// One line of JSON per clip: {"clip", "top": [{"label", "index", "prob"}], "logits"}
    #[arg(long)]
    pub json: bool,
    /// Where to run: auto (CUDA if built with it and a GPU is present, else CPU), cpu, cuda
    #[arg(long, default_value = "auto")]
    pub device: DeviceChoice,
    /// How many classes to list per clip
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Clip folders holding numbered frames (00001.jpg, 00002.jpg, ... or .png)
    #[arg(required = true, value_name = "CLIP")]
    pub clips: Vec<PathBuf>,
}

/// One class of a clip's ranking.
#[derive(Debug, serde::Serialize)]
pub struct Ranked {
    pub label: String,
    pub index: usize,
    pub prob: f32,
}

/// Softmax of `logits` `[C]` and the `k` best classes.
pub fn rank(logits: &Tensor, labels: &[String], k: usize) -> anyhow::Result<Vec<Ranked>> {
    let probs = candle_nn::ops::softmax(logits, D::Minus1)?.to_vec1::<f32>()?;
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
    Ok(order
        .into_iter()
        .take(k)
        .map(|i| Ranked {
            label: labels
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("class {i}")),
            index: i,
            prob: probs[i],
        })
        .collect())
}

pub fn run(args: ClassifyArgs) -> anyhow::Result<ExitCode> {
    let (dev, why) = device::select(args.device)?;
    if !args.json {
        eprintln!("device: {why}");
    }
    let model = gesture_app::weights::load_model(&args.weights, &dev)?;
    let cfg = model.config().clone();
    for clip in &args.clips {
        let frames = load_clip(clip, &cfg, &dev)?; // [N, 3, S, S]
        let logits = model.forward(&frames.unsqueeze(0)?)?.squeeze(0)?; // [C]
        let logits = logits.to_device(&candle_core::Device::Cpu)?;
        let top = rank(&logits, &cfg.labels, args.top.max(1))?;
        if args.json {
            let line = serde_json::json!({
                "clip": clip.display().to_string(),
                "top": top,
                "logits": logits.to_vec1::<f32>()?,
            });
            println!("{line}");
        } else {
            println!("{}", clip.display());
            for (i, r) in top.iter().enumerate() {
                println!("  {}. {:<40} {:6.2}%", i + 1, r.label, 100.0 * r.prob);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
