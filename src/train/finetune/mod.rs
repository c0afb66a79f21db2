//! Fine-tuning a model on a few clips per label (`gesture-app train --finetune BASE`, and the
//! window's Teach panel, which calls [`run`] on a background thread).
//!
//! The base is any weights file: a whole model (a converted Jester checkpoint, the demo model)
//! or an ImageNet backbone. The head (`new_fc` + consensus) is rebuilt for the data set's label
//! list, starting from the base's head where it fits ([`head`]). With a frozen backbone (the
//! default) every frame's backbone features are computed once, for the plain and the mirrored
//! frame ([`features`]), and the head trains on them with fresh segment picks and label-aware
//! flips every epoch ([`cached`]); with `--train-last-blocks K` the last K blocks train as well,
//! on decoded frames ([`unfreeze`]).
//!
//! The run folder gets what every `train` writes, where it applies: `best.safetensors` (the new
//! labels, and a provenance naming the base, the data set and its clip counts), `metrics.csv` /
//! `.jsonl`, `curves.png`, `train.log`, and `finetune.toml` (the settings; there is no checkpoint
//! to resume, a fine-tuning takes seconds). Every file is written atomically; the base file is
//! only read.

pub mod cached;
pub mod features;
pub mod head;
pub mod landmark_inputs;
pub mod unfreeze;

use crate::model::config::{Consensus, ModelConfig};
use crate::model::GestureModel;
use crate::train::data::flip::FlipPolicy;
use crate::train::data::loader::{default_workers, LoaderOptions};
use crate::train::data::{DataSpec, Dataset};
use crate::train::init::{seeded_var_builder, LinearInit};
use crate::train::metrics::{EpochRecord, MetricsFiles, Tally};
use crate::train::optim::{lr_at_epoch, OptimConfig, Optimizer, OptimizerKind};
use crate::train::params::trainable_params;
use crate::train::plot;
use crate::train::provenance::portable_path;
use crate::weights::{self, Contents};
use crate::{Error, Result};
use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

/// Which part of the backbone trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackboneMode {
    /// Frozen: features computed once and cached, only the head trains (seconds).
    Frozen,
    /// The last K blocks (Fire modules / inception blocks) train with the head, on frames.
    LastBlocks(usize),
    /// Every layer trains (full fine-tuning; slow, for comparison and large data sets).
    All,
}

impl std::fmt::Display for BackboneMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackboneMode::Frozen => f.write_str("frozen (cached features)"),
            BackboneMode::LastBlocks(k) => write!(f, "last {k} block(s) trainable"),
            BackboneMode::All => f.write_str("all layers trainable"),
        }
    }
}

/// Where the clips are: a data set root in Jester's layout and its two index files.
#[derive(Debug, Clone)]
pub struct FinetuneData {
    pub spec: DataSpec,
    /// Relative to the root unless it exists as given.
    pub train_list: PathBuf,
    pub val_list: PathBuf,
}

impl FinetuneData {
    /// `root` with its `category.txt`, `train_videofolder.txt` and `val_videofolder.txt`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FinetuneData {
            spec: DataSpec::new(root),
            train_list: "train_videofolder.txt".into(),
            val_list: "val_videofolder.txt".into(),
        }
    }
}

/// The settings of a fine-tuning. [`Default`] suits a few clips per label with a frozen
/// backbone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FinetuneOptions {
    pub backbone: BackboneMode,
    pub epochs: usize,
    pub batch_size: usize,
    pub optimizer: OptimizerKind,
    pub lr: f64,
    /// Epochs (0-based) at which the learning rate is divided by 10.
    pub lr_steps: Vec<usize>,
    pub momentum: f64,
    pub weight_decay: f64,
    /// Gradient-norm clipping; 0 turns it off.
    pub clip_gradient: f64,
    /// Dropout before `new_fc`; default the base's.
    pub dropout: Option<f32>,
    /// Another consensus head (it then starts at random); default the base's.
    pub consensus: Option<Consensus>,
    /// Another number of segments; default the base's.
    pub segments: Option<usize>,
    /// Overrides of the base's input size, resize size and clip rate.
    pub input_size: Option<usize>,
    pub resize_size: Option<usize>,
    pub clip_fps: Option<f32>,
    /// `auto`, `off`, `naive` or a file of mirror pairs, as `train --flip-map`.
    pub flip: String,
    pub seed: u64,
    /// Stop once validation top-1 (percent) reaches this.
    pub stop_at_val_top1: Option<f64>,
    /// A batch loss above this stops the run as diverged.
    pub max_loss: f64,
    /// Loader threads when frames are decoded every epoch (not frozen); default a quarter of
    /// the cores.
    pub workers: Option<usize>,
    /// The command line, for the provenance (empty from the window).
    pub command: String,
}

impl Default for FinetuneOptions {
    fn default() -> Self {
        FinetuneOptions {
            backbone: BackboneMode::Frozen,
            epochs: 30,
            batch_size: 8,
            optimizer: OptimizerKind::Adam,
            lr: 1e-3,
            lr_steps: Vec::new(),
            momentum: 0.9,
            weight_decay: 1e-4,
            clip_gradient: 20.0,
            dropout: None,
            consensus: None,
            segments: None,
            input_size: None,
            resize_size: None,
            clip_fps: None,
            flip: "auto".into(),
            seed: 1,
            stop_at_val_top1: None,
            max_loss: 100.0,
            workers: None,
            command: String::new(),
        }
    }
}

impl FinetuneOptions {
    /// Checks values a fine-tuning cannot start with.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        crate::train::config::check_schedule(self.epochs, self.batch_size, self.lr)?;
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return bad(format!(
                "weight decay must be 0 or more, got {}",
                self.weight_decay
            ));
        }
        if let Some(d) = self.dropout {
            crate::train::config::check_dropout(d)?;
        }
        if let Some(fps) = self.clip_fps {
            if !(fps > 0.0 && fps.is_finite()) {
                return bad(format!("clip fps must be positive, got {fps}"));
            }
        }
        if let Some(0) = self.workers {
            return bad("workers must be at least 1".into());
        }
        Ok(())
    }
}

/// What a fine-tuning reports while it works (for a progress bar and a live accuracy).
#[derive(Debug, Clone, PartialEq)]
pub enum FinetuneProgress {
    /// A line for the log: what was loaded, how the head starts, skipped clips.
    Note(String),
    /// Backbone features: `done` of `total` frames (mirrored frames included).
    Features { done: usize, total: usize },
    /// An epoch ended (validation figures in the record); `best` when it is the best so far
    /// (its weights are the ones written at the end).
    Epoch {
        record: EpochRecord,
        epochs: usize,
        best: bool,
    },
}

/// How a fine-tuning ended.
#[derive(Debug, Clone)]
pub struct FinetuneSummary {
    /// `RUN_DIR/best.safetensors`: the model to load.
    pub best_weights: PathBuf,
    pub labels: Vec<String>,
    pub epochs_done: usize,
    pub best_epoch: Option<usize>,
    pub best_val_top1: Option<f64>,
    pub history: Vec<EpochRecord>,
    pub train_clips: usize,
    pub val_clips: usize,
    /// Seconds spent loading the base and computing cached features (0 when not frozen).
    pub setup_secs: f64,
    /// Seconds of training and validation.
    pub train_secs: f64,
    /// From the call to the return.
    pub total_secs: f64,
}

/// One epoch of a [`Fitter`].
pub(crate) struct EpochStats {
    pub tally: Tally,
    pub secs: f64,
    pub clipped_steps: usize,
    pub skipped: usize,
}

/// Where a batch is, for messages: 0-based epoch and batch, and the learning rate.
pub(crate) struct BatchAt {
    pub epoch: usize,
    pub batch: usize,
    pub lr: f64,
}

/// One optimiser step on a batch's `loss` (refused as diverged when it is not finite or above
/// `max_loss`); adds the batch to `tally` and returns whether the gradients were clipped.
pub(crate) fn learn_batch(
    optimizer: &mut Optimizer,
    logits: &Tensor,
    loss: &Tensor,
    labels: &[u32],
    max_loss: f64,
    at: BatchAt,
    tally: &mut Tally,
) -> Result<bool> {
    let loss_v = loss.to_scalar::<f32>()? as f64;
    if !loss_v.is_finite() || loss_v > max_loss {
        return Err(Error::Diverged(format!(
            "the loss is {loss_v} at epoch {}, batch {} (lr {:.2e})",
            at.epoch + 1,
            at.batch + 1,
            at.lr
        )));
    }
    let grads = loss.backward()?;
    let step = optimizer.step(&grads, at.lr)?;
    let (top1, top5) = crate::train::metrics::count_correct(&logits.to_vec2::<f32>()?, labels);
    tally.add(labels.len(), loss_v, top1, top5);
    Ok(step.clip_coef.is_some())
}

/// The two ways to train: the head on cached features, or frames through a partly trainable
/// backbone.
pub(crate) trait Fitter {
    fn train_epoch(&mut self, epoch: usize, lr: f64, cancel: &AtomicBool) -> Result<EpochStats>;
    /// `None` when there is nothing to validate on.
    fn validate(&mut self) -> Result<Option<Tally>>;
    /// The whole model's tensors (backbone and head).
    fn tensors(&self) -> HashMap<String, Tensor>;
}

/// The run folder's files.
struct Files {
    best: PathBuf,
    log: PathBuf,
    settings: PathBuf,
    curves: PathBuf,
    metrics: MetricsFiles,
}

impl Files {
    fn prepare(dir: &Path) -> Result<Self> {
        let f = Files {
            best: dir.join("best.safetensors"),
            log: dir.join("train.log"),
            settings: dir.join("finetune.toml"),
            curves: dir.join("curves.png"),
            metrics: MetricsFiles::in_dir(dir),
        };
        for taken in [&f.best, &dir.join("checkpoint.safetensors")] {
            if taken.exists() {
                return Err(Error::Config(format!(
                    "{} already holds a run ({} exists); choose another run folder",
                    dir.display(),
                    taken.display()
                )));
            }
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        Ok(f)
    }

    /// Logs `line` and passes it on as a [`FinetuneProgress::Note`].
    fn note(&self, progress: &mut dyn FnMut(FinetuneProgress), line: String) -> Result<()> {
        self.log(&line)?;
        progress(FinetuneProgress::Note(line));
        Ok(())
    }

    fn log(&self, line: &str) -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| Error::io(&self.log, e))?;
        writeln!(f, "{line}").map_err(|e| Error::io(&self.log, e))
    }
}

/// The base weights file, read once.
struct Base {
    config: ModelConfig,
    contents: Contents,
    /// `base_model.*` tensors (torchvision's `features.*` renamed).
    backbone: HashMap<String, Tensor>,
    /// Everything else (the head), for a whole model.
    head: HashMap<String, Tensor>,
}

fn read_base(path: &Path) -> Result<Base> {
    // An ensemble's networks share their input; its first network's backbone stands for all.
    let file = weights::ensemble::first_member(weights::load_file(path)?, path)?;
    let (mut backbone, mut head) = (HashMap::new(), HashMap::new());
    for (name, t) in file.tensors {
        let name = match name.strip_prefix("features.") {
            Some(rest) => format!("base_model.{rest}"),
            None => name,
        };
        if name.starts_with("base_model.") {
            backbone.insert(name, t);
        } else {
            head.insert(name, t);
        }
    }
    if backbone.is_empty() {
        return Err(Error::bad_file(
            path,
            "has no backbone tensors (base_model.*) to fine-tune from",
        ));
    }
    Ok(Base {
        config: file.config,
        contents: file.contents,
        backbone,
        head,
    })
}

/// The new model's configuration: the base's, with the data set's labels and the overrides.
fn new_config(base: &ModelConfig, labels: Vec<String>, o: &FinetuneOptions) -> Result<ModelConfig> {
    let mut c = base.clone();
    c.num_classes = labels.len();
    c.labels = labels;
    if let Some(v) = o.consensus {
        c.consensus = v;
    }
    if let Some(v) = o.segments {
        c.num_segments = v;
    }
    if let Some(v) = o.input_size {
        c.input_size = v;
        // A resize below the new input size would not be a valid config.
        c.resize_size = c.resize_size.max(v);
    }
    if let Some(v) = o.resize_size {
        c.resize_size = v;
    }
    if let Some(v) = o.clip_fps {
        c.clip_fps = v;
    }
    if let Some(v) = o.dropout {
        c.dropout = v;
    }
    c.provenance = BTreeMap::new();
    c.validate()?;
    Ok(c)
}

fn open_data(data: &FinetuneData) -> Result<(Dataset, Dataset)> {
    let train = data.spec.open(&data.train_list)?;
    let val = data.spec.open(&data.val_list)?;
    train.require_labels()?;
    val.require_labels()?;
    if train.labels != val.labels {
        return Err(Error::Data(
            "the training and validation lists use different label files".into(),
        ));
    }
    if train.is_empty() {
        return Err(Error::Data(format!(
            "{} lists no clips: record some first",
            train.list.path.display()
        )));
    }
    Ok((train, val))
}

/// `label: train+val` per label, for the provenance and the log.
fn clip_counts(train: &Dataset, val: &Dataset) -> String {
    let count = |ds: &Dataset, l: usize| {
        ds.list
            .entries
            .iter()
            .filter(|e| e.label == Some(l))
            .count()
    };
    train
        .labels
        .iter()
        .enumerate()
        .map(|(l, name)| format!("{name}: {}+{}", count(train, l), count(val, l)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Better = higher validation top-1, then lower validation loss (with a handful of validation
/// clips top-1 saturates early; the loss keeps telling which epoch is more confident).
fn better(new: &EpochRecord, best: Option<&EpochRecord>) -> bool {
    let (Some(t), Some(l)) = (new.val_top1, new.val_loss) else {
        return false;
    };
    match best.and_then(|b| b.val_top1.zip(b.val_loss)) {
        None => true,
        Some((bt, bl)) => t > bt || (t == bt && l < bl),
    }
}

/// A deep copy of the model's tensors (training updates the variables in place).
fn snapshot(fitter: &dyn Fitter) -> Result<HashMap<String, Tensor>> {
    fitter
        .tensors()
        .into_iter()
        .map(|(k, t)| Ok((k, t.copy()?)))
        .collect()
}

/// Feature progress for `progress`, about every 2% of the frames: enough for a smooth bar.
fn throttled(progress: &mut dyn FnMut(FinetuneProgress)) -> impl FnMut(usize, usize) + '_ {
    let mut last = 0;
    move |done, total| {
        if done == 0 || done == total || done - last >= total.div_ceil(50) {
            last = done;
            progress(FinetuneProgress::Features { done, total });
        }
    }
}

/// Fine-tunes `base` on the data set `data`, writing the run folder `run_dir` (which must not
/// hold a run yet), and returns where the new weights are. `progress` hears about every step;
/// setting `cancel` stops the run at the next clip or batch with [`Error::Cancelled`] and writes
/// no model. The best epoch's model (by validation top-1, then loss) is written when the last
/// epoch ends. Runs on the calling thread (the backbone and the head use
/// candle's thread pool).
pub fn run(
    base: &Path,
    data: &FinetuneData,
    run_dir: &Path,
    opts: &FinetuneOptions,
    device: &Device,
    progress: &mut dyn FnMut(FinetuneProgress),
    cancel: &AtomicBool,
) -> Result<FinetuneSummary> {
    run_with(base, data, run_dir, opts, device, None, progress, cancel)
}

/// The frozen backbone's features of a data set's two lists, computed once and shared by several
/// fine-tunings of the same base with other heads or segment counts (`gesture-app compare`'s
/// fast mode). Valid for the base, data set, preprocessing and flip rule it was computed with
/// ([`SharedFeatures::key`]).
#[derive(Debug, Clone)]
pub struct SharedFeatures {
    pub train: features::FeatureCache,
    pub val: features::FeatureCache,
    /// Seconds the backbone pass took.
    pub secs: f64,
    key: String,
}

impl SharedFeatures {
    /// Runs the backbone of `base` over both lists of `data` once, with the preprocessing and
    /// flip rule `opts` gives (its head, segment count and training settings do not matter).
    pub fn compute(
        base: &Path,
        data: &FinetuneData,
        opts: &FinetuneOptions,
        device: &Device,
        progress: &mut dyn FnMut(FinetuneProgress),
        cancel: &AtomicBool,
    ) -> Result<Self> {
        let t0 = Instant::now();
        let b = read_base(base)?;
        let (train, val) = open_data(data)?;
        // Any head will do to build the model: only its backbone runs.
        let mut o = opts.clone();
        o.consensus = Some(Consensus::Avg);
        o.segments = Some(1);
        let cfg = new_config(&b.config, train.labels.clone(), &o)?;
        let flip = FlipPolicy::from_spec(&opts.flip, &cfg.labels)?;
        let vars = VarMap::new();
        let vb = seeded_var_builder(&vars, opts.seed, LinearInit::Candle, &Device::Cpu);
        head::Head::new(&cfg, vb, opts.seed, false)?;
        let model = frozen_model(base, &b, &cfg, &vars, device)?;
        let (train_f, val_f) = compute_caches(&model, &train, &val, &flip, progress, cancel)?;
        Ok(SharedFeatures {
            train: train_f,
            val: val_f,
            secs: t0.elapsed().as_secs_f64(),
            key: features_key(base, data, &cfg, &opts.flip),
        })
    }

    /// What the features depend on: base, data set, input preprocessing, clip rate, flip rule.
    pub fn key(&self) -> &str {
        &self.key
    }
}

fn features_key(base: &Path, data: &FinetuneData, cfg: &ModelConfig, flip: &str) -> String {
    format!(
        "{} | {} {} {} | {}px/{}px {} {:?}/{} {} fps | flip {flip}",
        base.display(),
        data.spec.root.display(),
        data.train_list.display(),
        data.val_list.display(),
        cfg.input_size,
        cfg.resize_size,
        cfg.framing,
        cfg.modality,
        cfg.new_length,
        cfg.clip_fps,
    )
}

/// The inference model of `cfg`: the base's backbone and the head variables in `vars`.
fn frozen_model(
    base: &Path,
    b: &Base,
    cfg: &ModelConfig,
    vars: &VarMap,
    device: &Device,
) -> Result<GestureModel> {
    let mut tensors = b.backbone.clone();
    for (k, v) in vars.data().lock().expect("varmap lock").iter() {
        tensors.insert(k.clone(), v.as_tensor().clone());
    }
    GestureModel::from_tensors(cfg.clone(), tensors, device).map_err(|e| match e {
        Error::Mismatch { model, details } => Error::bad_file(
            base,
            format!("its backbone does not match {model}: {details}"),
        ),
        other => other,
    })
}

/// The feature caches of both lists (mirrored frames for the training clips a flip may draw).
fn compute_caches(
    model: &GestureModel,
    train: &Dataset,
    val: &Dataset,
    flip: &FlipPolicy,
    progress: &mut dyn FnMut(FinetuneProgress),
    cancel: &AtomicBool,
) -> Result<(features::FeatureCache, features::FeatureCache)> {
    let flippable = |label: usize| flip.flipped_label(label).is_some();
    let train_f = features::FeatureCache::compute(
        model,
        train,
        &flippable,
        &mut throttled(progress),
        cancel,
    )?;
    let val_f =
        features::FeatureCache::compute(model, val, &|_| false, &mut throttled(progress), cancel)?;
    Ok((train_f, val_f))
}

/// [`run`], with the frozen backbone's features taken from `shared` when given (they must have
/// been computed for this base, data set and preprocessing: refused otherwise).
#[allow(clippy::too_many_arguments)]
pub fn run_with(
    base: &Path,
    data: &FinetuneData,
    run_dir: &Path,
    opts: &FinetuneOptions,
    device: &Device,
    shared: Option<&SharedFeatures>,
    progress: &mut dyn FnMut(FinetuneProgress),
    cancel: &AtomicBool,
) -> Result<FinetuneSummary> {
    let start = Instant::now();
    opts.validate()?;
    let files = Files::prepare(run_dir)?;
    let settings = toml::to_string_pretty(opts).map_err(|e| Error::Config(e.to_string()))?;
    let header = format!(
        "# gesture-app train --finetune: base {}, data {}\n",
        portable_path(base),
        portable_path(&data.spec.root)
    );
    crate::util::write_atomic(&files.settings, (header + &settings).as_bytes())?;

    let b = read_base(base)?;
    let (train, val) = open_data(data)?;
    let cfg = new_config(&b.config, train.labels.clone(), opts)?;
    let counts = clip_counts(&train, &val);
    files.note(
        progress,
        format!(
            "base: {} ({} + {}, {} classes{}); input {}px, clip rate {} fps",
            portable_path(base),
            b.config.arch,
            b.config.consensus,
            b.config.num_classes,
            if b.contents == Contents::Backbone {
                ", backbone only"
            } else {
                ""
            },
            cfg.input_size,
            cfg.clip_fps
        ),
    )?;
    files.note(
        progress,
        format!(
            "data: {} training and {} validation clips, {} labels ({counts})",
            train.len(),
            val.len(),
            cfg.num_classes
        ),
    )?;

    // The head, initialised from the base's where it fits.
    let vars = VarMap::new();
    let vb = seeded_var_builder(&vars, opts.seed, LinearInit::Candle, &Device::Cpu);
    let train_head = head::Head::new(&cfg, vb.clone(), opts.seed, true)?;
    let eval_head = head::Head::new(&cfg, vb, opts.seed, false)?;
    let base_head = (b.contents == Contents::Model).then_some((&b.config, &b.head));
    let init = head::init_from_base(&vars, &cfg, base_head)?;
    files.note(progress, init.describe())?;
    let flip = FlipPolicy::from_spec(&opts.flip, &cfg.labels)?;
    files.note(progress, format!("flip: {}", flip.describe(&cfg.labels)))?;
    files.note(progress, format!("backbone: {}", opts.backbone))?;
    let optim = OptimConfig {
        kind: opts.optimizer,
        momentum: opts.momentum,
        weight_decay: opts.weight_decay,
        clip_gradient: (opts.clip_gradient > 0.0).then_some(opts.clip_gradient),
        ..OptimConfig::default()
    };

    let mut fitter: Box<dyn Fitter> = match opts.backbone {
        BackboneMode::Frozen => {
            let t0 = Instant::now();
            let (train_f, val_f) = match shared {
                Some(s) => {
                    let key = features_key(base, data, &cfg, &opts.flip);
                    if s.key != key {
                        return Err(Error::Config(format!(
                            "the shared features were computed for {}, not for {key}",
                            s.key
                        )));
                    }
                    (s.train.clone(), s.val.clone())
                }
                None => {
                    let model = frozen_model(base, &b, &cfg, &vars, device)?;
                    compute_caches(&model, &train, &val, &flip, progress, cancel)?
                }
            };
            for s in train_f.skipped.iter().chain(&val_f.skipped) {
                files.note(
                    progress,
                    format!("warning: skipped clip {}: {}", s.id, s.reason),
                )?;
            }
            if train_f.clips.is_empty() {
                return Err(Error::Data(format!(
                    "no training clip of {} could be read; check it with `gesture-app data check`",
                    train.list.path.display()
                )));
            }
            files.note(
                progress,
                format!(
                    "features: {} clips cached ({:.1} MB) in {:.1} s{}",
                    train_f.clips.len() + val_f.clips.len(),
                    (train_f.bytes() + val_f.bytes()) as f64 / 1e6,
                    shared.map_or(t0.elapsed().as_secs_f64(), |s| s.secs),
                    if shared.is_some() { " (shared)" } else { "" }
                ),
            )?;
            let all = vars.data().lock().expect("varmap lock").clone();
            let (params, _) = trainable_params(&all, cfg.arch, false);
            Box::new(cached::CachedFitter {
                head: train_head,
                eval_head,
                vars: vars.clone(),
                optimizer: Optimizer::new(params, optim),
                train: train_f,
                val: val_f,
                flip: flip.clone(),
                segments: cfg.num_segments,
                batch_size: opts.batch_size,
                seed: opts.seed,
                max_loss: opts.max_loss,
                device: Device::Cpu,
                backbone: b.backbone.clone(),
                pool: cached::head_pool()?,
            })
        }
        BackboneMode::LastBlocks(_) | BackboneMode::All => {
            // The frame loader reads a landmark model's clips from landmark files; clips of
            // frames go through the tracker only on the way into the feature cache.
            if cfg.arch.reads_landmarks()
                && (0..train.len()).any(|i| landmark_inputs::is_frame_folder(&train, i))
            {
                return Err(Error::Config(format!(
                    "{} holds clip folders of frames: a landmark model learns from them with a \
                     frozen backbone only (--freeze-backbone), where the hand tracker runs over \
                     each clip once",
                    data.spec.root.display()
                )));
            }
            let last = match opts.backbone {
                BackboneMode::LastBlocks(k) => Some(k),
                _ => None,
            };
            let trainable = unfreeze::trainable_backbone(cfg.arch, last)?;
            let loader =
                LoaderOptions::for_model(&cfg, opts.workers.unwrap_or_else(default_workers), 4);
            let f = unfreeze::FrameFitter::new(
                unfreeze::FrameSetup {
                    cfg: cfg.clone(),
                    backbone: b.backbone.clone(),
                    head: vars.clone(),
                    trainable: Box::new(trainable),
                    optim,
                    train: Arc::new(train.clone()),
                    val: Arc::new(val.clone()),
                    loader,
                    flip: flip.clone(),
                    batch_size: opts.batch_size,
                    seed: opts.seed,
                    max_loss: opts.max_loss,
                },
                device,
            )?;
            files.note(
                progress,
                format!("trainable: {} values", f.trainable_values),
            )?;
            Box::new(f)
        }
    };
    let setup_secs = start.elapsed().as_secs_f64();

    files.metrics.rewrite(&[])?;
    let t_train = Instant::now();
    let mut history: Vec<EpochRecord> = Vec::new();
    let mut best: Option<EpochRecord> = None;
    let mut best_tensors: Option<HashMap<String, Tensor>> = None;
    let save = |record: &EpochRecord, tensors: &HashMap<String, Tensor>| -> Result<()> {
        let mut c = cfg.clone();
        let p = &mut c.provenance;
        p.insert("source".into(), "gesture-app train --finetune".into());
        p.insert("base".into(), portable_path(base));
        if let Some(src) = b.config.provenance.get("source") {
            p.insert("base_source".into(), src.clone());
        }
        p.insert("dataset".into(), portable_path(&data.spec.root));
        p.insert("train_clips".into(), train.len().to_string());
        p.insert("val_clips".into(), val.len().to_string());
        p.insert("clips_per_label".into(), counts.clone());
        p.insert("backbone".into(), opts.backbone.to_string());
        p.insert("epoch".into(), record.epoch.to_string());
        p.insert("epochs_planned".into(), opts.epochs.to_string());
        if let Some(t) = record.val_top1 {
            p.insert("val_top1".into(), format!("{t:.2}"));
        }
        p.insert("seed".into(), opts.seed.to_string());
        if !opts.command.is_empty() {
            p.insert("command".into(), opts.command.clone());
        }
        weights::save(&files.best, tensors, &c)
    };
    for epoch in 0..opts.epochs {
        let lr = lr_at_epoch(opts.lr, &opts.lr_steps, epoch);
        let out = fitter.train_epoch(epoch, lr, cancel)?;
        let val_tally = fitter.validate()?;
        if let Some(v) = &val_tally {
            if !v.loss().is_finite() {
                return Err(Error::Diverged(format!(
                    "the validation loss is {} after epoch {}",
                    v.loss(),
                    epoch + 1
                )));
            }
        }
        let record = EpochRecord {
            epoch: epoch + 1,
            lr,
            train_loss: out.tally.loss(),
            train_top1: out.tally.top1_pct(),
            train_top5: out.tally.top5_pct(),
            val_loss: val_tally.as_ref().map(Tally::loss),
            val_top1: val_tally.as_ref().map(Tally::top1_pct),
            val_top5: val_tally.as_ref().map(Tally::top5_pct),
            train_clips: out.tally.clips,
            skipped_clips: out.skipped,
            clips_per_s: out.tally.clips as f64 / out.secs.max(1e-9),
            epoch_s: out.secs,
            clipped_steps: out.clipped_steps,
            // Few clips per label learn in a few epochs; the collapse check is for long runs.
            train_pred: None,
            val_pred: None,
            diagnosis: None,
        };
        let last = epoch + 1 == opts.epochs;
        let reached = matches!(
            (opts.stop_at_val_top1, record.val_top1),
            (Some(target), Some(v)) if v >= target
        );
        // Without validation clips the last epoch is the model.
        let is_best =
            better(&record, best.as_ref()) || (record.val_top1.is_none() && (last || reached));
        if is_best {
            // A copy in memory; the file is written once, at the end (writing it every time
            // the model improves would cost more than the epoch).
            best_tensors = Some(snapshot(fitter.as_ref())?);
            best = Some(record.clone());
        }
        files.metrics.append(&record)?;
        history.push(record.clone());
        files.log(&crate::train::trainer::summary_line(
            &record,
            opts.epochs,
            is_best,
        ))?;
        progress(FinetuneProgress::Epoch {
            record,
            epochs: opts.epochs,
            best: is_best,
        });
        if reached {
            files.note(
                progress,
                format!(
                    "validation top-1 reached the target: stopping after epoch {}",
                    epoch + 1
                ),
            )?;
            break;
        }
    }
    match (&best, &best_tensors) {
        (Some(r), Some(t)) => save(r, t)?,
        _ => {
            // Every validation clip was unreadable: keep the last epoch.
            if let Some(r) = history.last() {
                save(r, &fitter.tensors())?;
                best = Some(r.clone());
            }
        }
    }
    plot::write_curves(&files.curves, &history)?;
    let train_secs = t_train.elapsed().as_secs_f64();
    let total_secs = start.elapsed().as_secs_f64();
    let best_val_top1 = best.as_ref().and_then(|r| r.val_top1);
    files.note(
        progress,
        format!(
            "done in {total_secs:.1} s (setup {setup_secs:.1} s, training {train_secs:.1} s){}: {}",
            best_val_top1
                .map(|t| format!("; best validation top-1 {t:.1}%"))
                .unwrap_or_default(),
            files.best.display()
        ),
    )?;
    Ok(FinetuneSummary {
        best_weights: files.best,
        labels: cfg.labels.clone(),
        epochs_done: history.len(),
        best_epoch: best.as_ref().map(|r| r.epoch),
        best_val_top1,
        history,
        train_clips: train.len(),
        val_clips: val.len(),
        setup_secs,
        train_secs,
        total_secs,
    })
}
