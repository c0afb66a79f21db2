//! Depthwise convolution (depth multiplier 1) on NHWC rows, register-tiled like XNNPACK's
//! micro-kernels: for one vector of channels, 4 neighbouring output pixels accumulate every tap
//! in registers (4 independent chains, so the FMAs' latency is hidden), starting from the bias,
//! and are stored once with the activation applied. Pixels whose window leaves the map (the
//! edges under SAME padding) take the same path one at a time with the taps that fall inside.

use super::ops::{Activation, Geometry};
use super::team;
use crate::model::kernels::simd;
use pulp::Simd;

/// Output pixels accumulated together.
const PX: usize = 4;

#[derive(Debug)]
pub(super) struct Depthwise {
    pub g: Geometry,
    pub c: usize,
    /// `[kh, kw, c]` (TFLite's `[1, kh, kw, c]` as it is).
    w: Vec<f32>,
    bias: Vec<f32>,
    /// PReLU slopes per channel (zeros otherwise).
    slopes: Vec<f32>,
    pub act: Activation,
}

impl Depthwise {
    pub(super) fn new(g: Geometry, c: usize, w: Vec<f32>, bias: Vec<f32>, act: Activation) -> Self {
        let mut dw = Depthwise {
            g,
            c,
            w,
            bias,
            slopes: Vec::new(),
            act: Activation::None,
        };
        dw.set_act(act);
        dw
    }

    pub(super) fn set_act(&mut self, act: Activation) {
        self.slopes = match &act {
            Activation::Prelu(a) => a.clone(),
            _ => vec![0.0; self.c],
        };
        self.act = act;
    }

    /// Multiply-adds per output value.
    pub(super) fn taps(&self) -> usize {
        self.g.kh * self.g.kw
    }

    /// `k×k/s c @ h×w`, for profiles.
    pub(super) fn describe(&self) -> String {
        let g = &self.g;
        format!("{}x{}/{} {} @{}x{}", g.kh, g.kw, g.sh, self.c, g.oh, g.ow)
    }

    /// `x` `[n, h, w, c]` → `y` `[n, oh, ow, c]`, output rows split over [`team`]'s threads.
    /// Maps of few rows (the 7×7 and 14×14 ones) are split in half rows: 7 whole rows between
    /// two threads leave one waiting for the fourth, and the halves are still whole tiles.
    pub(super) fn run(&self, x: &[f32], y: &mut [f32]) {
        let (c, ow) = (self.c, self.g.ow);
        let rows = y.len() / (ow * c);
        let halves =
            rayon::current_num_threads() > 1 && rows < SPLIT_ROWS_BELOW && ow >= 2 * PX - 1;
        // Part `i`: output row `r`, columns `x0..x1` (whole rows, or the two halves of each row).
        let part = |i: usize| {
            if halves {
                let mid = ow.div_ceil(2);
                let (x0, x1) = if i.is_multiple_of(2) {
                    (0, mid)
                } else {
                    (mid, ow)
                };
                (i / 2, x0, x1)
            } else {
                (i, 0, ow)
            }
        };
        let task = |i: usize, out: &mut [f32]| {
            let (r, x0, x1) = part(i);
            self.part(x, r, x0, x1, out);
        };
        // One thread runs the parts in order on the caller's thread.
        let parts = if halves { rows * 2 } else { rows };
        team::for_each_part(
            y,
            parts,
            |i| {
                let (r, x0, x1) = part(i);
                (r * ow + x0) * c..(r * ow + x1) * c
            },
            task,
        );
    }
}

impl Depthwise {
    /// Columns `x0..x1` of output row `r` (of `n · oh`) into `out` `[x1 − x0, c]`, on this
    /// thread.
    pub(super) fn part(&self, x: &[f32], r: usize, x0: usize, x1: usize, out: &mut [f32]) {
        let row = Row {
            dw: self,
            x,
            img: r / self.g.oh,
            oy: r % self.g.oh,
            x0,
            x1,
            out,
        };
        // Channels in whole 8-lane vectors but not 16-lane ones (24, 40...) take AVX2's vectors
        // where the CPU has AVX-512 too: whole vectors run the tiled loops.
        #[cfg(target_arch = "x86_64")]
        if !self.c.is_multiple_of(16) && self.c.is_multiple_of(8) {
            if let Some(v3) = pulp::x86::V3::try_new() {
                return pulp::Simd::vectorize(v3, row);
            }
        }
        simd(row)
    }

    /// `x` `[n, h, w, c]` → `y` `[n, oh, ow, c]` on this thread alone (inside another
    /// operator's share of the work).
    pub(super) fn run_here(&self, x: &[f32], y: &mut [f32]) {
        let ow = self.g.ow;
        for (r, out) in y.chunks_exact_mut(ow * self.c).enumerate() {
            self.part(x, r, 0, ow, out);
        }
    }

    /// Channels `range` alone: the same window on a map of `range.len()` channels.
    pub(super) fn channels(&self, range: std::ops::Range<usize>) -> Depthwise {
        let w = self
            .w
            .chunks_exact(self.c)
            .flat_map(|tap| tap[range.clone()].iter().copied())
            .collect();
        Depthwise::new(
            self.g,
            range.len(),
            w,
            self.bias[range.clone()].to_vec(),
            self.act.channels(range),
        )
    }
}

/// Maps with fewer output rows than this (over all images) split their rows in halves between
/// threads.
const SPLIT_ROWS_BELOW: usize = 16;

/// Output columns `x0..x1` of one output row.
struct Row<'a> {
    dw: &'a Depthwise,
    x: &'a [f32],
    img: usize,
    oy: usize,
    x0: usize,
    x1: usize,
    /// `[x1 − x0, c]`
    out: &'a mut [f32],
}

impl pulp::WithSimd for Row<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let Row {
            dw,
            x,
            img,
            oy,
            x0,
            x1,
            out,
        } = self;
        let (g, c) = (&dw.g, dw.c);
        let lanes = S::F32_LANES;
        // The input rows under this output row (`None` in the padding).
        // Output columns whose whole window is inside the map.
        let inner_lo = g.pl.div_ceil(g.sw);
        let inner_hi = if g.w + g.pl >= g.kw {
            ((g.w + g.pl - g.kw) / g.sw + 1).min(g.ow)
        } else {
            0
        }
        .max(inner_lo);
        if c % lanes == 0 {
            // Whole vectors only: index vectors directly (one bounds check per load).
            let cv = c / lanes;
            let xv = S::as_simd_f32s(x).0;
            let wv = S::as_simd_f32s(&dw.w).0;
            let bv = S::as_simd_f32s(&dw.bias).0;
            let sv = S::as_simd_f32s(&dw.slopes).0;
            let ov = S::as_mut_simd_f32s(out).0;
            // Vector index of each tap row's first pixel.
            let base = |ky: usize| {
                let iy = (oy * g.sh + ky).checked_sub(g.pt).filter(|&v| v < g.h)?;
                Some((img * g.h + iy) * g.w * cv)
            };
            // On the stack for the usual windows (a row is one call, hundreds a model call).
            let mut few = [None; 8];
            let many: Vec<Option<usize>>;
            let bases: &[Option<usize>] = if g.kh <= few.len() {
                for (ky, b) in few.iter_mut().enumerate().take(g.kh) {
                    *b = base(ky);
                }
                &few[..g.kh]
            } else {
                many = (0..g.kh).map(base).collect();
                &many
            };
            let zero = simd.splat_f32s(0.0);
            let span = |kw: usize, sw: usize| (PX - 1) * sw + kw <= XS;
            let tiled = matches!((g.kw, g.sw), (3 | 5, 1 | 2)) && span(g.kw, g.sw);
            // Pixels outer, channel vectors inner: a tile's input pixels (whole, all channels)
            // stay in L1 while every channel vector passes over them; channels outer read a
            // row's pixels once per channel vector (97 KB of input per 56-wide row of 144
            // channels, more than L1).
            // Channel vectors in blocks of at most 8 (128 channels on AVX-512), so a block's
            // weights (25 taps × 8 vectors = 12.8 KB) stay in L1 too.
            let blocks = cv.div_ceil(8);
            let per_block = cv.div_ceil(blocks);
            for jb in (0..cv).step_by(per_block) {
                let js = jb..(jb + per_block).min(cv);
                let mut ox = x0;
                // Rows of 7 and 14 pixels (the 7×7 and 14×14 maps, and their half rows) in
                // tiles of 7 on AVX-512 (7 sums, 11 inputs and 5 weights in its 32 registers):
                // tiles of 4 computed 8 and 16 pixels for them.
                let seven = S::F32_LANES == 16 && g.sw == 1 && (x1 - x0).is_multiple_of(7);
                let px = if seven { 7 } else { PX };
                while ox < x1 {
                    if tiled {
                        let ix0 = (ox * g.sw) as isize - g.pl as isize;
                        for j in js.clone() {
                            // PX pixels at once; taps outside the map read zeros.
                            let t = Taps {
                                xv,
                                wv,
                                bases,
                                j,
                                cv,
                                ix0,
                                w: g.w,
                                bias: bv[j],
                                zero,
                            };
                            // Tiles whose taps all fall inside the row load without checks.
                            let inside = ix0 >= 0 && ix0 as usize + (px - 1) * g.sw + g.kw <= g.w;
                            macro_rules! store {
                                ($acc:expr) => {
                                    for (i, a) in $acc.into_iter().enumerate().take(x1 - ox) {
                                        ov[(ox - x0 + i) * cv + j] =
                                            activate(simd, &dw.act, a, sv[j]);
                                    }
                                };
                            }
                            match (seven, g.kw, g.sw, inside) {
                                (true, 5, _, true) => store!(t.tile::<5, 1, true, 7>(simd)),
                                (true, 5, _, false) => store!(t.tile::<5, 1, false, 7>(simd)),
                                (true, _, _, true) => store!(t.tile::<3, 1, true, 7>(simd)),
                                (true, _, _, false) => store!(t.tile::<3, 1, false, 7>(simd)),
                                (_, 5, 1, true) => store!(t.tile::<5, 1, true, PX>(simd)),
                                (_, 3, 1, true) => store!(t.tile::<3, 1, true, PX>(simd)),
                                (_, 5, 2, true) => store!(t.tile::<5, 2, true, PX>(simd)),
                                (_, _, _, true) => store!(t.tile::<3, 2, true, PX>(simd)),
                                (_, 5, 1, false) => store!(t.tile::<5, 1, false, PX>(simd)),
                                (_, 3, 1, false) => store!(t.tile::<3, 1, false, PX>(simd)),
                                (_, 5, 2, false) => store!(t.tile::<5, 2, false, PX>(simd)),
                                _ => store!(t.tile::<3, 2, false, PX>(simd)),
                            }
                        }
                        ox += px;
                        continue;
                    }
                    for j in js.clone() {
                        let mut acc = bv[j];
                        for (ky, base) in bases.iter().enumerate() {
                            let Some(base) = *base else { continue };
                            for kx in 0..g.kw {
                                let Some(ix) =
                                    (ox * g.sw + kx).checked_sub(g.pl).filter(|&v| v < g.w)
                                else {
                                    continue;
                                };
                                let w = wv[(ky * g.kw + kx) * cv + j];
                                acc = simd.mul_add_e_f32s(xv[base + ix * cv + j], w, acc);
                            }
                        }
                        ov[(ox - x0) * cv + j] = activate(simd, &dw.act, acc, sv[j]);
                    }
                    ox += 1;
                }
            }
            return;
        }
        let lines: Vec<Option<&[f32]>> = (0..g.kh)
            .map(|ky| {
                let iy = (oy * g.sh + ky).checked_sub(g.pt).filter(|&v| v < g.h)?;
                Some(&x[(img * g.h + iy) * g.w * c..][..g.w * c])
            })
            .collect();
        let mut c0 = 0;
        while c0 < c {
            let cn = lanes.min(c - c0);
            let bias = ld(simd, &dw.bias[c0..], cn);
            let slope = ld(simd, &dw.slopes[c0..], cn);
            let mut ox = x0;
            while ox < x1 {
                if ox >= inner_lo && ox + PX <= inner_hi.min(x1) {
                    // PX pixels, every tap inside the row.
                    let mut acc = [bias; PX];
                    for (ky, line) in lines.iter().enumerate() {
                        let Some(line) = line else { continue };
                        for kx in 0..g.kw {
                            let w = ld(simd, &dw.w[(ky * g.kw + kx) * c + c0..], cn);
                            let ix0 = ox * g.sw + kx - g.pl;
                            for (i, a) in acc.iter_mut().enumerate() {
                                let v = ld(simd, &line[(ix0 + i * g.sw) * c + c0..], cn);
                                *a = simd.mul_add_e_f32s(v, w, *a);
                            }
                        }
                    }
                    for (i, a) in acc.into_iter().enumerate() {
                        let v = activate(simd, &dw.act, a, slope);
                        st(simd, &mut out[(ox - x0 + i) * c + c0..], cn, v);
                    }
                    ox += PX;
                } else {
                    let mut acc = bias;
                    for (ky, line) in lines.iter().enumerate() {
                        let Some(line) = line else { continue };
                        for kx in 0..g.kw {
                            let Some(ix) = (ox * g.sw + kx).checked_sub(g.pl).filter(|&v| v < g.w)
                            else {
                                continue;
                            };
                            let w = ld(simd, &dw.w[(ky * g.kw + kx) * c + c0..], cn);
                            acc = simd.mul_add_e_f32s(ld(simd, &line[ix * c + c0..], cn), w, acc);
                        }
                    }
                    let v = activate(simd, &dw.act, acc, slope);
                    st(simd, &mut out[(ox - x0) * c + c0..], cn, v);
                    ox += 1;
                }
            }
            c0 += lanes;
        }
    }
}

/// The first `n` (≤ lanes) floats of `s` as a vector.
#[inline(always)]
fn ld<S: Simd>(simd: S, s: &[f32], n: usize) -> S::f32s {
    if n == S::F32_LANES {
        S::as_simd_f32s(&s[..n]).0[0]
    } else {
        simd.partial_load_f32s(&s[..n])
    }
}

/// Stores the first `n` (≤ lanes) lanes of `v` at the start of `d`.
#[inline(always)]
fn st<S: Simd>(simd: S, d: &mut [f32], n: usize, v: S::f32s) {
    if n == S::F32_LANES {
        S::as_mut_simd_f32s(&mut d[..n]).0[0] = v;
    } else {
        simd.partial_store_f32s(&mut d[..n], v);
    }
}

#[inline(always)]
fn activate<S: Simd>(simd: S, act: &Activation, v: S::f32s, slope: S::f32s) -> S::f32s {
    let zero = simd.splat_f32s(0.0);
    match act {
        Activation::None => v,
        Activation::Relu => simd.max_f32s(v, zero),
        Activation::Relu6 => simd.min_f32s(simd.max_f32s(v, zero), simd.splat_f32s(6.0)),
        // max(v, 0) + slope · min(v, 0)
        Activation::Prelu(_) => {
            simd.mul_add_e_f32s(slope, simd.min_f32s(v, zero), simd.max_f32s(v, zero))
        }
    }
}

/// Input vectors held by a tile: enough for PX pixels of a 5-wide window at stride 2, or 7 at
/// stride 1.
const XS: usize = 12;

/// What a tile of PX neighbouring output pixels reads, for one vector of channels.
struct Taps<'a, S: Simd> {
    xv: &'a [S::f32s],
    wv: &'a [S::f32s],
    /// Vector index of each tap row's first pixel (`None` in the padding).
    bases: &'a [Option<usize>],
    /// The channel vector.
    j: usize,
    /// Vectors per pixel.
    cv: usize,
    /// Input column of the first pixel's leftmost tap (negative in the padding).
    ix0: isize,
    /// Input width.
    w: usize,
    bias: S::f32s,
    zero: S::f32s,
}

impl<S: Simd> Taps<'_, S> {
    /// The P pixels' sums: each tap row's (P − 1)·SW + KW input vectors are loaded once
    /// (zeros outside the map) and used by every pixel and tap that reads them.
    #[inline(always)]
    fn tile<const KW: usize, const SW: usize, const INSIDE: bool, const P: usize>(
        &self,
        simd: S,
    ) -> [S::f32s; P] {
        let span = (P - 1) * SW + KW;
        let mut acc = [self.bias; P];
        for (ky, base) in self.bases.iter().enumerate() {
            let Some(base) = *base else { continue };
            let xs: [S::f32s; XS] = if INSIDE {
                let start = base + self.ix0 as usize * self.cv + self.j;
                let row = &self.xv[start..start + (span - 1) * self.cv + 1];
                core::array::from_fn(|t| {
                    if t < span {
                        row[t * self.cv]
                    } else {
                        self.zero
                    }
                })
            } else {
                core::array::from_fn(|t| {
                    let ix = self.ix0 + t as isize;
                    if t < span && ix >= 0 && (ix as usize) < self.w {
                        self.xv[base + ix as usize * self.cv + self.j]
                    } else {
                        self.zero
                    }
                })
            };
            let ws: [S::f32s; KW] =
                core::array::from_fn(|kx| self.wv[(ky * KW + kx) * self.cv + self.j]);
            for kx in 0..KW {
                for (i, a) in acc.iter_mut().enumerate() {
                    *a = simd.mul_add_e_f32s(xs[i * SW + kx], ws[kx], *a);
                }
            }
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::super::reference::{noise, with_threads, ConvCase};
    use super::*;

    #[test]
    fn depthwise_matches_the_plain_one_in_whole_and_half_rows() {
        // The landmark model's small maps (7×7 and 14×14, split in half rows with 2 threads),
        // a larger one (whole rows), channels in 16-lane, 8-lane (AVX2 path) and partial
        // vectors, strides 1 and 2, SAME padding on both sides, two images of 7 rows.
        // (n, h, w, c, k, stride, pt, pl)
        let cases: [[usize; 8]; 8] = [
            // Rows of 7 and 14: tiles of 7 on AVX-512 (whole rows, and halves with 2 threads).
            [1, 14, 14, 48, 3, 1, 1, 1],
            [1, 7, 7, 64, 5, 1, 2, 2],
            [1, 14, 14, 40, 3, 1, 1, 1],
            [1, 14, 14, 48, 5, 2, 1, 1],
            [2, 7, 9, 20, 3, 1, 1, 1],
            [1, 28, 28, 32, 5, 1, 2, 2],
            [1, 8, 15, 7, 3, 2, 0, 0],
            [1, 3, 7, 16, 5, 1, 2, 2],
        ];
        for (case, &[n, h, w, c, k, s, pt, pl]) in cases.iter().enumerate() {
            let cc = ConvCase {
                n,
                h,
                w,
                c_in: c,
                c_out: c,
                k,
                s,
                pt,
                pl,
            };
            let g = cc.geometry();
            let seed = case as u64 * 5;
            let x = noise(n * h * w * c, seed);
            let wt = noise(k * k * c, seed + 1);
            let bias = noise(c, seed + 2);
            let dw = Depthwise::new(g, c, wt.clone(), bias.clone(), Activation::Relu6);
            let want = cc.run(&x, &wt, &bias, true);
            for threads in [1, 2, 3] {
                let mut y = vec![f32::NAN; want.len()];
                with_threads(threads, || dw.run(&x, &mut y));
                for (i, (&got, &want)) in y.iter().zip(&want).enumerate() {
                    // Fails on NaN: an element not written stays NaN.
                    assert!(
                        (got - want).abs() <= 1e-5 * (1 + k * k) as f32,
                        "case {case}, {threads} threads, [{i}]: {got} vs {want}"
                    );
                }
            }
        }
    }
}
