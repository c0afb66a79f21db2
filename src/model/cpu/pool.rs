//! NHWC pooling with PyTorch's semantics as the backbones use it: max pooling in ceil mode
//! (padding never wins), and 3×3/stride-1/pad-1 average pooling with `count_include_pad` (every
//! window divides by k²). Vectorised over channels, parallel over output pixels.

use super::{par_ranges, Act, Out, View};
use crate::model::layers::pooled_len_ceil;

/// Output pixels per parallel task.
const ROWS_PER_TASK: usize = 512;

/// Ceil-mode output size of a `k`/`s`/`pad` pool over `x`.
pub fn out_hw(x: &View, k: usize, s: usize, pad: usize) -> (usize, usize) {
    (
        pooled_len_ceil(x.h, k, s, pad),
        pooled_len_ceil(x.w, k, s, pad),
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Max,
    /// Average with count_include_pad: sum / k².
    AvgInclPad,
}

/// `MaxPool2d(k, s, pad, ceil_mode=True)` into a new buffer.
pub fn max_pool(x: View, k: usize, s: usize, pad: usize) -> Act {
    let (oh, ow) = out_hw(&x, k, s, pad);
    let mut y = Act::for_overwrite(x.n, oh, ow, x.c);
    pool_into(x, k, s, pad, Kind::Max, None, y.out(0, x.c));
    y
}

/// `MaxPool2d(k, s, pad, ceil_mode=True)` into a channel window of a concatenation.
pub fn max_pool_into(x: View, k: usize, s: usize, pad: usize, y: Out) {
    pool_into(x, k, s, pad, Kind::Max, None, y);
}

/// `AvgPool2d(k, s, pad, ceil_mode=True, count_include_pad=True)` into a new buffer, for windows
/// that never hang past the padded input (the only case the backbones have).
pub fn avg_pool_include_pad(x: View, k: usize, s: usize, pad: usize) -> Act {
    let (oh, ow) = out_hw(&x, k, s, pad);
    let mut y = Act::for_overwrite(x.n, oh, ow, x.c);
    pool_into(x, k, s, pad, Kind::AvgInclPad, None, y.out(0, x.c));
    y
}

/// `relu(avg_pool_include_pad(x) + bias)` into a channel window: the tail of a 1×1 projection
/// that was applied before the pool (the two are linear, so they commute; the bias and ReLU
/// must come after).
pub fn avg_pool_bias_relu_into(x: View, k: usize, s: usize, pad: usize, bias: &[f32], y: Out) {
    assert_eq!(bias.len(), x.c, "one bias per channel");
    pool_into(x, k, s, pad, Kind::AvgInclPad, Some(bias), y);
}

fn pool_into(
    x: View,
    k: usize,
    s: usize,
    pad: usize,
    kind: Kind,
    bias_relu: Option<&[f32]>,
    y: Out,
) {
    let (oh, ow) = out_hw(&x, k, s, pad);
    assert_eq!(y.rows, x.n * oh * ow, "pool output rows");
    assert_eq!(y.c, x.c, "pool output channels");
    par_ranges(y.rows, ROWS_PER_TASK, |r0, r1| {
        pool_rows(x, k, s, pad, kind, bias_relu, y, r0, r1)
    });
}

multiversion! {
    /// Output rows `r0..r1` of [`pool_into`].
    #[allow(clippy::too_many_arguments)]
    fn pool_rows(
        x: View,
        k: usize,
        s: usize,
        pad: usize,
        kind: Kind,
        bias_relu: Option<&[f32]>,
        y: Out,
        r0: usize,
        r1: usize,
    ) {
        let (oh, ow) = out_hw(&x, k, s, pad);
        let inv = 1.0 / (k * k) as f32;
        for r in r0..r1 {
            let img = r / (oh * ow);
            let oy = (r / ow) % oh;
            let ox = r % ow;
            // Window clipped to the real input; ceil mode guarantees it is never empty.
            let y0 = (oy * s).saturating_sub(pad);
            let y1 = (oy * s + k - pad).min(x.h);
            let x0 = (ox * s).saturating_sub(pad);
            let x1 = (ox * s + k - pad).min(x.w);
            // SAFETY: this task is the only writer of output rows r0..r1.
            let out = unsafe { y.row_mut(r) };
            let base = img * x.h * x.w;
            out.copy_from_slice(x.pixel(base + y0 * x.w + x0));
            for iy in y0..y1 {
                for ix in x0..x1 {
                    if iy == y0 && ix == x0 {
                        continue;
                    }
                    let px = x.pixel(base + iy * x.w + ix);
                    match kind {
                        Kind::Max => out.iter_mut().zip(px).for_each(|(o, v)| *o = o.max(*v)),
                        Kind::AvgInclPad => out.iter_mut().zip(px).for_each(|(o, v)| *o += v),
                    }
                }
            }
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
    use crate::model::layers::{avg_pool_include_pad as avg_ref, max_pool_ceil};
    use candle_core::{Device, Result, Tensor};

    fn max_diff(a: &Act, b: &Act) -> f32 {
        assert_eq!((a.n, a.h, a.w, a.c), (b.n, b.h, b.w, b.c));
        a.data
            .iter()
            .zip(&b.data)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max)
    }

    #[test]
    fn matches_the_candle_pools() -> Result<()> {
        for (h, w) in [(6, 6), (7, 9), (13, 13), (14, 14)] {
            let x = Tensor::randn(0f32, 1., (2, 5, h, w), &Device::Cpu)?;
            let xa = Act::from_nchw(&x)?;
            for (k, s, p) in [(3, 2, 0), (3, 1, 1)] {
                let want = Act::from_nchw(&max_pool_ceil(&x, k, s, p, false)?)?;
                assert!(max_diff(&max_pool(xa.view(), k, s, p), &want) < 1e-6);
            }
            let want = Act::from_nchw(&avg_ref(&x, 3, 1, 1, false)?)?;
            assert!(max_diff(&avg_pool_include_pad(xa.view(), 3, 1, 1), &want) < 1e-5);
        }
        Ok(())
    }
}
