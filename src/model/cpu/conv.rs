//! Convolution (+ bias, + optional ReLU) in NHWC: im2col rows of contiguous channel vectors for
//! k×k kernels (none for 1×1), one gemm per block of output pixels, bias and ReLU applied while
//! the block is still in cache. Output goes to any channel window of a row buffer, so branches
//! of an inception/fire module write straight into their concatenation.

use super::gemm::matmul;
use super::{host_vec, num_threads, par_ranges, Act, Out, View};
use candle_core::{Result, Tensor};
use std::cell::RefCell;

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
    k: usize,
    stride: usize,
    pad: usize,
    /// `[k·k·c_in, c_out]`, rows ordered (ky, kx, ci) like the im2col columns.
    w: Vec<f32>,
    /// `[c_out]`
    bias: Vec<f32>,
    /// ReLU applies to output channels `0..relu_cols` (all or none, except in fused plans).
    relu_cols: usize,
}

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
        let src = host_vec(weight)?; // [o, c, ky, kx]
        let mut w = vec![0f32; k * k * c_in * c_out];
        for o in 0..c_out {
            for ci in 0..c_in {
                for ky in 0..k {
                    for kx in 0..k {
                        w[((ky * k + kx) * c_in + ci) * c_out + o] =
                            src[((o * c_in + ci) * k + ky) * k + kx];
                    }
                }
            }
        }
        let bias = match bias {
            Some(b) => host_vec(b)?,
            None => vec![0.0; c_out],
        };
        Ok(ConvPlan {
            c_in,
            c_out,
            k,
            stride,
            pad,
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
        let kk = first.k * first.k * first.c_in;
        let mut w = vec![0f32; kk * c_out];
        let mut bias = Vec::with_capacity(c_out);
        let mut relu_cols = 0;
        let mut col = 0;
        for p in parts {
            let same =
                (p.c_in, p.k, p.stride, p.pad) == (first.c_in, first.k, first.stride, first.pad);
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
            w,
            bias,
            relu_cols,
            ..(*first).clone()
        })
    }

    /// Output height and width for an `h`×`w` input (PyTorch's floor rule).
    pub fn out_hw(&self, h: usize, w: usize) -> (usize, usize) {
        let len = |l: usize| (l + 2 * self.pad - self.k) / self.stride + 1;
        (len(h), len(w))
    }

    /// Into a new buffer: `x` `[n, h, w, c_in]` → `[n, oh, ow, c_out]`.
    pub fn forward(&self, x: View) -> Act {
        let (oh, ow) = self.out_hw(x.h, x.w);
        let mut y = Act::for_overwrite(x.n, oh, ow, self.c_out);
        self.forward_into(x, y.out(0, self.c_out));
        y
    }

    /// Into the channel window `y` (which must have `n·oh·ow` rows and `c_out` channels).
    pub fn forward_into(&self, x: View, y: Out) {
        let (oh, ow) = self.out_hw(x.h, x.w);
        assert_eq!(x.c, self.c_in, "conv input channels");
        assert_eq!(y.c, self.c_out, "conv output channels");
        assert_eq!(y.rows, x.n * oh * ow, "conv output rows");
        let threads = num_threads();
        let rows = y.rows;
        if threads > 1 && rows >= threads * MIN_ROWS_PER_TASK {
            // The fewest tasks (a multiple of the thread count, so they balance) of at most
            // MAX_ROWS_PER_TASK rows, rounded to gemm's 16-row register tiles.
            let tasks = threads * rows.div_ceil(threads * MAX_ROWS_PER_TASK);
            let chunk = rows.div_ceil(tasks).next_multiple_of(16);
            par_ranges(rows, chunk, |r0, r1| self.rows_range(x, y, r0, r1, 1));
        } else {
            // Too few pixels to share out: let gemm split the columns.
            self.rows_range(x, y, 0, rows, threads);
        }
    }

    /// Output rows `r0..r1`; `threads` is gemm's own parallelism.
    fn rows_range(&self, x: View, y: Out, r0: usize, r1: usize, threads: usize) {
        let m = r1 - r0;
        let kk = self.k * self.k * self.c_in;
        let pointwise = self.k == 1 && self.stride == 1 && self.pad == 0;
        if pointwise {
            // SAFETY: rows r0..r1 of x exist (rows match for a pointwise conv); this call is the
            // only writer of rows r0..r1 of y.
            unsafe {
                let lhs = x.data.as_ptr().add(r0 * x.ld + x.off);
                matmul(
                    m,
                    self.c_out,
                    kk,
                    lhs,
                    x.ld,
                    &self.w,
                    y.row_ptr(r0),
                    y.ld,
                    threads,
                );
            }
        } else {
            COLS.with(|cols| {
                let mut cols = cols.borrow_mut();
                cols.resize(m * kk, 0.0);
                self.im2col(x, r0, r1, &mut cols);
                // SAFETY: `cols` holds m rows of kk floats; this call is the only writer of rows
                // r0..r1 of y.
                unsafe {
                    matmul(
                        m,
                        self.c_out,
                        kk,
                        cols.as_ptr(),
                        kk,
                        &self.w,
                        y.row_ptr(r0),
                        y.ld,
                        threads,
                    );
                }
            });
        }
        bias_relu_rows(y, r0, r1, &self.bias, self.relu_cols);
    }

    /// Fills `cols` (`[r1 − r0, k·k·c_in]`) with the receptive fields of output rows `r0..r1`,
    /// zeros where the window hangs over the padding.
    fn im2col(&self, x: View, r0: usize, r1: usize, cols: &mut [f32]) {
        let (oh, ow) = self.out_hw(x.h, x.w);
        let (k, c, s, p) = (self.k, self.c_in, self.stride, self.pad as isize);
        let kc = k * c;
        for (r, row) in (r0..r1).zip(cols.chunks_exact_mut(k * kc)) {
            let img = r / (oh * ow);
            let oy = (r / ow) % oh;
            let ox = r % ow;
            let ix0 = (ox * s) as isize - p;
            // Valid kx: 0 <= ix0 + kx < w.
            let kx_lo = (-ix0).clamp(0, k as isize) as usize;
            let kx_hi = (x.w as isize - ix0).clamp(kx_lo as isize, k as isize) as usize;
            for (ky, seg) in row.chunks_exact_mut(kc).enumerate() {
                let iy = (oy * s) as isize - p + ky as isize;
                if iy < 0 || iy >= x.h as isize || kx_lo == kx_hi {
                    seg.fill(0.0);
                    continue;
                }
                seg[..kx_lo * c].fill(0.0);
                seg[kx_hi * c..].fill(0.0);
                let first = (img * x.h + iy as usize) * x.w + (ix0 + kx_lo as isize) as usize;
                if x.ld == c {
                    let start = first * c + x.off;
                    let len = (kx_hi - kx_lo) * c;
                    seg[kx_lo * c..kx_hi * c].copy_from_slice(&x.data[start..start + len]);
                } else {
                    for (i, kx) in (kx_lo..kx_hi).enumerate() {
                        seg[kx * c..(kx + 1) * c].copy_from_slice(x.pixel(first + i));
                    }
                }
            }
        }
    }
}

multiversion! {
    /// Adds `bias` to rows `r0..r1` of `y`, with ReLU on channels `0..relu_cols`; the caller
    /// must be the only writer of those rows.
    fn bias_relu_rows(y: Out, r0: usize, r1: usize, bias: &[f32], relu_cols: usize) {
        let (b_relu, b_plain) = bias.split_at(relu_cols);
        for r in r0..r1 {
            // SAFETY: rows r0..r1 of y belong to the caller (see above).
            let row = unsafe { y.row_mut(r) };
            let (with_relu, plain) = row.split_at_mut(relu_cols);
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
            let got = plan.forward(Act::from_nchw(&x)?.view());
            let want = Act::from_nchw(&want)?;
            assert_eq!(
                (got.n, got.h, got.w, got.c),
                (want.n, want.h, want.w, want.c)
            );
            let d = got
                .data
                .iter()
                .zip(&want.data)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(d < 1e-4, "k{k} s{s} p{p}: {d}");
        }
        Ok(())
    }
}
