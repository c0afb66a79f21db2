//! Winograd F(m×m, 3×3) for the stride-1, padding-1 3×3 convolutions (most of BN-Inception's
//! FLOPs): each m×m block of output pixels (a tile) is computed from its (m+2)×(m+2) input
//! patch with (m+2)² multiplications per channel pair instead of 9m². Two variants:
//! F(2×2, 3×3) (16 products for 4 pixels, 2.25× fewer than direct) and F(4×4, 3×3) (36 for 16,
//! 4× fewer, with larger transforms and more rounding; [`Variant`]). In NHWC that is an input
//! transform of every tile's patch (channels contiguous), (m+2)² independent
//! `[tiles, c_in] × [c_in, c_out]` products against the transformed filters, and an output
//! transform that adds the bias, applies ReLU and writes the m×m pixels straight into the
//! output's channel window. Work is split into bands of whole tile rows, which map to
//! contiguous output rows.
//!
//! The matrices are Lavin & Gray's ("Fast Algorithms for Convolutional Neural Networks", 2015):
//! F(2×2, 3×3) with interpolation points 0, ±1, and F(4×4, 3×3) with 0, ±1, ±2. The rounding
//! F(4×4) adds is a few float epsilons times the largest partial sums (the points ±2 scale
//! terms by up to 8), well inside the 1e-4 parity tolerance on every fixture.

use super::{num_threads, Out, View};
use crate::model::kernels::gemm::{matmul, Mat, MatMut};
use std::cell::RefCell;
use std::marker::PhantomData;

/// Tiles per task: large enough for efficient products, small enough that the transformed
/// tiles of a task stay near L2.
const MAX_TILES: usize = 64;
const MIN_TILES: usize = 8;

thread_local! {
    /// Reused transformed input and product of the current thread.
    static BUF: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// The transforms of F(m×m, 3×3), with `A = m + 2` the patch side, written out by hand: the
/// input and output transforms run for every tile and channel, and a generic product with the
/// constant matrices left the compiler testing each coefficient at run time.
trait Transform<const M: usize, const A: usize> {
    /// Filter transform `G` `[A, 3]` (applied in f64 once per plan).
    const G: [[f64; 3]; A];
    /// `Bᵀ d` of `A` vectors.
    fn bt(d: &[Lanes; A]) -> [Lanes; A];
    /// `Aᵀ m` of `A` vectors.
    fn at(m: &[Lanes; A]) -> [Lanes; M];
}

/// F(2×2, 3×3): `Bᵀ = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]]`,
/// `Aᵀ = [[1,1,1,0],[0,1,-1,-1]]`.
struct F2;

impl Transform<2, 4> for F2 {
    const G: [[f64; 3]; 4] = [
        [1.0, 0.0, 0.0],
        [0.5, 0.5, 0.5],
        [0.5, -0.5, 0.5],
        [0.0, 0.0, 1.0],
    ];

    #[inline(always)]
    fn bt(d: &[Lanes; 4]) -> [Lanes; 4] {
        [
            lanes(|l| d[0][l] - d[2][l]),
            lanes(|l| d[1][l] + d[2][l]),
            lanes(|l| d[2][l] - d[1][l]),
            lanes(|l| d[1][l] - d[3][l]),
        ]
    }

    #[inline(always)]
    fn at(m: &[Lanes; 4]) -> [Lanes; 2] {
        [
            lanes(|l| m[0][l] + m[1][l] + m[2][l]),
            lanes(|l| m[1][l] - m[2][l] - m[3][l]),
        ]
    }
}

/// F(4×4, 3×3): `Bᵀ = [[4,0,-5,0,1,0],[0,-4,-4,1,1,0],[0,4,-4,-1,1,0],[0,-2,-1,2,1,0],
/// [0,2,-1,-2,1,0],[0,4,0,-5,0,1]]`, `Aᵀ = [[1,1,1,1,1,0],[0,1,-1,2,-2,0],[0,1,1,4,4,0],
/// [0,1,-1,8,-8,1]]`.
struct F4;

impl Transform<4, 6> for F4 {
    const G: [[f64; 3]; 6] = [
        [1.0 / 4.0, 0.0, 0.0],
        [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
        [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
        [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
        [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
        [0.0, 0.0, 1.0],
    ];

    #[inline(always)]
    fn bt(d: &[Lanes; 6]) -> [Lanes; 6] {
        let d43 = lanes(|l| d[4][l] - 4.0 * d[2][l]);
        let d31 = lanes(|l| d[3][l] - 4.0 * d[1][l]);
        let d42 = lanes(|l| d[4][l] - d[2][l]);
        let d13 = lanes(|l| 2.0 * (d[3][l] - d[1][l]));
        [
            lanes(|l| 4.0 * d[0][l] - 5.0 * d[2][l] + d[4][l]),
            lanes(|l| d43[l] + d31[l]),
            lanes(|l| d43[l] - d31[l]),
            lanes(|l| d42[l] + d13[l]),
            lanes(|l| d42[l] - d13[l]),
            lanes(|l| 4.0 * d[1][l] - 5.0 * d[3][l] + d[5][l]),
        ]
    }

    #[inline(always)]
    fn at(m: &[Lanes; 6]) -> [Lanes; 4] {
        let s12 = lanes(|l| m[1][l] + m[2][l]);
        let d12 = lanes(|l| m[1][l] - m[2][l]);
        let s34 = lanes(|l| m[3][l] + m[4][l]);
        let d34 = lanes(|l| m[3][l] - m[4][l]);
        [
            lanes(|l| m[0][l] + s12[l] + s34[l]),
            lanes(|l| d12[l] + 2.0 * d34[l]),
            lanes(|l| s12[l] + 4.0 * s34[l]),
            lanes(|l| d12[l] + 8.0 * d34[l] + m[5][l]),
        ]
    }
}

/// A vector of lanes from a per-lane expression (a plain loop the compiler vectorises).
#[inline(always)]
fn lanes(f: impl Fn(usize) -> f32) -> Lanes {
    let mut v = [0f32; L];
    for (l, x) in v.iter_mut().enumerate() {
        *x = f(l);
    }
    v
}

/// Which Winograd transform a convolution runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// F(2×2, 3×3).
    F2,
    /// F(4×4, 3×3).
    F4,
}

impl Variant {
    /// Output tile side m.
    pub fn tile(self) -> usize {
        match self {
            Variant::F2 => 2,
            Variant::F4 => 4,
        }
    }

    /// Products per tile, (m+2)².
    pub fn products(self) -> usize {
        (self.tile() + 2).pow(2)
    }

    /// Transformed filters `U = G g Gᵀ`: `[(m+2)², c_in, c_out]` from weights laid out
    /// `[(ky, kx, ci), o]` (the im2col order).
    pub fn transform_filters(self, w: &[f32], c_in: usize, c_out: usize) -> Vec<f32> {
        match self {
            Variant::F2 => transform_filters(&F2::G, w, c_in, c_out),
            Variant::F4 => transform_filters(&F4::G, w, c_in, c_out),
        }
    }
}

/// `U = G g Gᵀ` for every channel pair, in f64.
fn transform_filters<const A: usize>(
    g: &[[f64; 3]; A],
    w: &[f32],
    c_in: usize,
    c_out: usize,
) -> Vec<f32> {
    assert_eq!(w.len(), 9 * c_in * c_out, "3x3 filters [(ky, kx, ci), o]");
    let mut u = vec![0f32; A * A * c_in * c_out];
    for ci in 0..c_in {
        for o in 0..c_out {
            let tap = |ky: usize, kx: usize| w[((ky * 3 + kx) * c_in + ci) * c_out + o] as f64;
            for (a, ga) in g.iter().enumerate() {
                for (b, gb) in g.iter().enumerate() {
                    let mut v = 0.0;
                    for (ky, &gy) in ga.iter().enumerate() {
                        for (kx, &gx) in gb.iter().enumerate() {
                            v += gy * tap(ky, kx) * gx;
                        }
                    }
                    u[((a * A + b) * c_in + ci) * c_out + o] = v as f32;
                }
            }
        }
    }
    u
}

/// A stride-1, padding-1 3×3 convolution with its transformed filters.
#[derive(Debug, Clone, Copy)]
pub struct Winograd<'a> {
    pub variant: Variant,
    pub c_in: usize,
    pub c_out: usize,
    /// `[(m+2)², c_in, c_out]` ([`Variant::transform_filters`]).
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
        let products = self.variant.products();
        assert_eq!(self.u.len(), products * self.c_in * self.c_out);
        match self.variant {
            Variant::F2 => self.run::<2, 4, F2>(x, y),
            Variant::F4 => self.run::<4, 6, F4>(x, y),
        }
    }

    /// Splits the output into bands of whole tile rows and runs them.
    fn run<const M: usize, const A: usize, T: Transform<M, A>>(&self, x: View, y: Out) {
        let threads = num_threads();
        let (th, tw) = (x.h.div_ceil(M), x.w.div_ceil(M));
        let tile_rows = x.n * th;
        let tiles = tile_rows * tw;
        if threads > 1 && tiles >= threads * MIN_TILES && tile_rows >= threads {
            let tasks = threads * tiles.div_ceil(threads * MAX_TILES);
            let per = tile_rows.div_ceil(tasks).max(1);
            // Tile row g (frame g / th, tile row g % th) starts at this output row; the last
            // tile row of a frame may be shorter than M.
            let first_row = |g: usize| (g / th * x.h + M * (g % th)) * x.w;
            let starts: Vec<usize> = (0..tile_rows).step_by(per).map(first_row).collect();
            y.for_each_range(&starts, |r0, block| self.band::<M, A, T>(x, block, r0, 1));
        } else {
            self.band::<M, A, T>(x, y, 0, threads);
        }
    }

    /// Output rows `r0..r0 + y.rows()` (whole tile rows) into `y`; `threads` is gemm's own.
    fn band<const M: usize, const A: usize, T: Transform<M, A>>(
        &self,
        x: View,
        mut y: Out,
        r0: usize,
        threads: usize,
    ) {
        let (h, w) = (x.h, x.w);
        let tw = w.div_ceil(M);
        // (frame, tile row, tile column) of every tile in the band.
        let mut tiles = Vec::new();
        let mut r = r0;
        while r < r0 + y.rows() {
            let (img, oy) = (r / (h * w), (r % (h * w)) / w);
            debug_assert!(
                oy.is_multiple_of(M) && r.is_multiple_of(w),
                "bands are whole tile rows"
            );
            tiles.extend((0..tw).map(|tx| (img, oy / M, tx)));
            r += M.min(h - oy) * w;
        }
        let t = tiles.len();
        let (ci, co) = (self.c_in, self.c_out);
        let p = A * A;
        BUF.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.resize(p * t * (ci + co), 0.0);
            // Tile-major: tile `i` holds its p transformed vectors at `[i, ξ, c]`, so the
            // transforms read and write one contiguous block per tile, and product `ξ` reads
            // rows `p·c` apart.
            let (v, m) = buf.split_at_mut(p * t * ci);
            crate::model::kernels::simd(InputTransform::<M, A, T> {
                transform: PhantomData,
                x,
                tiles: &tiles,
                v,
            });
            for xi in 0..p {
                matmul(
                    MatMut::rows(&mut m[xi * co..], t, co, p * co),
                    Mat::new(&v[xi * ci..], (t, ci), (p * ci, 1)),
                    Mat::rows(&self.u[xi * ci * co..(xi + 1) * ci * co], ci, co, co),
                    false,
                    threads,
                );
            }
            crate::model::kernels::simd(OutputTransform::<M, A, T> {
                transform: PhantomData,
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

/// The first `len` (≤ L) floats of `src` into `lanes`, zeros after; a whole vector as one
/// fixed-size copy (a copy of run-time length is a `memcpy` call).
#[inline(always)]
fn load(lanes: &mut Lanes, src: &[f32], len: usize) {
    if len == L {
        *lanes = src[..L].try_into().expect("L floats");
    } else {
        lanes[..len].copy_from_slice(&src[..len]);
        lanes[len..].fill(0.0);
    }
}

/// The first `len` (≤ L) lanes into `dst`.
#[inline(always)]
fn store(dst: &mut [f32], lanes: &Lanes, len: usize) {
    if len == L {
        dst[..L].copy_from_slice(lanes);
    } else {
        dst[..len].copy_from_slice(&lanes[..len]);
    }
}

/// `V = Bᵀ d B` of every tile's patch into `v` (`[tiles, A², c_in]`).
struct InputTransform<'a, 'b, const M: usize, const A: usize, T> {
    transform: PhantomData<T>,
    x: View<'a>,
    tiles: &'b [(usize, usize, usize)],
    v: &'b mut [f32],
}

impl<const M: usize, const A: usize, T: Transform<M, A>> pulp::WithSimd
    for InputTransform<'_, '_, M, A, T>
{
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let x = self.x;
        let (h, w, c) = (x.h as isize, x.w as isize, x.c);
        let zero = vec![0f32; c];
        for (&(img, ty, tx), vt) in self.tiles.iter().zip(self.v.chunks_exact_mut(A * A * c)) {
            // The patch's pixels; padding reads zeros.
            let mut src: [[&[f32]; A]; A] = [[&zero[..]; A]; A];
            for (py, row) in src.iter_mut().enumerate() {
                for (px, pixel) in row.iter_mut().enumerate() {
                    let iy = (M * ty + py) as isize - 1;
                    let ix = (M * tx + px) as isize - 1;
                    if (0..h).contains(&iy) && (0..w).contains(&ix) {
                        *pixel = x.pixel((img * x.h + iy as usize) * x.w + ix as usize);
                    }
                }
            }
            let mut k = 0;
            while k < c {
                let len = L.min(c - k);
                // Bᵀ down each column j: cols[j][a] = Σ_i Bᵀ[a][i] d[i][j].
                let mut cols = [[[0f32; L]; A]; A];
                let mut d = [[0f32; L]; A];
                for (j, col) in cols.iter_mut().enumerate() {
                    for (i, lanes) in d.iter_mut().enumerate() {
                        load(lanes, &src[i][j][k..], len);
                    }
                    *col = T::bt(&d);
                }
                // Then along each row a: v[a][b] = Σ_j Bᵀ[b][j] cols[j][a].
                for a in 0..A {
                    for (lanes, cj) in d.iter_mut().zip(&cols) {
                        *lanes = cj[a];
                    }
                    for (b, lanes) in T::bt(&d).iter().enumerate() {
                        store(&mut vt[(a * A + b) * c + k..], lanes, len);
                    }
                }
                k += L;
            }
        }
    }
}

/// `Y = Aᵀ M A` of every tile (`m`: `[tiles, A², c_out]`), plus bias and ReLU, into the output
/// pixels inside the map.
struct OutputTransform<'a, 'b, 'c, const M: usize, const A: usize, T> {
    transform: PhantomData<T>,
    m: &'a [f32],
    tiles: &'a [(usize, usize, usize)],
    y: &'a mut Out<'b>,
    /// Output row of the band's first row.
    r0: usize,
    hw: (usize, usize),
    bias: &'c [f32],
    relu_cols: usize,
}

impl<const M: usize, const A: usize, T: Transform<M, A>> pulp::WithSimd
    for OutputTransform<'_, '_, '_, M, A, T>
{
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let (h, w) = self.hw;
        let c = self.y.channels();
        for (&(img, ty, tx), mt) in self.tiles.iter().zip(self.m.chunks_exact(A * A * c)) {
            let mut k = 0;
            while k < c {
                let len = L.min(c - k);
                // Aᵀ down each column j: cols[j][i] = Σ_a Aᵀ[i][a] m[a][j].
                let mut cols = [[[0f32; L]; M]; A];
                let mut col = [[0f32; L]; A];
                for (j, out) in cols.iter_mut().enumerate() {
                    for (a, lanes) in col.iter_mut().enumerate() {
                        load(lanes, &mt[(a * A + j) * c + k..], len);
                    }
                    *out = T::at(&col);
                }
                let mut bias = [0f32; L];
                bias[..len].copy_from_slice(&self.bias[k..k + len]);
                // Channels k + i < relu_cols get ReLU.
                let mut relu = [false; L];
                for (i, r) in relu.iter_mut().enumerate() {
                    *r = k + i < self.relu_cols;
                }
                // Then along each output row i: y[i][q] = Σ_j Aᵀ[q][j] cols[j][i].
                for (i, oy) in (M * ty..h).take(M).enumerate() {
                    for (lanes, cj) in col.iter_mut().zip(&cols) {
                        *lanes = cj[i];
                    }
                    for (q, y) in T::at(&col).iter().enumerate() {
                        let ox = M * tx + q;
                        if ox >= w {
                            break;
                        }
                        let out = lanes(|l| {
                            let v = y[l] + bias[l];
                            if relu[l] {
                                v.max(0.0)
                            } else {
                                v
                            }
                        });
                        let row = (img * h + oy) * w + ox - self.r0;
                        store(&mut self.y.row_mut(row)[k..], &out, len);
                    }
                }
                k += L;
            }
        }
    }
}
