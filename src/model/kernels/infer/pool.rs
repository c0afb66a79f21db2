//! NHWC pooling with PyTorch's semantics as the backbones use it: max pooling in ceil mode
//! (padding never wins), and average pooling with `count_include_pad` (each window divides by
//! its size clipped to the padded input). Vectorised over channels, parallel over output pixels.
//! The window grid is the one every pooling implementation shares ([`PoolGrid`]).

use super::{Act, Out, View};
use crate::model::kernels::geometry::PoolGrid;
use candle_core::Result;

/// Output pixels per parallel task.
const ROWS_PER_TASK: usize = 512;

/// The ceil-mode window grid of a `k`/`s`/`pad` pool over `x`.
pub fn grid(x: &View, k: usize, s: usize, pad: usize) -> Result<PoolGrid> {
    PoolGrid::new(x.h, x.w, k, s, pad)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Max,
    /// Average with count_include_pad.
    AvgInclPad,
}

/// `MaxPool2d(k, s, pad, ceil_mode=True)` into a new buffer.
pub fn max_pool(x: View, k: usize, s: usize, pad: usize) -> Result<Act> {
    let g = grid(&x, k, s, pad)?;
    let mut y = Act::for_overwrite(x.n, g.oh, g.ow, x.c);
    pool_into(x, &g, Kind::Max, None, y.out(0, x.c));
    Ok(y)
}

/// `MaxPool2d(k, s, pad, ceil_mode=True)` into a channel window of a concatenation.
pub fn max_pool_into(x: View, k: usize, s: usize, pad: usize, y: Out) -> Result<()> {
    pool_into(x, &grid(&x, k, s, pad)?, Kind::Max, None, y);
    Ok(())
}

/// `AvgPool2d(k, s, pad, ceil_mode=True, count_include_pad=True)` into a new buffer.
pub fn avg_pool_include_pad(x: View, k: usize, s: usize, pad: usize) -> Result<Act> {
    let g = grid(&x, k, s, pad)?;
    let mut y = Act::for_overwrite(x.n, g.oh, g.ow, x.c);
    pool_into(x, &g, Kind::AvgInclPad, None, y.out(0, x.c));
    Ok(y)
}

/// `relu(avg_pool_include_pad(x) + bias)` into a channel window: the tail of a 1×1 projection
/// that was applied before the pool (the two are linear, so they commute; the bias and ReLU
/// must come after).
pub fn avg_pool_bias_relu_into(
    x: View,
    k: usize,
    s: usize,
    pad: usize,
    bias: &[f32],
    y: Out,
) -> Result<()> {
    assert_eq!(bias.len(), x.c, "one bias per channel");
    pool_into(x, &grid(&x, k, s, pad)?, Kind::AvgInclPad, Some(bias), y);
    Ok(())
}

fn pool_into(x: View, g: &PoolGrid, kind: Kind, bias_relu: Option<&[f32]>, y: Out) {
    assert_eq!(y.rows(), x.n * g.out_len(), "pool output rows");
    assert_eq!(y.channels(), x.c, "pool output channels");
    y.for_each_block(ROWS_PER_TASK, |r0, mut y| {
        crate::model::kernels::simd(PoolRows {
            x,
            g,
            kind,
            bias_relu,
            y: &mut y,
            r0,
        })
    });
}

/// Output rows `r0..r0 + y.rows()` of [`pool_into`].
struct PoolRows<'a, 'b> {
    x: View<'a>,
    g: &'a PoolGrid,
    kind: Kind,
    bias_relu: Option<&'a [f32]>,
    y: &'a mut Out<'b>,
    r0: usize,
}

impl pulp::WithSimd for PoolRows<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let PoolRows {
            x,
            g,
            kind,
            bias_relu,
            y,
            r0,
        } = self;
        for i in 0..y.rows() {
            let r = r0 + i;
            let img = r / g.out_len();
            let (wy, wx) = (g.row((r / g.ow) % g.oh), g.col(r % g.ow));
            let out = y.row_mut(i);
            let base = img * x.h * x.w;
            out.copy_from_slice(x.pixel(base + wy.first * x.w + wx.first));
            for iy in wy.first..wy.end {
                for ix in wx.first..wx.end {
                    if iy == wy.first && ix == wx.first {
                        continue;
                    }
                    let px = x.pixel(base + iy * x.w + ix);
                    match kind {
                        Kind::Max => out.iter_mut().zip(px).for_each(|(o, v)| *o = o.max(*v)),
                        Kind::AvgInclPad => out.iter_mut().zip(px).for_each(|(o, v)| *o += v),
                    }
                }
            }
            let inv = 1.0 / (wy.padded * wx.padded) as f32;
            match (kind, bias_relu) {
                (Kind::AvgInclPad, Some(b)) => out
                    .iter_mut()
                    .zip(b)
                    .for_each(|(o, b)| *o = (*o * inv + b).max(0.0)),
                (Kind::AvgInclPad, None) => out.iter_mut().for_each(|o| *o *= inv),
                (Kind::Max, Some(b)) => out
                    .iter_mut()
                    .zip(b)
                    .for_each(|(o, b)| *o = (*o + b).max(0.0)),
                (Kind::Max, None) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kernels::max_abs_diff;
    use crate::model::kernels::train::{avg_pool2d_ceil, max_pool2d_ceil};
    use candle_core::{Device, Result, Tensor};

    fn max_diff(a: &Act, b: &Act) -> f32 {
        assert_eq!((a.n, a.h, a.w, a.c), (b.n, b.h, b.w, b.c));
        max_abs_diff(&a.data, &b.data)
    }

    /// The NHWC kernels equal the NCHW training op (itself checked against candle and by finite
    /// differences), ceil-edge windows and the 2×2 map of BNInception's smallest input included.
    #[test]
    fn matches_the_training_pools() -> Result<()> {
        for (h, w) in [(2, 2), (6, 6), (7, 9), (13, 13), (14, 14)] {
            let x = Tensor::randn(0f32, 1., (2, 5, h, w), &Device::Cpu)?;
            let xa = Act::from_nchw(&x)?;
            for (k, s, p) in [(3, 2, 0), (3, 1, 1), (3, 2, 1)] {
                let want = Act::from_nchw(&max_pool2d_ceil(&x, k, s, p)?)?;
                assert!(max_diff(&max_pool(xa.view(), k, s, p)?, &want) < 1e-6);
                let want = Act::from_nchw(&avg_pool2d_ceil(&x, k, s, p)?)?;
                let got = avg_pool_include_pad(xa.view(), k, s, p)?;
                assert!(max_diff(&got, &want) < 1e-5, "{h}x{w} {k} {s} {p}");
            }
        }
        Ok(())
    }

    #[test]
    fn a_grid_pytorch_refuses_is_an_error() -> Result<()> {
        let x = Act::from_nchw(&Tensor::zeros((1, 2, 1, 1), candle_core::DType::F32, &Device::Cpu)?)?;
        assert!(max_pool(x.view(), 3, 2, 0).is_err());
        Ok(())
    }
}
