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
//! The im2col is the kernels' one ([`crate::model::kernels::im2col`], NHWC): a k×k convolution
//! transposes its NCHW frame to NHWC first and reads its weights in the matching
//! `[c_out, k, k, c_in]` order (1×1 convolutions read the frame as it is).
//!
//! A following ceil-mode max pool can be part of the op: the un-pooled activations then never
//! exist as a tensor (squeezenet's first one is 200 MB per batch), the forward keeps each window's
//! argmax, and the backward scatters the gradient straight into the frame's masked gradient (the
//! ReLU mask at a window's maximum is the pooled value's sign).

use super::cpu_slice;
use super::pool::max_plane_argmax;
use crate::model::kernels::gemm::{matmul, Mat, MatMut};
use crate::model::kernels::geometry::PoolGrid;
use crate::model::kernels::im2col::{col2im_add, im2col, permute_filters, ConvWindow};
use crate::model::kernels::infer::View;
use candle_core::{bail, CpuStorage, CustomOp3, DType, Layout, Result, Shape, Storage, Tensor};
use rayon::prelude::*;
use std::sync::Mutex;

/// One convolution of a fused block: `c_out` filters over a square window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ConvSpec {
    c_out: usize,
    win: ConvWindow,
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
    /// The frame's NHWC copy as an im2col input.
    fn nhwc<'a>(&self, data: &'a [f32]) -> View<'a> {
        View {
            data,
            n: 1,
            h: self.h,
            w: self.w,
            c: self.c_in,
            ld: self.c_in,
            off: 0,
        }
    }
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

/// `x` `[c, hw]` → `out` `[hw, c]`.
fn to_nhwc(x: &[f32], c: usize, out: &mut [f32]) {
    for (ch, plane) in x.chunks_exact(x.len() / c.max(1)).enumerate() {
        for (p, &v) in plane.iter().enumerate() {
            out[p * c + ch] = v;
        }
    }
}

/// `dst` `[c, hw]` += `src` `[hw, c]`.
fn add_nchw(src: &[f32], c: usize, dst: &mut [f32]) {
    let hw = dst.len() / c.max(1);
    for (ch, plane) in dst.chunks_exact_mut(hw).enumerate() {
        for (p, d) in plane.iter_mut().enumerate() {
            *d += src[p * c + ch];
        }
    }
}

/// One thread's scratch buffers.
struct Scratch {
    /// The frame in NHWC, `[h·w, c_in]` (empty without k×k convolutions).
    nhwc: Vec<f32>,
    /// An im2col matrix `[px, k·k·c_in]`, or its gradient.
    col: Vec<f32>,
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
            let Some((oh, ow)) = sp.win.out_hw(h, w) else {
                bail!("fused conv: kernel {} does not fit {h}x{w}", sp.win.k);
            };
            if *out.get_or_insert((oh, ow)) != (oh, ow) {
                bail!("fused conv: the convolutions' output sizes differ");
            }
            let kk = sp.win.cols(c_in);
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
    fn pool_geometry(&self, g: &Geom) -> Result<Option<PoolGrid>> {
        self.pool
            .map(|(k, s)| PoolGrid::new(g.oh, g.ow, k, s, 0))
            .transpose()
    }

    /// Whether some convolution needs an im2col (and so the frame in NHWC).
    fn spatial(&self) -> bool {
        self.specs.iter().any(|sp| !sp.win.pointwise())
    }

    /// The packed weights with every k×k filter in im2col order (`inverse`: back to PyTorch's).
    fn permute_weights(&self, w: &[f32], c_in: usize, offsets: &Offsets, inverse: bool) -> Vec<f32> {
        let mut out = Vec::with_capacity(w.len());
        for (sp, &(_, w0, kk)) in self.specs.iter().zip(offsets) {
            let part = &w[w0..w0 + sp.c_out * kk];
            if sp.win.pointwise() {
                out.extend_from_slice(part);
            } else {
                out.extend(permute_filters(part, c_in, sp.win.k, inverse));
            }
        }
        out
    }

    /// Fresh scratch buffers for one thread.
    fn scratch(&self, g: &Geom, offsets: &Offsets) -> Scratch {
        let col = self
            .specs
            .iter()
            .zip(offsets)
            .filter(|(sp, _)| !sp.win.pointwise())
            .map(|(_, &(_, _, kk))| kk * g.out_px())
            .max()
            .unwrap_or(0);
        let nhwc = if self.spatial() { g.in_len() } else { 0 };
        Scratch {
            nhwc: vec![0f32; nhwc],
            col: vec![0f32; col],
        }
    }

    /// One frame's convolutions + bias + ReLU: `xf` `[c_in, h, w]` → `o` `[ch, oh·ow]`, with
    /// `wp` the weights in im2col order.
    fn conv_frame(
        &self,
        g: &Geom,
        offsets: &Offsets,
        (wp, bias): (&[f32], &[f32]),
        xf: &[f32],
        scratch: &mut Scratch,
        o: &mut [f32],
    ) {
        let px = g.out_px();
        if self.spatial() {
            to_nhwc(xf, g.c_in, &mut scratch.nhwc);
        }
        for (sp, &(c0, w0, kk)) in self.specs.iter().zip(offsets) {
            // [kk, px]: the frame itself, or the im2col matrix [px, kk] read transposed.
            let src = if sp.win.pointwise() {
                Mat::rows(xf, kk, px, px)
            } else {
                im2col(g.nhwc(&scratch.nhwc), &sp.win, (0, px), &mut scratch.col);
                Mat::new(&scratch.col, (kk, px), (1, kk))
            };
            let dst = &mut o[c0 * px..(c0 + sp.c_out) * px];
            // [c_out, kk] · [kk, px] → [c_out, px]
            let w = Mat::rows(&wp[w0..], sp.c_out, kk, kk);
            matmul(MatMut::rows(dst, sp.c_out, px, px), w, src, false, 1);
            for (row, &b) in dst.chunks_mut(px).zip(&bias[c0..c0 + sp.c_out]) {
                for v in row {
                    *v = (*v + b).max(0.0);
                }
            }
        }
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
        let (x, wt, bias) = (cpu_slice(s1, l1)?, cpu_slice(s2, l2)?, cpu_slice(s3, l3)?);
        let (n, g, ch, offsets) = self.plan(l1.shape(), wt.len(), bias.len())?;
        let px = g.out_px();
        let wp = self.permute_weights(wt, g.c_in, &offsets, false);
        let params = (wp.as_slice(), bias);
        let Some(pg) = self.pool_geometry(&g)? else {
            let mut out = vec![0f32; n * ch * px];
            out.par_chunks_mut(ch * px)
                .zip(x.par_chunks(g.in_len()))
                .for_each_init(
                    || self.scratch(&g, &offsets),
                    |scratch, (o, xf)| self.conv_frame(&g, &offsets, params, xf, scratch, o),
                );
            return Ok((CpuStorage::F32(out), Shape::from((n, ch, g.oh, g.ow))));
        };
        if px > u32::MAX as usize {
            bail!("fused conv: {}x{} output too large to pool", g.oh, g.ow);
        }
        let opx = pg.out_len();
        let mut out = vec![0f32; n * ch * opx];
        let mut arg = vec![0u32; n * ch * opx];
        out.par_chunks_mut(ch * opx)
            .zip(arg.par_chunks_mut(ch * opx))
            .zip(x.par_chunks(g.in_len()))
            .for_each_init(
                || (self.scratch(&g, &offsets), vec![0f32; ch * px]),
                |(scratch, y), ((o, a), xf)| {
                    self.conv_frame(&g, &offsets, params, xf, scratch, y);
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
            data.push(cpu_slice(s, l)?);
        }
        let (xs, ws, ys, gs) = (data[0], data[1], data[2], data[3]);
        let (n, g, ch, offsets) = self.plan(x.shape(), ws.len(), bias.elem_count())?;
        let px = g.out_px();
        let wp = self.permute_weights(ws, g.c_in, &offsets, false);
        let pool = self.pool_geometry(&g)?;
        let argmax = self.argmax.lock().ok();
        let argmax = match (&pool, argmax.as_ref().and_then(|a| a.as_ref())) {
            (None, _) => None,
            (Some(pg), Some(a)) if a.len() == n * ch * pg.out_len() => Some(a.as_slice()),
            _ => bail!("fused conv: the pooling argmax of the forward pass is missing"),
        };
        // Output elements per frame and channel.
        let opx = pool.map_or(px, |pg| pg.out_len());
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
            let s = &mut acc.scratch;
            if self.spatial() {
                to_nhwc(xf, g.c_in, &mut s.nhwc);
            }
            let mut dxf = dxf;
            if dxf.is_some() {
                acc.dnhwc.fill(0.0);
            }
            for (sp, &(c0, w0, kk)) in self.specs.iter().zip(&offsets) {
                let gm = Mat::rows(&acc.gm[c0 * px..(c0 + sp.c_out) * px], sp.c_out, px, px);
                if need_w {
                    // [px, kk]: the frame read transposed, or the im2col matrix.
                    let src = if sp.win.pointwise() {
                        Mat::new(xf, (px, kk), (1, px))
                    } else {
                        im2col(g.nhwc(&s.nhwc), &sp.win, (0, px), &mut s.col);
                        Mat::rows(&s.col, px, kk, kk)
                    };
                    // dW [c_out, kk] += gm [c_out, px] · src [px, kk]
                    let dw = MatMut::rows(&mut acc.dw[w0..], sp.c_out, kk, kk);
                    matmul(dw, gm, src, true, 1);
                }
                let Some(dxf) = dxf.as_deref_mut() else {
                    continue;
                };
                let w = Mat::rows(&wp[w0..], sp.c_out, kk, kk); // [c_out, kk]
                if sp.win.pointwise() {
                    // dx [c_in = kk, px] += Wᵀ · gm
                    let wt_t = Mat::new(&wp[w0..], (kk, sp.c_out), (1, kk));
                    matmul(MatMut::rows(dxf, kk, px, px), wt_t, gm, true, 1);
                } else {
                    // dcol [px, kk] = gmᵀ · W, then back onto the NHWC input gradient.
                    let gm_t = Mat::new(&acc.gm[c0 * px..], (px, sp.c_out), (1, px));
                    let dcol = &mut s.col[..px * kk];
                    matmul(MatMut::rows(dcol, px, kk, kk), gm_t, w, false, 1);
                    col2im_add(dcol, &sp.win, (g.h, g.w, g.c_in), &mut acc.dnhwc);
                }
            }
            if let Some(dxf) = dxf.filter(|_| self.spatial()) {
                add_nchw(&acc.dnhwc, g.c_in, dxf);
            }
        };
        let init = || Acc {
            dw: vec![0f32; if need_w { ws.len() } else { 0 }],
            db: vec![0f32; if need_w { ch } else { 0 }],
            gm: vec![0f32; ch * px],
            scratch: self.scratch(&g, &offsets),
            dnhwc: vec![0f32; if need_x && self.spatial() { g.in_len() } else { 0 }],
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
            let dw = self.permute_weights(&acc.dw, g.c_in, &offsets, true);
            (
                Some(Tensor::from_vec(dw, wt.shape(), wt.device())?),
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
    /// Kernel gradients, k×k filters in im2col order.
    dw: Vec<f32>,
    db: Vec<f32>,
    /// The frame's masked output gradient `[ch, px]`.
    gm: Vec<f32>,
    scratch: Scratch,
    /// The frame's input gradient from k×k convolutions, NHWC `[h·w, c_in]`.
    dnhwc: Vec<f32>,
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
            win: ConvWindow {
                k: kh,
                stride: c.stride,
                pad: c.padding,
            },
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

    use crate::model::kernels::train::max_abs_diff as max_diff;

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
                    Some((k, s)) => crate::model::kernels::train::max_pool2d_ceil(&y_ref, k, s, 0).unwrap(),
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
