//! One pass of a model over a labelled clip list with the evaluation preprocessing: loss,
//! top-1/top-5 and the confusion matrix. Used for validation during training (on the trainable
//! network) and by `gesture-app eval` (on the inference model).

use crate::train::data::loader::{Augment, EpochLoader, LoaderOptions, Skipped};
use crate::train::data::Dataset;
use crate::train::metrics::{top_k, ConfusionMatrix, Tally};
use crate::Result;
use candle_core::{Device, Tensor};
use std::sync::Arc;

/// What an evaluation found.
#[derive(Debug, Clone)]
pub struct EvalResult {
    pub tally: Tally,
    pub confusion: ConfusionMatrix,
    pub skipped: Vec<Skipped>,
}

/// Runs `forward` (`[b, N, 3, S, S]` → `[b, C]` logits) over every clip of `ds`.
/// `on_batch(clips_done, clips_total)` reports progress.
pub fn evaluate(
    ds: Arc<Dataset>,
    opts: &LoaderOptions,
    batch_size: usize,
    device: &Device,
    forward: &mut dyn FnMut(&Tensor) -> candle_core::Result<Tensor>,
    on_batch: &mut dyn FnMut(usize, usize),
) -> Result<EvalResult> {
    let n = ds.len();
    let num_classes = ds.labels.len();
    let loader = EpochLoader::start(ds, opts, Augment::Eval, (0..n).collect(), batch_size, 0);
    let mut tally = Tally::default();
    let mut confusion = ConfusionMatrix::new(num_classes);
    let mut skipped = Vec::new();
    let mut done = 0;
    for batch in loader {
        let batch = batch?;
        done += batch.len() + batch.skipped.len();
        skipped.extend(batch.skipped.iter().cloned());
        if batch.is_empty() {
            on_batch(done, n);
            continue;
        }
        let b = batch.len();
        let x = Tensor::from_vec(batch.data, opts.batch_dims(b), device)?;
        let y = Tensor::from_vec(batch.labels.clone(), b, device)?;
        let logits = forward(&x)?; // [b, C]
        let loss = candle_nn::loss::cross_entropy(&logits, &y)?.to_scalar::<f32>()?;
        let rows: Vec<Vec<f32>> = logits.to_vec2()?;
        let (mut top1, mut top5) = (0, 0);
        for (row, &label) in rows.iter().zip(&batch.labels) {
            let top = top_k(row, 5);
            confusion.add(label as usize, top[0]);
            top1 += usize::from(top[0] == label as usize);
            top5 += usize::from(top.contains(&(label as usize)));
        }
        tally.add(b, loss as f64, top1, top5);
        on_batch(done, n);
    }
    Ok(EvalResult {
        tally,
        confusion,
        skipped,
    })
}

/// A weights file evaluated on a list ([`evaluate_file`]).
#[derive(Debug, Clone)]
pub struct FileEval {
    pub result: EvalResult,
    /// The model's labels, in the confusion matrix's order.
    pub labels: Vec<String>,
    /// The index file as opened.
    pub list_path: std::path::PathBuf,
}

/// What `gesture-app eval` computes: the model in `weights` over the clips of `list` in the data
/// set `spec` (whose labels are matched to the model's by name), `batch_size` clips at a time
/// with `workers` loader threads.
pub fn evaluate_file(
    weights: &std::path::Path,
    spec: &crate::train::data::DataSpec,
    list: &std::path::Path,
    batch_size: usize,
    workers: usize,
    device: &Device,
    on_batch: &mut dyn FnMut(usize, usize),
) -> Result<FileEval> {
    let model = crate::weights::load_model(weights, device)?;
    let cfg = model.config().clone();
    let mut ds = spec.open(list)?;
    ds.require_labels()?;
    // By name: the data set may list the model's labels in another order, or some of them.
    ds.relabel(&cfg.labels)?;
    let opts = LoaderOptions::for_model(&cfg, workers.max(1), 4);
    let labels = ds.labels.clone();
    let list_path = ds.list.path.clone();
    let mut forward = |x: &Tensor| -> candle_core::Result<Tensor> {
        model.forward(x).map_err(candle_core::Error::wrap)
    };
    let result = evaluate(
        Arc::new(ds),
        &opts,
        batch_size.max(1),
        device,
        &mut forward,
        on_batch,
    )?;
    Ok(FileEval {
        result,
        labels,
        list_path,
    })
}
