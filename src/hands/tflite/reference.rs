//! What the unit tests check the tiled kernels against: deterministic test data and a
//! convolution written out as plain loops (NHWC, SAME-style padding given as top/left rows and
//! columns, ReLU6), in its full and its depthwise form.

use super::ops::Geometry;

/// Deterministic values in [-1, 1) from `seed`.
pub(super) fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// A k×k convolution's shapes: `n` images of `h`×`w`×`c_in` to `c_out` channels, stride `s`,
/// `pt` rows and `pl` columns of zeros before the map.
#[derive(Clone, Copy, Debug)]
pub(super) struct ConvCase {
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub c_in: usize,
    pub c_out: usize,
    pub k: usize,
    pub s: usize,
    pub pt: usize,
    pub pl: usize,
}

impl ConvCase {
    /// Output rows and columns with the padding after the map as large as before it.
    pub fn out_size(&self) -> (usize, usize) {
        let out = |len: usize, pad: usize| (len + 2 * pad - self.k) / self.s + 1;
        (out(self.h, self.pt), out(self.w, self.pl))
    }

    /// The kernels' description of the same window.
    pub fn geometry(&self) -> Geometry {
        let (oh, ow) = self.out_size();
        Geometry {
            h: self.h,
            w: self.w,
            oh,
            ow,
            kh: self.k,
            kw: self.k,
            sh: self.s,
            sw: self.s,
            pt: self.pt,
            pl: self.pl,
        }
    }

    /// `x` `[n, h, w, c_in]` → `[n, oh, ow, c_out]` with ReLU6. Filters `[c_out, k, k, c_in]`
    /// (TFLite's `CONV_2D`), or with `depthwise` (`c_out == c_in`) `[k, k, c]`.
    pub fn run(&self, x: &[f32], wt: &[f32], bias: &[f32], depthwise: bool) -> Vec<f32> {
        let &ConvCase {
            n,
            h,
            w,
            c_in,
            c_out,
            k,
            s,
            pt,
            pl,
        } = self;
        let (oh, ow) = self.out_size();
        let mut y = Vec::with_capacity(n * oh * ow * c_out);
        for img in 0..n {
            for oy in 0..oh {
                for ox in 0..ow {
                    for o in 0..c_out {
                        let mut v = bias[o];
                        for ky in 0..k {
                            for kx in 0..k {
                                let (iy, ix) = (oy * s + ky, ox * s + kx);
                                if iy < pt || ix < pl || iy - pt >= h || ix - pl >= w {
                                    continue;
                                }
                                let at = ((img * h + iy - pt) * w + ix - pl) * c_in;
                                if depthwise {
                                    v += x[at + o] * wt[(ky * k + kx) * c_out + o];
                                } else {
                                    for ci in 0..c_in {
                                        v += x[at + ci] * wt[((o * k + ky) * k + kx) * c_in + ci];
                                    }
                                }
                            }
                        }
                        y.push(v.clamp(0.0, 6.0));
                    }
                }
            }
        }
        y
    }
}

/// Runs `f` on a rayon pool of `threads` threads (the kernels split their work by its size).
pub(super) fn with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
        .install(f)
}
