//! `gesture-app bench-finetune`: time from "Train" to a usable model on a few clips per label,
//! and the per-epoch speed-up of cached-feature head training over full fine-tuning.

use gesture_app::bench::finetune::{self as bench, BenchFinetuneOptions};
use std::path::PathBuf;
use std::process::ExitCode;

/// Measure fine-tuning on generated clips (CPU): time to a usable model, and the speed-up of
/// head training on cached features over full fine-tuning.
#[derive(clap::Args, Debug)]
pub struct BenchFinetuneArgs {
    /// Base weights to fine-tune.
    #[arg(long, default_value = "weights/demo.safetensors", value_name = "FILE")]
    pub base: PathBuf,
    /// Classes (generated gestures under labels the base does not know).
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub classes: usize,
    /// Clips per class (every 5th goes to validation).
    #[arg(long, default_value_t = 10, value_name = "K")]
    pub clips: usize,
    /// Frames per clip (30 = 2.5 s at 12 fps).
    #[arg(long, default_value_t = 30, value_name = "F")]
    pub frames: usize,
    /// Side of the generated frames in pixels.
    #[arg(long, default_value_t = 128, value_name = "PX")]
    pub size: u32,
    /// Epochs of full fine-tuning to time, after a first one that warms up and is not counted
    /// (the median is reported).
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub full_epochs: usize,
    /// Run the backbone at this input size instead of the base's (e.g. 224, Jester's, to see
    /// the speed-up where the backbone costs what a converted Jester model's does).
    #[arg(long, value_name = "PX")]
    pub input_size: Option<usize>,
    /// Epochs of the cached fine-tuning [default: the fine-tuning default, 30].
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,
    /// One JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `gesture-app bench-finetune`.
pub fn run(a: BenchFinetuneArgs) -> anyhow::Result<ExitCode> {
    let mut o = BenchFinetuneOptions::new(a.base);
    o.classes = a.classes.clamp(1, 9);
    o.clips_per_class = a.clips.max(2);
    o.frames = a.frames.max(1);
    o.size = a.size;
    o.full_epochs = a.full_epochs.max(1);
    o.options.input_size = a.input_size;
    if let Some(e) = a.epochs {
        o.options.epochs = e.max(1);
    }
    let r = bench::run(&o)?;
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} classes, {} training + {} validation clips of {} frames, input {}px, {} compute threads",
        r.classes, r.train_clips, r.val_clips, r.frames_per_clip, r.input_size, r.threads
    );
    println!(
        "frozen backbone, cached features: {:.1} s to the best model ({:.1} s base + features, \
         {} epochs), validation top-1 {}",
        r.total_s,
        r.setup_s,
        r.epochs,
        r.val_top1.map_or("-".into(), |t| format!("{t:.1}%"))
    );
    if let (Some(e), Some(t)) = (r.first_best_epoch, r.time_to_first_best_s) {
        println!("  that accuracy first reached after epoch {e}, {t:.1} s from the start");
    }
    println!(
        "one epoch (training + validation): cached features {:.0} ms ({:.0} ms CPU), every layer \
         trainable {:.2} s ({:.2} s CPU) -> {:.0}x per epoch ({:.0}x in CPU time)",
        r.cached_epoch_s * 1e3,
        r.cached_epoch_cpu_s * 1e3,
        r.full_epoch_s,
        r.full_epoch_cpu_s,
        r.epoch_speedup,
        r.epoch_speedup_cpu
    );
    println!(
        "{} epochs of full fine-tuning would take {:.1}x the whole cached run (feature pass included)",
        r.epochs, r.run_speedup
    );
    Ok(ExitCode::SUCCESS)
}
