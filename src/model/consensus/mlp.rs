//! MLP consensus (stmodeling `MLPmodule`): `classifier` = ReLU, Linear(N·D, 512) \[`.1`\],
//! Dropout(0.2), ReLU, Linear(512, C) \[`.4`\] on the flattened frame features.

use crate::model::layers::Dense;
use crate::model::layers::{dropout, linear};
use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

const BOTTLENECK: usize = 512;
const DROPOUT: f32 = 0.2;

/// The MLP head.
#[derive(Debug, Clone)]
pub struct MlpHead {
    fc1: Dense,
    fc2: Dense,
}

impl MlpHead {
    /// `vb` points at `consensus`.
    pub fn new(n: usize, d: usize, classes: usize, vb: VarBuilder) -> Result<Self> {
        let vb = vb.pp("classifier");
        Ok(MlpHead {
            fc1: linear(n * d, BOTTLENECK, vb.pp("1"))?,
            fc2: linear(BOTTLENECK, classes, vb.pp("4"))?,
        })
    }

    /// `[b, N, D]` → `[b, C]`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let x = x.flatten_from(1)?.relu()?; // [b, N·D]
        let h = self.fc1.forward(&x)?; // [b, 512]
        let h = dropout(&h, DROPOUT, train)?.relu()?;
        self.fc2.forward(&h) // [b, C]
    }
}
