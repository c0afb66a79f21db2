//! Fixtures for tests and benchmarks: a model with random weights and a folder of generated
//! frames. Not part of the supported API (hidden from the docs); the integration tests and the
//! benchmarks share them so that both exercise the same inputs.

use crate::model::config::ModelConfig;
use crate::model::tsn::{BuildOptions, Tsn};
use crate::synth::{render_clip, Motion};
use crate::{GestureModel, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use std::collections::HashMap;
use std::path::Path;

/// An inference model of `cfg` with random weights (through the real loading path: BN folding).
pub fn random_model(cfg: &ModelConfig, device: &Device) -> Result<GestureModel> {
    GestureModel::from_tensors(cfg.clone(), random_tensors(cfg)?, device)
}

/// The training-layout tensors of `cfg`, randomly initialised (not seeded: two calls differ).
pub fn random_tensors(cfg: &ModelConfig) -> Result<HashMap<String, Tensor>> {
    let vm = VarMap::new();
    let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
    Tsn::new(cfg, vb, BuildOptions::training(false, 0))?;
    let tensors: HashMap<String, Tensor> = vm
        .data()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect();
    Ok(tensors)
}

/// Writes a weights file of `cfg` with random weights to `path` (a base to fine-tune from in
/// tests) and returns the model loaded from it.
pub fn random_weights_file(
    cfg: &ModelConfig,
    path: &Path,
    device: &Device,
) -> Result<GestureModel> {
    crate::weights::save(path, &random_tensors(cfg)?, cfg)?;
    crate::weights::load_model(path, device)
}

/// Writes `count` generated 240×240 frames (gestures from [`crate::synth`], 24-frame clips one
/// after another) as JPEGs `00001.jpg`... into `dir`.
pub fn write_generated_frames(dir: &Path, count: usize) -> Result<()> {
    let mut frames = Vec::new();
    let mut clip = 0u64;
    while frames.len() < count {
        let motion = Motion::ALL[clip as usize % Motion::ALL.len()];
        frames.extend(render_clip(motion, clip, 240, 24));
        clip += 1;
    }
    for (i, frame) in frames.iter().take(count).enumerate() {
        let path = dir.join(format!("{:05}.jpg", i + 1));
        frame
            .save(&path)
            .map_err(|e| crate::Error::bad_file(&path, format!("cannot write: {e}")))?;
    }
    Ok(())
}
