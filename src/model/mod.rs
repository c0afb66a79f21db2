//! The TSN model: a 2D CNN backbone per frame, `new_fc`, and a consensus head over the N frames
//! (docs/ARCHITECTURE.md §4). [`tsn::Tsn`] is the trainable network; [`GestureModel`] is the
//! inference-ready model (BatchNorm folded, eval mode), built from tensors — `weights::load_model`
//! reads one from a file.

pub mod backbone;
pub mod config;
pub mod consensus;
pub mod cost;
pub mod fold;
pub(crate) mod kernels;
/// What the CPU kernels run on (see `kernels::simd`), for benchmark reports.
pub use kernels::{simd_level, SIMD_ENV};
pub mod layers;
pub mod spec;
pub mod tsn;

use crate::{Error, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use config::{ModelConfig, TrnMode};
use std::collections::{BTreeMap, HashMap};
use tsn::{BuildOptions, Tsn};

/// An inference-ready model: weights loaded, BatchNorm folded into the convolutions, TRN in its
/// deterministic expectation mode. An ensemble (`config.members` > 1) runs each of its networks
/// and predicts the mean of their probabilities.
#[derive(Debug)]
pub struct GestureModel {
    /// One network, or an ensemble's networks in order; all share one configuration.
    members: Vec<Tsn>,
    /// The stored configuration (`members` as stored; each network's own says 1).
    config: ModelConfig,
    device: Device,
}

/// The prefix of ensemble member `k`'s tensors in a weights file.
pub fn member_prefix(k: usize) -> String {
    format!("members.{k}.")
}

impl GestureModel {
    /// Builds the model from unfolded (training-layout) or folded tensors: a single network's,
    /// or, where `config.members` > 1, each member's under [`member_prefix`].
    pub fn from_tensors(
        config: ModelConfig,
        tensors: HashMap<String, Tensor>,
        device: &Device,
    ) -> Result<Self> {
        config.validate()?;
        let count = config.members;
        let mut single = config.clone();
        single.members = 1;
        let parts = split_members(tensors, count)?;
        let members = parts
            .into_iter()
            .enumerate()
            .map(|(k, part)| {
                build_network(single.clone(), part, device).map_err(|e| match e {
                    Error::Mismatch { model, details } if count > 1 => Error::Mismatch {
                        model: format!("{model}, ensemble member {k}"),
                        details,
                    },
                    other => other,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut config = config;
        config.trn_mode = TrnMode::Expectation;
        Ok(GestureModel {
            members,
            config,
            device: device.clone(),
        })
    }

    /// The configuration stored with the weights (labels, N, preprocessing, clip fps...).
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Backbone features before `new_fc`: `[n, c_in, S, S]` → `[n, F]` (c_in =
    /// `config.input_channels()`: 3 for RGB). An ensemble's are its first network's.
    pub fn backbone_features(&self, frames: &Tensor) -> Result<Tensor> {
        Ok(self.members[0].backbone_features_t(frames, false)?)
    }

    /// Width of [`Self::frame_features`]' rows: `config.frame_feature_dim()` per network.
    pub fn frame_feature_dim(&self) -> usize {
        self.members.len() * self.config.frame_feature_dim()
    }

    /// Per-segment features: `[n, c_in, S, S]` preprocessed segments → `[n, D]` after new_fc
    /// (D = [`Self::frame_feature_dim`]; an ensemble's networks side by side). Each frame's
    /// feature depends on that frame alone.
    pub fn frame_features(&self, frames: &Tensor) -> Result<Tensor> {
        if let [one] = self.members.as_slice() {
            return Ok(one.frame_features_t(frames, false)?);
        }
        let parts = self
            .members
            .iter()
            .map(|m| m.frame_features_t(frames, false))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Tensor::cat(&parts, 1)?) // [n, K·d]
    }

    /// The consensus head: `[b, N, D]` frame features → `[b, C]` logits. An ensemble's logits are
    /// the log of its networks' mean probabilities, so a softmax of them gives that mean.
    pub fn head(&self, features: &Tensor) -> Result<Tensor> {
        if self.members.len() == 1 {
            return Ok(self.members[0].head_t(features, false)?);
        }
        let d = self.config.frame_feature_dim();
        let logits = self
            .members
            .iter()
            .enumerate()
            .map(|(k, m)| m.head_t(&features.narrow(2, k * d, d)?, false)) // [b, N, d] → [b, C]
            .collect::<candle_core::Result<Vec<_>>>()?;
        mean_probability_logits(&logits)
    }

    /// The whole model: `[b, N, c_in, S, S]` (landmarks: `[b, N, 22, 3]`) → `[b, C]` logits (an
    /// ensemble's as [`Self::head`]'s).
    pub fn forward(&self, clips: &Tensor) -> Result<Tensor> {
        if self.members.len() == 1 {
            return Ok(self.members[0].forward_t(clips, false)?);
        }
        let logits = self
            .members
            .iter()
            .map(|m| m.forward_t(clips, false))
            .collect::<candle_core::Result<Vec<_>>>()?;
        mean_probability_logits(&logits)
    }
}

/// The smallest probability an ensemble's logits carry, so that they stay finite.
const MIN_PROBABILITY: f64 = 1e-30;

/// `log(mean_k softmax(logits_k))`: `K × [b, C]` → `[b, C]`.
fn mean_probability_logits(logits: &[Tensor]) -> Result<Tensor> {
    let probs = logits
        .iter()
        .map(candle_nn::ops::softmax_last_dim)
        .collect::<candle_core::Result<Vec<_>>>()?;
    let mean = (Tensor::stack(&probs, 0)?.sum(0)? / probs.len() as f64)?; // [b, C]
    Ok(mean.clamp(MIN_PROBABILITY, 1.0)?.log()?)
}

/// A file's tensors per network: a single network's (`count` 1, names without prefix) as they
/// are, an ensemble's split by [`member_prefix`] into `count` maps of unprefixed names; a tensor
/// outside every member's is a mismatch.
pub fn split_members(
    tensors: HashMap<String, Tensor>,
    count: usize,
) -> Result<Vec<HashMap<String, Tensor>>> {
    if count == 1 {
        return Ok(vec![tensors]);
    }
    let mut parts = vec![HashMap::new(); count];
    let mut strays = Vec::new();
    for (name, t) in tensors {
        let member = name
            .strip_prefix("members.")
            .and_then(|rest| rest.split_once('.'))
            .and_then(|(k, rest)| Some((k.parse::<usize>().ok()?, rest)));
        match member {
            Some((k, rest)) if k < count => {
                parts[k].insert(rest.to_string(), t);
            }
            _ => strays.push(name),
        }
    }
    if !strays.is_empty() {
        strays.sort();
        let prefixes = match count {
            0 => "no networks".to_string(),
            _ => format!("members.0. … members.{}.", count - 1),
        };
        return Err(Error::Mismatch {
            model: format!("an ensemble of {count}"),
            details: format!("tensors outside {prefixes}: {}", strays.join(", ")),
        });
    }
    Ok(parts)
}

/// One network from its tensors (unfolded or folded), checked against its configuration.
fn build_network(
    mut config: ModelConfig,
    mut tensors: HashMap<String, Tensor>,
    device: &Device,
) -> Result<Tsn> {
    config.trn_mode = TrnMode::Expectation;
    for t in tensors.values_mut() {
        if t.dtype() != DType::F32 {
            *t = t.to_dtype(DType::F32)?;
        }
    }
    tensors.retain(|k, _| !k.ends_with("num_batches_tracked"));
    fold::fold_batchnorm(&config, &mut tensors)?;
    let opts = BuildOptions::inference();
    let expected = spec::expected_tensors(&config, opts)?;
    let actual: BTreeMap<String, Vec<usize>> = tensors
        .iter()
        .map(|(k, t)| (k.clone(), t.dims().to_vec()))
        .collect();
    if let Some(details) = spec::diff_report(&expected, &actual) {
        return Err(Error::Mismatch {
            model: format!(
                "{} + {} (N={})",
                config.arch, config.consensus, config.num_segments
            ),
            details,
        });
    }
    let tensors = tensors
        .into_iter()
        .map(|(k, t)| Ok((k, t.to_device(device)?)))
        .collect::<Result<HashMap<_, _>>>()?;
    let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
    Ok(Tsn::new(&config, vb, opts)?)
}
