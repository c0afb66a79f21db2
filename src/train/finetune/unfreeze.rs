//! Fine-tuning with part (or all) of the backbone trainable: the last K blocks (Fire modules of
//! squeezenet1_1, inception blocks of BNInception) and the head train on decoded frames through
//! the training loader (multi-scale crops, label-aware flips); the rest of the backbone is
//! built from plain tensors, so no gradient is computed or kept for it and its values never
//! change. BatchNorm follows the original's partial BN, as `train` does.

use super::{learn_batch, BatchAt, EpochStats, Fitter};
use crate::model::config::{Arch, ModelConfig, TrnMode};
use crate::model::tsn::{BuildOptions, Tsn};
use crate::train::data::flip::FlipPolicy;
use crate::train::data::loader::{Augment, EpochLoader, LoaderOptions};
use crate::train::data::Dataset;
use crate::train::evaluate::evaluate;
use crate::train::metrics::Tally;
use crate::train::optim::{OptimConfig, Optimizer};
use crate::train::params::trainable_params;
use crate::util::mix_seed;
use crate::{Error, Result};
use candle_core::{DType, Device, Shape, Tensor, Var};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{VarBuilder, VarMap};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The blocks `--train-last-blocks` counts, first to last, as tensor-name prefixes.
pub fn blocks(arch: Arch) -> Vec<String> {
    match arch {
        Arch::SqueezeNet11 => [3, 4, 6, 7, 9, 10, 11, 12]
            .iter()
            .map(|i| format!("base_model.{i}."))
            .collect(),
        Arch::BnInception => ["3a", "3b", "3c", "4a", "4b", "4c", "4d", "4e", "5a", "5b"]
            .iter()
            .map(|b| format!("base_model.inception_{b}_"))
            .collect(),
        // One block: the Linear after the hand features.
        Arch::HandLandmarks => vec!["base_model.fc.".to_string()],
    }
}

/// What trains besides the head: `Some(k)` the last k blocks, `None` every backbone tensor.
/// Returns the predicate on tensor names.
pub fn trainable_backbone(arch: Arch, last: Option<usize>) -> Result<impl Fn(&str) -> bool> {
    let all = blocks(arch);
    let prefixes: Vec<String> = match last {
        None => vec!["base_model.".to_string()],
        Some(k) if (1..=all.len()).contains(&k) => all[all.len() - k..].to_vec(),
        Some(k) => {
            return Err(Error::Config(format!(
                "--train-last-blocks {k}: {arch} has {} blocks, so K must be 1..={} (or `all`; \
                 use --freeze-backbone to train the head only)",
                all.len(),
                all.len()
            )))
        }
    };
    Ok(move |name: &str| prefixes.iter().any(|p| name.starts_with(p.as_str())))
}

/// A variable store that hands out the trainable tensors as variables and the frozen ones as
/// plain tensors.
struct SplitStore {
    vars: VarMap,
    frozen: HashMap<String, Tensor>,
}

impl SimpleBackend for SplitStore {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let t = match self.vars.data().lock().expect("varmap lock").get(name) {
            Some(v) => v.as_tensor().clone(),
            None => match self.frozen.get(name) {
                Some(t) => t.to_device(dev)?.to_dtype(dtype)?,
                None => candle_core::bail!("the base weights have no tensor {name}"),
            },
        };
        if t.shape() != &s {
            candle_core::bail!("tensor {name} has shape {:?}, the model {s:?}", t.dims());
        }
        Ok(t)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        match self.frozen.get(name) {
            Some(t) => t.to_device(dev)?.to_dtype(dtype),
            None => candle_core::bail!("no tensor {name}"),
        }
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.frozen.contains_key(name)
            || self
                .vars
                .data()
                .lock()
                .expect("varmap lock")
                .contains_key(name)
    }
}

/// The network with a partly trainable backbone, its optimiser and the data.
pub struct FrameFitter {
    model: Tsn,
    eval_model: Tsn,
    vars: VarMap,
    frozen: HashMap<String, Tensor>,
    optimizer: Optimizer,
    train: Arc<Dataset>,
    val: Arc<Dataset>,
    loader: LoaderOptions,
    flip: FlipPolicy,
    batch_size: usize,
    seed: u64,
    max_loss: f64,
    device: Device,
    /// Trainable scalars, for the run log.
    pub trainable_values: usize,
}

/// Everything [`FrameFitter::new`] needs.
pub struct FrameSetup {
    pub cfg: ModelConfig,
    /// The base's backbone tensors.
    pub backbone: HashMap<String, Tensor>,
    /// The initialised head (`new_fc.*`, `consensus.*`).
    pub head: VarMap,
    /// Which backbone tensors train.
    pub trainable: Box<dyn Fn(&str) -> bool>,
    pub optim: OptimConfig,
    pub train: Arc<Dataset>,
    pub val: Arc<Dataset>,
    pub loader: LoaderOptions,
    pub flip: FlipPolicy,
    pub batch_size: usize,
    pub seed: u64,
    pub max_loss: f64,
}

impl FrameFitter {
    /// Builds the network over the base's backbone and the head.
    pub fn new(s: FrameSetup, device: &Device) -> Result<Self> {
        let vars = VarMap::new();
        let mut frozen = HashMap::new();
        {
            let mut data = vars.data().lock().expect("varmap lock");
            for (name, var) in s.head.data().lock().expect("varmap lock").iter() {
                data.insert(
                    name.clone(),
                    Var::from_tensor(&var.as_tensor().to_device(device)?)?,
                );
            }
            for (name, t) in s.backbone {
                if (s.trainable)(&name) {
                    let t = t.to_dtype(DType::F32)?.to_device(device)?;
                    data.insert(name, Var::from_tensor(&t)?);
                } else {
                    frozen.insert(name, t);
                }
            }
        }
        let store = || SplitStore {
            vars: vars.clone(),
            frozen: frozen.clone(),
        };
        let opts = BuildOptions::training(true, s.seed);
        let mut train_cfg = s.cfg.clone();
        train_cfg.trn_mode = TrnMode::Random;
        let vb =
            |st: SplitStore| VarBuilder::from_backend(Box::new(st), DType::F32, device.clone());
        let model = Tsn::new(&train_cfg, vb(store()), opts)?;
        let mut eval_cfg = s.cfg.clone();
        eval_cfg.trn_mode = TrnMode::Expectation;
        let eval_model = Tsn::new(&eval_cfg, vb(store()), opts)?;
        let all_vars = vars.data().lock().expect("varmap lock").clone();
        let (params, groups) = trainable_params(&all_vars, s.cfg.arch, true);
        let trainable_values = groups.groups.values().map(|g| g.1).sum();
        Ok(FrameFitter {
            model,
            eval_model,
            vars,
            frozen,
            optimizer: Optimizer::new(params, s.optim),
            train: s.train,
            val: s.val,
            loader: s.loader,
            flip: s.flip,
            batch_size: s.batch_size.max(1),
            seed: s.seed,
            max_loss: s.max_loss,
            device: device.clone(),
            trainable_values,
        })
    }
}

impl Fitter for FrameFitter {
    fn train_epoch(&mut self, epoch: usize, lr: f64, cancel: &AtomicBool) -> Result<EpochStats> {
        let start = Instant::now();
        let mut order: Vec<usize> = (0..self.train.len()).collect();
        order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(mix_seed(
            self.seed,
            2 * epoch as u64,
        )));
        let aug = Augment::Train {
            flip: self.flip.clone(),
        };
        let loader = EpochLoader::start(
            self.train.clone(),
            &self.loader,
            aug,
            order,
            self.batch_size,
            mix_seed(self.seed, 2 * epoch as u64 + 1),
        );
        let mut tally = Tally::default();
        let (mut clipped, mut skipped) = (0, 0);
        for (bi, batch) in loader.enumerate() {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Cancelled(format!("training, epoch {}", epoch + 1)));
            }
            let batch = batch?;
            skipped += batch.skipped.len();
            if batch.is_empty() {
                continue;
            }
            let b = batch.len();
            let x = Tensor::from_vec(batch.data, self.loader.batch_dims(b), &self.device)?;
            let y = Tensor::from_vec(batch.labels.clone(), b, &self.device)?;
            let logits = self.model.forward_t(&x, true)?; // [b, C]
            let loss = candle_nn::loss::cross_entropy(&logits, &y)?;
            let at = BatchAt {
                epoch,
                batch: bi,
                lr,
            };
            let was_clipped = learn_batch(
                &mut self.optimizer,
                &logits,
                &loss,
                &batch.labels,
                self.max_loss,
                at,
                &mut tally,
            )?;
            clipped += usize::from(was_clipped);
        }
        if tally.clips == 0 {
            return Err(Error::Data(format!(
                "no training clip of {} could be read ({skipped} skipped); check it with \
                 `gesture-app data check`",
                self.train.list.path.display()
            )));
        }
        Ok(EpochStats {
            tally,
            secs: start.elapsed().as_secs_f64(),
            clipped_steps: clipped,
            skipped,
        })
    }

    fn validate(&mut self) -> Result<Option<Tally>> {
        if self.val.is_empty() {
            return Ok(None);
        }
        let model = &self.eval_model;
        let mut forward = |x: &Tensor| model.forward_t(x, false);
        let r = evaluate(
            self.val.clone(),
            &self.loader,
            self.batch_size,
            &self.device,
            &mut forward,
            &mut |_, _| {},
        )?;
        Ok((r.tally.clips > 0).then_some(r.tally))
    }

    fn tensors(&self) -> HashMap<String, Tensor> {
        let mut all = self.frozen.clone();
        for (k, v) in self.vars.data().lock().expect("varmap lock").iter() {
            all.insert(k.clone(), v.as_tensor().clone());
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_blocks_select_the_right_tensors() {
        let f = trainable_backbone(Arch::SqueezeNet11, Some(2)).unwrap();
        assert!(f("base_model.12.expand3x3.weight") && f("base_model.11.squeeze.bias"));
        assert!(!f("base_model.10.squeeze.weight") && !f("base_model.0.weight"));
        assert!(!f("base_model.1.weight"), "index 1 is not Fire 11 or 12");
        let f = trainable_backbone(Arch::BnInception, Some(1)).unwrap();
        assert!(f("base_model.inception_5b_3x3.weight"));
        assert!(!f("base_model.inception_5a_3x3.weight"));
        let all = trainable_backbone(Arch::BnInception, None).unwrap();
        assert!(all("base_model.conv1_7x7_s2.weight") && !all("new_fc.weight"));
        let e = trainable_backbone(Arch::SqueezeNet11, Some(9))
            .err()
            .unwrap();
        assert!(e.to_string().contains("has 8 blocks"), "{e}");
        assert!(trainable_backbone(Arch::SqueezeNet11, Some(0)).is_err());
        // Every block prefix names tensors the backbone really has.
        for arch in Arch::ALL {
            let names = crate::model::spec::expected_backbone_tensors(arch).unwrap();
            for p in blocks(arch) {
                assert!(names.keys().any(|n| n.starts_with(&p)), "{arch} {p}");
            }
        }
    }
}
