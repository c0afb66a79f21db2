//! The TSN model: a 2D CNN backbone per frame, `new_fc`, and a consensus head over the N frames
//! (ARCHITECTURE §2). [`tsn::Tsn`] is the trainable network; [`GestureModel`] is the
//! inference-ready model loaded from a weights file (BatchNorm folded, eval mode).

pub mod config;

use crate::Result;
use candle_core::{Device, Tensor};
use config::ModelConfig;
use std::path::Path;

/// An inference-ready model: weights loaded, BatchNorm folded into the convolutions.
pub struct GestureModel {
    config: ModelConfig,
    device: Device,
}

impl GestureModel {
    /// Loads one of our `.safetensors` weights files onto `device`.
    pub fn load(_path: &Path, _device: &Device) -> Result<Self> {
        todo!("model core in progress")
    }

    /// The configuration stored with the weights (labels, N, preprocessing, clip fps...).
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Per-frame features: `[n, 3, S, S]` preprocessed frames → `[n, D]` after new_fc
    /// (D = `config.frame_feature_dim()`). Each frame's feature depends on that frame alone.
    pub fn frame_features(&self, _frames: &Tensor) -> Result<Tensor> {
        todo!("model core in progress")
    }

    /// The consensus head: `[b, N, D]` frame features → `[b, C]` logits.
    pub fn head(&self, _features: &Tensor) -> Result<Tensor> {
        todo!("model core in progress")
    }

    /// The whole model: `[b, N, 3, S, S]` → `[b, C]` logits.
    pub fn forward(&self, _clips: &Tensor) -> Result<Tensor> {
        todo!("model core in progress")
    }
}
