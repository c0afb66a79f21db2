//! The training loop: epochs of SGD over shuffled, augmented batches, validation, the best model
//! saved as a weights file, a checkpoint and a metrics line per epoch, and a stop with a clear
//! message — keeping the last good checkpoint — when the loss stops being finite or explodes.
//!
//! The best model is the highest validation top-1, ties going to the lower validation loss.
//! Order of writes at the end of an epoch: best model, checkpoint (which holds the metrics
//! history), then the metrics files and the plot. A run killed in between resumes from the
//! checkpoint, and the metrics files are rewritten from its history, so they never show a gap
//! or a duplicate epoch.
//!
//! After each epoch the history is read for a collapse ([`crate::train::collapse`]): a run at
//! chance says so in its epoch line, with the likely causes in `train.log` and `diagnosis.txt`.
//!
//! Reproducibility: the shuffle, the frame sampling, the crops and the flips of epoch `e` come
//! from (seed, e), so a resumed run reads exactly the batches an uninterrupted one would.
//! Dropout masks come from candle's own RNG, which cannot be seeded on the CPU.

use crate::model::config::{Arch, Modality};
use crate::train::collapse::{self, PredictionSpread, RunFacts};
use crate::train::data::loader::{Augment, EpochLoader, Skipped};
use crate::train::evaluate::{evaluate, EvalResult};
use crate::train::metrics::{count_correct, top_k, EpochRecord, MetricsFiles, Tally};
use crate::train::optim::{lr_at_epoch, warmup_lr};
use crate::train::plot;
use crate::train::progress::Console;
use crate::train::provenance::portable_path;
use crate::train::session::Session;
use crate::util::{mix_seed, write_atomic};
use crate::{Error, Result};
use candle_core::Tensor;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::path::PathBuf;
use std::time::Instant;

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub epochs_done: usize,
    pub best_val_top1: Option<f64>,
    pub best_epoch: Option<usize>,
    pub best_weights: PathBuf,
    pub history: Vec<EpochRecord>,
}

/// Provenance recorded in the best model's metadata.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// The command line that started the run, without machine paths
    /// ([`crate::train::provenance::this_command`]).
    pub command: String,
}

/// Skipped clips reported per epoch before the rest are only counted.
const SKIP_REPORT_LIMIT: usize = 5;

struct EpochOutcome {
    train: Tally,
    skipped: usize,
    clipped_steps: usize,
    /// Training predictions per class.
    predicted: Vec<u64>,
    secs: f64,
}

fn report_skips(console: &Console, skipped: &[Skipped], seen: &mut usize) {
    for s in skipped {
        if *seen < SKIP_REPORT_LIMIT {
            console.line(&format!("warning: skipped clip {}: {}", s.id, s.reason));
        }
        *seen += 1;
    }
}

fn train_epoch(
    s: &mut Session,
    console: &mut Console,
    epoch: usize,
    lr: f64,
) -> Result<EpochOutcome> {
    let n = s.train.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(mix_seed(
        s.state.seed,
        2 * epoch as u64,
    )));
    let aug = Augment::Train {
        flip: s.flip.clone(),
    };
    let loader_seed = mix_seed(s.state.seed, 2 * epoch as u64 + 1);
    let batch_size = s.cfg.optim.batch_size;
    let loader = EpochLoader::start(
        s.train.clone(),
        &s.loader,
        aug,
        order,
        batch_size,
        loader_seed,
    );
    let epochs = s.cfg.optim.epochs;
    console.start(format!("epoch {}/{epochs}", epoch + 1), n);
    let start = Instant::now();
    let mut tally = Tally::default();
    let mut predicted = vec![0u64; s.model_cfg.num_classes];
    let (mut skipped, mut clipped_steps, mut done) = (0, 0, 0);
    let warmup_steps = (s.cfg.optim.warmup_epochs * n.div_ceil(batch_size)) as u64;
    for (bi, batch) in loader.enumerate() {
        let batch = batch?;
        report_skips(console, &batch.skipped, &mut skipped);
        done += batch.len() + batch.skipped.len();
        if batch.is_empty() {
            continue;
        }
        let b = batch.len();
        let x = Tensor::from_vec(batch.data, s.loader.batch_dims(b), &s.device)?;
        let y = Tensor::from_vec(batch.labels.clone(), b, &s.device)?;
        let logits = s.model.forward_t(&x, true)?; // [b, C]
        let loss = candle_nn::loss::cross_entropy(&logits, &y)?;
        let loss_v = loss.to_scalar::<f32>()? as f64;
        let where_ = || format!("epoch {}, batch {} (lr {lr:.2e})", epoch + 1, bi + 1);
        if !loss_v.is_finite() || loss_v > s.cfg.run.max_loss {
            return Err(Error::Diverged(format!(
                "the loss is {loss_v} at {} (limit max_loss = {})",
                where_(),
                s.cfg.run.max_loss
            )));
        }
        let grads = loss.backward()?;
        let lr = warmup_lr(lr, s.optimizer.steps(), warmup_steps);
        let step = s.optimizer.step(&grads, lr).map_err(|e| match e {
            Error::Diverged(m) => Error::Diverged(format!("{m} at {}", where_())),
            other => other,
        })?;
        clipped_steps += usize::from(step.clip_coef.is_some());
        let rows = logits.to_vec2::<f32>()?;
        let (top1, top5) = count_correct(&rows, &batch.labels);
        for row in &rows {
            if let Some(&c) = top_k(row, 1).first() {
                predicted[c] += 1;
            }
        }
        tally.add(b, loss_v, top1, top5);
        let rate = tally.clips as f64 / start.elapsed().as_secs_f64().max(1e-9);
        console.update(
            done,
            format!(
                "loss {:.4} top1 {:.1}% {rate:.1} clips/s",
                tally.loss(),
                tally.top1_pct()
            ),
        );
    }
    console.finish();
    if skipped > SKIP_REPORT_LIMIT {
        console.line(&format!(
            "warning: {} more clips skipped this epoch",
            skipped - SKIP_REPORT_LIMIT
        ));
    }
    if tally.clips == 0 {
        return Err(Error::Data(format!(
            "no training clip of {} could be read ({skipped} skipped); check it with \
             `gesture-app data check`",
            s.train.list.path.display()
        )));
    }
    Ok(EpochOutcome {
        train: tally,
        skipped,
        clipped_steps,
        predicted,
        secs: start.elapsed().as_secs_f64(),
    })
}

fn validate(s: &Session, console: &mut Console) -> Result<EvalResult> {
    let n = s.val.len();
    console.start("  validate".into(), n);
    let model = &s.eval_model;
    let mut forward = |x: &Tensor| model.forward_t(x, false);
    let r = evaluate(
        s.val.clone(),
        &s.loader,
        s.cfg.optim.batch_size,
        &s.device,
        &mut forward,
        &mut |done, _| console.update(done, String::new()),
    )?;
    console.finish();
    let mut seen = 0;
    report_skips(console, &r.skipped, &mut seen);
    Ok(r)
}

/// Whether `record` is a better model than the best so far (epoch `best` of `history`): a
/// higher validation top-1, or the same with a lower validation loss. Top-1 on a small
/// validation set saturates (every epoch of a long run may score 100 %), and the first epoch to
/// reach it is seldom the model that generalises best; the loss still tells them apart.
fn improves(record: &EpochRecord, best: Option<usize>, history: &[EpochRecord]) -> bool {
    let Some(top1) = record.val_top1 else {
        return false;
    };
    let Some(best) = best.and_then(|e| history.get(e.checked_sub(1)?)) else {
        return true;
    };
    match best.val_top1 {
        Some(b) if top1 > b => true,
        Some(b) if top1 == b => match (record.val_loss, best.val_loss) {
            (Some(l), Some(bl)) => l < bl,
            _ => false,
        },
        Some(_) => false,
        None => true,
    }
}

fn save_best(s: &Session, record: &EpochRecord, prov: &Provenance) -> Result<()> {
    let mut cfg = s.model_cfg.clone();
    let p = &mut cfg.provenance;
    p.insert("source".into(), "gesture-app train".into());
    let root = s.cfg.data.root.as_deref().map(portable_path);
    p.insert("dataset".into(), root.unwrap_or_default());
    p.insert("train_list".into(), portable_path(&s.train.list.path));
    p.insert("val_list".into(), portable_path(&s.val.list.path));
    p.insert("epoch".into(), record.epoch.to_string());
    p.insert("epochs_planned".into(), s.cfg.optim.epochs.to_string());
    let top1 = record.val_top1.unwrap_or_default();
    p.insert("val_top1".into(), format!("{top1:.2}"));
    p.insert(
        "val_top5".into(),
        format!("{:.2}", record.val_top5.unwrap_or_default()),
    );
    p.insert("train_clips".into(), s.train.len().to_string());
    p.insert("val_clips".into(), s.val.len().to_string());
    p.insert("seed".into(), s.cfg.run.seed.to_string());
    p.insert("command".into(), prov.command.clone());
    let tensors = s.model_tensors().into_iter().collect();
    crate::weights::save(&s.paths.best, &tensors, &cfg)?;
    Ok(())
}

/// Runs the remaining epochs of `s`. Returns when the planned epochs are done, or with
/// [`Error::Diverged`] (the checkpoint of the last good epoch stays in place).
pub fn run(s: &mut Session, prov: &Provenance, console: &mut Console) -> Result<RunSummary> {
    let metrics = MetricsFiles::in_dir(&s.paths.dir);
    metrics.rewrite(&s.state.history)?;
    let epochs = s.cfg.optim.epochs;
    let facts = run_facts(s);
    while s.state.epoch < epochs {
        let epoch = s.state.epoch;
        let lr = lr_at_epoch(s.cfg.optim.lr, &s.cfg.optim.lr_steps, epoch);
        let out = train_epoch(s, console, epoch, lr)?;
        let evaluate_now = (epoch + 1).is_multiple_of(s.cfg.run.eval_freq) || epoch + 1 == epochs;
        let val = if evaluate_now {
            Some(validate(s, console)?)
        } else {
            None
        };
        if let Some(v) = &val {
            if !v.tally.loss().is_finite() {
                return Err(Error::Diverged(format!(
                    "the validation loss is {} after epoch {}",
                    v.tally.loss(),
                    epoch + 1
                )));
            }
        }
        let mut record = EpochRecord {
            epoch: epoch + 1,
            lr,
            train_loss: out.train.loss(),
            train_top1: out.train.top1_pct(),
            train_top5: out.train.top5_pct(),
            val_loss: val.as_ref().map(|v| v.tally.loss()),
            val_top1: val.as_ref().map(|v| v.tally.top1_pct()),
            val_top5: val.as_ref().map(|v| v.tally.top5_pct()),
            train_clips: out.train.clips,
            skipped_clips: out.skipped + val.as_ref().map_or(0, |v| v.skipped.len()),
            clips_per_s: out.train.clips as f64 / out.secs.max(1e-9),
            epoch_s: out.secs,
            clipped_steps: out.clipped_steps,
            train_pred: PredictionSpread::from_counts(&out.predicted),
            val_pred: val
                .as_ref()
                .and_then(|v| PredictionSpread::from_counts(&v.confusion.predicted_counts())),
            diagnosis: None,
        };
        let stall = {
            let mut h = s.state.history.clone();
            h.push(record.clone());
            collapse::detect(&h, facts.labels.len(), facts.majority_pct)
        };
        record.diagnosis = stall.as_ref().map(|st| st.headline(&facts));
        let is_best = improves(&record, s.state.best_epoch, &s.state.history);
        if is_best {
            save_best(s, &record, prov)?;
            s.state.best_val_top1 = record.val_top1;
            s.state.best_epoch = Some(record.epoch);
        }
        s.state.epoch = epoch + 1;
        s.state.optimizer_steps = s.optimizer.steps();
        s.state.history.push(record.clone());
        s.save_checkpoint()?;
        metrics.append(&record)?;
        plot::write_curves(&s.paths.curves, &s.state.history)?;
        console.line(&summary_line(&record, epochs, is_best));
        report_stall(s, console, stall.as_ref(), &facts)?;
        if let (Some(target), Some(v)) = (s.cfg.run.stop_at_val_top1, record.val_top1) {
            if v >= target {
                console.line(&format!(
                    "validation top-1 {v:.2}% reached the target {target}%: stopping early"
                ));
                break;
            }
        }
    }
    Ok(RunSummary {
        epochs_done: s.state.epoch,
        best_val_top1: s.state.best_val_top1,
        best_epoch: s.state.best_epoch,
        best_weights: s.paths.best.clone(),
        history: s.state.history.clone(),
    })
}

/// The one line printed after each epoch.
pub fn summary_line(r: &EpochRecord, epochs: usize, best: bool) -> String {
    let mut line = format!(
        "epoch {:>3}/{epochs}  lr {:.1e}  train loss {:.4} top1 {:5.1}%",
        r.epoch, r.lr, r.train_loss, r.train_top1
    );
    if let (Some(l), Some(t1), Some(t5)) = (r.val_loss, r.val_top1, r.val_top5) {
        line.push_str(&format!("  val loss {l:.4} top1 {t1:5.1}% top5 {t5:5.1}%"));
    }
    line.push_str(&format!(
        "  ({:.1} clips/s, {:.0} s",
        r.clips_per_s, r.epoch_s
    ));
    if r.skipped_clips > 0 {
        line.push_str(&format!(", {} skipped", r.skipped_clips));
    }
    if r.clipped_steps > 0 {
        line.push_str(&format!(", {} clipped", r.clipped_steps));
    }
    line.push(')');
    if best {
        line.push_str("  *best*");
    }
    if let Some(d) = &r.diagnosis {
        line.push_str("  ");
        line.push_str(d);
    }
    line
}

/// What the collapse advice refers to.
fn run_facts(s: &Session) -> RunFacts {
    let labels = s.train.labels.clone();
    let mut counts = vec![0usize; labels.len()];
    for l in s.train.list.entries.iter().filter_map(|e| e.label) {
        if let Some(n) = counts.get_mut(l) {
            *n += 1;
        }
    }
    let total = counts.iter().sum::<usize>().max(1);
    RunFacts {
        labels,
        majority_pct: 100.0 * *counts.iter().max().unwrap_or(&0) as f64 / total as f64,
        train_clips: s.train.len(),
        lr: s.cfg.optim.lr,
        arch: s.model_cfg.arch.name().to_string(),
        bn_free: s.model_cfg.arch == Arch::SqueezeNet11,
        from_scratch: s.cfg.model.pretrained.is_none(),
        single_frames: s.model_cfg.modality == Modality::Rgb,
        input_size: s.cfg.model.input_size,
        data_root: s
            .cfg
            .data
            .root
            .as_deref()
            .map_or_else(|| "ROOT".into(), |r| r.display().to_string()),
    }
}

/// Says that the run has collapsed (the causes once, when it starts), or that it has started
/// learning after all; keeps `diagnosis.txt` in step.
fn report_stall(
    s: &Session,
    console: &Console,
    stall: Option<&collapse::Stall>,
    facts: &RunFacts,
) -> Result<()> {
    let h = &s.state.history;
    let before = h.len().checked_sub(2).and_then(|i| h[i].diagnosis.as_ref());
    match (stall, before) {
        (Some(st), _) => {
            if before.is_none() {
                for line in st.report(facts).lines().skip(2) {
                    console.line(&format!("  {line}"));
                }
                console.line(&format!("  (also in {})", s.paths.diagnosis.display()));
            }
            write_atomic(&s.paths.diagnosis, st.report(facts).as_bytes())?;
        }
        (None, Some(was)) => {
            let epoch = h.last().map_or(0, |r| r.epoch);
            let text = format!("learning began at epoch {epoch}, after: {was}\n");
            console.line(text.trim_end());
            write_atomic(&s.paths.diagnosis, text.as_bytes())?;
        }
        (None, None) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(epoch: usize, top1: Option<f64>, loss: Option<f64>) -> EpochRecord {
        EpochRecord {
            lr: 1e-3,
            train_loss: 1.0,
            train_top1: 50.0,
            train_top5: 90.0,
            val_loss: loss,
            val_top1: top1,
            val_top5: top1,
            train_clips: 8,
            clips_per_s: 1.0,
            epoch_s: 1.0,
            ..EpochRecord::blank(epoch)
        }
    }

    #[test]
    fn the_best_model_is_the_highest_top1_then_the_lowest_loss() {
        let history = vec![
            rec(1, Some(80.0), Some(0.5)),
            rec(2, None, None),
            rec(3, Some(100.0), Some(0.02)),
        ];
        // The first validated epoch is always the best so far.
        assert!(improves(&history[0], None, &[]));
        assert!(!improves(&history[1], Some(1), &history), "not validated");
        assert!(improves(&history[2], Some(1), &history));
        // Same top-1: the lower loss wins, an equal or higher one does not.
        assert!(improves(
            &rec(4, Some(100.0), Some(0.01)),
            Some(3),
            &history
        ));
        assert!(!improves(
            &rec(4, Some(100.0), Some(0.02)),
            Some(3),
            &history
        ));
        assert!(!improves(
            &rec(4, Some(99.0), Some(0.001)),
            Some(3),
            &history
        ));
        // A NaN loss never wins a tie.
        assert!(!improves(
            &rec(4, Some(100.0), Some(f64::NAN)),
            Some(3),
            &history
        ));
    }
}
