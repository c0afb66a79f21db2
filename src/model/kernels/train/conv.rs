//! 2D convolution whose backward pass is fast on the CPU.
//!
//! candle differentiates `conv2d` with respect to its input through `conv_transpose2d`, whose CPU
//! kernel is a direct loop about ten times slower than the forward convolution; the input
//! gradient of every layer of every training step goes through it. Here the input gradient is
//! the equivalent full correlation — the output gradient dilated by the stride, zero-padded,
//! convolved with the flipped, transposed kernel — which runs on candle's im2col + GEMM path.
//! It is skipped for inputs that need no gradient (the frames). The kernel gradient is candle's
//! own formula.

use candle_core::{bail, CpuStorage, CustomOp2, Device, Layout, Result, Shape, Storage, Tensor};

/// Copies a contiguous CPU f32 storage region into a fresh tensor.
fn tensor_from(s: &CpuStorage, l: &Layout) -> Result<Tensor> {
    Tensor::from_slice(super::cpu_slice(s, l)?, l.shape(), &Device::Cpu)
}

/// The CPU storage of a contiguous tensor, copied out.
fn storage_of(t: &Tensor) -> Result<(CpuStorage, Shape)> {
    let t = t.contiguous()?;
    let (st, l) = t.storage_and_layout();
    match (&*st, l.contiguous_offsets()) {
        (Storage::Cpu(c), Some((0, end))) if end == t.elem_count() => {
            Ok((c.clone(), t.shape().clone()))
        }
        _ => bail!("fast-gradient op: expected a contiguous CPU tensor"),
    }
}

/// Inserts `s - 1` zeros between the elements of dims 2 and 3: `[n, c, h, w]` →
/// `[n, c, (h-1)s+1, (w-1)s+1]`.
fn dilate(g: &Tensor, s: usize) -> Result<Tensor> {
    if s == 1 {
        return Ok(g.clone());
    }
    let (n, c, h, w) = g.dims4()?;
    let zw = Tensor::zeros((n, c, h, w, s - 1), g.dtype(), g.device())?;
    let g = Tensor::cat(&[&g.unsqueeze(4)?, &zw], 4)?
        .reshape((n, c, h, w * s))?
        .narrow(3, 0, (w - 1) * s + 1)?;
    let wd = (w - 1) * s + 1;
    let zh = Tensor::zeros((n, c, h, s - 1, wd), g.dtype(), g.device())?;
    Tensor::cat(&[&g.unsqueeze(3)?, &zh], 3)?
        .reshape((n, c, h * s, wd))?
        .narrow(2, 0, (h - 1) * s + 1)
}

/// Gradient of `conv2d(x, w, padding p, stride s)` with respect to `x` of spatial size (h, w).
fn input_grad(
    g: &Tensor,
    w: &Tensor,
    (h, wd): (usize, usize),
    p: usize,
    s: usize,
) -> Result<Tensor> {
    let (_, _, kh, kw) = w.dims4()?;
    if p >= kh || p >= kw {
        bail!("fast conv backward: padding {p} must be smaller than the kernel {kh}x{kw}");
    }
    // [c_in, c_out, kh, kw], spatially flipped.
    let wt = w.flip(&[2, 3])?.transpose(0, 1)?.contiguous()?;
    let gd = dilate(g, s)?;
    let (_, _, hd, wdd) = gd.dims4()?;
    let (top, left) = (kh - 1 - p, kw - 1 - p);
    // Rows of x that no window reached (stride remainder) get zero gradient: pad to fit.
    let bottom = (h + kh - 1).checked_sub(hd + top);
    let right = (wd + kw - 1).checked_sub(wdd + left);
    let (Some(bottom), Some(right)) = (bottom, right) else {
        bail!("fast conv backward: inconsistent shapes");
    };
    gd.pad_with_zeros(2, top, bottom)?
        .pad_with_zeros(3, left, right)?
        .conv2d(&wt, 0, 1, 1, 1)
}

/// Gradient of `conv2d(x, w, padding p, stride s)` with respect to `w` (candle's formula).
fn kernel_grad(x: &Tensor, g: &Tensor, w: &Tensor, p: usize, s: usize) -> Result<Tensor> {
    let (_, _, kh, kw) = w.dims4()?;
    let gk = x
        .transpose(0, 1)?
        .conv2d(&g.transpose(0, 1)?, p, 1, s, 1)?
        .transpose(0, 1)?;
    let (_, _, gh, gw) = gk.dims4()?;
    if gh != kh || gw != kw {
        gk.narrow(2, 0, kh)?.narrow(3, 0, kw)?.contiguous()
    } else {
        gk.contiguous()
    }
}

struct Conv2dOp {
    padding: usize,
    stride: usize,
}

impl CustomOp2 for Conv2dOp {
    fn name(&self) -> &'static str {
        "conv2d-fast-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = tensor_from(s1, l1)?;
        let w = tensor_from(s2, l2)?;
        storage_of(&x.conv2d(&w, self.padding, self.stride, 1, 1)?)
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _y: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (_, _, h, wd) = x.dims4()?;
        let gx = if x.track_op() {
            Some(input_grad(g, w, (h, wd), self.padding, self.stride)?)
        } else {
            None
        };
        let gw = if w.track_op() {
            Some(kernel_grad(x, g, w, self.padding, self.stride)?)
        } else {
            None
        };
        Ok((gx, gw))
    }
}

/// `conv2d(x, w)` (no dilation, one group) with the fast backward when gradients are tracked
/// on the CPU; candle's own op otherwise (and on other devices).
pub fn conv2d(x: &Tensor, w: &Tensor, padding: usize, stride: usize) -> Result<Tensor> {
    let tracked = x.track_op() || w.track_op();
    if !tracked || !x.device().is_cpu() || x.dtype() != candle_core::DType::F32 {
        return x.conv2d(w, padding, stride, 1, 1);
    }
    x.contiguous()?
        .apply_op2(&w.contiguous()?, Conv2dOp { padding, stride })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    use crate::model::kernels::train::max_abs_diff as max_diff;

    /// Values and both gradients equal candle's conv2d for every stride/padding/size mix the
    /// backbones use, including stride remainders (odd sizes with stride 2). Widths keep the
    /// height's stride remainder: candle's own backward applies the height's output padding to
    /// both dims, and fails otherwise.
    #[test]
    fn matches_candle_values_and_gradients() {
        let dev = Device::Cpu;
        for &(c_in, c_out, k, p, s, h) in &[
            (3, 8, 3, 0, 2, 17),
            (3, 8, 3, 0, 2, 16),
            (4, 6, 3, 1, 1, 9),
            (5, 4, 7, 3, 2, 15),
            (4, 4, 5, 2, 1, 8),
            (6, 3, 1, 0, 1, 5),
        ] {
            let x = Var::randn(0f32, 1.0, (2, c_in, h, h + 2 * s), &dev).unwrap();
            let w = Var::randn(0f32, 0.5, (c_out, c_in, k, k), &dev).unwrap();
            let y_ref = x.conv2d(&w, p, s, 1, 1).unwrap();
            let y = conv2d(&x, &w, p, s).unwrap();
            assert_eq!(y.dims(), y_ref.dims());
            assert!(max_diff(&y, &y_ref) < 1e-4);
            // A non-uniform upstream gradient.
            let r = Tensor::randn(0f32, 1.0, y.dims(), &dev).unwrap();
            let g_ref = (y_ref * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let g = (y * &r).unwrap().sum_all().unwrap().backward().unwrap();
            for v in [x.as_tensor(), w.as_tensor()] {
                let d = max_diff(g.get(v).unwrap(), g_ref.get(v).unwrap());
                assert!(
                    d < 1e-3,
                    "case {:?}: grad differs by {d}",
                    (c_in, c_out, k, p, s, h)
                );
            }
        }
    }

    #[test]
    fn untracked_input_gets_no_gradient_work() {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (1, 3, 9, 9), &dev).unwrap();
        let w = Var::randn(0f32, 1.0, (4, 3, 3, 3), &dev).unwrap();
        let g = conv2d(&x, &w, 0, 2)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        assert!(g.get(&x).is_none() && g.get(w.as_tensor()).is_some());
        // Without any variable it is candle's plain op.
        let plain = w.as_tensor().detach();
        assert!(!conv2d(&x, &plain, 0, 2).unwrap().track_op());
    }
}
