//! Building blocks shared by the backbones and heads: convolution (+ optional BatchNorm) units,
//! PyTorch-compatible pooling (ceil mode, padding, count_include_pad) and dropout. The layers
//! compute nothing themselves: each chooses which implementation runs for the device and for
//! whether gradients are needed — the kernels in `model::kernels` on the CPU, candle's ops
//! elsewhere.

use crate::model::kernels::geometry::PoolGrid;
use crate::model::kernels::{infer, train};
use candle_core::{DType, Module, ModuleT, Result, Tensor, D};
use candle_nn::{BatchNorm, BatchNormConfig, Conv2d, Conv2dConfig, VarBuilder};

/// How BatchNorm layers are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BnMode {
    /// BatchNorm folded into the convolution before it: the conv carries a bias, no BN tensors.
    Folded,
    /// A real BatchNorm layer that trains normally.
    Trainable,
    /// A real BatchNorm layer kept in eval mode even while training (partial BN).
    Frozen,
}

/// PyTorch's BatchNorm2d defaults (eps 1e-5, momentum 0.1).
pub fn bn_config() -> BatchNormConfig {
    BatchNormConfig {
        eps: 1e-5,
        remove_mean: true,
        affine: true,
        momentum: 0.1,
    }
}

/// A 2D convolution that runs 1×1 kernels as a plain matrix product (candle's im2col path adds a
/// copy for nothing there), and otherwise defers to candle's conv2d.
#[derive(Debug, Clone)]
pub struct Conv {
    inner: Conv2d,
    pointwise: bool,
}

impl Conv {
    /// `Conv2d(c_in, c_out, k, stride, padding, bias=bias)` under `vb` (`.weight`, `.bias`).
    pub fn new(
        c_in: usize,
        c_out: usize,
        k: usize,
        stride: usize,
        padding: usize,
        bias: bool,
        vb: VarBuilder,
    ) -> Result<Self> {
        let cfg = Conv2dConfig {
            padding,
            stride,
            ..Default::default()
        };
        let inner = if bias {
            candle_nn::conv2d(c_in, c_out, k, cfg, vb)?
        } else {
            candle_nn::conv2d_no_bias(c_in, c_out, k, cfg, vb)?
        };
        Ok(Conv {
            inner,
            pointwise: k == 1 && stride == 1 && padding == 0,
        })
    }

    /// The same convolution (+ ReLU if `relu`) as an NHWC CPU inference kernel.
    pub(crate) fn cpu_plan(&self, relu: bool) -> Result<infer::conv::ConvPlan> {
        let cfg = self.inner.config();
        infer::conv::ConvPlan::new(
            self.inner.weight(),
            self.inner.bias(),
            cfg.stride,
            cfg.padding,
            relu,
        )
    }
}

impl Module for Conv {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if !self.pointwise {
            let weight = self.inner.weight();
            // Training on the CPU: the same convolution with a fast backward.
            if weight.track_op() && x.device().is_cpu() {
                let cfg = self.inner.config();
                let y = train::conv2d(x, weight, cfg.padding, cfg.stride)?;
                return match self.inner.bias() {
                    Some(b) => y.broadcast_add(&b.reshape((1, (), 1, 1))?),
                    None => Ok(y),
                };
            }
            return self.inner.forward(x);
        }
        let (b, c, h, w) = x.dims4()?;
        let weight = self.inner.weight();
        let o = weight.dim(0)?;
        // [o, c] x [b, c, h*w] -> [b, o, h*w]
        let wm = weight.reshape((o, c))?;
        let y = wm.broadcast_matmul(&x.reshape((b, c, h * w))?)?;
        let y = match self.inner.bias() {
            Some(bias) => y.broadcast_add(&bias.reshape((1, o, 1))?)?,
            None => y,
        };
        y.reshape((b, o, h, w))
    }
}

/// Convolution followed by BatchNorm (unless folded) and ReLU: BNInception's unit and the FCN
/// head's layers.
#[derive(Debug, Clone)]
pub struct ConvBnRelu {
    conv: Conv,
    bn: Option<BatchNorm>,
    frozen: bool,
}

impl ConvBnRelu {
    /// `conv_vb` holds the conv (`.weight`, `.bias`), `bn_vb` the BatchNorm.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        c_in: usize,
        c_out: usize,
        k: usize,
        stride: usize,
        padding: usize,
        mode: BnMode,
        conv_vb: VarBuilder,
        bn_vb: VarBuilder,
    ) -> Result<Self> {
        let conv = Conv::new(c_in, c_out, k, stride, padding, true, conv_vb)?;
        let bn = match mode {
            BnMode::Folded => None,
            BnMode::Trainable | BnMode::Frozen => {
                Some(candle_nn::batch_norm(c_out, bn_config(), bn_vb)?)
            }
        };
        Ok(ConvBnRelu {
            conv,
            bn,
            frozen: mode == BnMode::Frozen,
        })
    }

    /// The unit as an NHWC CPU inference kernel; only for folded BatchNorm (None otherwise).
    pub(crate) fn cpu_plan(&self) -> Result<Option<infer::conv::ConvPlan>> {
        match self.bn {
            Some(_) => Ok(None),
            None => self.conv.cpu_plan(true).map(Some),
        }
    }

    /// Without the final ReLU (the FCN head's conv+BN when it is followed by other ops).
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let y = self.conv.forward(x)?;
        let y = match &self.bn {
            Some(bn) => bn.forward_t(&y, train && !self.frozen)?,
            None => y,
        };
        y.relu()
    }
}

/// Plain ReLU'd convolution (squeezenet).
pub fn conv_relu(conv: &Conv, x: &Tensor) -> Result<Tensor> {
    conv_relu_cat(&[conv], x)
}

/// `cat([relu(conv(x)) for conv in convs], dim 1)` (squeezenet's Fire expand). Training on the
/// CPU, one fused op with a fast backward (`kernels::train::fused`); candle's ops otherwise.
pub fn conv_relu_cat(convs: &[&Conv], x: &Tensor) -> Result<Tensor> {
    match fused_conv_relu(convs, x, None)? {
        Some(y) => Ok(y),
        None => candle_conv_relu_cat(convs, x),
    }
}

/// [`conv_relu_cat`] with candle's ops.
fn candle_conv_relu_cat(convs: &[&Conv], x: &Tensor) -> Result<Tensor> {
    let ys = convs
        .iter()
        .map(|c| c.forward(x)?.relu())
        .collect::<Result<Vec<_>>>()?;
    match ys.as_slice() {
        [y] => Ok(y.clone()),
        _ => Tensor::cat(&ys, 1),
    }
}

/// [`conv_relu_cat`] then `MaxPool2d(k, s, ceil_mode=True)` (`pool = (k, s)`), as
/// [`max_pool_ceil`] with `train`; one fused op when training on the CPU.
pub fn conv_relu_cat_max_pool(
    convs: &[&Conv],
    x: &Tensor,
    (k, s): (usize, usize),
    train: bool,
) -> Result<Tensor> {
    if let Some(y) = fused_conv_relu(convs, x, Some((k, s)))? {
        return Ok(y);
    }
    max_pool_ceil(&candle_conv_relu_cat(convs, x)?, k, s, 0, train)
}

/// The fused op when gradients are tracked on the CPU (f32); `None` otherwise.
fn fused_conv_relu(
    convs: &[&Conv],
    x: &Tensor,
    pool: Option<(usize, usize)>,
) -> Result<Option<Tensor>> {
    let tracked = x.track_op() || convs.iter().any(|c| c.inner.weight().track_op());
    if !tracked || !x.device().is_cpu() || x.dtype() != DType::F32 {
        return Ok(None);
    }
    // Convs without a bias get a constant zero one.
    let zeros: Vec<Option<Tensor>> = convs
        .iter()
        .map(|c| match c.inner.bias() {
            Some(_) => Ok(None),
            None => Tensor::zeros(c.inner.weight().dim(0)?, DType::F32, x.device()).map(Some),
        })
        .collect::<Result<_>>()?;
    let fused: Vec<train::FusedConv> = convs
        .iter()
        .zip(&zeros)
        .filter_map(|(c, z)| {
            let cfg = c.inner.config();
            Some(train::FusedConv {
                weight: c.inner.weight(),
                bias: c.inner.bias().or(z.as_ref())?,
                stride: cfg.stride,
                padding: cfg.padding,
            })
        })
        .collect();
    train::conv_bias_relu_cat_pool(x, &fused, pool).map(Some)
}

// Pooling. PyTorch's ceil-mode pools run as one of three implementations, all on the one window
// grid of `kernels::geometry`; each remains because it is the only one that does its job:
// - on the CPU (f32), training or not: the kernels' one-pass op (`train::max_pool2d_ceil`,
//   `train::avg_pool2d_ceil`), which needs no padded copy and is the only CPU path with a
//   backward for kernel ≠ stride;
// - on other devices, inference: candle's pooling kernel on a padded copy (`candle_pool`), the
//   fast path there;
// - on other devices, training: a composition of differentiable candle ops (`composed_pool`),
//   since candle has no max-pool backward for kernel ≠ stride.
// The NHWC inference kernels and the fused convolution + pool are chosen by the backbones, not
// here.

/// Which reduction a pool applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reduce {
    Max,
    /// Average with count_include_pad.
    Avg,
}

/// Pads dim `dim` with `left` / `right` copies of `value`.
fn pad_const(x: &Tensor, dim: usize, left: usize, right: usize, value: f64) -> Result<Tensor> {
    if left == 0 && right == 0 {
        return Ok(x.clone());
    }
    let mut parts = Vec::with_capacity(3);
    let mut shape = x.dims().to_vec();
    if left > 0 {
        shape[dim] = left;
        parts.push(Tensor::full(value as f32, shape.as_slice(), x.device())?.to_dtype(x.dtype())?);
    }
    parts.push(x.clone());
    if right > 0 {
        shape[dim] = right;
        parts.push(Tensor::full(value as f32, shape.as_slice(), x.device())?.to_dtype(x.dtype())?);
    }
    Tensor::cat(&parts, dim)
}

/// The grid of a pool over `x`, and `x` padded so that every window lies whole inside it (max:
/// −∞, which never wins; average: zeros). The candle paths divide every average by k², which is
/// PyTorch's count_include_pad only while no window hangs past the padded input (BNInception's
/// 3×3/s1/p1 pools): other grids are refused there.
fn padded_for_pool(
    x: &Tensor,
    k: usize,
    s: usize,
    pad: usize,
    reduce: Reduce,
) -> Result<(PoolGrid, Tensor)> {
    let (_, _, h, w) = x.dims4()?;
    let g = PoolGrid::new(h, w, k, s, pad)?;
    let (bottom, right) = g.trailing_pad();
    let value = match reduce {
        Reduce::Max => f64::NEG_INFINITY,
        Reduce::Avg if bottom <= pad && right <= pad => 0.0,
        Reduce::Avg => candle_core::bail!(
            "average pooling {k}/{s}/{pad} of a {h}x{w} map has windows past the padding; \
             only the CPU implements that"
        ),
    };
    let x = pad_const(x, 2, pad, bottom, value)?;
    Ok((g, pad_const(&x, 3, pad, right, value)?))
}

/// Elements `start, start+step, ...` (`count` of them) along `dim`, through differentiable ops.
fn strided(x: &Tensor, dim: usize, start: usize, count: usize, step: usize) -> Result<Tensor> {
    if step == 1 {
        return x.narrow(dim, start, count);
    }
    let len = x.dim(dim)?;
    let need = start + count * step;
    let x = if need > len {
        pad_const(x, dim, 0, need - len, 0.0)?
    } else {
        x.clone()
    };
    let x = x.narrow(dim, start, count * step)?;
    let mut shape = x.dims().to_vec();
    shape[dim] = count;
    shape.insert(dim + 1, step);
    x.reshape(shape)?.narrow(dim + 1, 0, 1)?.squeeze(dim + 1)
}

/// Separable window reduction along one spatial dim of an already padded tensor.
fn reduce_windows(
    x: &Tensor,
    dim: usize,
    k: usize,
    s: usize,
    out: usize,
    reduce: Reduce,
) -> Result<Tensor> {
    let mut acc = strided(x, dim, 0, out, s)?;
    for d in 1..k {
        let next = strided(x, dim, d, out, s)?;
        acc = match reduce {
            Reduce::Max => acc.maximum(&next)?,
            Reduce::Avg => (acc + next)?,
        };
    }
    Ok(acc)
}

/// The pool with candle's kernels (other devices, inference).
pub(crate) fn candle_pool(
    x: &Tensor,
    k: usize,
    s: usize,
    pad: usize,
    reduce: Reduce,
) -> Result<Tensor> {
    let (_, xp) = padded_for_pool(x, k, s, pad, reduce)?;
    match reduce {
        Reduce::Max => xp.max_pool2d_with_stride(k, s),
        Reduce::Avg => xp.avg_pool2d_with_stride(k, s),
    }
}

/// The pool composed of differentiable candle ops (other devices, training).
fn composed_pool(x: &Tensor, k: usize, s: usize, pad: usize, reduce: Reduce) -> Result<Tensor> {
    let (g, xp) = padded_for_pool(x, k, s, pad, reduce)?;
    let rows = reduce_windows(&xp, 2, k, s, g.oh, reduce)?;
    let y = reduce_windows(&rows, 3, k, s, g.ow, reduce)?;
    match reduce {
        Reduce::Max => Ok(y),
        Reduce::Avg => y / (k * k) as f64,
    }
}

/// Runs the pool implementation for `x`'s device and `train` (see the list above).
fn pool(x: &Tensor, k: usize, s: usize, pad: usize, train: bool, reduce: Reduce) -> Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == DType::F32 {
        return match reduce {
            Reduce::Max => train::max_pool2d_ceil(x, k, s, pad),
            Reduce::Avg => train::avg_pool2d_ceil(x, k, s, pad),
        };
    }
    if train {
        composed_pool(x, k, s, pad, reduce)
    } else {
        candle_pool(x, k, s, pad, reduce)
    }
}

/// `MaxPool2d(k, stride=s, padding=pad, ceil_mode=True)`; `train` asks for a differentiable
/// implementation (all CPU ones are).
pub fn max_pool_ceil(x: &Tensor, k: usize, s: usize, pad: usize, train: bool) -> Result<Tensor> {
    pool(x, k, s, pad, train, Reduce::Max)
}

/// `AvgPool2d(k, stride=s, padding=pad, ceil_mode=True, count_include_pad=True)`. Off the CPU
/// only for windows that never hang past the padded input (BNInception's 3×3/s1/p1 pools).
pub fn avg_pool_include_pad(
    x: &Tensor,
    k: usize,
    s: usize,
    pad: usize,
    train: bool,
) -> Result<Tensor> {
    pool(x, k, s, pad, train, Reduce::Avg)
}

/// Global average pooling `[b, c, h, w]` → `[b, c]` (the original's AvgPool2d(13) / AvgPool2d(7)
/// at 224×224 input; any input size here).
pub fn global_avg_pool(x: &Tensor) -> Result<Tensor> {
    x.mean(D::Minus1)?.mean(D::Minus1)
}

/// Inverted dropout; identity when not training or `p == 0`.
pub fn dropout(x: &Tensor, p: f32, train: bool) -> Result<Tensor> {
    if !train || p <= 0.0 {
        return Ok(x.clone());
    }
    candle_nn::ops::dropout(x, p)
}

/// Dropout as [`dropout`] in training, with its mask drawn from `rng`: candle draws its masks
/// from a generator no seed reaches, so two runs of one seed would drop different features.
pub fn seeded_dropout(x: &Tensor, p: f32, rng: &mut impl rand::Rng) -> Result<Tensor> {
    if p <= 0.0 {
        return Ok(x.clone());
    }
    let keep = 1.0 - p;
    let scale = 1.0 / keep;
    let mask: Vec<f32> = (0..x.elem_count())
        .map(|_| {
            if rng.random::<f32>() < keep {
                scale
            } else {
                0.0
            }
        })
        .collect();
    let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
    x * mask
}

/// A fully connected layer with PyTorch's names and layout (`.weight` \[out, in\], `.bias` \[out\]),
/// on inputs `[..., in]` of any rank.
///
/// The product is taken as (W · xᵀ)ᵀ rather than candle's x · Wᵀ: the same sums, but in the
/// backward pass the weight's gradient then comes out of a matrix product, contiguous, where
/// candle's form hands back a transposed view that its gradient accumulation walks element by
/// element. On a fine-tuning head (MLP: 0.66 M weights, a batch of 8) that walk was over half of
/// every step.
#[derive(Debug, Clone)]
pub struct Dense {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Dense {
    /// `[out, in]`
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// `[out]`
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }
}

impl Module for Dense {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let dims = x.dims().to_vec();
        let last = *dims.last().unwrap_or(&0);
        let rows = x.elem_count() / last.max(1);
        let x2 = x.reshape((rows, last))?; // [rows, in]
        let y = self.weight.matmul(&x2.t()?)?.t()?; // [rows, out]
        let y = match &self.bias {
            Some(b) => y.broadcast_add(b)?,
            None => y,
        };
        let mut out = dims;
        if let Some(l) = out.last_mut() {
            *l = y.dim(1)?;
        }
        y.reshape(out)
    }
}

/// Linear layer with PyTorch names (`.weight` \[out, in\], `.bias` \[out\]).
pub fn linear(c_in: usize, c_out: usize, vb: VarBuilder) -> Result<Dense> {
    let l = candle_nn::linear(c_in, c_out, vb)?;
    Ok(Dense {
        weight: l.weight().clone(),
        bias: l.bias().cloned(),
    })
}

/// Casts to f32 if needed (imported checkpoints may hold f16/f64).
pub fn to_f32(t: &Tensor) -> Result<Tensor> {
    if t.dtype() == DType::F32 {
        Ok(t.clone())
    } else {
        t.to_dtype(DType::F32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    use crate::model::kernels::train::max_abs_diff;
    use candle_core::Var;

    /// The pool implementations layers.rs chooses among agree on the CPU: the kernels' op (the
    /// CPU path), candle's kernel and the composed ops (the paths other devices take) — values,
    /// and the composed path's gradients against the op's (checked by finite differences in
    /// `kernels::train::pool`). Sizes include BNInception's 2×2 map at input 32.
    #[test]
    fn pool_implementations_agree() -> Result<()> {
        let dev = Device::Cpu;
        for (h, w) in [(2, 2), (6, 6), (7, 9), (13, 13)] {
            let x = Var::randn(0f32, 1., (2, 3, h, w), &dev)?;
            let mut cases = vec![(3, 2, 0, Reduce::Max), (3, 1, 1, Reduce::Max)];
            cases.push((3, 1, 1, Reduce::Avg));
            for (k, s, p, reduce) in cases {
                let op = pool(&x, k, s, p, true, reduce)?;
                let kernel = candle_pool(&x, k, s, p, reduce)?;
                let composed = composed_pool(&x, k, s, p, reduce)?;
                let case = format!("{reduce:?} {h}x{w} k{k} s{s} p{p}");
                assert!(max_abs_diff(&op, &kernel) < 1e-6, "{case}: candle kernel");
                assert!(max_abs_diff(&op, &composed) < 1e-6, "{case}: composed");
                let r = Tensor::randn(0f32, 1., op.dims(), &dev)?;
                let g_op = (op * &r)?.sum_all()?.backward()?;
                let g_composed = (composed * &r)?.sum_all()?.backward()?;
                let (a, b) = (g_op.get(&x), g_composed.get(&x));
                let (Some(a), Some(b)) = (a, b) else {
                    panic!("{case}: no gradient");
                };
                assert!(max_abs_diff(a, b) < 1e-5, "{case}: gradients");
            }
        }
        Ok(())
    }

    /// What other devices run for squeezenet's conv + ReLU + cat (+ pool) — candle's ops and the
    /// composed pool — equals the CPU's fused op, values and every gradient.
    #[test]
    fn fused_conv_ops_equal_the_candle_paths() -> Result<()> {
        let dev = Device::Cpu;
        let vm = candle_nn::VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &dev);
        let e1 = Conv::new(4, 5, 1, 1, 0, true, vb.pp("e1"))?;
        let e3 = Conv::new(4, 3, 3, 1, 1, true, vb.pp("e3"))?;
        let convs = [&e1, &e3];
        for (h, w) in [(2, 2), (9, 9), (8, 11)] {
            let x = Var::randn(0f32, 1., (2, 4, h, w), &dev)?;
            let candle = candle_conv_relu_cat(&convs, &x)?;
            let pairs = [
                (conv_relu_cat(&convs, &x)?, candle.clone(), "no pool"),
                (
                    conv_relu_cat_max_pool(&convs, &x, (3, 2), true)?,
                    composed_pool(&candle, 3, 2, 0, Reduce::Max)?,
                    "pool",
                ),
            ];
            for (fused, reference, what) in pairs {
                let case = format!("{h}x{w} {what}");
                assert!(
                    fused.dims()[1] == 8 && max_abs_diff(&fused, &reference) < 1e-5,
                    "{case}"
                );
                let r = Tensor::randn(0f32, 1., fused.dims(), &dev)?;
                let g_fused = (fused * &r)?.sum_all()?.backward()?;
                let g_ref = (reference * &r)?.sum_all()?.backward()?;
                let vars = vm.all_vars();
                for v in vars.iter().map(|v| v.as_tensor()).chain([x.as_tensor()]) {
                    let (Some(a), Some(b)) = (g_fused.get(v), g_ref.get(v)) else {
                        panic!("{case}: a gradient is missing");
                    };
                    assert!(
                        max_abs_diff(a, b) < 1e-4,
                        "{case}: gradient of {:?}",
                        v.dims()
                    );
                }
            }
        }
        Ok(())
    }

    #[test]
    fn max_pool_ceil_reference_values() -> Result<()> {
        // torch.nn.functional.max_pool2d(torch.arange(36.).view(1,1,6,6), 3, 2, ceil_mode=True)
        // = [[14, 16, 17], [26, 28, 29], [32, 34, 35]]
        let x = Tensor::arange(0f32, 36., &Device::Cpu)?.reshape((1, 1, 6, 6))?;
        for y in [
            max_pool_ceil(&x, 3, 2, 0, false)?,
            candle_pool(&x, 3, 2, 0, Reduce::Max)?,
        ] {
            let y = y.flatten_all()?.to_vec1::<f32>()?;
            assert_eq!(y, vec![14., 16., 17., 26., 28., 29., 32., 34., 35.]);
        }
        // avg_pool2d(x, 3, 1, 1, ceil_mode=True, count_include_pad=True)[0,0,0,0] = (0+1+6+7)/9
        let a = avg_pool_include_pad(&x, 3, 1, 1, false)?;
        let v = a.flatten_all()?.to_vec1::<f32>()?;
        assert!((v[0] - 14.0 / 9.0).abs() < 1e-6);
        Ok(())
    }

    #[test]
    fn pooling_has_gradients() -> Result<()> {
        let x = candle_core::Var::randn(0f32, 1., (1, 2, 7, 7), &Device::Cpu)?;
        let y = max_pool_ceil(x.as_tensor(), 3, 2, 0, true)?;
        let z = avg_pool_include_pad(&y, 3, 1, 1, true)?.sum_all()?;
        let grads = z.backward()?;
        let g = grads.get(x.as_tensor()).expect("gradient for the input");
        assert_eq!(g.dims(), &[1, 2, 7, 7]);
        assert!(g.abs()?.sum_all()?.to_scalar::<f32>()? > 0.0);
        Ok(())
    }

    #[test]
    fn pointwise_conv_equals_candle_conv() -> Result<()> {
        let dev = Device::Cpu;
        let vm = candle_nn::VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &dev);
        let conv = Conv::new(8, 5, 1, 1, 0, true, vb.pp("c"))?;
        let x = Tensor::randn(0f32, 1., (2, 8, 4, 3), &dev)?;
        let a = conv.forward(&x)?;
        let b = conv.inner.forward(&x)?;
        let d = (a - b)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(d < 1e-5);
        Ok(())
    }
}
