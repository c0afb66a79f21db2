//! FCN consensus (stmodeling `FCN2Dmodule`): the frame features as a 1×N×D image; ReLU, then
//! 5 × [Conv2d 3×3, stride (1, 2), padding 1 → BatchNorm2d → ReLU] with channels
//! 1→64→64→128→128→256 (`classifier.{1,4,7,10,13}` + BN `classifier.{2,5,8,11,14}`), Dropout(0),
//! Conv2d(256, C, 1) (`classifier.17`), ReLU, average pool over the remaining N×(D/32) map.

use crate::model::layers::{BnMode, Conv, ConvBnRelu};
use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

const CHANNELS: [usize; 6] = [1, 64, 64, 128, 128, 256];

/// The FCN head.
#[derive(Debug, Clone)]
pub struct FcnHead {
    layers: Vec<ConvBnRelu>,
    out: Conv,
}

impl FcnHead {
    /// `vb` points at `consensus`.
    pub fn new(classes: usize, bn: BnMode, vb: VarBuilder) -> Result<Self> {
        let vb = vb.pp("classifier");
        let layers = (0..5)
            .map(|i| {
                ConvBnRelu::new(
                    CHANNELS[i],
                    CHANNELS[i + 1],
                    3,
                    1,
                    1,
                    bn,
                    vb.pp(3 * i + 1),
                    vb.pp(3 * i + 2),
                )
            })
            .collect::<Result<_>>()?;
        Ok(FcnHead {
            layers,
            out: Conv::new(256, classes, 1, 1, 0, true, vb.pp("17"))?,
        })
    }

    /// `[b, N, D]` → `[b, C]`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut x = x.relu()?.unsqueeze(1)?; // [b, 1, N, D]
        for layer in &self.layers {
            // candle's conv2d has one stride for both axes: stride (1, 2) = stride 1, then every
            // other column. The head is tiny, so the doubled work does not matter.
            let y = layer.forward_t(&x, train)?; // [b, c, N, W]
            x = every_other_column(&y)?; // [b, c, N, ceil(W/2)]
        }
        let y = self.out.forward(&x)?.relu()?; // [b, C, N, D/32]
                                               // AvgPool2d((N, 8)) in the original, which covers the whole map when D = 256.
        y.mean(3)?.mean(2) // [b, C]
    }
}

/// Columns 0, 2, 4, ... of `[b, c, h, w]` (ceil(w/2) of them), through differentiable ops.
fn every_other_column(x: &Tensor) -> Result<Tensor> {
    let (b, c, h, w) = x.dims4()?;
    let x = if w % 2 == 1 {
        x.pad_with_zeros(3, 0, 1)?
    } else {
        x.clone()
    };
    let half = w.div_ceil(2);
    x.reshape((b, c, h, half, 2))?.narrow(4, 0, 1)?.squeeze(4)
}

/// Conv layer names whose BatchNorm is the next Sequential index, for folding BN at load time:
/// `(conv, bn)` pairs relative to `consensus.classifier`.
pub fn conv_bn_pairs() -> Vec<(String, String)> {
    (0..5)
        .map(|i| ((3 * i + 1).to_string(), (3 * i + 2).to_string()))
        .collect()
}
