//! TSN's average consensus: `new_fc` already maps each frame to class scores; the clip's score
//! is their mean over time. No parameters.

use candle_core::{Result, Tensor};

/// `[b, N, C]` → `[b, C]`.
pub fn forward(x: &Tensor) -> Result<Tensor> {
    x.mean(1)
}
