//! `gesture-app compare`: the seed paper's study as one command. A grid of backbones × heads ×
//! segment counts ([`grid`]) is trained configuration by configuration with the existing
//! training code — `train`'s session and trainer (full mode) or `train --finetune`'s head
//! training on cached features (fast mode, one feature cache shared by every head of a
//! backbone) — then each configuration's best weights are evaluated as `gesture-app eval` does,
//! counted as thop counts (`model::cost`), and timed per clip as `bench` times. The rows go into
//! one table (markdown, CSV, JSON) and a plot of accuracy against cost ([`table`], [`plot`]).
//!
//! A sweep is resumable: after each configuration the state file `compare_state.json` (the
//! finished rows) is rewritten atomically, and a new call skips every configuration it holds
//! with the same settings. An unfinished configuration's run folder is cleared and trained
//! again, except a full-mode run with a checkpoint from the same settings, which resumes.

pub mod grid;
pub mod plot;
pub mod table;

use crate::model::cost::thop_macs;
use crate::train::config::RunConfig;
use crate::train::evaluate::evaluate_file;
use crate::train::finetune::{
    self, BackboneMode, FinetuneData, FinetuneOptions, FinetuneProgress, SharedFeatures,
};
use crate::train::metrics::{EpochRecord, MetricsFiles};
use crate::train::optim::OptimizerKind;
use crate::train::params::is_running_stat;
use crate::train::progress::Console;
use crate::train::session::Session;
use crate::train::trainer::{self, Provenance};
use crate::{Error, Result};
use candle_core::Device;
use grid::{Backbone, Entry, Mode};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use table::{Row, State};

/// The sweep's settings (the same for every configuration).
#[derive(Debug, Clone)]
pub struct Settings {
    pub mode: Mode,
    /// The data set and its two lists.
    pub data: FinetuneData,
    /// Output folder: the tables, the plot, the state file, `runs/<configuration>/`.
    pub out: PathBuf,
    /// Overrides of the training defaults (fast: `train --finetune`'s; full: the recipe's or
    /// `train`'s).
    pub epochs: Option<usize>,
    pub lr: Option<f64>,
    pub batch_size: Option<usize>,
    pub optimizer: Option<OptimizerKind>,
    pub seed: u64,
    /// Full mode: the `train` recipe entries without their own start from.
    pub recipe: Option<PathBuf>,
    /// Loader threads (training in full mode, evaluation in both).
    pub workers: usize,
    /// Clip timing: runs before and during the measurement.
    pub bench_warmup: usize,
    pub bench_iters: usize,
}

/// What a sweep reports while it works.
#[derive(Debug, Clone)]
pub enum SweepProgress {
    /// `finished` of the `total` configurations are already in the state file.
    Begin { total: usize, finished: usize },
    /// The shared feature pass of a backbone: frames done of total.
    Features {
        backbone: String,
        done: usize,
        total: usize,
    },
    /// Configuration `index` (0-based) is at `what` (training, an epoch, evaluation, timing).
    Stage {
        index: usize,
        name: String,
        what: String,
    },
    /// Configuration `index` was finished before: not run again.
    Skipped { index: usize, name: String },
    /// Configuration `index` is done.
    Done { index: usize, row: Box<Row> },
}

/// How a sweep ended.
#[derive(Debug, Clone)]
pub struct SweepSummary {
    /// The grid's rows, in grid order.
    pub rows: Vec<Row>,
    /// Configurations trained now, and those taken from the state file.
    pub ran: usize,
    pub skipped: usize,
    /// Seconds of each shared feature pass run now (fast mode), by backbone.
    pub features_s: Vec<(String, f64)>,
}

/// Where a sweep's files are.
pub struct OutFiles {
    pub state: PathBuf,
    pub markdown: PathBuf,
    pub csv: PathBuf,
    pub json: PathBuf,
    pub png: PathBuf,
    pub runs: PathBuf,
}

impl OutFiles {
    pub fn in_dir(out: &Path) -> Self {
        OutFiles {
            state: out.join("compare_state.json"),
            markdown: out.join("compare.md"),
            csv: out.join("compare.csv"),
            json: out.join("compare.json"),
            png: out.join("compare.png"),
            runs: out.join("runs"),
        }
    }
}

/// What a row is measured with; a finished row with another key is measured again.
fn settings_key(e: &Entry, s: &Settings) -> String {
    let recipe = e.recipe.as_ref().or(s.recipe.as_ref());
    format!(
        "{} | data {} ({}, {}) | backbone {} | recipe {} | epochs {:?} lr {:?} batch {:?} \
         optimizer {:?} seed {}",
        s.mode.name(),
        s.data.spec.root.display(),
        s.data.train_list.display(),
        s.data.val_list.display(),
        e.backbone,
        recipe.map_or("-".into(), |p| p.display().to_string()),
        s.epochs,
        s.lr,
        s.batch_size,
        s.optimizer,
        s.seed
    )
}

/// `train --finetune`'s options for `e` (frozen backbone).
fn fast_options(e: Option<&Entry>, s: &Settings) -> FinetuneOptions {
    let mut o = FinetuneOptions {
        backbone: BackboneMode::Frozen,
        consensus: e.map(|e| e.consensus),
        segments: e.map(|e| e.segments),
        seed: s.seed,
        workers: Some(s.workers),
        command: crate::train::provenance::this_command(),
        ..FinetuneOptions::default()
    };
    if let Some(v) = s.epochs {
        o.epochs = v;
    }
    if let Some(v) = s.lr {
        o.lr = v;
    }
    if let Some(v) = s.batch_size {
        o.batch_size = v;
    }
    if let Some(v) = s.optimizer {
        o.optimizer = v;
    }
    o
}

/// `train`'s configuration for `e` (full mode).
fn full_config(e: &Entry, s: &Settings) -> Result<RunConfig> {
    let mut c = match e.recipe.as_ref().or(s.recipe.as_ref()) {
        Some(p) => RunConfig::from_toml_file(p)?,
        None => RunConfig::default(),
    };
    let spec = &s.data.spec;
    c.data.root = Some(spec.root.clone());
    c.data.train_list = s.data.train_list.clone();
    c.data.val_list = s.data.val_list.clone();
    c.data.labels = spec.labels.clone().or(c.data.labels);
    c.data.frames_dir = spec.frames_dir.clone().or(c.data.frames_dir);
    if let Some(n) = &spec.naming {
        c.data.frame_digits = Some(n.digits);
    }
    match &e.backbone {
        Backbone::Arch(a) => c.model.arch = *a,
        Backbone::File(p) => {
            let (mc, _) = crate::weights::read_config(p)?;
            c.model.arch = mc.arch;
            c.model.pretrained = Some(p.clone());
        }
    }
    c.model.consensus = e.consensus;
    c.model.segments = e.segments;
    if let Some(v) = s.epochs {
        c.optim.epochs = v;
    }
    if let Some(v) = s.lr {
        c.optim.lr = v;
    }
    if let Some(v) = s.batch_size {
        c.optim.batch_size = v;
    }
    if let Some(v) = s.optimizer {
        c.optim.optimizer = v;
    }
    c.run.seed = s.seed;
    c.run.workers = Some(s.workers);
    c.validate()?;
    Ok(c)
}

/// Removes a configuration's unfinished run folder.
fn clear(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    Ok(())
}

/// How a configuration's training ended.
struct Trained {
    best: PathBuf,
    history: Vec<EpochRecord>,
    best_epoch: Option<usize>,
    /// Set when the run diverged.
    note: Option<String>,
}

/// Trains `e` in fast mode on the shared features.
#[allow(clippy::too_many_arguments)]
fn train_fast(
    index: usize,
    e: &Entry,
    s: &Settings,
    dir: &Path,
    shared: &SharedFeatures,
    device: &Device,
    progress: &mut dyn FnMut(SweepProgress),
    cancel: &AtomicBool,
) -> Result<Trained> {
    let Backbone::File(base) = &e.backbone else {
        return Err(Error::Config(format!(
            "{}: the fast mode needs a weights file",
            e.name()
        )));
    };
    clear(dir)?;
    let opts = fast_options(Some(e), s);
    let name = e.name();
    let mut on = |p: FinetuneProgress| {
        if let FinetuneProgress::Epoch { record, epochs, .. } = p {
            progress(SweepProgress::Stage {
                index,
                name: name.clone(),
                what: format!(
                    "epoch {}/{epochs}{}",
                    record.epoch,
                    record
                        .val_top1
                        .map(|t| format!(", val {t:.1}%"))
                        .unwrap_or_default()
                ),
            });
        }
    };
    match finetune::run_with(
        base,
        &s.data,
        dir,
        &opts,
        device,
        Some(shared),
        &mut on,
        cancel,
    ) {
        Ok(sum) => Ok(Trained {
            best: sum.best_weights,
            history: sum.history,
            best_epoch: sum.best_epoch,
            note: None,
        }),
        Err(Error::Diverged(msg)) => diverged(dir, msg),
        Err(e) => Err(e),
    }
}

fn diverged(dir: &Path, msg: String) -> Result<Trained> {
    Ok(Trained {
        best: dir.join("best.safetensors"),
        history: MetricsFiles::in_dir(dir).read().unwrap_or_default(),
        best_epoch: None,
        note: Some(format!("diverged: {msg}")),
    })
}

/// Trains `e` with `train`'s session and trainer; resumes a run of the same settings that was
/// stopped after a checkpoint.
fn train_full(
    index: usize,
    e: &Entry,
    key: &str,
    s: &Settings,
    dir: &Path,
    device: &Device,
    progress: &mut dyn FnMut(SweepProgress),
) -> Result<Trained> {
    let marker = dir.join("compare.key");
    let same = std::fs::read_to_string(&marker).is_ok_and(|k| k == key);
    let mut session = if same && dir.join("checkpoint.safetensors").exists() {
        progress(SweepProgress::Stage {
            index,
            name: e.name(),
            what: "training (resumed from its checkpoint)".into(),
        });
        Session::resume(dir, device, |_| {})?
    } else {
        clear(dir)?;
        let cfg = full_config(e, s)?;
        std::fs::create_dir_all(dir).map_err(|err| Error::io(dir, err))?;
        crate::util::write_atomic(&marker, key.as_bytes())?;
        progress(SweepProgress::Stage {
            index,
            name: e.name(),
            what: "training".into(),
        });
        Session::fresh(cfg, dir, device)?
    };
    let mut console = Console::log_only(session.paths.log.clone());
    let prov = Provenance {
        command: crate::train::provenance::this_command(),
    };
    match trainer::run(&mut session, &prov, &mut console) {
        Ok(sum) => Ok(Trained {
            best: sum.best_weights,
            history: sum.history,
            best_epoch: sum.best_epoch,
            note: None,
        }),
        Err(Error::Diverged(msg)) => diverged(dir, msg),
        Err(e) => Err(e),
    }
}

/// Parameters of the consensus head (`consensus.*`) and of the whole model, thop's way:
/// weights and biases, not BatchNorm running statistics.
pub fn count_params(tensors: &HashMap<String, candle_core::Tensor>) -> (u64, u64) {
    let mut head = 0;
    let mut all = 0;
    for (name, t) in tensors {
        if is_running_stat(name) {
            continue;
        }
        let n = t.elem_count() as u64;
        all += n;
        if name.starts_with("consensus.") {
            head += n;
        }
    }
    (head, all)
}

/// Evaluates, counts and times a trained configuration into its row.
#[allow(clippy::too_many_arguments)]
fn measure(
    index: usize,
    e: &Entry,
    key: &str,
    s: &Settings,
    dir: &Path,
    t: Trained,
    device: &Device,
    progress: &mut dyn FnMut(SweepProgress),
) -> Result<Row> {
    let train_s = t.history.iter().map(|r| r.epoch_s).sum();
    let mut row = Row {
        name: e.name(),
        key: key.to_string(),
        head: e.consensus.name().to_string(),
        backbone: e.backbone.label(),
        segments: e.segments,
        top1: 0.0,
        top5: 0.0,
        val_clips: 0,
        best_epoch: t.best_epoch,
        epochs: t.history.len(),
        head_params: 0,
        model_params: 0,
        head_macs: 0,
        model_macs: 0,
        cpu_ms: 0.0,
        gpu_ms: None,
        train_s,
        run_dir: dir.to_path_buf(),
        weights: t.best.clone(),
        note: t.note.clone(),
    };
    if t.note.is_some() || !t.best.exists() {
        row.note.get_or_insert_with(|| "no model was saved".into());
        return Ok(row);
    }
    let stage = |what: &str, progress: &mut dyn FnMut(SweepProgress)| {
        progress(SweepProgress::Stage {
            index,
            name: e.name(),
            what: what.into(),
        })
    };
    stage("evaluating", progress);
    let ev = evaluate_file(
        &t.best,
        &s.data.spec,
        &s.data.val_list,
        EVAL_BATCH,
        s.workers,
        device,
        &mut |_, _| {},
    )?;
    row.top1 = ev.result.tally.top1_pct();
    row.top5 = ev.result.tally.top5_pct();
    row.val_clips = ev.result.tally.clips;
    let (cfg, tensors) = crate::weights::load(&t.best)?;
    (row.head_params, row.model_params) = count_params(&tensors);
    let macs = thop_macs(&cfg);
    (row.head_macs, row.model_macs) = (macs.head, macs.model);
    stage("timing", progress);
    let cpu = crate::weights::load_model(&t.best, &Device::Cpu)?;
    row.cpu_ms = crate::bench::model::bench_clip(&cpu, s.bench_warmup, s.bench_iters)?.median_ms;
    if !device.is_cpu() {
        let gpu = crate::weights::load_model(&t.best, device)?;
        row.gpu_ms =
            Some(crate::bench::model::bench_clip(&gpu, s.bench_warmup, s.bench_iters)?.median_ms);
    }
    Ok(row)
}

/// Clips per evaluation batch: `gesture-app eval`'s default, so the figures are the ones it
/// prints.
pub const EVAL_BATCH: usize = 8;

/// The sweep's description for `compare.json`.
fn about(s: &Settings, features_s: &[(String, f64)]) -> serde_json::Value {
    serde_json::json!({
        "mode": s.mode.name(),
        "data": s.data.spec.root,
        "train_list": s.data.train_list,
        "val_list": s.data.val_list,
        "epochs": s.epochs,
        "lr": s.lr,
        "batch_size": s.batch_size,
        "optimizer": s.optimizer,
        "seed": s.seed,
        "features_s": features_s.iter().map(|(b, t)| serde_json::json!({"backbone": b, "secs": t})).collect::<Vec<_>>(),
        "macs": "thop 0.1.1 convention (model::cost)",
        "eval_batch": EVAL_BATCH,
    })
}

/// Runs the sweep of `entries` (checked by [`grid::check`]) with settings `s`.
pub fn run(
    entries: &[Entry],
    s: &Settings,
    device: &Device,
    progress: &mut dyn FnMut(SweepProgress),
    cancel: &AtomicBool,
) -> Result<SweepSummary> {
    let files = OutFiles::in_dir(&s.out);
    std::fs::create_dir_all(&files.runs).map_err(|e| Error::io(&files.runs, e))?;
    let mut state = State::load(&files.state)?;
    let keys: Vec<String> = entries.iter().map(|e| settings_key(e, s)).collect();
    let finished = entries
        .iter()
        .zip(&keys)
        .filter(|(e, k)| state.finished(&e.name(), k).is_some())
        .count();
    progress(SweepProgress::Begin {
        total: entries.len(),
        finished,
    });
    let mut shared: HashMap<PathBuf, SharedFeatures> = HashMap::new();
    let mut features_s = Vec::new();
    let (mut ran, mut skipped) = (0, 0);
    let grid_rows = |state: &State| -> Vec<Row> {
        entries
            .iter()
            .zip(&keys)
            .filter_map(|(e, k)| state.finished(&e.name(), k).cloned())
            .collect()
    };
    for (index, (e, key)) in entries.iter().zip(&keys).enumerate() {
        let name = e.name();
        if state.finished(&name, key).is_some() {
            skipped += 1;
            progress(SweepProgress::Skipped { index, name });
            continue;
        }
        let dir = files.runs.join(&name);
        let trained = match s.mode {
            Mode::Fast => {
                let Backbone::File(base) = &e.backbone else {
                    return Err(Error::Config(format!(
                        "{name}: the fast mode needs a weights file"
                    )));
                };
                if !shared.contains_key(base) {
                    let label = e.backbone.label();
                    let mut on = |p: FinetuneProgress| {
                        if let FinetuneProgress::Features { done, total } = p {
                            progress(SweepProgress::Features {
                                backbone: label.clone(),
                                done,
                                total,
                            });
                        }
                    };
                    let f = SharedFeatures::compute(
                        base,
                        &s.data,
                        &fast_options(None, s),
                        device,
                        &mut on,
                        cancel,
                    )?;
                    features_s.push((label, f.secs));
                    shared.insert(base.clone(), f);
                }
                train_fast(index, e, s, &dir, &shared[base], device, progress, cancel)?
            }
            Mode::Full => train_full(index, e, key, s, &dir, device, progress)?,
        };
        let row = measure(index, e, key, s, &dir, trained, device, progress)?;
        state.record(row.clone());
        state.save(&files.state)?;
        let rows = grid_rows(&state);
        table::write_all(&s.out, &rows, &about(s, &features_s))?;
        plot::write_compare(&files.png, &rows)?;
        ran += 1;
        progress(SweepProgress::Done {
            index,
            row: Box::new(row),
        });
    }
    let rows = grid_rows(&state);
    table::write_all(&s.out, &rows, &about(s, &features_s))?;
    plot::write_compare(&files.png, &rows)?;
    Ok(SweepSummary {
        rows,
        ran,
        skipped,
        features_s,
    })
}
