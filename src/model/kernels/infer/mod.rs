//! Hand-written CPU inference kernels (no autograd): the backbones run in NHWC layout, where a
//! 1×1 convolution is one `[rows, c_in] × [c_in, c_out]` product over all frames at once and a
//! k×k convolution is an im2col of contiguous channel vectors followed by the same product. The
//! products go through the `gemm` crate (candle's own CPU matmul engine) so that branch outputs
//! can be written straight into their slice of a concatenated buffer, with bias and ReLU fused
//! into the same pass. The TRN relation sums have their own loop ([`relations`]).
//!
//! These paths are used only for inference (`train == false`, folded BatchNorm) on
//! `Device::Cpu`; training runs the differentiable ops ([`super::train`] on the CPU, candle's
//! elsewhere). Both compute the same function up to float rounding (unit tests in each backbone
//! compare them). The k×k convolutions' im2col is the one in [`super::im2col`].

pub mod bninception;
pub mod conv;
pub mod pool;
pub mod relations;
pub mod squeezenet;
pub mod winograd;

use super::gemm::MatMut;
use candle_core::{DType, Result, Storage, Tensor};
use rayon::prelude::*;
use std::cell::RefCell;
use std::sync::OnceLock;

/// Activations of `n` frames in NHWC layout: pixel row `(img·h + y)·w + x` holds `c` channels,
/// which sit at columns `off..off + c` of a row of `ld` floats (a slice of a concatenation).
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub data: &'a [f32],
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub ld: usize,
    pub off: usize,
}

impl View<'_> {
    /// Channels of pixel row `r`.
    #[inline]
    pub fn pixel(&self, r: usize) -> &[f32] {
        let s = r * self.ld + self.off;
        &self.data[s..s + self.c]
    }
}

/// Owned NHWC activations with `ld == c`.
#[derive(Debug)]
pub struct Act {
    /// `[n, h, w, c]`
    pub data: Vec<f32>,
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub c: usize,
}

thread_local! {
    /// Buffers of dropped activations of this thread, reused by [`Act::for_overwrite`]: a clip's layers
    /// allocate tens of MB, and fresh pages fault in on every call otherwise.
    static SPARE: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// Spare buffers kept per thread.
const MAX_SPARE: usize = 12;
/// Buffers below this many floats are left to the allocator.
const MIN_SPARE_LEN: usize = 1 << 14;

impl Act {
    /// `[n, h, w, c]` holding arbitrary (stale) values, for outputs every element of which the
    /// caller writes: skips zeroing tens of MB per clip.
    pub fn for_overwrite(n: usize, h: usize, w: usize, c: usize) -> Self {
        let len = n * h * w * c;
        let mut data = if len >= MIN_SPARE_LEN {
            SPARE.with(|spare| {
                let mut spare = spare.borrow_mut();
                // The smallest spare buffer that fits.
                let best = (0..spare.len())
                    .filter(|&i| spare[i].capacity() >= len)
                    .min_by_key(|&i| spare[i].capacity());
                best.map(|i| spare.swap_remove(i)).unwrap_or_default()
            })
        } else {
            Vec::new()
        };
        data.truncate(len);
        data.resize(len, 0.0);
        Act { data, n, h, w, c }
    }

    /// The whole buffer as a view.
    pub fn view(&self) -> View<'_> {
        self.channels(0, self.c)
    }

    /// Channels `off..off + c` of every pixel.
    pub fn channels(&self, off: usize, c: usize) -> View<'_> {
        View {
            data: &self.data,
            n: self.n,
            h: self.h,
            w: self.w,
            c,
            ld: self.c,
            off,
        }
    }

    /// A writable window: channels `off..off + c` of every pixel.
    pub fn out(&mut self, off: usize, c: usize) -> Out<'_> {
        Out::new(&mut self.data, self.c, off, c)
    }

    /// `[n, c, h, w]` f32 CPU tensor → NHWC.
    pub fn from_nchw(t: &Tensor) -> Result<Self> {
        let (n, c, h, w) = t.dims4()?;
        let mut act = Act::for_overwrite(n, h, w, c);
        let hw = h * w;
        // Read in place (no host copy of the whole clip) unless a cast or re-layout is needed.
        with_slice(&t.to_dtype(DType::F32)?.contiguous()?, |src| {
            for img in 0..n {
                let plane = &src[img * c * hw..(img + 1) * c * hw];
                let dst = &mut act.data[img * hw * c..(img + 1) * hw * c];
                for (p, px) in dst.chunks_exact_mut(c).enumerate() {
                    for (ch, v) in px.iter_mut().enumerate() {
                        *v = plane[ch * hw + p];
                    }
                }
            }
        })?;
        Ok(act)
    }

    /// Global average pooling: `[n, c]` flattened.
    pub fn global_avg_pool(&self) -> Vec<f32> {
        let hw = self.h * self.w;
        let mut out = vec![0f32; self.n * self.c];
        for (img, acc) in out.chunks_exact_mut(self.c).enumerate() {
            for px in self.data[img * hw * self.c..(img + 1) * hw * self.c].chunks_exact(self.c) {
                for (a, v) in acc.iter_mut().zip(px) {
                    *a += v;
                }
            }
            let inv = 1.0 / hw as f32;
            acc.iter_mut().for_each(|a| *a *= inv);
        }
        out
    }
}

impl Drop for Act {
    fn drop(&mut self) {
        if self.data.capacity() < MIN_SPARE_LEN {
            return;
        }
        let data = std::mem::take(&mut self.data);
        SPARE.with(|spare| {
            let mut spare = spare.borrow_mut();
            spare.push(data);
            if spare.len() > MAX_SPARE {
                // Keep the largest buffers: they are the expensive ones to fault in.
                let smallest = (0..spare.len()).min_by_key(|&i| spare[i].capacity());
                if let Some(i) = smallest {
                    spare.swap_remove(i);
                }
            }
        });
    }
}

/// A writable channel window `off..off + c` of every row of a `[rows, ld]` buffer. Kernels
/// split it into blocks of whole rows ([`Out::for_each_block`]) to write them from several
/// threads; every access is a checked slice.
#[derive(Debug)]
pub struct Out<'a> {
    /// `[rows, ld]`
    data: &'a mut [f32],
    rows: usize,
    c: usize,
    ld: usize,
    off: usize,
}

impl<'a> Out<'a> {
    /// The window over all rows of `data` (`[rows, ld]`); panics if it does not fit a row.
    pub fn new(data: &'a mut [f32], ld: usize, off: usize, c: usize) -> Self {
        assert!(
            off + c <= ld && ld > 0 && data.len().is_multiple_of(ld),
            "channels {off}..{} of rows of {ld} in {} floats",
            off + c,
            data.len()
        );
        Out {
            rows: data.len() / ld,
            data,
            c,
            ld,
            off,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Channels per row in the window.
    pub fn channels(&self) -> usize {
        self.c
    }

    /// Channels of row `r`.
    #[inline]
    pub fn row_mut(&mut self, r: usize) -> &mut [f32] {
        let s = r * self.ld + self.off;
        &mut self.data[s..s + self.c]
    }

    /// The window as a gemm output matrix `[rows, c]`.
    pub(crate) fn as_mat(&mut self) -> MatMut<'_> {
        let (rows, c, ld) = (self.rows, self.c, self.ld);
        MatMut::rows(&mut self.data[self.off..], rows, c, ld)
    }

    /// Runs `f(first_row, block)` on consecutive blocks of `chunk` rows (the last may be
    /// shorter), in parallel on rayon's pool when there is more than one block.
    pub fn for_each_block(self, chunk: usize, f: impl Fn(usize, Out<'_>) + Sync + Send) {
        let chunk = chunk.max(1);
        let (c, ld, off) = (self.c, self.ld, self.off);
        if self.rows <= chunk || num_threads() == 1 {
            f(0, self);
            return;
        }
        self.data
            .par_chunks_mut(chunk * ld)
            .enumerate()
            .for_each(|(i, data)| {
                let rows = data.len() / ld;
                f(
                    i * chunk,
                    Out {
                        data,
                        rows,
                        c,
                        ld,
                        off,
                    },
                )
            });
    }

    /// Runs `f(first_row, block)` on the blocks that start at the increasing rows `starts`
    /// (`starts[0] == 0`; each block ends where the next starts, the last at the end), in
    /// parallel on rayon's pool. Panics if `starts` is not increasing from 0 within the rows.
    pub fn for_each_range(self, starts: &[usize], f: impl Fn(usize, Out<'_>) + Sync + Send) {
        assert!(
            starts.first() == Some(&0)
                && starts.windows(2).all(|s| s[0] < s[1])
                && starts.last().is_some_and(|&s| s < self.rows.max(1)),
            "blocks must start at increasing rows from 0, below {}",
            self.rows
        );
        let (c, ld, off) = (self.c, self.ld, self.off);
        let mut blocks = Vec::with_capacity(starts.len());
        let mut rest = self.data;
        for (i, &r0) in starts.iter().enumerate() {
            let rows = starts.get(i + 1).map_or(self.rows, |&next| next) - r0;
            let (data, tail) = rest.split_at_mut(rows * ld);
            rest = tail;
            blocks.push((
                r0,
                Out {
                    data,
                    rows,
                    c,
                    ld,
                    off,
                },
            ));
        }
        if blocks.len() == 1 || num_threads() == 1 {
            blocks.into_iter().for_each(|(r0, block)| f(r0, block));
        } else {
            blocks.into_par_iter().for_each(|(r0, block)| f(r0, block));
        }
    }
}

/// Threads the kernels may use (candle's setting: `RAYON_NUM_THREADS` or the core count), read
/// once: candle's lookup parses /proc/cpuinfo on every call.
pub fn num_threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| candle_core::utils::get_num_threads().max(1))
}

/// Runs `f` on the elements of a contiguous f32 CPU tensor, without copying them.
pub fn with_slice<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
    let (storage, layout) = t.storage_and_layout();
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("a contiguous tensor is needed here");
    };
    match &*storage {
        Storage::Cpu(cpu) => Ok(f(&cpu.as_slice::<f32>()?[start..end])),
        _ => candle_core::bail!("a CPU tensor is needed here"),
    }
}

/// Flattens a tensor to a host `Vec<f32>`.
pub fn host_vec(t: &Tensor) -> Result<Vec<f32>> {
    t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()
}

#[cfg(test)]
mod tests {
    use super::host_vec;
    use crate::model::backbone::{bninception::BnInception, squeezenet::SqueezeNet11};
    use crate::model::layers::BnMode;
    use candle_core::{DType, Device, Result, Tensor};
    use candle_nn::{VarBuilder, VarMap};

    /// Features from the NHWC plan (`fast`) equal candle's layers' (`slow`) up to float
    /// rounding relative to their scale; fails on NaN.
    fn assert_same_features(fast: &Tensor, slow: &Tensor, what: &str) {
        assert_eq!(fast.dims(), slow.dims(), "{what}: shapes");
        let (a, b) = (host_vec(fast).unwrap(), host_vec(slow).unwrap());
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = crate::model::kernels::max_abs_diff(&a, &b);
        let ok = scale > 0.0 && d <= 1e-5 * scale.max(1.0);
        assert!(ok, "{what}: diff {d}, scale {scale}");
    }

    /// Both backbones' NHWC plans compute what candle's NCHW layers compute (folded
    /// BatchNorm), at a small input and at 32, the smallest the configuration accepts.
    #[test]
    fn plans_match_candle_layers() -> Result<()> {
        let dev = Device::Cpu;
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &dev);
        let sq = [true, false].map(|plans| SqueezeNet11::new(3, vb.pp("s"), plans));
        let [Ok(sq_fast), Ok(sq_slow)] = sq else {
            candle_core::bail!("squeezenet1_1 did not build");
        };
        let folded = BnMode::Folded;
        let bn = [true, false].map(|plans| BnInception::new(3, vb.pp("b"), folded, folded, plans));
        let [Ok(bn_fast), Ok(bn_slow)] = bn else {
            candle_core::bail!("BNInception did not build");
        };
        for (sq_size, bn_size) in [(67, 64), (32, 32)] {
            let x = Tensor::randn(0f32, 1., (2, 3, sq_size, sq_size), &dev)?;
            let a = sq_fast.forward_t(&x, false)?;
            assert_eq!(a.dims(), &[2, 512]);
            let what = format!("squeezenet1_1 at {sq_size}");
            assert_same_features(&a, &sq_slow.forward_t(&x, false)?, &what);
            let x = Tensor::randn(0f32, 1., (2, 3, bn_size, bn_size), &dev)?;
            let a = bn_fast.forward_t(&x, false)?;
            assert_eq!(a.dims(), &[2, 1024]);
            let what = format!("BNInception at {bn_size}");
            assert_same_features(&a, &bn_slow.forward_t(&x, false)?, &what);
        }
        Ok(())
    }
}
