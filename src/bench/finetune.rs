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
    /// Epochs of full fine-tuning to time, beyond the first (see [`run`]).
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
            full_epochs: 2,
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
    /// The backbone's input side in pixels.
    pub input_size: usize,
    pub threads: usize,
    /// From the call to the saved best model, default settings, frozen backbone.
    pub total_s: f64,
    /// Of which: reading the base and computing the cached features.
    pub setup_s: f64,
    pub epochs: usize,
    /// One epoch on cached features (training, validation, saving), wall and CPU seconds.
    pub cached_epoch_s: f64,
    pub cached_epoch_cpu_s: f64,
    /// Best validation top-1 (percent) of the fine-tuned model.
    pub val_top1: Option<f64>,
    /// The first epoch whose validation top-1 was the best one, and the time from the start
    /// to the end of that epoch.
    pub first_best_epoch: Option<usize>,
    pub time_to_first_best_s: Option<f64>,
    /// One epoch with every layer trainable, wall and CPU seconds.
    pub full_epoch_s: f64,
    pub full_epoch_cpu_s: f64,
    /// `full_epoch_s / cached_epoch_s`, and the same in CPU time.
    pub epoch_speedup: f64,
    pub epoch_speedup_cpu: f64,
    /// Full fine-tuning for `epochs` epochs over the cached run's total (feature pass included).
    pub run_speedup: f64,
}

/// Writes the data set and renames its labels ("My Swiping Left", ...: names the base does not
/// know).
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
        motions,
        clips_per_class: o.clips_per_class,
        frames: o.frames,
        size: o.size,
        seed: 7,
        ..SynthOptions::default()
    };
    synth::generate(dir, &opts, &|_, _| {}).map_err(|e| Error::Data(e.to_string()))?;
    // Rename in place: the generator's own label order (and so every clip's label) stays.
    let path = dir.join("category.txt");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let renamed: String = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("My {}\n", l.trim()))
        .collect();
    crate::util::write_atomic(&path, renamed.as_bytes())?;
    Ok(())
}

/// The input size the fine-tuned model runs at.
fn input_size(base: &Path, o: &FinetuneOptions) -> Result<usize> {
    Ok(match o.input_size {
        Some(s) => s,
        None => crate::weights::read_config(base)?.0.input_size,
    })
}

/// Wall and process CPU seconds at the end of each epoch of a run, from its start.
struct EpochClock {
    wall: Instant,
    cpu_ns: Option<u64>,
    ends: Vec<(f64, f64)>,
}

impl EpochClock {
    fn started() -> Self {
        EpochClock {
            wall: Instant::now(),
            cpu_ns: super::process_cpu_ns(),
            ends: Vec::new(),
        }
    }

    fn tick(&mut self) {
        let cpu_s = match (self.cpu_ns, super::process_cpu_ns()) {
            (Some(a), Some(b)) => (b - a) as f64 / 1e9,
            _ => f64::NAN,
        };
        self.ends.push((self.wall.elapsed().as_secs_f64(), cpu_s));
    }

    /// The median wall and CPU time of the epochs after the first (which also warms caches and
    /// allocators up), or of the first when it is the only one.
    fn per_epoch(&self) -> (f64, f64) {
        let mut durations: Vec<(f64, f64)> = self
            .ends
            .windows(2)
            .map(|w| (w[1].0 - w[0].0, w[1].1 - w[0].1))
            .collect();
        if durations.is_empty() {
            return self.ends.first().copied().unwrap_or((f64::NAN, f64::NAN));
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let mut wall: Vec<f64> = durations.iter().map(|d| d.0).collect();
        let mut cpu: Vec<f64> = durations.drain(..).map(|d| d.1).collect();
        (median(&mut wall), median(&mut cpu))
    }
}

/// Runs the benchmark on the CPU. An epoch's cost is the median, over the epochs after the
/// first, of the time from one epoch's end to the next's, in wall time and in process CPU time
/// (on a machine shared with other work the CPU time is the steadier figure); it includes the
/// epoch's validation and the bookkeeping of an improved model, for both ways of training.
pub fn run(o: &BenchFinetuneOptions) -> Result<BenchFinetuneReport> {
    let tmp = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let data_dir = tmp.path().join("data");
    write_data(&data_dir, o)?;
    let data = FinetuneData::new(&data_dir);
    let cancel = AtomicBool::new(false);
    let device = Device::Cpu;
    let mut n = 0;
    let mut fit = |opts: &FinetuneOptions| {
        n += 1;
        let dir = tmp.path().join(format!("run{n}"));
        let mut clock = EpochClock::started();
        let out = finetune::run(
            &o.base,
            &data,
            &dir,
            opts,
            &device,
            &mut |p| {
                if let finetune::FinetuneProgress::Epoch { .. } = p {
                    clock.tick();
                }
            },
            &cancel,
        );
        out.map(|o| (o, clock))
    };

    let mut opts = o.options.clone();
    opts.backbone = BackboneMode::Frozen;
    let (cached, clock) = fit(&opts)?;
    let epochs = cached.history.len();
    let first_best = cached
        .history
        .iter()
        .position(|r| r.val_top1.is_some() && r.val_top1 == cached.best_val_top1);
    let epoch_ends: Vec<f64> = clock.ends.iter().map(|e| e.0).collect();
    let (cached_epoch_s, cached_epoch_cpu_s) = clock.per_epoch();

    let mut full = o.options.clone();
    full.backbone = BackboneMode::All;
    full.epochs = o.full_epochs.max(1) + 1;
    let (full_epoch_s, full_epoch_cpu_s) = fit(&full)?.1.per_epoch();
    Ok(BenchFinetuneReport {
        classes: cached.labels.len(),
        train_clips: cached.train_clips,
        val_clips: cached.val_clips,
        frames_per_clip: o.frames,
        input_size: input_size(&o.base, &o.options)?,
        threads: rayon::current_num_threads(),
        total_s: cached.total_secs,
        setup_s: cached.setup_secs,
        epochs,
        cached_epoch_s,
        cached_epoch_cpu_s,
        val_top1: cached.best_val_top1,
        first_best_epoch: first_best.map(|i| i + 1),
        time_to_first_best_s: first_best.and_then(|i| epoch_ends.get(i).copied()),
        full_epoch_s,
        full_epoch_cpu_s,
        epoch_speedup: full_epoch_s / cached_epoch_s.max(1e-9),
        epoch_speedup_cpu: full_epoch_cpu_s / cached_epoch_cpu_s.max(1e-9),
        run_speedup: full_epoch_s * epochs as f64 / cached.total_secs.max(1e-9),
    })
}
