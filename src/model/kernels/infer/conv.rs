//! Convolution (+ bias, + optional ReLU) in NHWC: im2col rows of contiguous channel vectors for
//! k×k kernels (none for 1×1), one gemm per block of output pixels, bias and ReLU applied while
//! the block is still in cache; stride-1 3×3 convolutions with enough channels go through
//! Winograd F(2×2, 3×3) or F(4×4, 3×3) ([`super::winograd`], chosen by [`WinogradRule`])
//! instead. Output goes to any channel window of a row buffer, so
//! branches of an inception/fire module write straight into their concatenation.

use super::winograd::{Variant, Winograd};
use super::{host_vec, num_threads, Act, Out, View};
use crate::model::kernels::gemm::{matmul, Mat};
use crate::model::kernels::im2col::{im2col, permute_filters, ConvWindow};
use candle_core::{Result, Tensor};
use std::cell::RefCell;
use std::sync::OnceLock;

/// Output pixels per task: large enough for an efficient gemm, small enough that the im2col block
/// stays in L2 and the tasks balance over the threads.
const MAX_ROWS_PER_TASK: usize = 256;
const MIN_ROWS_PER_TASK: usize = 32;

thread_local! {
    /// Reused im2col block of the current thread.
    static COLS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// A convolution ready for NHWC inference.
#[derive(Debug, Clone)]
pub struct ConvPlan {
    pub c_in: usize,
    pub c_out: usize,
    win: ConvWindow,
    /// `[k·k·c_in, c_out]`, rows ordered (ky, kx, ci) like the im2col columns.
    w: Vec<f32>,
    /// `[c_out]`
    bias: Vec<f32>,
    /// ReLU applies to output channels `0..relu_cols` (all or none, except in fused plans).
    relu_cols: usize,
    /// Winograd-transformed filters of a stride-1, padding-1 3×3 window, per [`Variant`]
    /// (F2, F4), made on first use: which one runs depends on the input
    /// ([`ConvPlan::winograd_variant`]).
    winograd: [OnceLock<Vec<f32>>; 2],
}

/// When a stride-1, padding-1 3×3 convolution runs as Winograd instead of im2col, and which.
/// With few input channels the Winograd products are thin and the transforms cost as much as
/// they save, and on small maps F(4×4)'s tiles mostly hang over the edge; how few is too few
/// depends on how many frames share the products. Chosen from per-layer minima over 20 runs on
/// AVX2 (docs/bench-model.md, "Winograd"):
/// - one frame (the live app): BN-Inception's 64-channel layers (conv2, blocks 3a–3c) gain
///   4.6 ms on F(2×2) over im2col; squeezenet1_1's expand3x3 layers (16–48 in) gain nothing;
///   F(4×4) on 14×14 maps costs 5 ms more than F(2×2), from 28×28 it is as fast;
/// - a clip of 8: squeezenet1_1 gains 17 % with every expand3x3 on Winograd and F(4×4) from
///   13×13; BN-Inception is the same with F(4×4) from 14×14 or from 28×28.
#[derive(Debug, Clone, Copy)]
struct WinogradRule {
    /// Fewest input channels for Winograd.
    min_c_in: usize,
    /// Shortest map side for F(4×4) (F(2×2) below).
    f4_min_side: usize,
}

/// For batches of fewer than [`CLIP_FRAMES`] frames.
const FRAME_RULE: WinogradRule = WinogradRule {
    min_c_in: 64,
    f4_min_side: 28,
};

/// For batches of [`CLIP_FRAMES`] frames or more.
const CLIP_RULE: WinogradRule = WinogradRule {
    min_c_in: 16,
    f4_min_side: 13,
};

/// Frames in a batch from which [`CLIP_RULE`] applies.
const CLIP_FRAMES: usize = 4;

impl ConvPlan {
    /// From a PyTorch-layout weight `[c_out, c_in, k, k]` and optional bias `[c_out]`.
    pub fn new(
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: usize,
        pad: usize,
        relu: bool,
    ) -> Result<Self> {
        let (c_out, c_in, kh, kw) = weight.dims4()?;
        if kh != kw {
            candle_core::bail!("square kernels only, got {kh}x{kw}");
        }
        let k = kh;
        // [o, ky, kx, c] → [(ky, kx, c), o]
        let filters = permute_filters(&host_vec(weight)?, c_in, k, false);
        let kk = k * k * c_in;
        let mut w = vec![0f32; kk * c_out];
        for (o, filter) in filters.chunks_exact(kk).enumerate() {
            for (r, &v) in filter.iter().enumerate() {
                w[r * c_out + o] = v;
            }
        }
        let bias = match bias {
            Some(b) => host_vec(b)?,
            None => vec![0.0; c_out],
        };
        let win = ConvWindow { k, stride, pad };
        Ok(ConvPlan {
            c_in,
            c_out,
            winograd: Default::default(),
            win,
            w,
            bias,
            relu_cols: if relu { c_out } else { 0 },
        })
    }

    /// The same convolution without bias and ReLU, and the bias it had (for a linear op that
    /// commutes with the convolution, applied before bias and ReLU).
    pub fn linear_part(&self) -> (ConvPlan, Vec<f32>) {
        let plan = ConvPlan {
            bias: vec![0.0; self.c_out],
            relu_cols: 0,
            ..self.clone()
        };
        (plan, self.bias.clone())
    }

    /// Convolutions of the same input with the same geometry as one, their outputs concatenated
    /// in order (one wider gemm instead of several). ReLU'd parts must come first.
    pub fn concat(parts: &[&ConvPlan]) -> Result<ConvPlan> {
        let first = parts
            .first()
            .ok_or_else(|| candle_core::Error::msg("nothing to concatenate"))?;
        let c_out: usize = parts.iter().map(|p| p.c_out).sum();
        let kk = first.win.cols(first.c_in);
        let mut w = vec![0f32; kk * c_out];
        let mut bias = Vec::with_capacity(c_out);
        let mut relu_cols = 0;
        let mut col = 0;
        for p in parts {
            let same = (p.c_in, p.win) == (first.c_in, first.win);
            if !same || (p.relu_cols > 0 && relu_cols < col) || (p.relu_cols % p.c_out.max(1)) != 0
            {
                candle_core::bail!("convolutions cannot be concatenated");
            }
            for r in 0..kk {
                w[r * c_out + col..r * c_out + col + p.c_out]
                    .copy_from_slice(&p.w[r * p.c_out..(r + 1) * p.c_out]);
            }
            bias.extend_from_slice(&p.bias);
            col += p.c_out;
            if p.relu_cols > 0 {
                relu_cols = col;
            }
        }
        Ok(ConvPlan {
            c_out,
            winograd: Default::default(),
            w,
            bias,
            relu_cols,
            c_in: first.c_in,
            win: first.win,
        })
    }

    /// Output height and width for an `h`×`w` input (PyTorch's floor rule).
    pub fn out_hw(&self, h: usize, w: usize) -> Result<(usize, usize)> {
        match self.win.out_hw(h, w) {
            Some(hw) => Ok(hw),
            None => candle_core::bail!(
                "a {0}x{0} convolution (padding {1}) does not fit a {h}x{w} map",
                self.win.k,
                self.win.pad
            ),
        }
    }

    /// Into a new buffer: `x` `[n, h, w, c_in]` → `[n, oh, ow, c_out]`.
    pub fn forward(&self, x: View) -> Result<Act> {
        let (oh, ow) = self.out_hw(x.h, x.w)?;
        let mut y = Act::for_overwrite(x.n, oh, ow, self.c_out);
        self.forward_into(x, y.out(0, self.c_out))?;
        Ok(y)
    }

    /// The Winograd variant this convolution runs on `n` frames of `h`×`w`, if any
    /// ([`WinogradRule`]).
    pub fn winograd_variant(&self, n: usize, h: usize, w: usize) -> Option<Variant> {
        let rule = if n >= CLIP_FRAMES {
            CLIP_RULE
        } else {
            FRAME_RULE
        };
        let fits =
            (self.win.k, self.win.stride, self.win.pad) == (3, 1, 1) && self.c_in >= rule.min_c_in;
        fits.then_some(if h.min(w) >= rule.f4_min_side {
            Variant::F4
        } else {
            Variant::F2
        })
    }

    /// Into the channel window `y` (which must have `n·oh·ow` rows and `c_out` channels).
    pub fn forward_into(&self, x: View, y: Out) -> Result<()> {
        let (oh, ow) = self.out_hw(x.h, x.w)?;
        assert_eq!(x.c, self.c_in, "conv input channels");
        assert_eq!(y.channels(), self.c_out, "conv output channels");
        assert_eq!(y.rows(), x.n * oh * ow, "conv output rows");
        match self.winograd_variant(x.n, x.h, x.w) {
            Some(variant) => self.winograd_into(variant, x, y),
            None => self.im2col_into(x, y),
        }
        Ok(())
    }

    /// By Winograd's `variant` (the shapes checked by the caller).
    fn winograd_into(&self, variant: Variant, x: View, y: Out) {
        let slot = match variant {
            Variant::F2 => &self.winograd[0],
            Variant::F4 => &self.winograd[1],
        };
        let u = slot.get_or_init(|| variant.transform_filters(&self.w, self.c_in, self.c_out));
        let plan = Winograd {
            variant,
            c_in: self.c_in,
            c_out: self.c_out,
            u,
            bias: &self.bias,
            relu_cols: self.relu_cols,
        };
        plan.forward_into(x, y);
    }

    /// By im2col and gemm (the shapes checked by the caller).
    fn im2col_into(&self, x: View, y: Out) {
        let threads = num_threads();
        let rows = y.rows();
        if threads > 1 && rows >= threads * MIN_ROWS_PER_TASK {
            // The fewest tasks (a multiple of the thread count, so they balance) of at most
            // MAX_ROWS_PER_TASK rows, rounded to gemm's 16-row register tiles.
            let tasks = threads * rows.div_ceil(threads * MAX_ROWS_PER_TASK);
            let chunk = rows.div_ceil(tasks).next_multiple_of(16);
            y.for_each_block(chunk, |r0, block| self.rows_range(x, block, r0, 1));
        } else {
            // Too few pixels to share out: let gemm split the columns.
            self.rows_range(x, y, 0, threads);
        }
    }

    /// Output rows `r0..r0 + y.rows()` into `y`; `threads` is gemm's own parallelism.
    fn rows_range(&self, x: View, mut y: Out, r0: usize, threads: usize) {
        let m = y.rows();
        let kk = self.win.cols(self.c_in);
        let rhs = Mat::rows(&self.w, kk, self.c_out, self.c_out);
        if self.win.pointwise() {
            // Output rows are input rows: the input is its own im2col matrix.
            let lhs = Mat::rows(&x.data[r0 * x.ld + x.off..], m, kk, x.ld);
            matmul(y.as_mat(), lhs, rhs, false, threads);
        } else {
            COLS.with(|cols| {
                let mut cols = cols.borrow_mut();
                cols.resize(m * kk, 0.0);
                im2col(x, &self.win, (r0, r0 + m), &mut cols);
                matmul(y.as_mat(), Mat::rows(&cols, m, kk, kk), rhs, false, threads);
            });
        }
        crate::model::kernels::simd(BiasRelu {
            y: &mut y,
            bias: &self.bias,
            relu_cols: self.relu_cols,
        });
    }
}

/// Adds `bias` to every row of `y`, with ReLU on channels `0..relu_cols`.
struct BiasRelu<'a, 'b> {
    y: &'a mut Out<'b>,
    bias: &'a [f32],
    relu_cols: usize,
}

impl pulp::WithSimd for BiasRelu<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let (b_relu, b_plain) = self.bias.split_at(self.relu_cols);
        for r in 0..self.y.rows() {
            let (with_relu, plain) = self.y.row_mut(r).split_at_mut(self.relu_cols);
            for (v, b) in with_relu.iter_mut().zip(b_relu) {
                *v = (*v + b).max(0.0);
            }
            for (v, b) in plain.iter_mut().zip(b_plain) {
                *v += b;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Module};
    use candle_nn::{Conv2d, Conv2dConfig};

    /// Same result as candle's NCHW conv2d + ReLU, for the shapes the backbones use.
    #[test]
    fn matches_candle_conv2d() -> Result<()> {
        let dev = Device::Cpu;
        for (c_in, c_out, k, s, p, hw, n) in [
            (3, 8, 3, 2, 0, 15, 2),
            (3, 5, 7, 2, 3, 16, 1),
            (6, 7, 3, 1, 1, 9, 3),
            (6, 7, 3, 2, 1, 10, 1),
            (16, 9, 1, 1, 0, 5, 2),
        ] {
            let w = Tensor::randn(0f32, 0.5, (c_out, c_in, k, k), &dev)?;
            let b = Tensor::randn(0f32, 0.5, c_out, &dev)?;
            let x = Tensor::randn(0f32, 1., (n, c_in, hw, hw), &dev)?;
            let cfg = Conv2dConfig {
                padding: p,
                stride: s,
                ..Default::default()
            };
            let want = Conv2d::new(w.clone(), Some(b.clone()), cfg)
                .forward(&x)?
                .relu()?;
            let plan = ConvPlan::new(&w, Some(&b), s, p, true)?;
            let got = plan.forward(Act::from_nchw(&x)?.view())?;
            let want = Act::from_nchw(&want)?;
            assert_eq!(
                (got.n, got.h, got.w, got.c),
                (want.n, want.h, want.w, want.c)
            );
            let d = crate::model::kernels::max_abs_diff(&got.data, &want.data);
            assert!(d < 1e-4, "k{k} s{s} p{p}: {d}");
        }
        Ok(())
    }

    /// Both Winograd variants agree with im2col on odd and even maps (F(4×4) tiles hanging
    /// over both edges), several frames, channel counts that are not a multiple of the
    /// transforms' lanes, ReLU on part of the channels, and an input that is a channel slice of
    /// a wider buffer written into a channel window of another.
    #[test]
    fn winograd_matches_im2col() -> Result<()> {
        let dev = Device::Cpu;
        let thin = Tensor::randn(0f32, 0.5, (64, FRAME_RULE.min_c_in - 1, 3, 3), &dev)?;
        let thin = ConvPlan::new(&thin, None, 1, 1, true)?;
        assert_eq!(
            thin.winograd_variant(1, 28, 28),
            None,
            "thin 3x3 convolutions of one frame stay on im2col"
        );
        assert_eq!(
            thin.winograd_variant(CLIP_FRAMES, 28, 28),
            Some(Variant::F4)
        );
        let strided = Tensor::randn(0f32, 0.5, (8, 96, 3, 3), &dev)?;
        let strided = ConvPlan::new(&strided, None, 2, 1, true)?;
        assert_eq!(strided.winograd_variant(8, 28, 28), None);
        for (c_in, c_out, h, w, n) in [
            (96, 7, 9, 9, 3),
            (100, 33, 8, 6, 2),
            (130, 65, 7, 7, 1),
            (128, 24, 14, 14, 8),
            (97, 5, 1, 2, 1),
            (64, 20, 13, 11, 2),
            (72, 16, 28, 28, 1),
        ] {
            let wt = Tensor::randn(0f32, 0.5, (c_out, c_in, 3, 3), &dev)?;
            let b = Tensor::randn(0f32, 0.5, c_out, &dev)?;
            let relu = ConvPlan::new(&wt, Some(&b), 1, 1, true)?;
            let plain = ConvPlan::new(&wt, Some(&b), 1, 1, false)?;
            let plan = ConvPlan::concat(&[&relu, &plain])?;
            assert!(plan.winograd_variant(n, h, w).is_some());
            let wide = Tensor::randn(0f32, 1., (n, c_in + 5, h, w), &dev)?;
            let x = Act::from_nchw(&wide)?;
            let view = x.channels(2, c_in);
            let mut slow = Act::for_overwrite(n, h, w, 2 * c_out);
            plan.im2col_into(view, slow.out(0, 2 * c_out));
            let scale = slow.data.iter().fold(1f32, |m, v| m.max(v.abs()));
            // F(4×4)'s transforms scale terms by up to 8 before they cancel: its rounding is
            // about 1e-5 of the output's scale on these sizes (seen up to 1.04e-5 in 24 runs),
            // F(2×2)'s well below.
            for (variant, tol) in [(Variant::F2, 1e-5), (Variant::F4, 5e-5)] {
                let mut fast = Act::for_overwrite(n, h, w, 2 * c_out + 3);
                fast.data.fill(-7.0);
                plan.winograd_into(variant, view, fast.out(1, 2 * c_out));
                for (r, px) in fast.data.chunks_exact(fast.c).enumerate() {
                    assert_eq!((px[0], px[2 * c_out + 1]), (-7.0, -7.0), "wrote outside");
                    let want = &slow.data[r * 2 * c_out..(r + 1) * 2 * c_out];
                    let d = crate::model::kernels::max_abs_diff(&px[1..1 + 2 * c_out], want);
                    assert!(
                        d <= tol * scale,
                        "{variant:?} {c_in}->{c_out} {h}x{w}: {d} (scale {scale})"
                    );
                }
            }
        }
        Ok(())
    }
}
