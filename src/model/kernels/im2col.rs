//! The one im2col of the kernels and its adjoint: a k×k convolution becomes a matrix product
//! over rows of receptive fields. Activations are NHWC, so a receptive field is `k` runs of
//! contiguous channel vectors, and a row of the column matrix is ordered (ky, kx, channel). The
//! inference kernels convolve this way directly; the training op transposes each NCHW frame
//! first.

use super::infer::View;

/// A square convolution window: kernel `k`, stride, zero padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvWindow {
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
}

impl ConvWindow {
    /// Output length along an axis of `len` (PyTorch's floor rule), `None` if the kernel does
    /// not fit the padded input.
    pub fn out_len(&self, len: usize) -> Option<usize> {
        let span = (len + 2 * self.pad).checked_sub(self.k)?;
        (self.stride > 0).then(|| span / self.stride + 1)
    }

    /// Output height and width over an `h`×`w` input.
    pub fn out_hw(&self, h: usize, w: usize) -> Option<(usize, usize)> {
        Some((self.out_len(h)?, self.out_len(w)?))
    }

    /// A 1×1, stride-1, unpadded window reads its input as its own column matrix.
    pub fn pointwise(&self) -> bool {
        self.k == 1 && self.stride == 1 && self.pad == 0
    }

    /// Columns of the matrix for `c` input channels.
    pub fn cols(&self, c: usize) -> usize {
        self.k * self.k * c
    }

    /// Walks the receptive fields of output pixels `r0..r1` (frame-major over `n` frames of
    /// `h`×`w` inputs): `f(i, ky, run)` for the `i`-th pixel and kernel row `ky`, where `run` is
    /// `Some((first input pixel, kx_lo, kx_hi))` for the kernel columns `kx_lo..kx_hi` that
    /// land inside the input (`None` when the whole kernel row is padding).
    fn for_each_run(
        &self,
        (n, h, w): (usize, usize, usize),
        (r0, r1): (usize, usize),
        mut f: impl FnMut(usize, usize, Option<(usize, usize, usize)>),
    ) {
        let Some((oh, ow)) = self.out_hw(h, w) else {
            return;
        };
        debug_assert!(r1 <= n * oh * ow);
        let (k, s, p) = (self.k, self.stride, self.pad as isize);
        for (i, r) in (r0..r1).enumerate() {
            let img = r / (oh * ow);
            let oy = (r / ow) % oh;
            let ix0 = ((r % ow) * s) as isize - p;
            // Valid kx: 0 <= ix0 + kx < w.
            let kx_lo = (-ix0).clamp(0, k as isize) as usize;
            let kx_hi = (w as isize - ix0).clamp(kx_lo as isize, k as isize) as usize;
            for ky in 0..k {
                let iy = (oy * s) as isize - p + ky as isize;
                if iy < 0 || iy >= h as isize || kx_lo == kx_hi {
                    f(i, ky, None);
                    continue;
                }
                let first = (img * h + iy as usize) * w + (ix0 + kx_lo as isize) as usize;
                f(i, ky, Some((first, kx_lo, kx_hi)));
            }
        }
    }
}

/// Reorders each filter of a PyTorch `[c_out, c_in, k, k]` weight to `[k, k, c_in]`, the
/// im2col's column order, or back with `inverse`.
pub fn permute_filters(w: &[f32], c_in: usize, k: usize, inverse: bool) -> Vec<f32> {
    let kk = c_in * k * k;
    let mut out = vec![0f32; w.len()];
    for (src, dst) in w.chunks_exact(kk).zip(out.chunks_exact_mut(kk)) {
        for ci in 0..c_in {
            for t in 0..k * k {
                let (pytorch, tap_major) = (ci * k * k + t, t * c_in + ci);
                if inverse {
                    dst[pytorch] = src[tap_major];
                } else {
                    dst[tap_major] = src[pytorch];
                }
            }
        }
    }
    out
}

/// Fills `cols` (`[r1 − r0, k·k·c]`) with the receptive fields of output pixels `r0..r1` of a
/// convolution over `x`, zeros where the window hangs over the padding.
pub fn im2col(x: View, win: &ConvWindow, (r0, r1): (usize, usize), cols: &mut [f32]) {
    let c = x.c;
    let kc = win.k * c;
    let row_len = win.cols(c);
    assert!(cols.len() >= (r1 - r0) * row_len, "im2col buffer too small");
    win.for_each_run((x.n, x.h, x.w), (r0, r1), |i, ky, run| {
        let seg = &mut cols[i * row_len + ky * kc..][..kc];
        let Some((first, kx_lo, kx_hi)) = run else {
            seg.fill(0.0);
            return;
        };
        seg[..kx_lo * c].fill(0.0);
        seg[kx_hi * c..].fill(0.0);
        if x.ld == c {
            // Neighbouring pixels are contiguous: one copy for the whole run.
            let start = first * c + x.off;
            let len = (kx_hi - kx_lo) * c;
            seg[kx_lo * c..kx_hi * c].copy_from_slice(&x.data[start..start + len]);
        } else {
            for (j, kx) in (kx_lo..kx_hi).enumerate() {
                seg[kx * c..(kx + 1) * c].copy_from_slice(x.pixel(first + j));
            }
        }
    });
}

/// The adjoint of [`im2col`] for output pixels `0..rows` of one frame: adds each entry of
/// `cols` (`[rows, k·k·c]`) to the element of `x` (`[h, w, c]`, NHWC) it was read from.
pub fn col2im_add(cols: &[f32], win: &ConvWindow, (h, w, c): (usize, usize, usize), x: &mut [f32]) {
    let kc = win.k * c;
    let row_len = win.cols(c);
    let rows = cols.len() / row_len.max(1);
    assert_eq!(x.len(), h * w * c, "col2im target is [h, w, c]");
    win.for_each_run((1, h, w), (0, rows), |i, ky, run| {
        let Some((first, kx_lo, kx_hi)) = run else {
            return;
        };
        let seg = &cols[i * row_len + ky * kc..][kx_lo * c..kx_hi * c];
        let dst = &mut x[first * c..][..seg.len()];
        for (d, v) in dst.iter_mut().zip(seg) {
            *d += v;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The naive definition: column `(ky·k + kx)·c + ch` of output pixel (img, oy, ox) is input
    /// (img, oy·s + ky − pad, ox·s + kx − pad, ch), or 0 outside.
    fn naive(x: &[f32], (n, h, w, c): (usize, usize, usize, usize), win: &ConvWindow) -> Vec<f32> {
        let (oh, ow) = win.out_hw(h, w).unwrap();
        let mut out = Vec::new();
        for img in 0..n {
            for oy in 0..oh {
                for ox in 0..ow {
                    for ky in 0..win.k {
                        for kx in 0..win.k {
                            for ch in 0..c {
                                let iy = (oy * win.stride + ky) as isize - win.pad as isize;
                                let ix = (ox * win.stride + kx) as isize - win.pad as isize;
                                let inside = (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix);
                                out.push(if inside {
                                    x[((img * h + iy as usize) * w + ix as usize) * c + ch]
                                } else {
                                    0.0
                                });
                            }
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn matches_the_definition_and_its_adjoint() {
        for (n, h, w, c, k, stride, pad) in [
            (2, 7, 9, 3, 3, 1, 1),
            (1, 16, 15, 3, 7, 2, 3),
            (2, 9, 9, 4, 3, 2, 0),
            (1, 2, 2, 5, 3, 2, 1),
        ] {
            let win = ConvWindow { k, stride, pad };
            let x: Vec<f32> = (0..n * h * w * c).map(|i| (i % 13) as f32 - 6.0).collect();
            let view = View {
                data: &x,
                n,
                h,
                w,
                c,
                ld: c,
                off: 0,
            };
            let (oh, ow) = win.out_hw(h, w).unwrap();
            let rows = n * oh * ow;
            let mut cols = vec![f32::NAN; rows * win.cols(c)];
            im2col(view, &win, (0, rows), &mut cols);
            assert_eq!(cols, naive(&x, (n, h, w, c), &win));
            // Adjoint: <im2col(x), y> = <x, col2im(y)> for the first frame.
            let frame_rows = oh * ow;
            let y: Vec<f32> = (0..frame_rows * win.cols(c)).map(|i| (i % 7) as f32 * 0.5).collect();
            let mut back = vec![0f32; h * w * c];
            col2im_add(&y, &win, (h, w, c), &mut back);
            let lhs: f32 = cols.iter().zip(&y).map(|(a, b)| a * b).sum();
            let rhs: f32 = x[..h * w * c].iter().zip(&back).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() <= 1e-3 * lhs.abs().max(1.0), "{lhs} vs {rhs}");
        }
    }

    #[test]
    fn filters_reorder_to_the_column_order_and_back() {
        let (c_out, c_in, k) = (2, 3, 3);
        let w: Vec<f32> = (0..c_out * c_in * k * k).map(|v| v as f32).collect();
        let tap = permute_filters(&w, c_in, k, false);
        // Filter 1, channel 2, tap (ky, kx) = (1, 0) = 3: PyTorch index ((1·3 + 2)·3 + 1)·3.
        assert_eq!(tap[27 + 3 * c_in + 2], w[((3 + 2) * 3 + 1) * 3]);
        assert_eq!(permute_filters(&tap, c_in, k, true), w);
    }
}
