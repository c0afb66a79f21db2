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
/// deterministic expectation mode.
#[derive(Debug)]
pub struct GestureModel {
    tsn: Tsn,
    device: Device,
}

impl GestureModel {
    /// Builds the model from unfolded (training-layout) or folded tensors.
    pub fn from_tensors(
        mut config: ModelConfig,
        mut tensors: HashMap<String, Tensor>,
        device: &Device,
    ) -> Result<Self> {
        config.validate()?;
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
        let tsn = Tsn::new(&config, vb, opts)?;
        Ok(GestureModel {
            tsn,
            device: device.clone(),
        })
    }

    /// The configuration stored with the weights (labels, N, preprocessing, clip fps...).
    pub fn config(&self) -> &ModelConfig {
        self.tsn.config()
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Backbone features before `new_fc`: `[n, c_in, S, S]` → `[n, F]` (c_in =
    /// `config.input_channels()`: 3 for RGB).
    pub fn backbone_features(&self, frames: &Tensor) -> Result<Tensor> {
        Ok(self.tsn.backbone_features_t(frames, false)?)
    }

    /// Per-segment features: `[n, c_in, S, S]` preprocessed segments → `[n, D]` after new_fc
    /// (D = `config.frame_feature_dim()`). Each frame's feature depends on that frame alone.
    pub fn frame_features(&self, frames: &Tensor) -> Result<Tensor> {
        Ok(self.tsn.frame_features_t(frames, false)?)
    }

    /// The consensus head: `[b, N, D]` frame features → `[b, C]` logits.
    pub fn head(&self, features: &Tensor) -> Result<Tensor> {
        Ok(self.tsn.head_t(features, false)?)
    }

    /// The whole model: `[b, N, c_in, S, S]` (landmarks: `[b, N, 22, 3]`) → `[b, C]` logits.
    pub fn forward(&self, clips: &Tensor) -> Result<Tensor> {
        Ok(self.tsn.forward_t(clips, false)?)
    }
}
