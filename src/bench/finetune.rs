//! The fine-tuning benchmark: time from "Train" to a usable model on a few generated clips per
//! label (frozen backbone, cached features, the default settings), and the per-epoch speed-up
//! of head training on cached features over full fine-tuning (every layer trainable, frames
//! decoded and run through the backbone every epoch).
//!
//! The labels are renamed (`My Swiping Left`, ...) so that the base model knows none of them:
//! the class layer starts at random, as for a user's own gestures.

use crate::synth::{self, Motion, SynthOptions};
use crate::train::finetune::{self, BackboneMode, FinetuneData, FinetuneOptions};
use crate::{Error, Result};
use candle_core::Device;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchFinetuneOptions {
    /// The base weights (e.g. weights/demo.safetensors).
    pub base: PathBuf,
    pub classes: usize,
    pub clips_per_class: usize,
    /// Frames per clip (30 at 12 fps: 2.5 s).
    pub frames: usize,
    /// Side of the generated square frames.
    pub size: u32,
    /// Epochs of full fine-tuning to time (per-epoch figure is their mean).
    pub full_epochs: usize,
    /// The fine-tuning settings (the defaults unless changed).
    pub options: FinetuneOptions,
}

impl BenchFinetuneOptions {
    /// 5 classes × 10 clips of 30 frames, from `base`.
    pub fn new(base: PathBuf) -> Self {
        BenchFinetuneOptions {
            base,
            classes: 5,
            clips_per_class: 10,
            frames: 30,
            size: 128,
            full_epochs: 1,
            options: FinetuneOptions::default(),
        }
    }
}

/// The measurements (seconds unless named otherwise).
#[derive(Debug, Clone, Serialize)]
pub struct BenchFinetuneReport {
    pub classes: usize,
    pub train_clips: usize,
    pub val_clips: usize,
    pub frames_per_clip: usize,
    pub threads: usize,
    /// From the call to the saved best model, default settings, frozen backbone.
    pub total_s: f64,
    /// Of which: reading the base and computing the cached features.
    pub setup_s: f64,
    pub epochs: usize,
    /// Mean training time of one epoch on cached features.
    pub cached_epoch_s: f64,
    /// Best validation top-1 (percent) of the fine-tuned model.
    pub val_top1: Option<f64>,
    /// The first epoch whose validation top-1 was the best one, and the time from the start
    /// to the end of that epoch.
    pub first_best_epoch: Option<usize>,
    pub time_to_first_best_s: Option<f64>,
    /// Mean training time of one epoch with every layer trainable.
    pub full_epoch_s: f64,
    /// `full_epoch_s / cached_epoch_s`.
    pub epoch_speedup: f64,
    /// Full fine-tuning for `epochs` epochs over the cached run's total (feature pass included).
    pub run_speedup: f64,
}

/// The label a generated motion gets: one the base does not know.
fn custom_label(m: Motion) -> String {
    format!("My {}", m.label())
}

/// Writes the data set and renames its labels; returns the motions used.
fn write_data(dir: &Path, o: &BenchFinetuneOptions) -> Result<()> {
    // Swipes and turns first (they have mirrors, so flips are exercised), "No gesture" last.
    let order = [
        Motion::SwipingLeft,
        Motion::SwipingRight,
        Motion::ZoomingIn,
        Motion::TurningClockwise,
        Motion::TurningCounterclockwise,
        Motion::SwipingUp,
        Motion::SwipingDown,
        Motion::ZoomingOut,
        Motion::NoGesture,
    ];
    let motions: Vec<Motion> = order.iter().copied().take(o.classes.clamp(1, 9)).collect();
    let opts = SynthOptions {
        motions: motions.clone(),
        clips_per_class: o.clips_per_class,
        frames: o.frames,
        size: o.size,
        seed: 7,
        ..SynthOptions::default()
    };
    synth::generate(dir, &opts, &|_, _| {}).map_err(|e| Error::Data(e.to_string()))?;
    let labels: Vec<String> = motions.iter().map(|&m| custom_label(m)).collect();
    let path = dir.join("category.txt");
    crate::util::write_atomic(&path, (labels.join("\n") + "\n").as_bytes())?;
    Ok(())
}

/// Runs the benchmark on the CPU.
pub fn run(o: &BenchFinetuneOptions) -> Result<BenchFinetuneReport> {
    let tmp = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let data_dir = tmp.path().join("data");
    write_data(&data_dir, o)?;
    let data = FinetuneData::new(&data_dir);
    let cancel = AtomicBool::new(false);
    let device = Device::Cpu;

    let mut opts = o.options.clone();
    opts.backbone = BackboneMode::Frozen;
    let start = Instant::now();
    let mut epoch_ends = Vec::new();
    let cached = finetune::run(
        &o.base,
        &data,
        &tmp.path().join("cached"),
        &opts,
        &device,
        &mut |p| {
            if let finetune::FinetuneProgress::Epoch { .. } = p {
                epoch_ends.push(start.elapsed().as_secs_f64());
            }
        },
        &cancel,
    )?;
    let epochs = cached.history.len();
    let cached_epoch_s =
        cached.history.iter().map(|r| r.epoch_s).sum::<f64>() / epochs.max(1) as f64;
    let first_best = cached
        .history
        .iter()
        .position(|r| r.val_top1.is_some() && r.val_top1 == cached.best_val_top1);

    let mut full = o.options.clone();
    full.backbone = BackboneMode::All;
    full.epochs = o.full_epochs.max(1);
    let slow = finetune::run(
        &o.base,
        &data,
        &tmp.path().join("full"),
        &full,
        &device,
        &mut |_| {},
        &cancel,
    )?;
    let full_epoch_s =
        slow.history.iter().map(|r| r.epoch_s).sum::<f64>() / slow.history.len().max(1) as f64;
    Ok(BenchFinetuneReport {
        classes: cached.labels.len(),
        train_clips: cached.train_clips,
        val_clips: cached.val_clips,
        frames_per_clip: o.frames,
        threads: rayon::current_num_threads(),
        total_s: cached.total_secs,
        setup_s: cached.setup_secs,
        epochs,
        cached_epoch_s,
        val_top1: cached.best_val_top1,
        first_best_epoch: first_best.map(|i| i + 1),
        time_to_first_best_s: first_best.and_then(|i| epoch_ends.get(i).copied()),
        full_epoch_s,
        epoch_speedup: full_epoch_s / cached_epoch_s.max(1e-9),
        run_speedup: full_epoch_s * epochs as f64 / cached.total_secs.max(1e-9),
    })
}
