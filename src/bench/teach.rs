//! The teaching check of a landmark model (issue 22): gestures the base does not know, a few
//! clips each from the second hand generator (`handcheck`, never tuned on), a head fine-tuning
//! on the frozen backbone's cached features, then top-1 and per-class recall on clips of the
//! same gestures the fine-tuning never saw (another seed of the generator).
//!
//! The held-out clips are never the fine-tuning's validation list (they would pick its best
//! epoch): it validates on the teaching clips themselves, and the model it keeps is evaluated
//! once on the held-out clips.

use crate::handcheck::{self, ClipList, EXTRA_LABELS};
use crate::train::data::DataSpec;
use crate::train::evaluate::evaluate_file;
use crate::train::finetune::{self, BackboneMode, FinetuneData, FinetuneOptions};
use crate::{Error, Result};
use candle_core::Device;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// What to check.
#[derive(Debug, Clone)]
pub struct TeachCheckOptions {
    /// A landmark model (`hand_landmarks`) that knows none of `labels`.
    pub base: PathBuf,
    /// The gestures to teach: `handcheck` labels.
    pub labels: Vec<String>,
    /// Clips per gesture to teach from.
    pub train_per_class: usize,
    /// Held-out clips in all, dealt round the gestures.
    pub test_clips: usize,
    /// Generator seeds of the teaching and the held-out clips.
    pub train_seed: u64,
    pub test_seed: u64,
    /// The fine-tuning (the backbone is frozen whatever this says).
    pub options: FinetuneOptions,
}

impl TeachCheckOptions {
    /// The check: the first four of [`EXTRA_LABELS`], 5 clips each, 50 held out.
    pub fn new(base: PathBuf) -> Self {
        TeachCheckOptions {
            base,
            labels: EXTRA_LABELS[..4].iter().map(|s| s.to_string()).collect(),
            train_per_class: 5,
            test_clips: 50,
            train_seed: 11,
            test_seed: 12,
            options: FinetuneOptions::default(),
        }
    }
}

/// One gesture's held-out result.
#[derive(Debug, Clone, Serialize)]
pub struct ClassRecall {
    pub label: String,
    pub clips: u64,
    /// Percent of its clips predicted as it.
    pub recall: Option<f64>,
}

/// What the check measured (seconds unless named otherwise).
#[derive(Debug, Clone, Serialize)]
pub struct TeachCheckReport {
    pub base: String,
    pub train_clips: usize,
    pub test_clips: usize,
    pub epochs: usize,
    /// Reading the base and the clips and computing their backbone features.
    pub setup_s: f64,
    /// Training the head (the budget: 10 s on 2 cores).
    pub train_s: f64,
    pub total_s: f64,
    /// Process CPU seconds of the whole fine-tuning (steadier than wall time on a shared
    /// machine); NaN where the platform does not tell.
    pub cpu_s: f64,
    pub threads: usize,
    /// Held-out top-1, percent.
    pub top1: f64,
    pub per_class: Vec<ClassRecall>,
    /// Rows true, columns predicted, in `per_class`'s order.
    pub confusion: Vec<Vec<u64>>,
}

/// Writes the data set: `train_videofolder.txt` (the teaching clips) and `test.txt` (the
/// held-out clips).
fn write_data(dir: &Path, o: &TeachCheckOptions) -> Result<()> {
    let n = o.labels.len();
    let lists = [
        ClipList {
            file: "train_videofolder.txt",
            classes: handcheck::dealt(o.train_per_class * n, n),
            seed: o.train_seed,
        },
        ClipList {
            file: "test.txt",
            classes: handcheck::dealt(o.test_clips, n),
            seed: o.test_seed,
        },
    ];
    handcheck::write_lists(dir, &o.labels, &lists).map_err(|e| Error::Data(e.to_string()))
}

/// Runs the check on the CPU in a temporary folder (kept under `keep` when given).
pub fn run(o: &TeachCheckOptions, keep: Option<&Path>) -> Result<TeachCheckReport> {
    let (config, _) = crate::weights::read_config(&o.base)?;
    if !config.arch.reads_landmarks() {
        return Err(Error::bad_file(
            &o.base,
            format!(
                "is a {} model; the teaching check takes a landmark model (hand_landmarks)",
                config.arch.name()
            ),
        ));
    }
    if let Some(known) = o.labels.iter().find(|l| config.labels.contains(l)) {
        return Err(Error::bad_file(
            &o.base,
            format!("already knows '{known}': the check teaches gestures it does not know"),
        ));
    }
    let tmp = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let root = keep.unwrap_or(tmp.path());
    let data_dir = root.join("data");
    write_data(&data_dir, o)?;
    let mut opts = o.options.clone();
    opts.backbone = BackboneMode::Frozen;
    let cpu0 = super::process_cpu_ns();
    let mut data = FinetuneData::new(&data_dir);
    data.val_list = "train_videofolder.txt".into();
    let summary = finetune::run(
        &o.base,
        &data,
        &root.join("run"),
        &opts,
        &Device::Cpu,
        &mut |_| {},
        &AtomicBool::new(false),
    )?;
    let cpu_s = match (cpu0, super::process_cpu_ns()) {
        (Some(a), Some(b)) => (b - a) as f64 / 1e9,
        _ => f64::NAN,
    };
    let eval = evaluate_file(
        &summary.best_weights,
        &DataSpec::new(&data_dir),
        Path::new("test.txt"),
        64,
        1,
        &Device::Cpu,
        &mut |_, _| {},
    )?;
    if let Some(s) = eval.result.skipped.first() {
        return Err(Error::Data(format!(
            "held-out clip {} could not be read: {}",
            s.id, s.reason
        )));
    }
    let per_class = eval
        .labels
        .iter()
        .zip(eval.result.confusion.per_class())
        .map(|(label, (clips, recall))| ClassRecall {
            label: label.clone(),
            clips,
            recall,
        })
        .collect();
    Ok(TeachCheckReport {
        base: o.base.display().to_string(),
        train_clips: summary.train_clips,
        test_clips: eval.result.tally.clips,
        epochs: summary.epochs_done,
        setup_s: summary.setup_secs,
        train_s: summary.train_secs,
        total_s: summary.total_secs,
        cpu_s,
        threads: rayon::current_num_threads(),
        top1: eval.result.tally.top1_pct(),
        per_class,
        confusion: eval.result.confusion.counts,
    })
}
