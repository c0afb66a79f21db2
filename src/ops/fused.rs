//! Convolutions + bias + ReLU on one input, outputs concatenated along the channels, as one
//! differentiable CPU op: squeezenet's `relu(conv(x))` units and Fire modules'
//! `cat(relu(expand1x1(s)), relu(expand3x3(s)))`.
//!
//! Built from candle's ops, every such unit's backward walks the ReLU's mask chain (zeros, `ge`,
//! cast, product, sum), the bias broadcast, the concatenation's narrowed copies and candle's
//! tiled convolution used as a kernel gradient (an image-sized "kernel", very slow) — each a
//! full-size tensor of hundreds of MB per step. Here the forward is an im2col + GEMM per frame
//! and the backward one pass per frame: mask the gradient by `y > 0` (PyTorch's ReLU backward),
//! bias gradient as row sums, kernel gradient as one GEMM against the frame's im2col, input
//! gradient as one GEMM and a col2im. Frames run in parallel, each GEMM single-threaded.
//!
//! A following ceil-mode max pool can be part of the op: the un-pooled activations then never
//! exist as a tensor (squeezenet's first one is 200 MB per batch), the forward keeps each window's
//! argmax, and the backward scatters the gradient straight into the frame's masked gradient (the
//! ReLU mask at a window's maximum is the pooled value's sign).

use crate::ops::pool::{max_plane_argmax, Geometry};
use candle_core::{bail, CpuStorage, CustomOp3, DType, Layout, Result, Shape, Storage, Tensor};
use rayon::prelude::*;
use std::sync::Mutex;

/// One convolution of a fused block: square `k`×`k` kernel, `c_out` filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ConvSpec {
    c_out: usize,
    k: usize,
    stride: usize,
    padding: usize,
}

impl ConvSpec {
    fn out_len(&self, len: usize) -> Option<usize> {
        (len + 2 * self.padding)
            .checked_sub(self.k)
            .map(|span| span / self.stride + 1)
    }

    /// A 1×1, stride-1, unpadded convolution reads the input as its own im2col matrix.
    fn pointwise(&self) -> bool {
        self.k == 1 && self.stride == 1 && self.padding == 0
    }
}

/// Shapes of one frame.
#[derive(Debug, Clone, Copy)]
struct Geom {
    c_in: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
}

impl Geom {
    fn in_len(&self) -> usize {
        self.c_in * self.h * self.w
    }
    fn out_px(&self) -> usize {
        self.oh * self.ow
    }
}

/// `dst = (accumulate ? dst : 0) + lhs · rhs` for `[m, k] · [k, n]` operands given by row and
/// column strides, single-threaded (the caller parallelises over frames).
///
/// # Safety
/// Every element addressed by the strides for `i < m`, `j < n`, `p < k` must be valid; `dst`
/// must not alias the operands nor be touched by another thread meanwhile.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm(
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    (dst_rs, dst_cs): (usize, usize),
    accumulate: bool,
    lhs: *const f32,
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: *const f32,
    (rhs_rs, rhs_cs): (usize, usize),
) {
    if m == 0 || n == 0 {
        return;
    }
    ::gemm::gemm(
        m,
        n,
        k,
        dst,
        dst_cs as isize,
        dst_rs as isize,
        accumulate,
        lhs,
        lhs_cs as isize,
        lhs_rs as isize,
        rhs,
        rhs_cs as isize,
        rhs_rs as isize,
        1.0,
        1.0,
        false,
        false,
        false,
        ::gemm::Parallelism::None,
    );
}

/// Sum of `v` over 16 independent lanes (vectorises; a single running sum is a chain of
/// dependent adds, which made the bias gradient a noticeable part of the backward pass).
fn sum(v: &[f32]) -> f32 {
    let mut lanes = [0f32; 16];
    let mut chunks = v.chunks_exact(16);
    for c in &mut chunks {
        for (l, x) in lanes.iter_mut().zip(c) {
            *l += x;
        }
    }
    lanes.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

/// Columns `[ox0, ox1)` of an output row whose input column `ox·s + kx − pad` lies inside `w`.
fn valid_cols(sp: &ConvSpec, kx: usize, w: usize, ow: usize) -> (usize, usize) {
    let (s, pad) = (sp.stride, sp.padding);
    let ox0 = if pad > kx { (pad - kx).div_ceil(s) } else { 0 }.min(ow);
    let ox1 = (w + pad).saturating_sub(kx).div_ceil(s).clamp(ox0, ow);
    (ox0, ox1)
}

/// im2col of one frame: `x` `[c_in, h, w]` → `col` `[c_in·k·k, oh·ow]`, row `(c·k + ky)·k + kx`
/// (the weight's `[c_out, c_in, k, k]` order), zeros where the window reads padding.
fn im2col(x: &[f32], g: &Geom, sp: &ConvSpec, col: &mut [f32]) {
    let (k, s, pad) = (sp.k, sp.stride, sp.padding);
    let px = g.out_px();
    for c in 0..g.c_in {
        let plane = &x[c * g.h * g.w..][..g.h * g.w];
        for ky in 0..k {
            for kx in 0..k {
                let row = &mut col[((c * k + ky) * k + kx) * px..][..px];
                let (ox0, ox1) = valid_cols(sp, kx, g.w, g.ow);
                for oy in 0..g.oh {
                    let r = &mut row[oy * g.ow..][..g.ow];
                    let iy = oy * s + ky;
                    if iy < pad || iy - pad >= g.h {
                        r.fill(0.0);
                        continue;
                    }
                    let src = &plane[(iy - pad) * g.w..][..g.w];
                    r[..ox0].fill(0.0);
                    r[ox1..].fill(0.0);
                    if s == 1 {
                        let start = ox0 + kx - pad;
                        r[ox0..ox1].copy_from_slice(&src[start..start + ox1 - ox0]);
                    } else {
                        for (ox, v) in r[ox0..ox1].iter_mut().enumerate() {
                            *v = src[(ox0 + ox) * s + kx - pad];
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: adds each `col` entry to the input element it was read from.
fn col2im_add(col: &[f32], g: &Geom, sp: &ConvSpec, x: &mut [f32]) {
    let (k, s, pad) = (sp.k, sp.stride, sp.padding);
    let px = g.out_px();
    for c in 0..g.c_in {
        let plane = &mut x[c * g.h * g.w..][..g.h * g.w];
        for ky in 0..k {
            for kx in 0..k {
                let row = &col[((c * k + ky) * k + kx) * px..][..px];
                let (ox0, ox1) = valid_cols(sp, kx, g.w, g.ow);
                for oy in 0..g.oh {
                    let iy = oy * s + ky;
                    if iy < pad || iy - pad >= g.h {
                        continue;
                    }
                    let r = &row[oy * g.ow..][..g.ow];
                    let dst = &mut plane[(iy - pad) * g.w..][..g.w];
                    if s == 1 {
                        let start = ox0 + kx - pad;
                        for (d, v) in dst[start..start + ox1 - ox0].iter_mut().zip(&r[ox0..ox1]) {
                            *d += v;
                        }
                    } else {
                        for (ox, v) in r[ox0..ox1].iter().enumerate() {
                            dst[(ox0 + ox) * s + kx - pad] += v;
                        }
                    }
                }
            }
        }
    }
}

struct FusedConvRelu {
    specs: Vec<ConvSpec>,
    /// A trailing `MaxPool2d(k, s, ceil_mode=True)`: (k, s).
    pool: Option<(usize, usize)>,
    /// With `pool`: the forward pass's argmax (plane index) per pooled output.
    argmax: Mutex<Option<Vec<u32>>>,
}

/// Per conv: (first output channel, first weight element, weight elements per filter).
type Offsets = Vec<(usize, usize, usize)>;

impl FusedConvRelu {
    /// Frame geometry, total output channels and each conv's offsets, after checking the
    /// packed weight/bias lengths and that every conv gives the same output size.
    fn plan(&self, x: &Shape, w_len: usize, b_len: usize) -> Result<(usize, Geom, usize, Offsets)> {
        let (n, c_in, h, w) = x.dims4()?;
        let mut out = None;
        let (mut ch, mut wo) = (0, 0);
        let mut offsets = Vec::with_capacity(self.specs.len());
        for sp in &self.specs {
            let (Some(oh), Some(ow)) = (sp.out_len(h), sp.out_len(w)) else {
                bail!("fused conv: kernel {} does not fit {h}x{w}", sp.k);
            };
            if *out.get_or_insert((oh, ow)) != (oh, ow) {
                bail!("fused conv: the convolutions' output sizes differ");
            }
            let kk = c_in * sp.k * sp.k;
            offsets.push((ch, wo, kk));
            ch += sp.c_out;
            wo += sp.c_out * kk;
        }
        let Some((oh, ow)) = out else {
            bail!("fused conv: no convolution");
        };
        if wo != w_len || ch != b_len {
            bail!("fused conv: packed weights {w_len} / biases {b_len}, expected {wo} / {ch}");
        }
        let g = Geom { c_in, h, w, oh, ow };
        Ok((n, g, ch, offsets))
    }

    /// The trailing pool's window grid over the convolutions' `oh`×`ow` output.
    fn pool_geometry(&self, g: &Geom) -> Result<Option<Geometry>> {
        self.pool
            .map(|(k, s)| Geometry::new(g.oh, g.ow, k, s, 0))
            .transpose()
    }

    /// One frame's convolutions + bias + ReLU: `xf` `[c_in, h, w]` → `o` `[ch, oh·ow]`.
    fn conv_frame(
        &self,
        g: &Geom,
        offsets: &Offsets,
        (wt, bias): (&[f32], &[f32]),
        xf: &[f32],
        col: &mut [f32],
        o: &mut [f32],
    ) {
        let px = g.out_px();
        for (sp, &(c0, w0, kk)) in self.specs.iter().zip(offsets) {
            let src: &[f32] = if sp.pointwise() {
                xf
            } else {
                im2col(xf, g, sp, col);
                col
            };
            let dst = &mut o[c0 * px..(c0 + sp.c_out) * px];
            // SAFETY: [c_out, kk] · [kk, px] → [c_out, px], all in bounds.
            unsafe {
                gemm(
                    (sp.c_out, px, kk),
                    dst.as_mut_ptr(),
                    (px, 1),
                    false,
                    wt[w0..].as_ptr(),
                    (kk, 1),
                    src.as_ptr(),
                    (px, 1),
                )
            };
            for (row, &b) in dst.chunks_mut(px).zip(&bias[c0..c0 + sp.c_out]) {
                for v in row {
                    *v = (*v + b).max(0.0);
                }
            }
        }
    }

    /// The largest im2col buffer any conv needs.
    fn col_len(&self, g: &Geom, offsets: &Offsets) -> usize {
        self.specs
            .iter()
            .zip(offsets)
            .filter(|(sp, _)| !sp.pointwise())
            .map(|(_, &(_, _, kk))| kk * g.out_px())
            .max()
            .unwrap_or(0)
    }
}

/// The f32 data of a contiguous CPU storage region.
fn slice<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => bail!("fused conv: operands must be contiguous"),
    }
}

impl CustomOp3 for FusedConvRelu {
    fn name(&self) -> &'static str {
        "conv-bias-relu-cat"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (x, wt, bias) = (slice(s1, l1)?, slice(s2, l2)?, slice(s3, l3)?);
        let (n, g, ch, offsets) = self.plan(l1.shape(), wt.len(), bias.len())?;
        let px = g.out_px();
        let col_len = self.col_len(&g, &offsets);
        let params = (wt, bias);
        let Some(pg) = self.pool_geometry(&g)? else {
            let mut out = vec![0f32; n * ch * px];
            out.par_chunks_mut(ch * px)
                .zip(x.par_chunks(g.in_len()))
                .for_each_init(
                    || vec![0f32; col_len],
                    |col, (o, xf)| self.conv_frame(&g, &offsets, params, xf, col, o),
                );
            return Ok((CpuStorage::F32(out), Shape::from((n, ch, g.oh, g.ow))));
        };
        if px > u32::MAX as usize {
            bail!("fused conv: {}x{} output too large to pool", g.oh, g.ow);
        }
        let opx = pg.oh * pg.ow;
        let mut out = vec![0f32; n * ch * opx];
        let mut arg = vec![0u32; n * ch * opx];
        out.par_chunks_mut(ch * opx)
            .zip(arg.par_chunks_mut(ch * opx))
            .zip(x.par_chunks(g.in_len()))
            .for_each_init(
                || (vec![0f32; col_len], vec![0f32; ch * px]),
                |(col, y), ((o, a), xf)| {
                    self.conv_frame(&g, &offsets, params, xf, col, y);
                    for ((yp, op), ap) in y.chunks(px).zip(o.chunks_mut(opx)).zip(a.chunks_mut(opx))
                    {
                        max_plane_argmax(&pg, yp, op, ap);
                    }
                },
            );
        if let Ok(mut slot) = self.argmax.lock() {
            *slot = Some(arg);
        }
        Ok((CpuStorage::F32(out), Shape::from((n, ch, pg.oh, pg.ow))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        wt: &Tensor,
        bias: &Tensor,
        y: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let need_x = x.track_op();
        let need_w = wt.track_op() || bias.track_op();
        let grad = grad.contiguous()?;
        let guards = [x, wt, y, &grad].map(|t| t.storage_and_layout());
        let mut data = Vec::with_capacity(4);
        for (st, l) in &guards {
            let Storage::Cpu(s) = &**st else {
                bail!("fused conv runs on CPU tensors");
            };
            data.push(slice(s, l)?);
        }
        let (xs, ws, ys, gs) = (data[0], data[1], data[2], data[3]);
        let (n, g, ch, offsets) = self.plan(x.shape(), ws.len(), bias.elem_count())?;
        let px = g.out_px();
        let col_len = self.col_len(&g, &offsets);
        let pool = self.pool_geometry(&g)?;
        let argmax = self.argmax.lock().ok();
        let argmax = match (&pool, argmax.as_ref().and_then(|a| a.as_ref())) {
            (None, _) => None,
            (Some(pg), Some(a)) if a.len() == n * ch * pg.oh * pg.ow => Some(a.as_slice()),
            _ => bail!("fused conv: the pooling argmax of the forward pass is missing"),
        };
        // Output elements per frame and channel.
        let opx = pool.map_or(px, |pg| pg.oh * pg.ow);
        let mut dx = if need_x {
            vec![0f32; n * g.in_len()]
        } else {
            Vec::new()
        };
        // One frame: masked gradient, bias and kernel gradients into `acc`, input gradient into
        // `dxf`.
        let frame = |acc: &mut Acc, i: usize, dxf: Option<&mut [f32]>| {
            let xf = &xs[i * g.in_len()..][..g.in_len()];
            let yf = &ys[i * ch * opx..][..ch * opx];
            let gf = &gs[i * ch * opx..][..ch * opx];
            // [ch, px]: PyTorch's ReLU backward passes the gradient where the output is > 0.
            if let Some(arg) = argmax {
                // Each pooled gradient goes to its window's maximum, kept if that is > 0.
                acc.gm.fill(0.0);
                let af = &arg[i * ch * opx..][..ch * opx];
                for (((plane, yp), gp), ap) in acc
                    .gm
                    .chunks_mut(px)
                    .zip(yf.chunks(opx))
                    .zip(gf.chunks(opx))
                    .zip(af.chunks(opx))
                {
                    for ((&yv, &gv), &a) in yp.iter().zip(gp).zip(ap) {
                        if yv > 0.0 {
                            plane[a as usize] += gv;
                        }
                    }
                }
            } else {
                for ((m, &gv), &yv) in acc.gm.iter_mut().zip(gf).zip(yf) {
                    *m = if yv > 0.0 { gv } else { 0.0 };
                }
            }
            if need_w {
                for (db, row) in acc.db.iter_mut().zip(acc.gm.chunks(px)) {
                    *db += sum(row);
                }
            }
            let mut dxf = dxf;
            for (sp, &(c0, w0, kk)) in self.specs.iter().zip(&offsets) {
                let gm = &acc.gm[c0 * px..(c0 + sp.c_out) * px];
                if need_w {
                    let src: &[f32] = if sp.pointwise() {
                        xf
                    } else {
                        im2col(xf, &g, sp, &mut acc.col);
                        &acc.col
                    };
                    // dW [c_out, kk] += gm [c_out, px] · srcᵀ [px, kk]
                    // SAFETY: all operands in bounds; `acc` is this fold's own.
                    unsafe {
                        gemm(
                            (sp.c_out, kk, px),
                            acc.dw[w0..].as_mut_ptr(),
                            (kk, 1),
                            true,
                            gm.as_ptr(),
                            (px, 1),
                            src.as_ptr(),
                            (1, px),
                        )
                    };
                }
                if let Some(dxf) = dxf.as_deref_mut() {
                    // Wᵀ [kk, c_out] (element [r, o] at w0 + o·kk + r) · gm [c_out, px]
                    let wj = ws[w0..].as_ptr();
                    if sp.pointwise() {
                        // SAFETY: dx frame is [c_in = kk, px], in bounds, this thread's own.
                        unsafe {
                            gemm(
                                (kk, px, sp.c_out),
                                dxf.as_mut_ptr(),
                                (px, 1),
                                true,
                                wj,
                                (1, kk),
                                gm.as_ptr(),
                                (px, 1),
                            )
                        };
                    } else {
                        let dcol = &mut acc.col[..kk * px];
                        // SAFETY: as above, into the fold's own column buffer.
                        unsafe {
                            gemm(
                                (kk, px, sp.c_out),
                                dcol.as_mut_ptr(),
                                (px, 1),
                                false,
                                wj,
                                (1, kk),
                                gm.as_ptr(),
                                (px, 1),
                            )
                        };
                        col2im_add(dcol, &g, sp, dxf);
                    }
                }
            }
        };
        let init = || Acc {
            dw: vec![0f32; if need_w { ws.len() } else { 0 }],
            db: vec![0f32; if need_w { ch } else { 0 }],
            col: vec![0f32; col_len],
            gm: vec![0f32; ch * px],
        };
        let reduce = |mut a: Acc, b: Acc| {
            a.dw.iter_mut().zip(&b.dw).for_each(|(u, v)| *u += v);
            a.db.iter_mut().zip(&b.db).for_each(|(u, v)| *u += v);
            a
        };
        let acc = if need_x {
            dx.par_chunks_mut(g.in_len())
                .enumerate()
                .fold(init, |mut acc, (i, dxf)| {
                    frame(&mut acc, i, Some(dxf));
                    acc
                })
                .reduce(init, reduce)
        } else {
            (0..n)
                .into_par_iter()
                .fold(init, |mut acc, i| {
                    frame(&mut acc, i, None);
                    acc
                })
                .reduce(init, reduce)
        };
        drop(guards);
        let gx = if need_x {
            Some(Tensor::from_vec(dx, x.shape(), x.device())?)
        } else {
            None
        };
        let (gw, gb) = if need_w {
            (
                Some(Tensor::from_vec(acc.dw, wt.shape(), wt.device())?),
                Some(Tensor::from_vec(acc.db, bias.shape(), bias.device())?),
            )
        } else {
            (None, None)
        };
        Ok((gx, gw, gb))
    }
}

/// One parallel fold's gradient sums and scratch buffers.
struct Acc {
    dw: Vec<f32>,
    db: Vec<f32>,
    col: Vec<f32>,
    gm: Vec<f32>,
}

/// One convolution of [`conv_bias_relu_cat`]: weight `[c_out, c_in, k, k]`, bias `[c_out]`.
#[derive(Debug, Clone, Copy)]
pub struct FusedConv<'a> {
    pub weight: &'a Tensor,
    pub bias: &'a Tensor,
    pub stride: usize,
    pub padding: usize,
}

/// `cat([relu(conv2d(x, wᵢ, stride, padding) + bᵢ) for each conv], dim 1)` on a `[n, c_in, h, w]`
/// f32 CPU tensor, differentiable, with the fast backward. All convolutions must give the same
/// output size.
pub fn conv_bias_relu_cat(x: &Tensor, convs: &[FusedConv]) -> Result<Tensor> {
    conv_bias_relu_cat_pool(x, convs, None)
}

/// [`conv_bias_relu_cat`] followed by `MaxPool2d(k, s, ceil_mode=True)` when `pool` is
/// `Some((k, s))`, as one op.
pub fn conv_bias_relu_cat_pool(
    x: &Tensor,
    convs: &[FusedConv],
    pool: Option<(usize, usize)>,
) -> Result<Tensor> {
    if !x.device().is_cpu() || x.dtype() != DType::F32 {
        bail!("fused conv runs on f32 CPU tensors");
    }
    let c_in = x.dim(1)?;
    let mut specs = Vec::with_capacity(convs.len());
    let (mut ws, mut bs) = (Vec::new(), Vec::new());
    for c in convs {
        let (c_out, ci, kh, kw) = c.weight.dims4()?;
        if ci != c_in || kh != kw || c.stride == 0 || c.bias.dims() != [c_out] {
            bail!(
                "fused conv: weight {:?} / bias {:?} do not fit {c_in} input channels",
                c.weight.dims(),
                c.bias.dims()
            );
        }
        specs.push(ConvSpec {
            c_out,
            k: kh,
            stride: c.stride,
            padding: c.padding,
        });
        ws.push(c.weight.flatten_all()?);
        bs.push(c.bias.clone());
    }
    let (w, b) = if ws.len() == 1 {
        (ws.remove(0), bs.remove(0))
    } else {
        (Tensor::cat(&ws, 0)?, Tensor::cat(&bs, 0)?)
    };
    x.contiguous()?.apply_op3(
        &w.contiguous()?,
        &b.contiguous()?,
        FusedConvRelu {
            specs,
            pool,
            argmax: Mutex::new(None),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    use crate::ops::max_abs_diff as max_diff;

    /// Candle's plain ops: conv2d, bias broadcast, ReLU, cat.
    fn reference(x: &Tensor, convs: &[FusedConv]) -> Tensor {
        let ys: Vec<Tensor> = convs
            .iter()
            .map(|c| {
                x.conv2d(c.weight, c.padding, c.stride, 1, 1)
                    .unwrap()
                    .broadcast_add(&c.bias.reshape((1, (), 1, 1)).unwrap())
                    .unwrap()
                    .relu()
                    .unwrap()
            })
            .collect();
        Tensor::cat(&ys, 1).unwrap()
    }

    /// Values and all gradients equal candle's for single convs (strides 1 and 2, padding,
    /// stride remainders, 1×1) and Fire-style pairs (1×1 + 3×3/p1), alone and followed by a
    /// ceil-mode max pool (against the pooling op, itself checked by finite differences).
    #[test]
    fn matches_candle_values_and_gradients() {
        let dev = Device::Cpu;
        // (c_in, h, w, [(c_out, k, stride, padding)])
        type Case = (usize, usize, usize, &'static [(usize, usize, usize, usize)]);
        let cases: &[Case] = &[
            (3, 17, 15, &[(8, 3, 2, 0)]),
            (3, 16, 16, &[(8, 3, 2, 0)]),
            (4, 9, 11, &[(6, 3, 1, 1)]),
            (5, 15, 13, &[(4, 7, 2, 3)]),
            (4, 8, 8, &[(4, 5, 1, 2)]),
            (6, 5, 7, &[(3, 1, 1, 0)]),
            (6, 6, 5, &[(5, 1, 1, 0), (7, 3, 1, 1)]),
            (4, 9, 9, &[(3, 1, 2, 0), (2, 3, 2, 1)]),
        ];
        for &(c_in, h, w, specs) in cases {
            let x = Var::randn(0f32, 1.0, (3, c_in, h, w), &dev).unwrap();
            let params: Vec<(Var, Var)> = specs
                .iter()
                .map(|&(co, k, _, _)| {
                    (
                        Var::randn(0f32, 0.5, (co, c_in, k, k), &dev).unwrap(),
                        Var::randn(0f32, 0.5, co, &dev).unwrap(),
                    )
                })
                .collect();
            let convs: Vec<FusedConv> = specs
                .iter()
                .zip(&params)
                .map(|(&(_, _, s, p), (w, b))| FusedConv {
                    weight: w.as_tensor(),
                    bias: b.as_tensor(),
                    stride: s,
                    padding: p,
                })
                .collect();
            // Without and with a trailing ceil-mode max pool (3/2, 2/2).
            for pool in [None, Some((3, 2)), Some((2, 2))] {
                let y_ref = reference(&x, &convs);
                let y_ref = match pool {
                    Some((k, s)) => crate::ops::max_pool2d_ceil(&y_ref, k, s, 0).unwrap(),
                    None => y_ref,
                };
                let y = conv_bias_relu_cat_pool(&x, &convs, pool).unwrap();
                assert_eq!(y.dims(), y_ref.dims());
                assert!(max_diff(&y, &y_ref) < 1e-4, "{specs:?} {pool:?}");
                let r = Tensor::randn(0f32, 1.0, y.dims(), &dev).unwrap();
                let g_ref = (y_ref * &r).unwrap().sum_all().unwrap().backward().unwrap();
                let g = (y * &r).unwrap().sum_all().unwrap().backward().unwrap();
                let mut vars = vec![x.as_tensor()];
                for (w, b) in &params {
                    vars.push(w.as_tensor());
                    vars.push(b.as_tensor());
                }
                for (i, v) in vars.into_iter().enumerate() {
                    let d = max_diff(g.get(v).unwrap(), g_ref.get(v).unwrap());
                    assert!(
                        d < 1e-3,
                        "{specs:?} {pool:?} operand {i}: grad differs by {d}"
                    );
                }
            }
        }
    }

    #[test]
    fn untracked_input_gets_no_gradient() {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (2, 3, 9, 9), &dev).unwrap();
        let w = Var::randn(0f32, 1.0, (4, 3, 3, 3), &dev).unwrap();
        let b = Var::randn(0f32, 1.0, 4, &dev).unwrap();
        let conv = FusedConv {
            weight: w.as_tensor(),
            bias: b.as_tensor(),
            stride: 2,
            padding: 0,
        };
        let g = conv_bias_relu_cat(&x, &[conv])
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        assert!(g.get(&x).is_none());
        assert!(g.get(w.as_tensor()).is_some() && g.get(b.as_tensor()).is_some());
    }

    #[test]
    fn mismatched_output_sizes_are_an_error() {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (1, 2, 8, 8), &dev).unwrap();
        let (w1, w3) = (
            Tensor::randn(0f32, 1.0, (2, 2, 1, 1), &dev).unwrap(),
            Tensor::randn(0f32, 1.0, (2, 2, 3, 3), &dev).unwrap(),
        );
        let b = Tensor::zeros(2, DType::F32, &dev).unwrap();
        let convs = [
            FusedConv {
                weight: &w1,
                bias: &b,
                stride: 1,
                padding: 0,
            },
            FusedConv {
                weight: &w3,
                bias: &b,
                stride: 1,
                padding: 0,
            },
        ];
        assert!(conv_bias_relu_cat(&x, &convs).is_err());
    }
}
