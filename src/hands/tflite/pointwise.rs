//! 1×1 convolutions (most of the hand models' multiply-adds) as a register-tiled product of
//! NHWC rows and filters packed at load into panels of 16 output channels: a tile of MR pixels ×
//! 16 channels stays in registers over the whole input depth (12 pixels × two panels of one
//! 16-lane vector on AVX-512, 6 × two 8-lane vectors on AVX2), starting from the bias, and is
//! stored once with its activation (and a fused residual addition) applied. The input needs no packing (a pixel's channels are contiguous), and the
//! weights' layout is made once, so a call does no packing at all; the gemm crate repacks the
//! filters on every call, which costs as much as the product for these thin layers.

use super::ops::Activation;
use super::team::{self, SendPtr};
use crate::model::kernels::simd;
use pulp::Simd;
use std::cell::RefCell;

thread_local! {
    /// A thread's part of a layer split by output channels.
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Output channels per panel.
const NR: usize = 16;

/// Layers with at most this many output pixels (the 7×7 ones) split their output channels
/// between threads rather than their pixels. The 14×14 layers split their pixels: with the
/// thread team's contiguous ranges that is faster (2 threads, 112→672: 0.50 → 0.42 ms, 80→480:
/// 0.32 → 0.23 ms) than channels computed aside and copied into place.
const SPLIT_COLUMNS_BELOW: usize = 64;

/// A 1×1 convolution with packed filters.
#[derive(Debug)]
pub(super) struct Pointwise {
    pub c_in: usize,
    pub c_out: usize,
    /// `[panels, c_in, NR]`, zero past `c_out`.
    panels: Vec<f32>,
    /// `[panels · NR]`, zero past `c_out`.
    bias: Vec<f32>,
    /// PReLU slopes in the bias's layout (zeros otherwise).
    slopes: Vec<f32>,
    pub act: Activation,
}

impl Pointwise {
    /// From filters `[c_in, c_out]` (rows in input-channel order).
    pub(super) fn new(w: &[f32], c_in: usize, c_out: usize, bias: &[f32], act: Activation) -> Self {
        let n_panels = c_out.div_ceil(NR);
        let mut panels = vec![0f32; n_panels * c_in * NR];
        for p in 0..n_panels {
            for i in 0..c_in {
                for j in 0..NR.min(c_out - p * NR) {
                    panels[(p * c_in + i) * NR + j] = w[i * c_out + p * NR + j];
                }
            }
        }
        let mut padded = vec![0f32; n_panels * NR];
        padded[..c_out].copy_from_slice(bias);
        let mut pw = Pointwise {
            c_in,
            c_out,
            panels,
            bias: padded,
            slopes: Vec::new(),
            act: Activation::None,
        };
        pw.set_act(act);
        pw
    }

    /// Sets the activation (a fused PReLU's slopes are laid out like the bias).
    pub(super) fn set_act(&mut self, act: Activation) {
        self.slopes = vec![0f32; self.bias.len()];
        if let Activation::Prelu(a) = &act {
            self.slopes[..a.len()].copy_from_slice(a);
        }
        self.act = act;
    }

    /// `x` `[rows, c_in]` → `y` `[rows, c_out]`, rows split over [`team`]'s threads. With
    /// `res` (`[rows, c_out]`), the product plus `res`, then the activation: a residual
    /// addition fused into the store, so the sum does not take another pass over memory.
    pub(super) fn run(&self, x: &[f32], y: &mut [f32], res: Option<&[f32]>) {
        let rows = y.len() / self.c_out;
        let threads = rayon::current_num_threads();
        // Blocks of at most 48 rows (a multiple of every tile height), so a block's input stays
        // in L1/L2 while every panel passes over it; with several threads, enough blocks to share
        // out. (24, 48 and 96 measured alike.)
        let per_task = if threads > 1 {
            rows.div_ceil(threads * 4)
        } else {
            rows
        }
        .next_multiple_of(12)
        .clamp(12, 48);
        let task = |(b, out): (usize, &mut [f32])| {
            let r0 = b * per_task;
            let m = out.len() / self.c_out;
            simd(Block {
                pw: self,
                x: &x[r0 * self.c_in..(r0 + m) * self.c_in],
                y: out,
                panels: 0..self.bias.len() / NR,
                ld: self.c_out,
                res: res.map(|r| &r[r0 * self.c_out..(r0 + m) * self.c_out]),
            });
        };
        let n_panels = self.bias.len() / NR;
        if threads > 1 && rows <= SPLIT_COLUMNS_BELOW && n_panels >= 2 * threads {
            // Few rows, many filters (the 7×7 and 14×14 layers): split the output channels, so
            // each thread reads only its part of the weights. Each part is computed into the
            // thread's scratch buffer, then copied into its columns of `y`.
            let groups = threads.min(n_panels / 2);
            let per_group = n_panels.div_ceil(groups);
            let c_out = self.c_out;
            let base = SendPtr(y.as_mut_ptr());
            team::for_each(n_panels.div_ceil(per_group), |g| {
                let panels = g * per_group..((g + 1) * per_group).min(n_panels);
                let col = panels.start * NR;
                let width = (panels.end * NR).min(c_out) - col;
                SCRATCH.with(|part| {
                    let mut part = part.borrow_mut();
                    part.clear();
                    part.resize(rows * width, 0.0);
                    simd(Block {
                        pw: self,
                        x,
                        y: &mut part,
                        panels,
                        ld: width,
                        res,
                    });
                    for (r, src) in part.chunks_exact(width).enumerate() {
                        // SAFETY: row `r`'s columns `col..col + width` lie inside `y` (`rows`
                        // rows of `c_out`), and no other group writes them: the groups' column
                        // ranges are disjoint. `y` stays mutably borrowed until the team returns.
                        let dst = unsafe {
                            std::slice::from_raw_parts_mut(base.get().add(r * c_out + col), width)
                        };
                        dst.copy_from_slice(src);
                    }
                });
            });
            return;
        }
        if threads > 1 && rows > per_task {
            team::for_each_piece(y, per_task * self.c_out, |b, out| task((b, out)));
        } else {
            y.chunks_mut(per_task * self.c_out)
                .enumerate()
                .for_each(task);
        }
    }
}

impl Pointwise {
    /// One block of rows on this thread, plus `res` (`[rows, c_out]`) before the activation.
    pub(super) fn run_block(&self, x: &[f32], y: &mut [f32], res: Option<&[f32]>) {
        simd(Block {
            pw: self,
            x,
            y,
            panels: 0..self.bias.len() / NR,
            ld: self.c_out,
            res,
        });
    }

    /// The product over input channels `ins` into output channels `outs` alone, with their
    /// bias (or none) and activation `act`: a part of this layer as a layer of its own.
    pub(super) fn slice(
        &self,
        ins: std::ops::Range<usize>,
        outs: std::ops::Range<usize>,
        bias: bool,
        act: Activation,
    ) -> Pointwise {
        let (ci, co) = (ins.len(), outs.len());
        let mut w = vec![0f32; ci * co];
        for (i, k) in ins.enumerate() {
            for (j, o) in outs.clone().enumerate() {
                w[i * co + j] = self.panels[((o / NR) * self.c_in + k) * NR + o % NR];
            }
        }
        let b = if bias {
            self.bias[outs].to_vec()
        } else {
            vec![0.0; co]
        };
        Pointwise::new(&w, ci, co, &b, act)
    }
}

/// A block of rows, for the panels `panels`: `y` holds rows of `ld` floats whose first is
/// output channel `panels.start · 16`. `res`, if any, holds the same rows whole (`c_out` apart).
struct Block<'a> {
    pw: &'a Pointwise,
    x: &'a [f32],
    y: &'a mut [f32],
    panels: std::ops::Range<usize>,
    ld: usize,
    res: Option<&'a [f32]>,
}

impl pulp::WithSimd for Block<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        match S::F32_LANES {
            16 => self.tiles::<S, 1, 12, 12>(simd),
            8 => self.tiles::<S, 2, 6, 3>(simd),
            4 => self.tiles::<S, 4, 3, 1>(simd),
            _ => self.tiles::<S, 16, 1, 1>(simd),
        }
    }
}

impl<'a> Block<'a> {
    /// `V` vectors make a panel's 16 channels; tiles of `MR` rows × one panel, or of `MR2`
    /// rows × two panels (fewer loads per multiply-add: each broadcast input feeds twice as
    /// many). The rows left over at the end take tiles of 8, 4, 2 and 1 rows: no multiply-adds
    /// on padding (a 7×7 layer's 49 rows were 56 with one padded tile of 8). With exact tails,
    /// 12-row tiles on AVX-512 beat 8 (landmark model 8.6 → 8.0 ms) and 14 (8.9 ms).
    #[inline(always)]
    fn tiles<S: Simd, const V: usize, const MR: usize, const MR2: usize>(mut self, simd: S) {
        let rows = self.x.len() / self.pw.c_in;
        let mut p = self.panels.start;
        while p < self.panels.end {
            let pair = p + 1 < self.panels.end;
            let mut r = 0;
            if pair {
                while r + MR2 <= rows {
                    self.pair::<S, V, MR2>(simd, r, p);
                    r += MR2;
                }
            } else {
                while r + MR <= rows {
                    self.single::<S, V, MR>(simd, r, p);
                    r += MR;
                }
            }
            // The rows left (fewer than a whole tile): 8, 4, 2, 1.
            macro_rules! part {
                ($n:literal) => {
                    if rows - r >= $n {
                        if pair {
                            self.pair::<S, V, $n>(simd, r, p);
                        } else {
                            self.single::<S, V, $n>(simd, r, p);
                        }
                        r += $n;
                    }
                };
            }
            part!(8);
            part!(4);
            part!(2);
            part!(1);
            debug_assert_eq!(r, rows);
            p += if pair { 2 } else { 1 };
        }
    }

    /// Where output channel `p · 16` of row `r` goes in `y`.
    #[inline(always)]
    fn at(&self, r: usize, p: usize) -> usize {
        r * self.ld + (p - self.panels.start) * NR
    }

    /// Row `r`'s residual for the `cols` channels from `p · 16`.
    #[inline(always)]
    fn res_at(&self, r: usize, p: usize, cols: usize) -> Option<&'a [f32]> {
        let n = self.pw.c_out;
        self.res.map(|s| &s[r * n + p * NR..][..cols])
    }

    #[inline(always)]
    fn panel(&self, p: usize) -> &'a [f32] {
        let (k, pw) = (self.pw.c_in, self.pw);
        &pw.panels[p * k * NR..(p + 1) * k * NR]
    }

    /// Rows `r..r + R` × panels `p` and `p + 1`, stored.
    #[inline(always)]
    fn pair<S: Simd, const V: usize, const R: usize>(&mut self, simd: S, r: usize, p: usize) {
        let (k, n, pw) = (self.pw.c_in, self.pw.c_out, self.pw);
        let bias = load::<S, V>(&pw.bias[p * NR..]);
        let slopes = load::<S, V>(&pw.slopes[p * NR..]);
        let cols = NR.min(n - p * NR);
        let bias2 = load::<S, V>(&pw.bias[(p + 1) * NR..]);
        let slopes2 = load::<S, V>(&pw.slopes[(p + 1) * NR..]);
        let cols2 = NR.min(n - (p + 1) * NR);
        let x = &self.x[r * k..(r + R) * k];
        let (a, b) = tile2::<S, V, R>(simd, x, k, self.panel(p), self.panel(p + 1), bias, bias2);
        for i in 0..R {
            let at = self.at(r + i, p);
            let (ra, rb) = (
                self.res_at(r + i, p, cols),
                self.res_at(r + i, p + 1, cols2),
            );
            let row = &mut self.y[at..];
            store::<S, V>(simd, pw, a[i], slopes, ra, &mut row[..cols]);
            store::<S, V>(simd, pw, b[i], slopes2, rb, &mut row[NR..NR + cols2]);
        }
    }

    /// Rows `r..r + R` × panel `p`, stored.
    #[inline(always)]
    fn single<S: Simd, const V: usize, const R: usize>(&mut self, simd: S, r: usize, p: usize) {
        let (k, n, pw) = (self.pw.c_in, self.pw.c_out, self.pw);
        let bias = load::<S, V>(&pw.bias[p * NR..]);
        let slopes = load::<S, V>(&pw.slopes[p * NR..]);
        let cols = NR.min(n - p * NR);
        let acc = tile::<S, V, R>(simd, &self.x[r * k..(r + R) * k], k, self.panel(p), bias);
        for (i, a) in acc.iter().enumerate() {
            let at = self.at(r + i, p);
            let ra = self.res_at(r + i, p, cols);
            store::<S, V>(simd, pw, *a, slopes, ra, &mut self.y[at..][..cols]);
        }
    }
}

impl Pointwise {
    /// Pixels whose receptive field lies inside the map, straight from the input rows, without
    /// an im2col copy (the first layers: 3 input channels, so a tap row is 9 or 15 floats and
    /// copying it cost as much as its multiply-adds). `taps[t]` is the input under tap row `t`
    /// from the first pixel's first tap; pixel `i`'s starts `i · step` floats further. The
    /// product's depth (`c_in` here) is `taps.len()` tap rows of equal length, in the order
    /// the filters were packed. `y` `[pixels, c_out]`.
    pub(super) fn run_taps(&self, taps: &[&[f32]], step: usize, y: &mut [f32]) {
        assert!(!taps.is_empty() && self.c_in.is_multiple_of(taps.len()));
        simd(Taps {
            pw: self,
            taps,
            step,
            y,
        });
    }
}

/// Pixels of [`Pointwise::run_taps`].
struct Taps<'a> {
    pw: &'a Pointwise,
    taps: &'a [&'a [f32]],
    step: usize,
    y: &'a mut [f32],
}

impl pulp::WithSimd for Taps<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        match S::F32_LANES {
            16 => self.pixels::<S, 1, 12>(simd),
            8 => self.pixels::<S, 2, 6>(simd),
            4 => self.pixels::<S, 4, 3>(simd),
            _ => self.pixels::<S, 16, 1>(simd),
        }
    }
}

impl Taps<'_> {
    /// Tiles of `MR` pixels × two panels (one for an odd last panel), then 8, 4, 2, 1 pixels.
    #[inline(always)]
    fn pixels<S: Simd, const V: usize, const MR: usize>(mut self, simd: S) {
        let n = self.y.len() / self.pw.c_out;
        let n_panels = self.pw.bias.len() / NR;
        let mut p = 0;
        while p < n_panels {
            let two = p + 1 < n_panels;
            let mut i = 0;
            macro_rules! tiles {
                ($r:expr) => {
                    if two {
                        self.tile::<S, V, $r, true>(simd, i, p);
                    } else {
                        self.tile::<S, V, $r, false>(simd, i, p);
                    }
                    i += $r;
                };
            }
            while i + MR <= n {
                tiles!(MR);
            }
            if n - i >= 8 {
                tiles!(8);
            }
            if n - i >= 4 {
                tiles!(4);
            }
            if n - i >= 2 {
                tiles!(2);
            }
            if n - i >= 1 {
                tiles!(1);
            }
            debug_assert_eq!(i, n);
            p += if two { 2 } else { 1 };
        }
    }

    /// Pixels `i0..i0 + R` × panel `p` (and `p + 1` with `TWO`), stored.
    #[inline(always)]
    fn tile<S: Simd, const V: usize, const R: usize, const TWO: bool>(
        &mut self,
        simd: S,
        i0: usize,
        p: usize,
    ) {
        let pw = self.pw;
        let (k, n) = (pw.c_in, pw.c_out);
        let q = if TWO { p + 1 } else { p };
        let pa = &pw.panels[p * k * NR..(p + 1) * k * NR];
        let pb = &pw.panels[q * k * NR..(q + 1) * k * NR];
        let mut a = [load::<S, V>(&pw.bias[p * NR..]); R];
        let mut b = [load::<S, V>(&pw.bias[q * NR..]); R];
        let span = k / self.taps.len();
        for (t, line) in self.taps.iter().enumerate() {
            let rows: [&[f32]; R] = core::array::from_fn(|i| &line[(i0 + i) * self.step..][..span]);
            let (wa, wb) = (
                &pa[t * span * NR..][..span * NR],
                &pb[t * span * NR..][..span * NR],
            );
            for j in 0..span {
                let va = load::<S, V>(&wa[j * NR..]);
                let vb = load::<S, V>(&wb[j * NR..]);
                for i in 0..R {
                    let v = simd.splat_f32s(rows[i][j]);
                    for l in 0..V {
                        a[i][l] = simd.mul_add_e_f32s(v, va[l], a[i][l]);
                        if TWO {
                            b[i][l] = simd.mul_add_e_f32s(v, vb[l], b[i][l]);
                        }
                    }
                }
            }
        }
        let slopes = load::<S, V>(&pw.slopes[p * NR..]);
        let slopes2 = load::<S, V>(&pw.slopes[q * NR..]);
        let (cols, cols2) = (NR.min(n - p * NR), NR.min(n - q * NR));
        for i in 0..R {
            let row = &mut self.y[(i0 + i) * n..][..n];
            store::<S, V>(simd, pw, a[i], slopes, None, &mut row[p * NR..][..cols]);
            if TWO {
                store::<S, V>(simd, pw, b[i], slopes2, None, &mut row[q * NR..][..cols2]);
            }
        }
    }
}

/// A tile's accumulators: `MR` rows of `V` vectors.
type Tile<T, const V: usize, const MR: usize> = [[T; V]; MR];

/// `MR` rows of `x` (each `k` long) times two `[k, 16]` panels, plus their biases.
#[inline(always)]
fn tile2<S: Simd, const V: usize, const MR: usize>(
    simd: S,
    x: &[f32],
    k: usize,
    pa: &[f32],
    pb: &[f32],
    bias_a: [S::f32s; V],
    bias_b: [S::f32s; V],
) -> (Tile<S::f32s, V, MR>, Tile<S::f32s, V, MR>) {
    let mut a = [bias_a; MR];
    let mut b = [bias_b; MR];
    assert!(x.len() >= MR * k && pa.len() >= k * NR && pb.len() >= k * NR);
    let rows: [&[f32]; MR] = core::array::from_fn(|i| &x[i * k..(i + 1) * k]);
    for p in 0..k {
        let wa = load::<S, V>(&pa[p * NR..p * NR + NR]);
        let wb = load::<S, V>(&pb[p * NR..p * NR + NR]);
        for i in 0..MR {
            let v = simd.splat_f32s(rows[i][p]);
            for j in 0..V {
                a[i][j] = simd.mul_add_e_f32s(v, wa[j], a[i][j]);
                b[i][j] = simd.mul_add_e_f32s(v, wb[j], b[i][j]);
            }
        }
    }
    (a, b)
}

/// 16 floats as `V` vectors.
#[inline(always)]
fn load<S: Simd, const V: usize>(s: &[f32]) -> [S::f32s; V] {
    let (v, _) = S::as_simd_f32s(&s[..NR]);
    core::array::from_fn(|i| v[i])
}

/// `MR` rows of `x` (each `k` long) times a `[k, 16]` panel, plus `bias`.
#[inline(always)]
fn tile<S: Simd, const V: usize, const MR: usize>(
    simd: S,
    x: &[f32],
    k: usize,
    panel: &[f32],
    bias: [S::f32s; V],
) -> [[S::f32s; V]; MR] {
    let mut acc = [bias; MR];
    assert!(x.len() >= MR * k && panel.len() >= k * NR);
    let rows: [&[f32]; MR] = core::array::from_fn(|i| &x[i * k..(i + 1) * k]);
    for p in 0..k {
        let w = load::<S, V>(&panel[p * NR..p * NR + NR]);
        for i in 0..MR {
            let a = simd.splat_f32s(rows[i][p]);
            for v in 0..V {
                acc[i][v] = simd.mul_add_e_f32s(a, w[v], acc[i][v]);
            }
        }
    }
    acc
}

/// One row of a tile plus its residual, if any, with the activation, into the first
/// `out.len()` (≤ 16) channels.
#[inline(always)]
fn store<S: Simd, const V: usize>(
    simd: S,
    pw: &Pointwise,
    mut acc: [S::f32s; V],
    slopes: [S::f32s; V],
    res: Option<&[f32]>,
    out: &mut [f32],
) {
    let lanes = S::F32_LANES;
    if let Some(res) = res {
        if res.len() == NR {
            for (a, r) in acc.iter_mut().zip(load::<S, V>(res)) {
                *a = simd.add_f32s(*a, r);
            }
        } else {
            // A last panel's channels: masked loads (24 channels: 16 + 8), zeros past them.
            for (i, a) in acc.iter_mut().enumerate() {
                let lo = (i * lanes).min(res.len());
                let hi = (lo + lanes).min(res.len());
                *a = simd.add_f32s(*a, simd.partial_load_f32s(&res[lo..hi]));
            }
        }
    }
    let zero = simd.splat_f32s(0.0);
    for a in acc.iter_mut() {
        *a = match pw.act {
            Activation::None => *a,
            Activation::Relu => simd.max_f32s(*a, zero),
            Activation::Relu6 => simd.min_f32s(simd.max_f32s(*a, zero), simd.splat_f32s(6.0)),
            Activation::Prelu(_) => *a,
        };
    }
    if let Activation::Prelu(_) = pw.act {
        for (a, s) in acc.iter_mut().zip(slopes) {
            // max(a, 0) + slope · min(a, 0)
            *a = simd.mul_add_e_f32s(s, simd.min_f32s(*a, zero), simd.max_f32s(*a, zero));
        }
    }
    if out.len() == NR {
        let (v, _) = S::as_mut_simd_f32s(out);
        for (d, a) in v.iter_mut().zip(acc) {
            *d = a;
        }
    } else {
        // Masked stores (a copy through a stack buffer went through memcpy on every row).
        let n = out.len();
        for (i, a) in acc.into_iter().enumerate() {
            let lo = (i * lanes).min(n);
            let hi = (lo + lanes).min(n);
            if lo < hi {
                simd.partial_store_f32s(&mut out[lo..hi], a);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::reference::{noise, with_threads};
    use super::*;

    /// The product written out plainly.
    fn naive(
        x: &[f32],
        w: &[f32],
        bias: &[f32],
        c_in: usize,
        act: &Activation,
        res: Option<&[f32]>,
    ) -> Vec<f32> {
        let c_out = bias.len();
        let mut y = Vec::with_capacity(x.len() / c_in * c_out);
        for (r, row) in x.chunks_exact(c_in).enumerate() {
            for o in 0..c_out {
                let mut v = bias[o];
                for (i, &xi) in row.iter().enumerate() {
                    v += xi * w[i * c_out + o];
                }
                v += res.map_or(0.0, |res| res[r * c_out + o]);
                y.push(match act {
                    Activation::None => v,
                    Activation::Relu => v.max(0.0),
                    Activation::Relu6 => v.clamp(0.0, 6.0),
                    Activation::Prelu(a) => v.max(0.0) + a[o] * v.min(0.0),
                });
            }
        }
        y
    }

    #[test]
    fn packed_product_matches_the_plain_one() {
        // Odd sizes (partial tiles and panels), few rows with many channels (the split by
        // output channels), many rows (the split by rows), every activation, with and without
        // a residual, 1–3 threads.
        let shapes = [
            (1, 1, 1),
            (7, 3, 5),
            (13, 16, 17),
            (49, 40, 100),
            (49, 192, 1152),
            (196, 80, 480),
            (200, 33, 47),
            (257, 24, 144),
            (1000, 16, 64),
        ];
        for (case, &(rows, c_in, c_out)) in shapes.iter().enumerate() {
            let seed = case as u64 * 4;
            let x = noise(rows * c_in, seed);
            let w = noise(c_in * c_out, seed + 1);
            let bias = noise(c_out, seed + 2);
            let slopes = noise(c_out, seed + 3);
            let residual = noise(rows * c_out, seed + 5);
            for act in [
                Activation::None,
                Activation::Relu,
                Activation::Relu6,
                Activation::Prelu(slopes.clone()),
            ] {
                let pw = Pointwise::new(&w, c_in, c_out, &bias, act.clone());
                for (threads, res) in [
                    (1, None),
                    (2, None),
                    (3, None),
                    (1, Some(&residual)),
                    (2, Some(&residual)),
                ] {
                    let res = res.map(|r| &r[..]);
                    let want = naive(&x, &w, &bias, c_in, &act, res);
                    let mut y = vec![f32::NAN; rows * c_out];
                    with_threads(threads, || pw.run(&x, &mut y, res));
                    for (i, (&got, &want)) in y.iter().zip(&want).enumerate() {
                        // Fails on NaN: an element not written stays NaN.
                        assert!(
                            (got - want).abs() <= 1e-5 * (1.0 + want.abs() * c_in as f32),
                            "{rows}x{c_in}->{c_out} {act:?}, {threads} threads, residual {}, [{i}]: \
                             {got} vs {want}",
                            res.is_some()
                        );
                    }
                }
            }
        }
    }
}
