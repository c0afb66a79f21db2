//! The kernels the TFLite steps run, on NHWC f32 buffers whose shapes [`super::graph`] checked.
//! Convolutions go through [`super::pointwise`]'s packed product (1×1: on the input rows as they
//! are; k×k: on an im2col block), depthwise ones through [`super::depthwise`]; pooling, resize
//! and the elementwise operators are plain loops over contiguous channel vectors, compiled for
//! the CPU's best instruction set by `model::kernels::simd` where they matter. Work is split
//! over output rows on [`super::team`]'s threads.
//!
//! Not `model::kernels`' gemm: the `gemm` crate packs the filters on every call, which for
//! these thin layers (16–1152 channels, up to 112×112 pixels) cost as much as the product; the
//! packed product here lays the filters out once, at load.

use super::pointwise::Pointwise;
use super::team;
use crate::model::kernels::simd;
use std::cell::RefCell;

/// Output pixels per im2col block: a multiple of the product's tiles, small enough that the
/// block stays in L2.
const ROWS_PER_TASK: usize = 96;

/// k×k convolutions whose tap row (`kw · c_in` floats) is at most this long read their input
/// rows directly (the first layers, 3 input channels), the others through an im2col block.
const MAX_TAP_ROW: usize = 16;

thread_local! {
    /// The current thread's im2col block.
    static COLS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// What follows a convolution or an addition.
#[derive(Debug, Clone)]
pub(super) enum Activation {
    None,
    Relu,
    Relu6,
    /// One slope per channel for negative values.
    Prelu(Vec<f32>),
}

impl Activation {
    /// On `c`-channel pixels.
    #[inline(always)]
    pub(super) fn apply(&self, px: &mut [f32], c: usize) {
        match self {
            Activation::None => {}
            Activation::Relu => px.iter_mut().for_each(|v| *v = v.max(0.0)),
            Activation::Relu6 => px.iter_mut().for_each(|v| *v = v.clamp(0.0, 6.0)),
            Activation::Prelu(alpha) => {
                for p in px.chunks_exact_mut(c) {
                    for (v, &a) in p.iter_mut().zip(alpha) {
                        *v = v.max(0.0) + a * v.min(0.0);
                    }
                }
            }
        }
    }

    /// The same activation on channels `range` alone (a PReLU keeps their slopes).
    pub(super) fn channels(&self, range: std::ops::Range<usize>) -> Activation {
        match self {
            Activation::Prelu(a) => Activation::Prelu(a[range].to_vec()),
            other => other.clone(),
        }
    }
}

/// A sliding window over an `h`×`w` map: kernel, stride, output size and the padding before
/// (TFLite's SAME puts the odd pixel after).
#[derive(Debug, Clone, Copy)]
pub(super) struct Geometry {
    pub h: usize,
    pub w: usize,
    pub oh: usize,
    pub ow: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub pt: usize,
    pub pl: usize,
}

impl Geometry {
    /// Input row of output row `oy` under tap `ky`, if inside the map.
    #[inline(always)]
    fn iy(&self, oy: usize, ky: usize) -> Option<usize> {
        (oy * self.sh + ky)
            .checked_sub(self.pt)
            .filter(|&y| y < self.h)
    }

    /// Output columns whose tap `kx` lands inside the map: `lo..hi`, and the input column of `lo`.
    #[inline(always)]
    fn cols(&self, kx: usize) -> (usize, usize) {
        // ix = ox·sw + kx − pl ∈ [0, w)
        let lo = self.pl.saturating_sub(kx).div_ceil(self.sw);
        let hi = (self.w + self.pl)
            .saturating_sub(kx)
            .div_ceil(self.sw)
            .min(self.ow);
        (lo, hi.max(lo))
    }

    pub(super) fn pointwise(&self) -> bool {
        (self.kh, self.kw, self.sh, self.sw, self.pt, self.pl) == (1, 1, 1, 1, 0, 0)
    }
}

/// A convolution: 1×1 ones straight on the input rows, k×k ones on im2col blocks, both through
/// [`Pointwise`]'s packed product.
#[derive(Debug)]
pub(super) struct Conv {
    g: Geometry,
    c_in: usize,
    /// The product over the receptive field: `c_in` here is `kh·kw·c_in`.
    pub pw: Pointwise,
}

impl Conv {
    /// A 1×1 convolution (no im2col).
    pub(super) fn is_pointwise(&self) -> bool {
        self.g.pointwise()
    }
}

impl Conv {
    /// From TFLite's filter layout `[c_out, kh, kw, c_in]`.
    pub(super) fn new(
        g: Geometry,
        c_in: usize,
        c_out: usize,
        w_ohwi: &[f32],
        bias: Vec<f32>,
        act: Activation,
    ) -> Self {
        let depth = g.kh * g.kw * c_in;
        // [o, (ky, kx, ci)] → [(ky, kx, ci), o]
        let mut w = vec![0f32; depth * c_out];
        for (o, filter) in w_ohwi.chunks_exact(depth).enumerate() {
            for (r, &v) in filter.iter().enumerate() {
                w[r * c_out + o] = v;
            }
        }
        Conv {
            g,
            c_in,
            pw: Pointwise::new(&w, depth, c_out, &bias, act),
        }
    }

    /// `k×k/s c_in→c_out @ h×w`, for profiles.
    pub(super) fn describe(&self) -> String {
        let g = &self.g;
        let (i, o) = (self.c_in, self.pw.c_out);
        format!("{}x{}/{} {i}->{o} @{}x{}", g.kh, g.kw, g.sh, g.oh, g.ow)
    }

    /// Multiply-adds per output value.
    pub(super) fn depth(&self) -> usize {
        self.pw.c_in
    }

    /// `x` `[n, h, w, c_in]` → `y` `[n, oh, ow, c_out]`, plus `res` (same shape as `y`) before
    /// the activation where a residual addition was fused in (1×1 only).
    fn run(&self, x: &[f32], res: Option<&[f32]>, y: &mut [f32]) {
        if self.g.pointwise() {
            return self.pw.run(x, y, res);
        }
        assert!(
            res.is_none(),
            "a residual is fused into 1x1 convolutions only"
        );
        let c_out = self.pw.c_out;
        if self.c_in * self.g.kw <= MAX_TAP_ROW && self.g.kh <= 8 {
            // [n · oh rows] of [ow, c_out]
            team::for_each_piece(y, self.g.ow * c_out, |r, out| self.direct_row(x, r, out));
            return;
        }
        // One thread runs the blocks in order on the caller's thread.
        team::for_each_piece(y, ROWS_PER_TASK * c_out, |b, out| {
            let m = out.len() / c_out;
            COLS.with(|cols| {
                let mut cols = cols.borrow_mut();
                cols.clear();
                cols.resize(m * self.pw.c_in, 0.0);
                self.im2col(x, b * ROWS_PER_TASK, &mut cols);
                self.pw.run_block(&cols, out, None);
            });
        });
    }

    /// Output row `r` (of `n · oh`) into `out` `[ow, c_out]`: the pixels whose receptive field
    /// is inside the map straight from the input rows ([`Pointwise::run_taps`]), those at the
    /// border through an im2col row. For 3 input channels a tap row is 9 or 15 floats, and
    /// copying it into an im2col block cost about as much as its multiply-adds.
    fn direct_row(&self, x: &[f32], r: usize, out: &mut [f32]) {
        let g = &self.g;
        let (c, c_out) = (self.c_in, self.pw.c_out);
        let (img, oy) = (r / g.oh, r % g.oh);
        let (lo, hi) = (g.cols(0).0, g.cols(g.kw - 1).1);
        let inside = (0..g.kh).all(|ky| g.iy(oy, ky).is_some());
        let (lo, hi) = if inside && lo < hi { (lo, hi) } else { (0, 0) };
        if lo < hi {
            let mut taps = [&x[..0]; 8];
            for (ky, tap) in taps[..g.kh].iter_mut().enumerate() {
                let iy = g.iy(oy, ky).expect("inside the map");
                let line = &x[(img * g.h + iy) * g.w * c..][..g.w * c];
                *tap = &line[(lo * g.sw - g.pl) * c..];
            }
            self.pw
                .run_taps(&taps[..g.kh], g.sw * c, &mut out[lo * c_out..hi * c_out]);
        }
        let edges = if lo < hi {
            [(0, lo), (hi, g.ow)]
        } else {
            [(0, g.ow), (g.ow, g.ow)]
        };
        for (a, b) in edges {
            if a >= b {
                continue;
            }
            COLS.with(|cols| {
                let mut cols = cols.borrow_mut();
                cols.clear();
                cols.resize((b - a) * self.pw.c_in, 0.0);
                self.im2col(x, r * g.ow + a, &mut cols);
                self.pw
                    .run_block(&cols, &mut out[a * c_out..b * c_out], None);
            });
        }
    }

    /// The receptive fields of output rows `r0..` as rows of `cols` (zeros outside the map).
    fn im2col(&self, x: &[f32], r0: usize, cols: &mut [f32]) {
        let g = &self.g;
        let c = self.c_in;
        let depth = self.pw.c_in;
        let span = g.kw * c;
        for (i, row) in cols.chunks_exact_mut(depth).enumerate() {
            let r = r0 + i;
            let (img, oy, ox) = (r / (g.oh * g.ow), (r / g.ow) % g.oh, r % g.ow);
            let first = (ox * g.sw).checked_sub(g.pl);
            for (ky, dst) in row.chunks_exact_mut(span).enumerate() {
                let Some(iy) = g.iy(oy, ky) else {
                    dst.fill(0.0);
                    continue;
                };
                let line = &x[(img * g.h + iy) * g.w * c..][..g.w * c];
                match first {
                    // The whole tap row inside the map: one copy.
                    Some(ix) if ix + g.kw <= g.w => copy(dst, &line[ix * c..][..span]),
                    _ => {
                        for (kx, d) in dst.chunks_exact_mut(c).enumerate() {
                            match (ox * g.sw + kx).checked_sub(g.pl).filter(|&v| v < g.w) {
                                Some(ix) => d.copy_from_slice(&line[ix * c..][..c]),
                                None => d.fill(0.0),
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Max pooling.
#[derive(Debug)]
pub(super) struct Pool {
    pub geom: Geometry,
    pub c: usize,
    pub act: Activation,
}

impl Pool {
    fn run(&self, x: &[f32], y: &mut [f32]) {
        let (g, c) = (&self.geom, self.c);
        for (r, out) in y.chunks_mut(g.ow * c).enumerate() {
            let (img, oy) = (r / g.oh, r % g.oh);
            out.fill(f32::NEG_INFINITY);
            for ky in 0..g.kh {
                let Some(iy) = g.iy(oy, ky) else { continue };
                let line = &x[(img * g.h + iy) * g.w * c..][..g.w * c];
                for kx in 0..g.kw {
                    let (lo, hi) = g.cols(kx);
                    for ox in lo..hi {
                        let ix = ox * g.sw + kx - g.pl;
                        for (d, &s) in out[ox * c..][..c].iter_mut().zip(&line[ix * c..][..c]) {
                            *d = d.max(s);
                        }
                    }
                }
            }
            self.act.apply(out, c);
        }
    }
}

/// Bilinear resize of NHWC maps (TFLite's `ResizeBilinear` without aligned corners).
#[derive(Debug)]
pub(super) struct Resize {
    h: usize,
    w: usize,
    c: usize,
    /// Per output row: (y0, y1, weight of y1).
    rows: Vec<(usize, usize, f32)>,
    /// Per output column: (x0, x1, weight of x1).
    cols: Vec<(usize, usize, f32)>,
}

/// TFLite's `ComputeInterpolationValues`: lower and upper source index and the upper's weight
/// (which is negative left of the first centre, where both indices are 0).
fn interpolation(out: usize, input: usize, size: usize, half_pixel: bool) -> (usize, usize, f32) {
    let scale = input as f32 / size as f32;
    let v = if half_pixel {
        (out as f32 + 0.5) * scale - 0.5
    } else {
        out as f32 * scale
    };
    let lo = (v.floor() as i64).max(0) as usize;
    let hi = (v.ceil() as i64).clamp(0, input as i64 - 1) as usize;
    (lo.min(input - 1), hi, v - lo as f32)
}

impl Resize {
    pub(super) fn new(
        h: usize,
        w: usize,
        oh: usize,
        ow: usize,
        c: usize,
        half_pixel: bool,
    ) -> Self {
        Resize {
            h,
            w,
            c,
            rows: (0..oh)
                .map(|y| interpolation(y, h, oh, half_pixel))
                .collect(),
            cols: (0..ow)
                .map(|x| interpolation(x, w, ow, half_pixel))
                .collect(),
        }
    }

    fn run(&self, x: &[f32], y: &mut [f32]) {
        let (c, w) = (self.c, self.w);
        let ow = self.cols.len();
        for (r, out) in y.chunks_mut(ow * c).enumerate() {
            let (img, oy) = (r / self.rows.len(), r % self.rows.len());
            let (y0, y1, dy) = self.rows[oy];
            let line0 = &x[(img * self.h + y0) * w * c..][..w * c];
            let line1 = &x[(img * self.h + y1) * w * c..][..w * c];
            for (ox, &(x0, x1, dx)) in self.cols.iter().enumerate() {
                let (a, b) = (&line0[x0 * c..][..c], &line0[x1 * c..][..c]);
                let (p, q) = (&line1[x0 * c..][..c], &line1[x1 * c..][..c]);
                for (i, d) in out[ox * c..][..c].iter_mut().enumerate() {
                    *d = a[i] * (1.0 - dy) * (1.0 - dx)
                        + p[i] * dy * (1.0 - dx)
                        + b[i] * (1.0 - dy) * dx
                        + q[i] * dy * dx;
                }
            }
        }
    }
}

/// Mean over a set of axes.
#[derive(Debug)]
pub(super) struct Mean {
    shape: Vec<usize>,
    /// Output stride of each input axis (0 for reduced axes).
    out_strides: Vec<usize>,
    /// Values averaged into each output.
    count: usize,
    /// (outer, inner) sizes when the reduced axes are contiguous (the usual global pooling
    /// over H and W): then the sum runs over whole rows of `inner` floats.
    block: Option<(usize, usize)>,
}

impl Mean {
    pub(super) fn new(shape: &[usize], reduce: &[bool]) -> Self {
        let mut out_strides = vec![0; shape.len()];
        let mut stride = 1;
        for a in (0..shape.len()).rev() {
            if !reduce[a] {
                out_strides[a] = stride;
                stride *= shape[a];
            }
        }
        let count = shape
            .iter()
            .zip(reduce)
            .filter(|(_, &r)| r)
            .map(|(&d, _)| d)
            .product();
        let first = reduce.iter().position(|&r| r);
        let last = reduce.iter().rposition(|&r| r);
        let block = match (first, last) {
            (Some(a), Some(b)) if reduce[a..=b].iter().all(|&r| r) => {
                Some((shape[..a].iter().product(), shape[b + 1..].iter().product()))
            }
            _ => None,
        };
        Mean {
            shape: shape.to_vec(),
            out_strides,
            count,
            block,
        }
    }

    fn run(&self, x: &[f32], y: &mut [f32]) {
        if let Some((outer, inner)) = self.block {
            let n = self.count;
            for o in 0..outer {
                let out = &mut y[o * inner..(o + 1) * inner];
                out.fill(0.0);
                for row in x[o * n * inner..(o + 1) * n * inner].chunks_exact(inner) {
                    for (d, &v) in out.iter_mut().zip(row) {
                        *d += v;
                    }
                }
                let scale = 1.0 / n as f32;
                out.iter_mut().for_each(|d| *d *= scale);
            }
            return;
        }
        let mut acc = vec![0f64; y.len()];
        let mut index = vec![0usize; self.shape.len()];
        let mut o = 0;
        for &v in x {
            acc[o] += v as f64;
            // Next input index, carrying the output offset along.
            for a in (0..self.shape.len()).rev() {
                index[a] += 1;
                o += self.out_strides[a];
                if index[a] < self.shape[a] {
                    break;
                }
                o -= self.out_strides[a] * index[a];
                index[a] = 0;
            }
        }
        for (d, s) in y.iter_mut().zip(acc) {
            *d = (s / self.count as f64) as f32;
        }
    }
}

/// A fully connected layer on rows of `depth` values.
#[derive(Debug)]
pub(super) struct Dense {
    pub depth: usize,
    units: usize,
    /// `[units, depth]` as in the file: one contiguous dot product per unit.
    w: Vec<f32>,
    bias: Vec<f32>,
    act: Activation,
}

impl Dense {
    pub(super) fn new(
        depth: usize,
        units: usize,
        w: &[f32],
        bias: Vec<f32>,
        act: Activation,
    ) -> Self {
        Dense {
            depth,
            units,
            w: w.to_vec(),
            bias,
            act,
        }
    }

    fn run(&self, x: &[f32], y: &mut [f32]) {
        let threads = rayon::current_num_threads();
        if threads > 1
            && x.len() == self.depth
            && self.units * self.depth >= SPLIT_DENSE_MACS
            && !matches!(self.act, Activation::Prelu(_))
        {
            // One input row (the landmark model's heads, 1152 → 63): each thread its units,
            // reading only their part of the weights.
            let per = self.units.div_ceil(threads);
            team::for_each_piece(y, per, |i, out| {
                simd(DenseUnits {
                    d: self,
                    x,
                    u0: i * per,
                    out,
                })
            });
            return;
        }
        simd(DenseRun { d: self, x, y });
    }

    /// The product, inlined into [`DenseRun`]'s SIMD context.
    #[inline(always)]
    fn rows(&self, x: &[f32], y: &mut [f32]) {
        for (row, out) in x
            .chunks_exact(self.depth)
            .zip(y.chunks_exact_mut(self.units))
        {
            self.units(row, 0, out);
            self.act.apply(out, self.units);
        }
    }

    /// Units `u0..u0 + out.len()` of one input row, before the activation.
    #[inline(always)]
    fn units(&self, row: &[f32], u0: usize, out: &mut [f32]) {
        let units = u0..u0 + out.len();
        for ((d, w), &b) in out
            .iter_mut()
            .zip(self.w[units.start * self.depth..units.end * self.depth].chunks_exact(self.depth))
            .zip(&self.bias[units])
        {
            *d = b + dot(row, w);
        }
    }
}

/// Fully connected layers of at least this many multiply-adds split one row's units between
/// threads.
const SPLIT_DENSE_MACS: usize = 32768;

/// Units `u0..u0 + out.len()` of a one-row fully connected layer.
struct DenseUnits<'a> {
    d: &'a Dense,
    x: &'a [f32],
    u0: usize,
    out: &'a mut [f32],
}

impl pulp::WithSimd for DenseUnits<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let DenseUnits { d, x, u0, out } = self;
        d.units(x, u0, out);
        // Not a PReLU (checked by the caller): the same on any run of units.
        d.act.apply(out, out.len());
    }
}

/// [`Dense::run`] compiled for the CPU's instruction set.
struct DenseRun<'a> {
    d: &'a Dense,
    x: &'a [f32],
    y: &'a mut [f32],
}

impl pulp::WithSimd for DenseRun<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        self.d.rows(self.x, self.y);
    }
}

/// A dot product in 16 independent lanes (a single running sum could not be vectorised).
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `dst.copy_from_slice(src)`, inlined for the first layers' tap rows (3×3 or 5×5 taps of 3
/// channels: 9 or 15 floats): a call to libc's memmove per tap row cost as much as the rest
/// of the im2col.
#[inline(always)]
fn copy(dst: &mut [f32], src: &[f32]) {
    fn fixed<const N: usize>(dst: &mut [f32], src: &[f32]) {
        let d: &mut [f32; N] = dst.try_into().expect("same length");
        let s: &[f32; N] = src.try_into().expect("same length");
        *d = *s;
    }
    match dst.len() {
        9 => fixed::<9>(dst, src),
        15 => fixed::<15>(dst, src),
        _ => dst.copy_from_slice(src),
    }
}

/// Runs `kernel` on its inputs (`shape` is the first input's) into `y`.
pub(super) fn run(kernel: &super::graph::Kernel, ins: &[&[f32]], shape: &[usize], y: &mut [f32]) {
    use super::graph::Kernel as K;
    let x = ins[0];
    match kernel {
        K::Conv(conv) => conv.run(x, ins.get(1).copied(), y),
        K::Depthwise(dw) => dw.run(x, y),
        K::Fused(f) => f.run(x, ins.get(1).copied(), y),
        K::Add(act) => {
            let c = *shape.last().unwrap_or(&1);
            // Pieces of about 64 KB: a few per thread on the large maps.
            let piece = (16384 / c).max(1) * c;
            let (a, b) = (x, ins[1]);
            team::for_each_piece(y, piece, |i, y| {
                let at = i * piece;
                simd(Add {
                    a: &a[at..][..y.len()],
                    b: &b[at..][..y.len()],
                    act,
                    c,
                    y,
                })
            });
        }
        K::Prelu(alpha) => {
            y.copy_from_slice(x);
            Activation::Prelu(alpha.clone()).apply(y, alpha.len());
        }
        K::MaxPool(pool) => pool.run(x, y),
        K::Pad(pads) => pad(x, shape, pads, y),
        K::Resize(r) => r.run(x, y),
        K::Reshape => y.copy_from_slice(x),
        K::Concat { outer, inner } => {
            let mut at = 0;
            for o in 0..*outer {
                for (part, &n) in ins.iter().zip(inner) {
                    y[at..at + n].copy_from_slice(&part[o * n..][..n]);
                    at += n;
                }
            }
        }
        K::Mean(m) => m.run(x, y),
        K::FullyConnected(d) => d.run(x, y),
        K::Logistic => {
            for (d, &v) in y.iter_mut().zip(x) {
                *d = 1.0 / (1.0 + (-v).exp());
            }
        }
    }
}

/// `y = act(a + b)`, elementwise.
struct Add<'a> {
    a: &'a [f32],
    b: &'a [f32],
    act: &'a Activation,
    c: usize,
    y: &'a mut [f32],
}

impl pulp::WithSimd for Add<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        // In pieces that stay in L1 between the sum and the activation.
        let piece = (4096 / self.c).max(1) * self.c;
        for ((y, a), b) in self
            .y
            .chunks_mut(piece)
            .zip(self.a.chunks(piece))
            .zip(self.b.chunks(piece))
        {
            for ((d, &a), &b) in y.iter_mut().zip(a).zip(b) {
                *d = a + b;
            }
            self.act.apply(y, self.c);
        }
    }
}

/// Zero padding of a 4-D tensor.
fn pad(x: &[f32], shape: &[usize], pads: &[(usize, usize); 4], y: &mut [f32]) {
    y.fill(0.0);
    let [n, h, w, c] = [shape[0], shape[1], shape[2], shape[3]];
    let (oh, ow, oc) = (
        h + pads[1].0 + pads[1].1,
        w + pads[2].0 + pads[2].1,
        c + pads[3].0 + pads[3].1,
    );
    for i in 0..n {
        for yy in 0..h {
            for xx in 0..w {
                let src = &x[((i * h + yy) * w + xx) * c..][..c];
                let at = (((i + pads[0].0) * oh + yy + pads[1].0) * ow + xx + pads[2].0) * oc
                    + pads[3].0;
                y[at..at + c].copy_from_slice(src);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::reference::{noise, with_threads, ConvCase};
    use super::*;

    #[test]
    fn direct_convolution_matches_the_plain_one() {
        // The first layers' shapes (3×3/2 and 5×5/1 on 3 channels) and odd ones: maps narrower
        // than the kernel, padding on both sides, 1 and 2 input channels, images in a batch,
        // a depth that is not a multiple of the tile (taps at the border through im2col).
        // (n, h, w, c_in, c_out, k, stride, pt, pl)
        let cases: [[usize; 9]; 6] = [
            [1, 224, 224, 3, 24, 3, 2, 0, 0],
            [1, 19, 23, 3, 32, 5, 1, 2, 2],
            [2, 9, 13, 3, 17, 3, 2, 1, 1],
            [1, 4, 3, 2, 40, 5, 1, 2, 2],
            [1, 7, 30, 1, 5, 3, 1, 1, 1],
            [3, 11, 11, 3, 48, 3, 3, 1, 0],
        ];
        for (case, &[n, h, w, c_in, c_out, k, s, pt, pl]) in cases.iter().enumerate() {
            let cc = ConvCase {
                n,
                h,
                w,
                c_in,
                c_out,
                k,
                s,
                pt,
                pl,
            };
            let g = cc.geometry();
            assert!(c_in * k <= MAX_TAP_ROW, "case {case} takes the direct path");
            let seed = case as u64 * 3;
            let x = noise(n * h * w * c_in, seed);
            let wt = noise(c_out * k * k * c_in, seed + 1);
            let bias = noise(c_out, seed + 2);
            let conv = Conv::new(g, c_in, c_out, &wt, bias.clone(), Activation::Relu6);
            let want = cc.run(&x, &wt, &bias, false);
            for threads in [1, 2] {
                let mut y = vec![f32::NAN; want.len()];
                with_threads(threads, || conv.run(&x, None, &mut y));
                for (i, (&got, &want)) in y.iter().zip(&want).enumerate() {
                    // Fails on NaN: an element not written stays NaN.
                    assert!(
                        (got - want).abs() <= 1e-5 * (1.0 + (k * k * c_in) as f32),
                        "case {case}, {threads} threads, [{i}]: {got} vs {want}"
                    );
                }
            }
        }
    }
}
