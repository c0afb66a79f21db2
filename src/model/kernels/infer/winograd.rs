//! Winograd F(2×2, 3×3) for the stride-1, padding-1 3×3 convolutions (most of BN-Inception's
//! and squeezenet's expand FLOPs): each 2×2 block of output pixels (a tile) is computed from its
//! 4×4 input patch with 16 multiplications per channel pair instead of 36. In NHWC that is an
//! input transform of every tile's patch (channels contiguous), 16 independent
//! `[tiles, c_in] × [c_in, c_out]` products against the transformed filters, and an output
//! transform that adds the bias, applies ReLU and writes the 2×2 pixels straight into the
//! output's channel window. Work is split into bands of whole tile rows (whole frames when the
//! height is odd), which map to contiguous output rows.
//!
//! The matrices are Lavin & Gray's: `Bᵀ = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]]`,
//! `G = [[1,0,0],[½,½,½],[½,-½,½],[0,0,1]]`, `Aᵀ = [[1,1,1,0],[0,1,-1,-1]]`; the rounding they
//! add is of the order of the float epsilon times the filter's magnitude.

use super::{num_threads, Out, View};
use crate::model::kernels::gemm::{matmul, Mat, MatMut};
use std::cell::RefCell;

/// Channels transformed at a time (fixed-size arrays the compiler keeps in vector registers).
const CH: usize = 64;
/// Tiles per task: large enough for efficient products, small enough that the transformed
/// tiles of a task stay near L2.
const MAX_TILES: usize = 64;
const MIN_TILES: usize = 16;

thread_local! {
    /// Reused transformed input and product of the current thread.
    static BUF: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Transformed filters `U = G g Gᵀ`: `[16, c_in, c_out]` from weights laid out `[(ky, kx, ci),
/// o]` (the im2col order).
pub fn transform_filters(w: &[f32], c_in: usize, c_out: usize) -> Vec<f32> {
    assert_eq!(w.len(), 9 * c_in * c_out, "3x3 filters [(ky, kx, ci), o]");
    const G: [[f64; 3]; 4] = [
        [1.0, 0.0, 0.0],
        [0.5, 0.5, 0.5],
        [0.5, -0.5, 0.5],
        [0.0, 0.0, 1.0],
    ];
    let mut u = vec![0f32; 16 * c_in * c_out];
    for ci in 0..c_in {
        for o in 0..c_out {
            let tap = |ky: usize, kx: usize| w[((ky * 3 + kx) * c_in + ci) * c_out + o] as f64;
            for (a, ga) in G.iter().enumerate() {
                for (b, gb) in G.iter().enumerate() {
                    let mut v = 0.0;
                    for (ky, &gy) in ga.iter().enumerate() {
                        for (kx, &gx) in gb.iter().enumerate() {
                            v += gy * tap(ky, kx) * gx;
                        }
                    }
                    u[((a * 4 + b) * c_in + ci) * c_out + o] = v as f32;
                }
            }
        }
    }
    u
}

/// A stride-1, padding-1 3×3 convolution with its transformed filters.
#[derive(Debug, Clone, Copy)]
pub struct Winograd<'a> {
    pub c_in: usize,
    pub c_out: usize,
    /// `[16, c_in, c_out]` ([`transform_filters`]).
    pub u: &'a [f32],
    /// `[c_out]`
    pub bias: &'a [f32],
    /// ReLU applies to output channels `0..relu_cols`.
    pub relu_cols: usize,
}

impl Winograd<'_> {
    /// `x` `[n, h, w, c_in]` → the channel window `y` (`n·h·w` rows of `c_out`).
    pub fn forward_into(&self, x: View, y: Out) {
        assert_eq!(x.c, self.c_in, "winograd input channels");
        assert_eq!(y.channels(), self.c_out, "winograd output channels");
        assert_eq!(y.rows(), x.n * x.h * x.w, "winograd output rows");
        assert_eq!(self.u.len(), 16 * self.c_in * self.c_out);
        let threads = num_threads();
        let (th, tw) = (x.h.div_ceil(2), x.w.div_ceil(2));
        let tiles = x.n * th * tw;
        if threads > 1 && tiles >= threads * MIN_TILES {
            let tasks = threads * tiles.div_ceil(threads * MAX_TILES);
            // Blocks of output rows that are whole tile rows: with an even height a tile row
            // is 2·w rows and frames hold whole tile rows; with an odd one, whole frames.
            let chunk = if x.h % 2 == 0 {
                (x.n * th).div_ceil(tasks).max(1) * 2 * x.w
            } else {
                x.n.div_ceil(tasks).max(1) * x.h * x.w
            };
            y.for_each_block(chunk, |r0, block| self.band(x, block, r0, 1));
        } else {
            self.band(x, y, 0, threads);
        }
    }

    /// Output rows `r0..r0 + y.rows()` (whole tile rows) into `y`; `threads` is gemm's own.
    fn band(&self, x: View, mut y: Out, r0: usize, threads: usize) {
        let (h, w) = (x.h, x.w);
        let tw = w.div_ceil(2);
        // (frame, tile row, tile column) of every tile in the band.
        let mut tiles = Vec::new();
        let mut r = r0;
        while r < r0 + y.rows() {
            let (img, oy) = (r / (h * w), (r % (h * w)) / w);
            debug_assert!(oy % 2 == 0 && r % w == 0, "bands are whole tile rows");
            tiles.extend((0..tw).map(|tx| (img, oy / 2, tx)));
            r += 2.min(h - oy) * w;
        }
        let t = tiles.len();
        let (ci, co) = (self.c_in, self.c_out);
        BUF.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.resize(16 * t * (ci + co), 0.0);
            let (v, m) = buf.split_at_mut(16 * t * ci);
            crate::model::kernels::simd(InputTransform {
                x,
                tiles: &tiles,
                v,
            });
            for xi in 0..16 {
                matmul(
                    MatMut::rows(&mut m[xi * t * co..(xi + 1) * t * co], t, co, co),
                    Mat::rows(&v[xi * t * ci..(xi + 1) * t * ci], t, ci, ci),
                    Mat::rows(&self.u[xi * ci * co..(xi + 1) * ci * co], ci, co, co),
                    false,
                    threads,
                );
            }
            crate::model::kernels::simd(OutputTransform {
                m,
                tiles: &tiles,
                y: &mut y,
                r0,
                hw: (h, w),
                bias: self.bias,
                relu_cols: self.relu_cols,
            });
        });
    }
}

/// `V = Bᵀ d B` of every tile's 4×4 patch into `v` (`[16, tiles, c_in]`).
struct InputTransform<'a, 'b> {
    x: View<'a>,
    tiles: &'b [(usize, usize, usize)],
    v: &'b mut [f32],
}

impl pulp::WithSimd for InputTransform<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let x = self.x;
        let (h, w, c) = (x.h as isize, x.w as isize, x.c);
        let t = self.tiles.len();
        for (ti, &(img, ty, tx)) in self.tiles.iter().enumerate() {
            for c0 in (0..c).step_by(CH) {
                let len = CH.min(c - c0);
                let mut d = [[0f32; CH]; 16];
                for i in 0..4 {
                    let iy = (2 * ty + i) as isize - 1;
                    if !(0..h).contains(&iy) {
                        continue;
                    }
                    for j in 0..4 {
                        let ix = (2 * tx + j) as isize - 1;
                        if !(0..w).contains(&ix) {
                            continue;
                        }
                        let px = x.pixel((img * x.h + iy as usize) * x.w + ix as usize);
                        d[i * 4 + j][..len].copy_from_slice(&px[c0..c0 + len]);
                    }
                }
                // Bᵀ over rows (patch row i is d[4i..4i + 4]), then over columns.
                let mut r = [[0f32; CH]; 16];
                for j in 0..4 {
                    for k in 0..CH {
                        let (d0, d1, d2, d3) = (d[j][k], d[4 + j][k], d[8 + j][k], d[12 + j][k]);
                        r[j][k] = d0 - d2;
                        r[4 + j][k] = d1 + d2;
                        r[8 + j][k] = d2 - d1;
                        r[12 + j][k] = d1 - d3;
                    }
                }
                for a in 0..4 {
                    let mut out = [[0f32; CH]; 4];
                    for k in 0..CH {
                        let (r0, r1, r2, r3) = (
                            r[a * 4][k],
                            r[a * 4 + 1][k],
                            r[a * 4 + 2][k],
                            r[a * 4 + 3][k],
                        );
                        out[0][k] = r0 - r2;
                        out[1][k] = r1 + r2;
                        out[2][k] = r2 - r1;
                        out[3][k] = r1 - r3;
                    }
                    for (b, o) in out.iter().enumerate() {
                        let xi = a * 4 + b;
                        let s = (xi * t + ti) * c + c0;
                        self.v[s..s + len].copy_from_slice(&o[..len]);
                    }
                }
            }
        }
    }
}

/// `Y = Aᵀ M A` of every tile, plus bias and ReLU, into the output pixels inside the map.
struct OutputTransform<'a, 'b, 'c> {
    /// `[16, tiles, c_out]`
    m: &'a [f32],
    tiles: &'a [(usize, usize, usize)],
    y: &'a mut Out<'b>,
    /// Output row of the band's first row.
    r0: usize,
    hw: (usize, usize),
    bias: &'c [f32],
    relu_cols: usize,
}

impl pulp::WithSimd for OutputTransform<'_, '_, '_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let (h, w) = self.hw;
        let c = self.y.channels();
        let t = self.tiles.len();
        for (ti, &(img, ty, tx)) in self.tiles.iter().enumerate() {
            for c0 in (0..c).step_by(CH) {
                let len = CH.min(c - c0);
                let mut mm = [[0f32; CH]; 16];
                for (xi, row) in mm.iter_mut().enumerate() {
                    let s = (xi * t + ti) * c + c0;
                    row[..len].copy_from_slice(&self.m[s..s + len]);
                }
                // Aᵀ over rows, then over columns.
                let mut s = [[0f32; CH]; 8];
                for b in 0..4 {
                    for k in 0..CH {
                        let (m0, m1, m2, m3) =
                            (mm[b][k], mm[4 + b][k], mm[8 + b][k], mm[12 + b][k]);
                        s[b][k] = m0 + m1 + m2;
                        s[4 + b][k] = m1 - m2 - m3;
                    }
                }
                let mut out = [[0f32; CH]; 4];
                for p in 0..2 {
                    for k in 0..CH {
                        let (s0, s1, s2, s3) = (
                            s[p * 4][k],
                            s[p * 4 + 1][k],
                            s[p * 4 + 2][k],
                            s[p * 4 + 3][k],
                        );
                        out[p * 2][k] = s0 + s1 + s2;
                        out[p * 2 + 1][k] = s1 - s2 - s3;
                    }
                }
                let bias = &self.bias[c0..c0 + len];
                let relu = self.relu_cols.saturating_sub(c0).min(len);
                for (q, o) in out.iter().enumerate() {
                    let (oy, ox) = (2 * ty + q / 2, 2 * tx + q % 2);
                    if oy >= h || ox >= w {
                        continue;
                    }
                    let row = (img * h + oy) * w + ox - self.r0;
                    let dst = &mut self.y.row_mut(row)[c0..c0 + len];
                    let (with_relu, plain) = dst.split_at_mut(relu);
                    let (b_relu, b_plain) = bias.split_at(relu);
                    for ((v, &a), &b) in with_relu.iter_mut().zip(&o[..relu]).zip(b_relu) {
                        *v = (a + b).max(0.0);
                    }
                    for ((v, &a), &b) in plain.iter_mut().zip(&o[relu..len]).zip(b_plain) {
                        *v = a + b;
                    }
                }
            }
        }
    }
}
