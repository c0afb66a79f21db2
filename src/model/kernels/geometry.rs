//! The one pooling window grid every pooling implementation uses (the NHWC inference kernel,
//! the differentiable training op, the fused convolution + pool and the composed candle path in
//! `model::layers`): PyTorch's `ceil_mode=True` output length and the windows it implies.
//! Keeping a single copy is the point: two copies of this arithmetic once drifted apart, and
//! CPU training then rejected a 2×2 map that inference and the configuration accept.

use candle_core::{bail, Result};

/// Output length of PyTorch's pooling along one axis with `ceil_mode=True` (dilation 1), or
/// `None` where PyTorch refuses the layer: no output, or `pad` over half the window.
///
/// This is `pooling_output_shape` of ATen (`aten/src/ATen/native/Pool.h`): the window count
/// rounds up, a window may be larger than the padded input, and the last window must start
/// inside the input or its left padding.
pub fn pooled_len_ceil(len: usize, k: usize, s: usize, pad: usize) -> Option<usize> {
    if k == 0 || s == 0 || pad > k / 2 {
        return None;
    }
    // Signed: negative when the window is larger than the padded input (floor division).
    let span = (len + 2 * pad + s - 1) as isize - k as isize;
    let mut out = span.div_euclid(s as isize) + 1;
    if out >= 1 && (out as usize - 1) * s >= len + pad {
        out -= 1;
    }
    (out >= 1).then_some(out as usize)
}

/// One window along one axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First input index inside the window (clipped to the input).
    pub first: usize,
    /// One past the last input index inside the window (clipped to the input); `> first`.
    pub end: usize,
    /// Length of the window clipped to the padded input: the divisor of an average pool with
    /// `count_include_pad=True`.
    pub padded: usize,
}

/// The window grid of a `k`×`k`, stride-`s`, `pad`-padded ceil-mode pool over an `h`×`w` map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolGrid {
    pub k: usize,
    pub s: usize,
    pub pad: usize,
    pub h: usize,
    pub w: usize,
    pub oh: usize,
    pub ow: usize,
}

impl PoolGrid {
    /// The grid, or an error where PyTorch has none (see [`pooled_len_ceil`]).
    pub fn new(h: usize, w: usize, k: usize, s: usize, pad: usize) -> Result<Self> {
        let (Some(oh), Some(ow)) = (pooled_len_ceil(h, k, s, pad), pooled_len_ceil(w, k, s, pad))
        else {
            bail!("pooling: window {k} stride {s} padding {pad} does not fit a {h}x{w} map");
        };
        Ok(PoolGrid {
            k,
            s,
            pad,
            h,
            w,
            oh,
            ow,
        })
    }

    /// Output pixels per plane.
    pub fn out_len(&self) -> usize {
        self.oh * self.ow
    }

    /// Window of output row `oy`.
    pub fn row(&self, oy: usize) -> Window {
        self.window(oy, self.h)
    }

    /// Window of output column `ox`.
    pub fn col(&self, ox: usize) -> Window {
        self.window(ox, self.w)
    }

    fn window(&self, o: usize, len: usize) -> Window {
        // Starts at o·s − pad ≥ −pad > −k; the grid guarantees o·s − pad < len, so the clipped
        // window is never empty.
        let start = o * self.s;
        let first = start.saturating_sub(self.pad);
        let end = (start + self.k).saturating_sub(self.pad).min(len).max(first);
        let padded = (start + self.k).min(len + 2 * self.pad) - start;
        Window {
            first,
            end,
            padded,
        }
    }

    /// `(bottom, right)` padding of a copy of the input padded by `pad` on the top and left in
    /// which every window lies whole (the composed pool pads, then takes strided slices).
    pub fn trailing_pad(&self) -> (usize, usize) {
        let need = |o: usize, len: usize| ((o - 1) * self.s + self.k).saturating_sub(len + self.pad);
        (need(self.oh, self.h), need(self.ow, self.w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PyTorch's formula as written in ATen (`pooling_output_shape_pad_lr`, dilation 1,
    /// `ceil_mode=True`, `div_rtn` = floor division), transcribed independently of the code
    /// above; PyTorch then rejects outputs below 1 and pads over half the kernel.
    fn aten(len: i64, k: i64, s: i64, pad: i64) -> Option<usize> {
        if pad > k / 2 {
            return None;
        }
        let mut out = (len + 2 * pad - (k - 1) - 1 + (s - 1)).div_euclid(s) + 1;
        if (out - 1) * s >= len + pad {
            out -= 1;
        }
        (out >= 1).then_some(out as usize)
    }

    #[test]
    fn lengths_equal_atens_formula_everywhere() {
        for len in 1..40 {
            for k in 1..8 {
                for s in 1..5 {
                    for pad in 0..4 {
                        let want = aten(len as i64, k as i64, s as i64, pad as i64);
                        assert_eq!(pooled_len_ceil(len, k, s, pad), want, "{len} {k} {s} {pad}");
                    }
                }
            }
        }
    }

    #[test]
    fn lengths_match_pytorch_runs() {
        // Output sizes of torch.nn.MaxPool2d(k, s, pad, ceil_mode=True) (PyTorch 2.x): the
        // backbones' maps, squeezenet1_1 111 → 55 → 27 → 13, BNInception 112 → 56, 56 → 28,
        // 28 → 14, 14 → 7 and the 3×3/s1/p1 pools; 6 → 3 where ceil differs from floor (2);
        // and BNInception at its smallest input (32), whose block 4e pools a 2×2 map to 1×1.
        for (len, k, s, pad, out) in [
            (111, 3, 2, 0, 55),
            (55, 3, 2, 0, 27),
            (27, 3, 2, 0, 13),
            (112, 3, 2, 0, 56),
            (14, 3, 2, 0, 7),
            (7, 3, 1, 1, 7),
            (6, 3, 2, 0, 3),
            (2, 3, 2, 0, 1),
            (5, 3, 2, 1, 3),
        ] {
            assert_eq!(pooled_len_ceil(len, k, s, pad), Some(out), "{len} {k} {s} {pad}");
        }
        // PyTorch: "Output size is too small" / "pad should be at most half of kernel size".
        assert_eq!(pooled_len_ceil(1, 3, 2, 0), None);
        assert_eq!(pooled_len_ceil(9, 3, 2, 2), None);
    }

    #[test]
    fn windows_are_clipped_and_never_empty() {
        // 2×2 map, 3/2/0: one window covering both pixels (what block 4e pools at input 32).
        let g = PoolGrid::new(2, 2, 3, 2, 0).unwrap();
        assert_eq!((g.oh, g.ow), (1, 1));
        let w = g.row(0);
        assert_eq!((w.first, w.end, w.padded), (0, 2, 2));
        // AvgPool2d(3, 2, 1, ceil_mode=True) over 5: windows [-1, 2), [1, 4), [3, 6), each
        // dividing by 3 (the last ends exactly at the padded edge).
        let g = PoolGrid::new(1, 5, 3, 2, 1).unwrap();
        let cols: Vec<_> = (0..g.ow).map(|o| g.col(o)).collect();
        assert_eq!(
            cols.iter().map(|w| (w.first, w.end, w.padded)).collect::<Vec<_>>(),
            vec![(0, 2, 3), (1, 4, 3), (3, 5, 3)]
        );
        for len in 1..30 {
            for (k, s, pad) in [(3, 2, 0), (3, 1, 1), (2, 2, 0), (3, 2, 1), (5, 3, 2)] {
                let Ok(g) = PoolGrid::new(len, len, k, s, pad) else {
                    continue;
                };
                for o in 0..g.oh {
                    let w = g.row(o);
                    assert!(w.first < w.end && w.end <= len && w.end - w.first <= w.padded);
                }
                // The padded copy the composed pool builds covers every window exactly.
                let (bottom, _) = g.trailing_pad();
                assert!((g.oh - 1) * s + k <= len + pad + bottom, "{len} {k} {s} {pad}");
            }
        }
    }
}
