//! Folds each BatchNorm into the convolution before it, for inference:
//! `w' = w·γ/√(σ²+ε)`, `b' = (b − μ)·γ/√(σ²+ε) + β`. One fewer pass over every activation, and
//! the same numbers (up to float rounding).

use crate::model::backbone::bninception;
use crate::model::config::{Arch, Consensus, ModelConfig};
use crate::model::consensus::fcn;
use candle_core::{Result, Tensor};
use std::collections::HashMap;

const BN_EPS: f64 = 1e-5;

/// `(conv prefix, bn prefix)` pairs of the model, as full state_dict prefixes.
pub fn conv_bn_prefixes(cfg: &ModelConfig) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    if cfg.arch == Arch::BnInception {
        pairs.extend(
            bninception::conv_bn_pairs()
                .into_iter()
                .map(|c| (format!("base_model.{c}"), format!("base_model.{c}_bn"))),
        );
    }
    if cfg.consensus == Consensus::Fcn {
        pairs.extend(fcn::conv_bn_pairs().into_iter().map(|(c, b)| {
            (
                format!("consensus.classifier.{c}"),
                format!("consensus.classifier.{b}"),
            )
        }));
    }
    pairs
}

/// Replaces every conv + BN pair in `tensors` by the folded conv; BN tensors are removed.
/// Tensors must be f32. Pairs whose BN is absent (already folded) are left alone.
pub fn fold_batchnorm(cfg: &ModelConfig, tensors: &mut HashMap<String, Tensor>) -> Result<()> {
    for (conv, bn) in conv_bn_prefixes(cfg) {
        let take = |t: &mut HashMap<String, Tensor>, k: &str| t.remove(&format!("{bn}.{k}"));
        let (Some(gamma), Some(beta), Some(mean), Some(var)) = (
            take(tensors, "weight"),
            take(tensors, "bias"),
            take(tensors, "running_mean"),
            take(tensors, "running_var"),
        ) else {
            continue;
        };
        tensors.remove(&format!("{bn}.num_batches_tracked"));
        let wkey = format!("{conv}.weight");
        let bkey = format!("{conv}.bias");
        let w = tensors
            .get(&wkey)
            .ok_or_else(|| candle_core::Error::msg(format!("{wkey} missing for BatchNorm {bn}")))?;
        let out = w.dim(0)?;
        let scale = (gamma / (var + BN_EPS)?.sqrt()?)?; // [out]
        let w_folded = w.broadcast_mul(&scale.reshape((out, 1, 1, 1))?)?;
        let b = match tensors.get(&bkey) {
            Some(b) => b.clone(),
            None => Tensor::zeros(out, w.dtype(), w.device())?,
        };
        let b_folded = ((b - mean)? * &scale)?.add(&beta)?;
        tensors.insert(wkey, w_folded);
        tensors.insert(bkey, b_folded);
    }
    Ok(())
}
