//! The TSN wrapper (docs/ARCHITECTURE.md §4): backbone per frame → dropout (training only) →
//! `new_fc` → consensus over the N frames. Train/eval is explicit in every call (`forward_t`).

use crate::model::backbone::Backbone;
use crate::model::config::{Arch, Consensus, ModelConfig};
use crate::model::consensus::ConsensusHead;
use crate::model::layers::{dropout, linear, BnMode, Dense};
use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

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
    new_fc: Dense,
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
        let backbone = Backbone::new(
            cfg.arch,
            cfg.input_channels(),
            vb.pp("base_model"),
            first_bn,
            rest_bn,
        )?;
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

    /// Backbone features only: `[n, c_in, S, S]` → `[n, F]` (`c_in` = `input_channels()`).
    pub fn backbone_features_t(&self, frames: &Tensor, train: bool) -> Result<Tensor> {
        self.backbone.forward_t(frames, train)
    }

    /// Per-segment features after `new_fc`: `[n, c_in, S, S]` → `[n, D]`.
    pub fn frame_features_t(&self, frames: &Tensor, train: bool) -> Result<Tensor> {
        let f = self.backbone.forward_t(frames, train)?; // [n, F]
        let f = dropout(&f, self.config.dropout, train)?;
        self.new_fc.forward(&f) // [n, D]
    }

    /// The consensus head: `[b, N, D]` → `[b, C]`.
    pub fn head_t(&self, features: &Tensor, train: bool) -> Result<Tensor> {
        self.consensus.forward_t(features, train)
    }

    /// `[b, N, c_in, S, S]` (landmarks: `[b, N, 22, 3]`) → `[b, C]` logits.
    pub fn forward_t(&self, clips: &Tensor, train: bool) -> Result<Tensor> {
        let (b, n) = (clips.dim(0)?, clips.dim(1)?);
        if !self.config.arch.reads_landmarks() {
            clips.dims5()?;
        }
        let frames = clips.flatten(0, 1)?; // [b·N, ...]
        let f = self.frame_features_t(&frames, train)?; // [b·N, D]
        let f = f.reshape((b, n, ()))?; // [b, N, D]
        self.head_t(&f, train)
    }

    /// `new_fc` applied to backbone features of any leading shape (`[..., F]` → `[..., D]`).
    pub fn new_fc(&self, features: &Tensor) -> Result<Tensor> {
        self.new_fc.forward(features)
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

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    fn build(cfg: &ModelConfig, opts: BuildOptions) -> (VarMap, Tsn) {
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
        let tsn = Tsn::new(cfg, vb, opts).unwrap();
        (vm, tsn)
    }

    #[test]
    fn every_head_for_3_8_16_segments_in_train_and_eval() {
        for consensus in Consensus::ALL {
            for n in [3, 8, 16] {
                let mut cfg =
                    ModelConfig::new(Arch::SqueezeNet11, consensus, n, vec!["c".into(); 5]);
                cfg.input_size = 32;
                cfg.resize_size = 32;
                let (_, tsn) = build(&cfg, BuildOptions::training(true, 1));
                let clips = Tensor::randn(0f32, 1., (2, n, 3, 32, 32), &Device::Cpu).unwrap();
                for train in [false, true] {
                    let y = tsn.forward_t(&clips, train).unwrap();
                    assert_eq!(y.dims(), &[2, 5], "{consensus} N={n} train={train}");
                }
            }
        }
    }

    #[test]
    fn landmark_models_run_every_head_over_tracked_frames() {
        use crate::model::backbone::hand_landmarks::INPUT_ROWS;
        for consensus in Consensus::ALL {
            let n = 8;
            let cfg = ModelConfig::new(Arch::HandLandmarks, consensus, n, vec!["c".into(); 4]);
            let (vm, tsn) = build(&cfg, BuildOptions::training(true, 1));
            let clips = Tensor::rand(0f32, 1., (3, n, INPUT_ROWS, 3), &Device::Cpu).unwrap();
            for train in [false, true] {
                let y = tsn.forward_t(&clips, train).unwrap();
                assert_eq!(y.dims(), &[3, 4], "{consensus} train={train}");
            }
            let names: Vec<String> = vm.data().lock().unwrap().keys().cloned().collect();
            assert!(
                names.contains(&"base_model.fc.weight".to_string()),
                "{names:?}"
            );
            assert!(names.contains(&"new_fc.weight".to_string()));
            assert_eq!(cfg.hand_models.len(), 2);
        }
    }

    #[test]
    fn frame_difference_models_read_three_channels_per_difference() {
        for arch in Arch::ALL {
            let mut cfg = ModelConfig::new(arch, Consensus::Mlp, 2, vec!["c".into(); 3]);
            cfg.modality = crate::model::config::Modality::RgbDiff;
            cfg.new_length = 4;
            cfg.input_size = 64;
            cfg.resize_size = 64;
            let (_, tsn) = build(&cfg, BuildOptions::training(true, 0));
            let clips = Tensor::randn(0f32, 1., (1, 2, 12, 64, 64), &Device::Cpu).unwrap();
            assert_eq!(
                tsn.forward_t(&clips, false).unwrap().dims(),
                &[1, 3],
                "{arch}"
            );
            let rgb = Tensor::randn(0f32, 1., (1, 2, 3, 64, 64), &Device::Cpu).unwrap();
            assert!(
                tsn.forward_t(&rgb, false).is_err(),
                "{arch}: 3 channels refused"
            );
        }
    }

    #[test]
    fn backbone_feature_widths_at_224() {
        for arch in Arch::ALL {
            let cfg = ModelConfig::new(arch, Consensus::Avg, 1, vec!["c".into(); 3]);
            let (_, tsn) = build(&cfg, BuildOptions::training(false, 0));
            let x = Tensor::randn(0f32, 1., (1, 3, 224, 224), &Device::Cpu).unwrap();
            let f = tsn.backbone_features_t(&x, false).unwrap();
            assert_eq!(f.dims(), &[1, arch.feature_dim()]);
            assert_eq!(tsn.frame_features_t(&x, false).unwrap().dims(), &[1, 3]);
        }
    }

    #[test]
    fn training_updates_batchnorm_statistics_unless_frozen() {
        let cfg = ModelConfig::new(Arch::BnInception, Consensus::Mlp, 2, vec!["c".into(); 3]);
        for partial in [false, true] {
            let (vm, tsn) = build(&cfg, BuildOptions::training(partial, 0));
            let x = Tensor::randn(0f32, 1., (1, 2, 3, 64, 64), &Device::Cpu).unwrap();
            tsn.forward_t(&x, true).unwrap();
            let data = vm.data().lock().unwrap();
            let mean = |k: &str| {
                data[k]
                    .as_tensor()
                    .abs()
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap()
            };
            assert!(
                mean("base_model.conv1_7x7_s2_bn.running_mean") > 0.0,
                "first BN always trains"
            );
            let later = mean("base_model.inception_3a_1x1_bn.running_mean");
            assert_eq!(
                later == 0.0,
                partial,
                "partial BN freezes later BNs (partial={partial})"
            );
        }
        assert!(frozen_by_partial_bn(
            &cfg,
            "base_model.inception_3a_1x1_bn.weight"
        ));
        assert!(!frozen_by_partial_bn(
            &cfg,
            "base_model.conv1_7x7_s2_bn.weight"
        ));
        assert!(!is_batchnorm_param(&cfg, "base_model.conv1_7x7_s2.weight"));
    }
}
