//! Head training on cached features (frozen backbone): each epoch draws fresh TSN segment
//! frames per clip (as the training loader does) and a label-aware flip, gathers those frames'
//! cached features and trains `new_fc` + consensus on them. Validation takes the segment
//! centres of the plain frames, as `eval` does.

use super::features::FeatureCache;
use super::head::Head;
use super::{EpochStats, Fitter};
use crate::preprocess::{sample_eval_indices, sample_train_indices};
use crate::train::data::flip::FlipPolicy;
use crate::train::metrics::{count_correct, Tally};
use crate::train::optim::Optimizer;
use crate::util::mix_seed;
use crate::{Error, Result};
use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Clips per validation batch (features only: cheap).
const EVAL_BATCH: usize = 64;

/// The head, its optimiser and the cached features of both lists.
pub struct CachedFitter {
    pub head: Head,
    pub eval_head: Head,
    pub vars: VarMap,
    pub optimizer: Optimizer,
    pub train: FeatureCache,
    pub val: FeatureCache,
    pub flip: FlipPolicy,
    pub segments: usize,
    pub batch_size: usize,
    pub seed: u64,
    pub max_loss: f64,
    pub device: Device,
    /// The base's backbone tensors, unchanged, for the weights file.
    pub backbone: HashMap<String, Tensor>,
    /// A one-thread pool the head runs in: its matrix products are far too small to gain from
    /// more threads, and handing each to a pool that shares the cores with other work costs more
    /// than the product itself.
    pub pool: Arc<rayon::ThreadPool>,
}

/// The pool for [`CachedFitter::pool`].
pub fn head_pool() -> Result<Arc<rayon::ThreadPool>> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .thread_name(|_| "finetune-head".into())
        .build()
        .map(Arc::new)
        .map_err(|e| Error::Config(format!("cannot start the head's thread: {e}")))
}

/// Frames and flip of training clip `clip` at position `k` of the epoch with seed `epoch_seed`:
/// (frame indices, mirrored?, label after the flip).
pub fn draw(
    cache: &FeatureCache,
    clip: usize,
    segments: usize,
    flip: &FlipPolicy,
    seed: u64,
) -> (Vec<usize>, bool, usize) {
    let c = &cache.clips[clip];
    let mut rng = StdRng::seed_from_u64(seed);
    let indices = sample_train_indices(c.frames, segments, &mut rng);
    let coin = rng.random_bool(0.5);
    match flip.flipped_label(c.label) {
        Some(mirrored) if coin && c.flipped.is_some() => (indices, true, mirrored),
        _ => (indices, false, c.label),
    }
}

impl CachedFitter {
    fn forward_batch(
        &self,
        head: &Head,
        rows: Vec<f32>,
        labels: &[u32],
        train: bool,
    ) -> Result<(Tensor, Tensor)> {
        let b = labels.len();
        let x = Tensor::from_vec(rows, (b, self.segments, self.train.dim), &self.device)?;
        let y = Tensor::from_slice(labels, b, &self.device)?;
        let logits = head.forward_t(&x, train)?; // [b, C]
        let loss = candle_nn::loss::cross_entropy(&logits, &y)?;
        Ok((logits, loss))
    }
}

impl CachedFitter {
    fn train_epoch_here(
        &mut self,
        epoch: usize,
        lr: f64,
        cancel: &AtomicBool,
    ) -> Result<EpochStats> {
        let start = Instant::now();
        let n = self.train.clips.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut StdRng::seed_from_u64(mix_seed(
            self.seed,
            2 * epoch as u64,
        )));
        let epoch_seed = mix_seed(self.seed, 2 * epoch as u64 + 1);
        let mut tally = Tally::default();
        let mut clipped = 0;
        for (bi, chunk) in order.chunks(self.batch_size.max(1)).enumerate() {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled(format!("training, epoch {}", epoch + 1)));
            }
            let mut rows = Vec::with_capacity(chunk.len() * self.segments * self.train.dim);
            let mut labels = Vec::with_capacity(chunk.len());
            for (j, &clip) in chunk.iter().enumerate() {
                let k = bi * self.batch_size + j;
                let (indices, mirrored, label) = draw(
                    &self.train,
                    clip,
                    self.segments,
                    &self.flip,
                    mix_seed(epoch_seed, k as u64),
                );
                self.train.gather(clip, &indices, mirrored, &mut rows);
                labels.push(label as u32);
            }
            let (logits, loss) = self.forward_batch(&self.head, rows, &labels, true)?;
            let loss_v = loss.to_scalar::<f32>()? as f64;
            if !loss_v.is_finite() || loss_v > self.max_loss {
                return Err(Error::Diverged(format!(
                    "the loss is {loss_v} at epoch {}, batch {} (lr {lr:.2e})",
                    epoch + 1,
                    bi + 1
                )));
            }
            let grads = loss.backward()?;
            let step = self.optimizer.step(&grads, lr)?;
            clipped += usize::from(step.clip_coef.is_some());
            let (top1, top5) = count_correct(&logits.to_vec2::<f32>()?, &labels);
            tally.add(labels.len(), loss_v, top1, top5);
        }
        Ok(EpochStats {
            tally,
            secs: start.elapsed().as_secs_f64(),
            clipped_steps: clipped,
            skipped: 0,
        })
    }

    fn validate_here(&self) -> Result<Option<Tally>> {
        if self.val.clips.is_empty() {
            return Ok(None);
        }
        let mut tally = Tally::default();
        let clips: Vec<usize> = (0..self.val.clips.len()).collect();
        for chunk in clips.chunks(EVAL_BATCH) {
            let mut rows = Vec::with_capacity(chunk.len() * self.segments * self.val.dim);
            let mut labels = Vec::with_capacity(chunk.len());
            for &clip in chunk {
                let c = &self.val.clips[clip];
                let indices = sample_eval_indices(c.frames, self.segments);
                self.val.gather(clip, &indices, false, &mut rows);
                labels.push(c.label as u32);
            }
            let (logits, loss) = self.forward_batch(&self.eval_head, rows, &labels, false)?;
            let loss_v = loss.to_scalar::<f32>()? as f64;
            let (top1, top5) = count_correct(&logits.to_vec2::<f32>()?, &labels);
            tally.add(labels.len(), loss_v, top1, top5);
        }
        Ok(Some(tally))
    }
}

impl Fitter for CachedFitter {
    fn train_epoch(&mut self, epoch: usize, lr: f64, cancel: &AtomicBool) -> Result<EpochStats> {
        let pool = self.pool.clone();
        pool.install(|| self.train_epoch_here(epoch, lr, cancel))
    }

    fn validate(&mut self) -> Result<Option<Tally>> {
        self.pool.install(|| self.validate_here())
    }

    fn tensors(&self) -> HashMap<String, Tensor> {
        let mut all = self.backbone.clone();
        let vars = self.vars.data().lock().expect("varmap lock");
        for (k, v) in vars.iter() {
            all.insert(k.clone(), v.as_tensor().clone());
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::finetune::features::ClipFeatures;

    fn cache() -> FeatureCache {
        let clip = |entry, label, flipped: bool| ClipFeatures {
            entry,
            label,
            frames: 8,
            plain: vec![0.0; 8 * 4],
            flipped: flipped.then(|| vec![1.0; 8 * 4]),
        };
        FeatureCache {
            dim: 4,
            clips: vec![clip(0, 0, true), clip(1, 2, false)],
            skipped: Vec::new(),
        }
    }

    #[test]
    fn flips_use_the_mirrored_features_and_the_mirrored_label() {
        let c = cache();
        // "Swiping Left" (0) ↔ "Swiping Right" (1); label 2 is never flipped.
        let flip = FlipPolicy::Mirror(vec![Some(1), Some(0), None]);
        let (mut flipped, mut kept) = (0, 0);
        for seed in 0..200 {
            let (indices, mirrored, label) = draw(&c, 0, 4, &flip, seed);
            assert_eq!(indices.len(), 4);
            // One frame from each of the 4 segments of 8 frames.
            for (s, &i) in indices.iter().enumerate() {
                assert!(i / 2 == s, "{indices:?}");
            }
            assert_eq!(label == 1, mirrored, "the label follows the features");
            let mut rows = Vec::new();
            c.gather(0, &indices, mirrored, &mut rows);
            assert!(rows.iter().all(|&v| v == if mirrored { 1.0 } else { 0.0 }));
            if mirrored {
                flipped += 1;
            } else {
                kept += 1;
            }
            let (_, m2, l2) = draw(&c, 1, 4, &flip, seed);
            assert!(!m2 && l2 == 2, "a class without a mirror is never flipped");
        }
        assert!(flipped > 60 && kept > 60, "{flipped} {kept}");
        let (_, m, _) = draw(&c, 0, 4, &FlipPolicy::Off, 3);
        assert!(!m);
    }
}
