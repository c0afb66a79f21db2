//! The TSN wrapper (ARCHITECTURE §2): backbone per frame → dropout (training only) → `new_fc` →
//! consensus over the N frames. Train/eval is explicit in every call (`forward_t`).

use crate::model::backbone::Backbone;
use crate::model::config::{Arch, Consensus, ModelConfig};
use crate::model::consensus::ConsensusHead;
use crate::model::layers::{dropout, linear, linear_any, BnMode};
use candle_core::{Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

/// How to build the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildOptions {
    /// BatchNorm already folded into the preceding convolutions (inference weights).
    pub folded_bn: bool,
    /// The original's partial BN: every backbone BatchNorm but the first stays in eval mode while
    /// training (its statistics and affine parameters are frozen).
    pub partial_bn: bool,
    /// Seed for TRN's random relation draws.
    pub seed: u64,
}

impl BuildOptions {
    /// Inference from folded weights.
    pub fn inference() -> Self {
        BuildOptions {
            folded_bn: true,
            partial_bn: false,
            seed: 0,
        }
    }

    /// Training with the original's partial BN.
    pub fn training(partial_bn: bool, seed: u64) -> Self {
        BuildOptions {
            folded_bn: false,
            partial_bn,
            seed,
        }
    }
}

/// The whole network.
#[derive(Debug)]
pub struct Tsn {
    config: ModelConfig,
    backbone: Backbone,
    new_fc: Linear,
    consensus: ConsensusHead,
}

impl Tsn {
    /// Builds the network of `cfg`; `vb` is the root (tensors `base_model.*`, `new_fc.*`,
    /// `consensus.*`).
    pub fn new(cfg: &ModelConfig, vb: VarBuilder, opts: BuildOptions) -> Result<Self> {
        cfg.validate().map_err(candle_core::Error::msg)?;
        let (first_bn, rest_bn, head_bn) = if opts.folded_bn {
            (BnMode::Folded, BnMode::Folded, BnMode::Folded)
        } else if opts.partial_bn {
            (BnMode::Trainable, BnMode::Frozen, BnMode::Trainable)
        } else {
            (BnMode::Trainable, BnMode::Trainable, BnMode::Trainable)
        };
        let backbone = Backbone::new(cfg.arch, vb.pp("base_model"), first_bn, rest_bn)?;
        let new_fc = linear(
            cfg.arch.feature_dim(),
            cfg.frame_feature_dim(),
            vb.pp("new_fc"),
        )?;
        let consensus = ConsensusHead::new(cfg, head_bn, opts.seed, vb.pp("consensus"))?;
        Ok(Tsn {
            config: cfg.clone(),
            backbone,
            new_fc,
            consensus,
        })
    }

    /// The configuration the network was built from.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Backbone features only: `[n, 3, S, S]` → `[n, F]`.
    pub fn backbone_features_t(&self, frames: &Tensor, train: bool) -> Result<Tensor> {
        self.backbone.forward_t(frames, train)
    }

    /// Per-frame features after `new_fc`: `[n, 3, S, S]` → `[n, D]`.
    pub fn frame_features_t(&self, frames: &Tensor, train: bool) -> Result<Tensor> {
        let f = self.backbone.forward_t(frames, train)?; // [n, F]
        let f = dropout(&f, self.config.dropout, train)?;
        self.new_fc.forward(&f) // [n, D]
    }

    /// The consensus head: `[b, N, D]` → `[b, C]`.
    pub fn head_t(&self, features: &Tensor, train: bool) -> Result<Tensor> {
        self.consensus.forward_t(features, train)
    }

    /// `[b, N, 3, S, S]` → `[b, C]` logits.
    pub fn forward_t(&self, clips: &Tensor, train: bool) -> Result<Tensor> {
        let (b, n, c, h, w) = clips.dims5()?;
        let frames = clips.reshape((b * n, c, h, w))?;
        let f = self.frame_features_t(&frames, train)?; // [b·N, D]
        let f = f.reshape((b, n, ()))?; // [b, N, D]
        self.head_t(&f, train)
    }

    /// `new_fc` applied to backbone features of any leading shape (`[..., F]` → `[..., D]`).
    pub fn new_fc(&self, features: &Tensor) -> Result<Tensor> {
        linear_any(&self.new_fc, features)
    }
}

/// True for BatchNorm tensors (affine or running statistics), by state_dict name.
pub fn is_batchnorm_param(cfg: &ModelConfig, name: &str) -> bool {
    let in_backbone_bn =
        cfg.arch == Arch::BnInception && name.starts_with("base_model.") && name.contains("_bn.");
    let in_fcn_bn = cfg.consensus == Consensus::Fcn
        && crate::model::consensus::fcn::conv_bn_pairs()
            .iter()
            .any(|(_, bn)| name.starts_with(&format!("consensus.classifier.{bn}.")));
    in_backbone_bn || in_fcn_bn
}

/// True for the BatchNorm parameters partial BN freezes: every backbone BN but the first.
pub fn frozen_by_partial_bn(cfg: &ModelConfig, name: &str) -> bool {
    is_batchnorm_param(cfg, name)
        && name.starts_with("base_model.")
        && !name.starts_with("base_model.conv1_7x7_s2_bn.")
}
