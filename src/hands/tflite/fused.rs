//! An inverted-residual block — 1×1 expansion, depthwise convolution, 1×1 projection (plus its
//! residual) — run as one step. On a small map (the hand landmark model's 14×14 and 7×7
//! stages) with several threads it is split by the expanded channels into [`PARTS`] parts,
//! which the threads share, and one thread runs the three layers in turn; a larger map runs
//! row by row ([`Fused::row_by_row`]: the expanded rows are read back while still in cache).
//!
//! Why: run layer by layer, each layer ends with the threads waiting for each other, and what a
//! thread wrote is not what it reads next. The expansion of a 7×7 map was split by output
//! channels but the depthwise convolution after it by pixels, so half of its input (113 KB of
//! 1152 channels) came from the other core's cache; a 14×14 one split by rows read the other
//! thread's edge rows. With 2 threads these layers scaled worst (the 7×7 depthwise ones 1.24×).
//! Here part `i` expands only its channels, runs the depthwise convolution on them and
//! multiplies them into a partial projection over those channels; the partial sums are then
//! added. One wait instead of three, and only the block's narrow output (the partial sums,
//! 37–88 KB) crosses cores. (Reading the parts where they were written for one running
//! projection sum kept the numbers of the layer-by-layer run but lost the gain: landmark model
//! 0.99× the time with 2 threads against 0.95× this way.)
//!
//! The parts are the same for every thread count from 2, and their sums are added in one
//! order, so the result is the same for 2, 3, 4... threads. It differs from one thread's (the
//! layer-by-layer sum) by rounding: the projection's running sum is cut in [`PARTS`] sums
//! added at the end. On one thread the parts only cost time (1.02–1.05× the landmark model's),
//! so it keeps the layers. Four parts rather than two: 4 threads get one each, and of the two
//! sums the 2-thread tracking test against MediaPipe (12 tracked frames, each crop placed by
//! the landmarks before) stayed within its 1 px mean with four; with two it drifted to 1.04 px
//! at frame 7, as rounding-level changes move that feedback loop (one thread: 0.57 px there).

use super::depthwise::Depthwise;
use super::ops::Activation;
use super::pointwise::Pointwise;
use super::team;
use std::cell::RefCell;
use std::sync::OnceLock;

/// Blocks whose output has at most this many pixels (the 14×14 and 7×7 maps) are split into
/// parts with several threads; larger maps split by rows share little between the threads.
const PARTS_PIXELS: usize = 196;

/// The parts a block's expanded channels are split into with several threads (whatever their
/// count: 2 threads run 2 each, 4 threads one each).
pub(super) const PARTS: usize = 4;

/// A part's channels start at multiples of this (whole 16-lane vectors).
const PART_ALIGN: usize = 16;

thread_local! {
    /// The current thread's expanded map and its depthwise convolution (one part of them).
    static MID: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
    /// The calling thread's partial sums.
    static SUMS: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// One part of the block: the layers restricted to its expanded channels.
#[derive(Debug)]
struct Part {
    expand: Pointwise,
    dw: Depthwise,
    /// Over the part's channels into every output channel; the bias in part 0 only, no
    /// activation (applied to the sum).
    project: Pointwise,
}

/// The three layers, and their parts (made when a run first has several threads).
#[derive(Debug)]
pub(super) struct Fused {
    expand: Pointwise,
    dw: Depthwise,
    project: Pointwise,
    parts: OnceLock<Vec<Part>>,
}

impl Fused {
    /// Fewest expanded channels a block may have: a whole vector for each part.
    pub(super) const MIN_CHANNELS: usize = PARTS * PART_ALIGN;

    /// The block of these layers (`dw.c ≥` [`Fused::MIN_CHANNELS`]).
    pub(super) fn new(expand: Pointwise, dw: Depthwise, project: Pointwise) -> Self {
        assert!(dw.c >= Self::MIN_CHANNELS, "a block of {} channels", dw.c);
        Fused {
            expand,
            dw,
            project,
            parts: OnceLock::new(),
        }
    }

    /// `dw`'s channels in [`PARTS`] parts of whole vectors, each with its layers.
    fn parts(&self) -> &[Part] {
        self.parts.get_or_init(|| {
            let c = self.dw.c;
            let at = |i: usize| (i * c / PARTS).next_multiple_of(PART_ALIGN).min(c);
            (0..PARTS)
                .map(|i| {
                    let r = at(i)..at(i + 1);
                    let (e, p) = (&self.expand, &self.project);
                    Part {
                        expand: e.slice(0..e.c_in, r.clone(), true, e.act.channels(r.clone())),
                        dw: self.dw.channels(r.clone()),
                        project: p.slice(r, 0..p.c_out, i == 0, Activation::None),
                    }
                })
                .collect()
        })
    }

    /// `c_in→c_mid k×k/s→c_out @ oh×ow`, for profiles.
    pub(super) fn describe(&self) -> String {
        let g = &self.dw.g;
        format!(
            "{}->{} {}x{}/{}->{} @{}x{}",
            self.expand.c_in, self.dw.c, g.kh, g.kw, g.sh, self.project.c_out, g.oh, g.ow
        )
    }

    /// Multiply-adds for an output of `out` values.
    pub(super) fn macs(&self, out: usize) -> usize {
        let pixels = out / self.project.c_out;
        let g = &self.dw.g;
        let pixels_in = pixels * g.h * g.w / (g.oh * g.ow);
        pixels_in * self.expand.c_in * self.dw.c
            + pixels * self.dw.c * (g.kh * g.kw + self.project.c_out)
    }

    /// `x` `[pixels_in, c_in]` → `y` `[pixels, c_out]`, plus `res` (like `y`) before the
    /// projection's activation where a residual addition was fused in.
    pub(super) fn run(&self, x: &[f32], res: Option<&[f32]>, y: &mut [f32]) {
        let g = &self.dw.g;
        let pixels_in = x.len() / self.expand.c_in;
        let pixels = pixels_in / (g.h * g.w) * g.oh * g.ow;
        let threads = rayon::current_num_threads();
        if pixels > PARTS_PIXELS {
            // Each thread its contiguous range of output rows.
            let rows = pixels / g.ow;
            let row = g.ow * self.project.c_out;
            let per = rows.div_ceil(threads);
            return team::for_each_part(
                y,
                rows.div_ceil(per),
                |i| i * per * row..((i + 1) * per).min(rows) * row,
                |i, out| self.row_by_row(x, res, i * per, out),
            );
        }
        if threads == 1 {
            // The layers in turn: on one thread the parts only cost (1.02–1.05× the time).
            return with_scratch(pixels_in * self.dw.c, pixels * self.dw.c, |e, d| {
                self.expand.run(x, e, None);
                self.dw.run(e, d);
                self.project.run(d, y, res);
            });
        }
        let parts = self.parts();
        let len = y.len();
        let mut sums = SUMS.with(|s| std::mem::take(&mut *s.borrow_mut()));
        // [PARTS, pixels, c_out]: part i's sum.
        let whole = aligned(&mut sums, PARTS * len);
        // Part `i` into `sum`, plus `add` (the block's residual for part 0).
        let part = |i: usize, sum: &mut [f32], add: Option<&[f32]>| {
            let p = &parts[i];
            with_scratch(pixels_in * p.dw.c, pixels * p.dw.c, |e, d| {
                p.expand.run_block(x, e, None);
                p.dw.run_here(e, d);
                p.project.run_block(d, sum, add);
            });
        };
        // The sum is ((p0 + p1) + p2) + p3 whatever the threads. Fewer than 4 threads take the
        // parts in pairs, and part 1 adds part 0 as it stores (the residual's path; p1 + p0 is
        // p0 + p1): one buffer fewer to read back, and that one on the core that wrote it.
        let paired = threads < PARTS;
        if paired {
            team::for_each_piece(whole, 2 * len, |j, pair| {
                let (a, b) = pair.split_at_mut(len);
                if j == 0 {
                    part(0, a, res);
                    part(1, b, Some(a));
                } else {
                    part(2, a, None);
                    part(3, b, None);
                }
            });
        } else {
            team::for_each_piece(whole, len, |i, sum| {
                part(i, sum, if i == 0 { res } else { None })
            });
        }
        let piece = pixels.div_ceil(threads) * self.project.c_out;
        let whole = &*whole;
        let (act, c_out) = (&self.project.act, self.project.c_out);
        team::for_each_piece(y, piece, |k, out| {
            let at = k * piece;
            let n = out.len();
            let p = |i: usize| &whole[i * len + at..][..n];
            if paired {
                for (((o, ab), c), d) in out.iter_mut().zip(p(1)).zip(p(2)).zip(p(3)) {
                    *o = ab + c + d;
                }
            } else {
                for ((((o, a), b), c), d) in out.iter_mut().zip(p(0)).zip(p(1)).zip(p(2)).zip(p(3))
                {
                    *o = a + b + c + d;
                }
            }
            act.apply(out, c_out);
        });
        SUMS.with(|s| *s.borrow_mut() = sums);
    }

    /// A large map, output rows `r0..` (as many as `y` holds) on this thread: each depthwise
    /// output row as soon as the expanded rows under it are made, and its projection at once,
    /// so the depthwise convolution reads expanded rows just written (still in L1/L2) instead of
    /// a whole expanded map (3.2 MB at 112×112×64, more than L2), and the threads wait once per
    /// block instead of once per layer. A thread makes the expanded rows its output rows need,
    /// in its own buffer: the rows at the edge between two threads are made by both. The same
    /// operations per value as the layers in turn.
    fn row_by_row(&self, x: &[f32], res: Option<&[f32]>, r0: usize, y: &mut [f32]) {
        let g = &self.dw.g;
        let (c_in, c, c_out) = (self.expand.c_in, self.dw.c, self.project.c_out);
        let images = x.len() / (g.h * g.w * c_in);
        let first_row = |r: usize| {
            let (img, oy) = (r / g.oh, r % g.oh);
            img * g.h + (oy * g.sh).saturating_sub(g.pt)
        };
        with_scratch(images * g.h * g.w * c, g.ow * c, |e, d| {
            // Expanded rows made so far (over all images).
            let mut made = first_row(r0);
            for (k, y) in y.chunks_exact_mut(g.ow * c_out).enumerate() {
                let r = r0 + k;
                let (img, oy) = (r / g.oh, r % g.oh);
                let below = (oy * g.sh + g.kh).saturating_sub(g.pt).min(g.h);
                let need = img * g.h + below;
                made = made.max(first_row(r));
                if need > made {
                    self.expand.run_block(
                        &x[made * g.w * c_in..need * g.w * c_in],
                        &mut e[made * g.w * c..need * g.w * c],
                        None,
                    );
                    made = need;
                }
                self.dw.part(e, r, 0, g.ow, d);
                let out = r * g.ow * c_out..(r + 1) * g.ow * c_out;
                self.project.run_block(d, y, res.map(|s| &s[out]));
            }
        });
    }
}

/// `f` on the current thread's scratch buffers for an expanded map (`e` floats) and a
/// depthwise output (`d` floats).
fn with_scratch<R>(e: usize, d: usize, f: impl FnOnce(&mut [f32], &mut [f32]) -> R) -> R {
    MID.with(|mid| {
        let (ev, dv) = &mut *mid.borrow_mut();
        f(aligned(ev, e), aligned(dv, d))
    })
}

/// `n` floats of `v` starting on a 64-byte boundary, so that a 16-float store fills one cache
/// line instead of parts of two (their values are about to be overwritten).
fn aligned(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    // Never shrunk: blocks of every size share the buffers, and growing them again on each
    // call would zero them each time (2 % of the landmark model's time).
    if v.len() < n + 16 {
        v.resize(n + 16, 0.0);
    }
    let start = (16 - (v.as_ptr() as usize % 64) / 4) % 16;
    &mut v[start..start + n]
}

#[cfg(test)]
mod tests {
    use super::super::ops::Geometry;
    use super::super::reference::{noise, with_threads};
    use super::*;

    /// An expansion `c_in → c_mid` with ReLU6, a `k×k/s` depthwise convolution with ReLU6 and a
    /// projection to `c_out` with none, on an `h×w` map with SAME padding.
    fn block(
        h: usize,
        c_in: usize,
        c_mid: usize,
        c_out: usize,
        k: usize,
        s: usize,
    ) -> (Pointwise, Depthwise, Pointwise) {
        let oh = h.div_ceil(s);
        let pad = ((oh - 1) * s + k).saturating_sub(h);
        let g = Geometry {
            h,
            w: h,
            oh,
            ow: oh,
            kh: k,
            kw: k,
            sh: s,
            sw: s,
            pt: pad / 2,
            pl: pad / 2,
        };
        let seed = (h * c_mid + k) as u64;
        let expand = Pointwise::new(
            &noise(c_in * c_mid, seed),
            c_in,
            c_mid,
            &noise(c_mid, seed + 1),
            Activation::Relu6,
        );
        let dw = Depthwise::new(
            g,
            c_mid,
            noise(k * k * c_mid, seed + 2),
            noise(c_mid, seed + 3),
            Activation::Relu6,
        );
        let project = Pointwise::new(
            &noise(c_mid * c_out, seed + 4),
            c_mid,
            c_out,
            &noise(c_out, seed + 5),
            Activation::None,
        );
        (expand, dw, project)
    }

    #[test]
    fn the_block_in_parts_matches_its_layers_in_turn_whatever_the_threads() {
        // The landmark model's shapes (7×7 and 14×14, 5×5 and 3×3, stride 1 and 2), a
        // residual, parts that are not whole 16-lane vectors (72 channels: 32, 16, 16, 8), and
        // maps too large for parts.
        // (h, c_in, c_mid, c_out, k, stride)
        let cases = [
            (7, 192, 1152, 192, 5, 1),
            (14, 112, 672, 112, 5, 1),
            (14, 80, 480, 80, 3, 1),
            (14, 112, 672, 192, 5, 2),
            (5, 24, 72, 40, 3, 1),
            // Larger maps: row by row, the rows shared between threads.
            (30, 16, 64, 24, 3, 2),
            (28, 24, 72, 24, 5, 1),
        ];
        for (case, &(h, c_in, c_mid, c_out, k, s)) in cases.iter().enumerate() {
            let (expand, dw, project) = block(h, c_in, c_mid, c_out, k, s);
            let f = Fused::new(expand, dw, project);
            let (expand, dw, project) = (&f.expand, &f.dw, &f.project);
            let x = noise(h * h * c_in, case as u64);
            let oh = h.div_ceil(s);
            let res = noise(oh * oh * c_out, case as u64 + 100);
            let res = (c_in == c_out && s == 1).then_some(&res[..]);
            // The layers one after the other.
            let mut e = vec![0f32; h * h * c_mid];
            let mut d = vec![0f32; oh * oh * c_mid];
            let mut want = vec![0f32; oh * oh * c_out];
            with_threads(1, || {
                expand.run(&x, &mut e, None);
                dw.run(&e, &mut d);
                project.run(&d, &mut want, res);
            });
            let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
            let mut first: Option<Vec<f32>> = None;
            for threads in [1, 2, 3, 4] {
                let mut y = vec![f32::NAN; want.len()];
                with_threads(threads, || f.run(&x, res, &mut y));
                for (i, (&got, &want)) in y.iter().zip(&want).enumerate() {
                    // Fails on NaN: an element not written stays NaN.
                    assert!(
                        (got - want).abs() <= 1e-5 * scale,
                        "case {case}, {threads} threads, [{i}]: {got} vs {want}"
                    );
                }
                // The same parts added in the same order: the same bits for any thread count
                // from 2 (one thread runs the layers in turn; large maps are row by row
                // whatever the threads).
                match &first {
                    None if threads == 1 => {}
                    None => first = Some(y),
                    Some(two) => assert!(
                        two.iter().zip(&y).all(|(a, b)| a.to_bits() == b.to_bits()),
                        "case {case}: {threads} threads do not give the bits of two"
                    ),
                }
            }
        }
    }
}
