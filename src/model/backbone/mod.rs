//! The per-frame backbones. The 2D CNNs map `[n, c_in, S, S]` (3 channels for RGB,
//! `3 · new_length` for RGBDiff) to globally pooled features `[n, F]`; the landmark backbone maps
//! a hand tracker's output `[n, 22, 3]` to hand features `[n, F]`.

pub mod bninception;
pub mod hand_landmarks;
pub mod squeezenet;

use crate::model::config::Arch;
use crate::model::layers::BnMode;
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

/// One of the supported backbones.
#[derive(Debug, Clone)]
pub enum Backbone {
    SqueezeNet11(Box<squeezenet::SqueezeNet11>),
    BnInception(Box<bninception::BnInception>),
    HandLandmarks(hand_landmarks::HandLandmarks),
}

impl Backbone {
    /// Builds `arch` for `c_in` input channels under `vb` (= `base_model`). `first_bn`/`rest_bn`
    /// matter for BN-Inception only. Folded BatchNorm means inference weights: on the CPU the
    /// NHWC kernels of `model::kernels::infer` are then prepared and used whenever `train` is
    /// false.
    pub fn new(
        arch: Arch,
        c_in: usize,
        vb: VarBuilder,
        first_bn: BnMode,
        rest_bn: BnMode,
    ) -> Result<Self> {
        let cpu_inference = first_bn == BnMode::Folded && vb.device().is_cpu();
        Ok(match arch {
            Arch::SqueezeNet11 => Backbone::SqueezeNet11(Box::new(squeezenet::SqueezeNet11::new(
                c_in,
                vb,
                cpu_inference,
            )?)),
            Arch::BnInception => Backbone::BnInception(Box::new(bninception::BnInception::new(
                c_in,
                vb,
                first_bn,
                rest_bn,
                cpu_inference,
            )?)),
            Arch::HandLandmarks => Backbone::HandLandmarks(hand_landmarks::HandLandmarks::new(vb)?),
        })
    }

    /// `[n, c_in, S, S]` (landmarks: `[n, 22, 3]`) → `[n, F]`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        match self {
            Backbone::SqueezeNet11(m) => m.forward_t(x, train),
            Backbone::BnInception(m) => m.forward_t(x, train),
            Backbone::HandLandmarks(m) => m.forward(x),
        }
    }
}
