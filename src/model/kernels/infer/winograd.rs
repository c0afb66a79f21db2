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
            // Tile-major: tile `i` holds its 16 transformed vectors at `[i, ξ, c]`, so the
            // transforms read and write one contiguous block per tile, and product `ξ` reads
            // rows `16·c` apart.
            let (v, m) = buf.split_at_mut(16 * t * ci);
            crate::model::kernels::simd(InputTransform {
                x,
                tiles: &tiles,
                v,
            });
            for xi in 0..16 {
                matmul(
                    MatMut::rows(&mut m[xi * co..], t, co, 16 * co),
                    Mat::new(&v[xi * ci..], (t, ci), (16 * ci, 1)),
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

/// Lanes of the transforms' fixed-size vectors (one AVX2 register).
const L: usize = 8;
type Lanes = [f32; L];

#[inline(always)]
fn add(a: Lanes, b: Lanes) -> Lanes {
    std::array::from_fn(|i| a[i] + b[i])
}

#[inline(always)]
fn sub(a: Lanes, b: Lanes) -> Lanes {
    std::array::from_fn(|i| a[i] - b[i])
}

/// `[d0 − d2, d1 + d2, d2 − d1, d1 − d3]`: `Bᵀ` applied to four vectors.
#[inline(always)]
fn bt(d: [Lanes; 4]) -> [Lanes; 4] {
    [
        sub(d[0], d[2]),
        add(d[1], d[2]),
        sub(d[2], d[1]),
        sub(d[1], d[3]),
    ]
}

/// `[m0 + m1 + m2, m1 − m2 − m3]`: `Aᵀ` applied to four vectors.
#[inline(always)]
fn at(m: [Lanes; 4]) -> [Lanes; 2] {
    [add(add(m[0], m[1]), m[2]), sub(sub(m[1], m[2]), m[3])]
}

/// `V = Bᵀ d B` of a 4×4 patch `d` (row-major) of `L` channels.
#[inline(always)]
fn input_tile(d: [Lanes; 16]) -> [Lanes; 16] {
    // Bᵀ down each column, then along each row.
    let cols: [[Lanes; 4]; 4] = std::array::from_fn(|j| bt([d[j], d[4 + j], d[8 + j], d[12 + j]]));
    let mut v = [[0f32; L]; 16];
    for a in 0..4 {
        let row = bt([cols[0][a], cols[1][a], cols[2][a], cols[3][a]]);
        v[a * 4..a * 4 + 4].copy_from_slice(&row);
    }
    v
}

/// `Y = Aᵀ M A` of a tile's 16 products `m` (row-major) of `L` channels: the 2×2 outputs.
#[inline(always)]
fn output_tile(m: [Lanes; 16]) -> [Lanes; 4] {
    let cols: [[Lanes; 2]; 4] = std::array::from_fn(|j| at([m[j], m[4 + j], m[8 + j], m[12 + j]]));
    let top = at([cols[0][0], cols[1][0], cols[2][0], cols[3][0]]);
    let bottom = at([cols[0][1], cols[1][1], cols[2][1], cols[3][1]]);
    [top[0], top[1], bottom[0], bottom[1]]
}

/// `V = Bᵀ d B` of every tile's 4×4 patch into `v` (`[tiles, 16, c_in]`).
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
        let zero = vec![0f32; c];
        for (&(img, ty, tx), vt) in self.tiles.iter().zip(self.v.chunks_exact_mut(16 * c)) {
            // The patch's pixels; padding reads zeros.
            let src: [&[f32]; 16] = std::array::from_fn(|p| {
                let iy = (2 * ty + p / 4) as isize - 1;
                let ix = (2 * tx + p % 4) as isize - 1;
                if (0..h).contains(&iy) && (0..w).contains(&ix) {
                    x.pixel((img * x.h + iy as usize) * x.w + ix as usize)
                } else {
                    &zero[..]
                }
            });
            let mut k = 0;
            while k + L <= c {
                let d: [Lanes; 16] =
                    std::array::from_fn(|p| src[p][k..k + L].try_into().expect("L lanes"));
                for (xi, lanes) in input_tile(d).iter().enumerate() {
                    vt[xi * c + k..xi * c + k + L].copy_from_slice(lanes);
                }
                k += L;
            }
            for k in k..c {
                let d: [Lanes; 16] = std::array::from_fn(|p| {
                    let mut l = [0f32; L];
                    l[0] = src[p][k];
                    l
                });
                for (xi, lanes) in input_tile(d).iter().enumerate() {
                    vt[xi * c + k] = lanes[0];
                }
            }
        }
    }
}

/// `Y = Aᵀ M A` of every tile (`m`: `[tiles, 16, c_out]`), plus bias and ReLU, into the output
/// pixels inside the map.
struct OutputTransform<'a, 'b, 'c> {
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
        for (&(img, ty, tx), mt) in self.tiles.iter().zip(self.m.chunks_exact(16 * c)) {
            let mut k = 0;
            while k < c {
                let len = L.min(c - k);
                let mm: [Lanes; 16] = std::array::from_fn(|xi| {
                    let mut l = [0f32; L];
                    l[..len].copy_from_slice(&mt[xi * c + k..xi * c + k + len]);
                    l
                });
                let mut bias = [0f32; L];
                bias[..len].copy_from_slice(&self.bias[k..k + len]);
                // Channels k + i < relu_cols get ReLU.
                let relu: [bool; L] = std::array::from_fn(|i| k + i < self.relu_cols);
                for (q, y) in output_tile(mm).into_iter().enumerate() {
                    let (oy, ox) = (2 * ty + q / 2, 2 * tx + q % 2);
                    if oy >= h || ox >= w {
                        continue;
                    }
                    let out: Lanes = std::array::from_fn(|i| {
                        let v = y[i] + bias[i];
                        if relu[i] {
                            v.max(0.0)
                        } else {
                            v
                        }
                    });
                    let row = (img * h + oy) * w + ox - self.r0;
                    self.y.row_mut(row)[k..k + len].copy_from_slice(&out[..len]);
                }
                k += L;
            }
        }
    }
}
