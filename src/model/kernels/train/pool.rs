//! PyTorch's `MaxPool2d(k, s, pad, ceil_mode=True)` and `AvgPool2d(k, s, pad, ceil_mode=True,
//! count_include_pad=True)` as single CPU ops with a direct backward. candle has no pooling
//! backward for kernel ≠ stride; building the pool from strided slices and `maximum` makes the
//! backward pass walk a chain of full-size intermediate tensors, which dominated the training
//! step. Here one pass over each window does it (the max gradient goes to the first maximum of
//! the window, as PyTorch's).

use super::cpu_slice;
use crate::model::kernels::geometry::{PoolGrid, Window};
use candle_core::{bail, CpuStorage, CustomOp1, DType, Layout, Result, Shape, Storage, Tensor};
use rayon::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Max,
    Avg,
}

struct Pool {
    kind: Kind,
    k: usize,
    s: usize,
    pad: usize,
    /// Max pooling of a tracked input: keep the argmax for the backward pass.
    keep_argmax: bool,
    /// The forward pass's argmax per output, when kept.
    argmax: std::sync::Mutex<Option<Vec<u32>>>,
}

impl Pool {
    fn geometry(&self, shape: &Shape) -> Result<(usize, PoolGrid)> {
        let (n, c, h, w) = shape.dims4()?;
        Ok((n * c, PoolGrid::new(h, w, self.k, self.s, self.pad)?))
    }
}

/// A window as (first, end, divisor span).
fn window(w: Window) -> (usize, usize, usize) {
    (w.first, w.end, w.padded)
}

fn forward_plane(kind: Kind, g: &PoolGrid, x: &[f32], out: &mut [f32]) {
    for oy in 0..g.oh {
        let (y0, y1, sh) = window(g.row(oy));
        for ox in 0..g.ow {
            let (x0, x1, sw) = window(g.col(ox));
            let v = match kind {
                Kind::Max => {
                    let mut m = f32::NEG_INFINITY;
                    for y in y0..y1 {
                        for &v in &x[y * g.w + x0..y * g.w + x1] {
                            if v > m {
                                m = v;
                            }
                        }
                    }
                    m
                }
                Kind::Avg => {
                    let mut sum = 0.0;
                    for y in y0..y1 {
                        sum += x[y * g.w + x0..y * g.w + x1].iter().sum::<f32>();
                    }
                    sum / (sh * sw) as f32
                }
            };
            out[oy * g.ow + ox] = v;
        }
    }
}

/// Max pooling of one plane that also records, per output, the plane index of the window's
/// first maximum (what the backward pass routes the gradient to).
pub(crate) fn max_plane_argmax(g: &PoolGrid, x: &[f32], out: &mut [f32], arg: &mut [u32]) {
    // Column windows are the same for every row.
    let cols: Vec<(usize, usize)> = (0..g.ow)
        .map(|ox| {
            let w = g.col(ox);
            (w.first, w.end)
        })
        .collect();
    for oy in 0..g.oh {
        let (y0, y1, _) = window(g.row(oy));
        let (orow, arow) = (&mut out[oy * g.ow..][..g.ow], &mut arg[oy * g.ow..][..g.ow]);
        for ((o, a), &(x0, x1)) in orow.iter_mut().zip(arow.iter_mut()).zip(&cols) {
            let mut best = y0 * g.w + x0;
            let mut m = x.get(best).copied().unwrap_or(f32::NEG_INFINITY);
            for y in y0..y1 {
                let base = y * g.w + x0;
                // Branch-free selects: which element wins is data-dependent, unpredictable.
                for (j, &v) in x[base..y * g.w + x1].iter().enumerate() {
                    let gt = v > m;
                    best = if gt { base + j } else { best };
                    m = if gt { v } else { m };
                }
            }
            *o = m;
            *a = best as u32;
        }
    }
}

fn backward_plane(kind: Kind, g: &PoolGrid, x: &[f32], grad: &[f32], gx: &mut [f32]) {
    for oy in 0..g.oh {
        let (y0, y1, sh) = window(g.row(oy));
        for ox in 0..g.ow {
            let (x0, x1, sw) = window(g.col(ox));
            let go = grad[oy * g.ow + ox];
            match kind {
                Kind::Max => {
                    let mut best = None;
                    let mut m = f32::NEG_INFINITY;
                    for y in y0..y1 {
                        for xx in x0..x1 {
                            let v = x[y * g.w + xx];
                            if best.is_none() || v > m {
                                m = v;
                                best = Some(y * g.w + xx);
                            }
                        }
                    }
                    if let Some(i) = best {
                        gx[i] += go;
                    }
                }
                Kind::Avg => {
                    let share = go / (sh * sw) as f32;
                    for y in y0..y1 {
                        for v in &mut gx[y * g.w + x0..y * g.w + x1] {
                            *v += share;
                        }
                    }
                }
            }
        }
    }
}

impl CustomOp1 for Pool {
    fn name(&self) -> &'static str {
        match self.kind {
            Kind::Max => "max-pool2d-ceil",
            Kind::Avg => "avg-pool2d-ceil",
        }
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (planes, g) = self.geometry(l.shape())?;
        let xs = cpu_slice(s, l)?;
        let mut out = vec![0f32; planes * g.oh * g.ow];
        if self.kind == Kind::Max && self.keep_argmax && g.h * g.w <= u32::MAX as usize {
            let mut arg = vec![0u32; out.len()];
            out.par_chunks_mut(g.oh * g.ow)
                .zip(arg.par_chunks_mut(g.oh * g.ow))
                .zip(xs.par_chunks(g.h * g.w))
                .for_each(|((o, a), xp)| max_plane_argmax(&g, xp, o, a));
            if let Ok(mut slot) = self.argmax.lock() {
                *slot = Some(arg);
            }
        } else {
            out.par_chunks_mut(g.oh * g.ow)
                .zip(xs.par_chunks(g.h * g.w))
                .for_each(|(o, xp)| forward_plane(self.kind, &g, xp, o));
        }
        let (n, c, _, _) = l.shape().dims4()?;
        Ok((CpuStorage::F32(out), Shape::from((n, c, g.oh, g.ow))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (planes, g) = self.geometry(arg.shape())?;
        let grad = grad.contiguous()?;
        let saved = self.argmax.lock().ok().and_then(|mut s| s.take());
        if let Some(idx) = saved.filter(|i| i.len() == planes * g.oh * g.ow) {
            // Scatter each output's gradient to its window's first maximum.
            let (gs_guard, gl) = grad.storage_and_layout();
            let Storage::Cpu(gs) = &*gs_guard else {
                bail!("fast pooling runs on CPU tensors");
            };
            let gs = cpu_slice(gs, gl)?;
            let mut gx = vec![0f32; planes * g.h * g.w];
            gx.par_chunks_mut(g.h * g.w)
                .zip(idx.par_chunks(g.oh * g.ow))
                .zip(gs.par_chunks(g.oh * g.ow))
                .for_each(|((gxp, ip), gp)| {
                    for (&i, &v) in ip.iter().zip(gp) {
                        gxp[i as usize] += v;
                    }
                });
            drop(gs_guard);
            return Ok(Some(Tensor::from_vec(gx, arg.shape(), arg.device())?));
        }
        let (xs_guard, xl) = arg.storage_and_layout();
        let (gs_guard, gl) = grad.storage_and_layout();
        let (Storage::Cpu(xs), Storage::Cpu(gs)) = (&*xs_guard, &*gs_guard) else {
            bail!("fast pooling runs on CPU tensors");
        };
        let (xs, gs) = (cpu_slice(xs, xl)?, cpu_slice(gs, gl)?);
        let mut gx = vec![0f32; planes * g.h * g.w];
        gx.par_chunks_mut(g.h * g.w)
            .zip(xs.par_chunks(g.h * g.w))
            .zip(gs.par_chunks(g.oh * g.ow))
            .for_each(|((gxp, xp), gp)| backward_plane(self.kind, &g, xp, gp, gxp));
        drop((xs_guard, gs_guard));
        Ok(Some(Tensor::from_vec(gx, arg.shape(), arg.device())?))
    }
}

fn apply(x: &Tensor, kind: Kind, k: usize, s: usize, pad: usize) -> Result<Tensor> {
    if !x.device().is_cpu() || x.dtype() != DType::F32 {
        bail!("fast pooling runs on f32 CPU tensors");
    }
    x.contiguous()?.apply_op1(Pool {
        kind,
        k,
        s,
        pad,
        keep_argmax: x.track_op(),
        argmax: std::sync::Mutex::new(None),
    })
}

/// `MaxPool2d(k, stride=s, padding=pad, ceil_mode=True)` on a `[n, c, h, w]` f32 CPU tensor,
/// differentiable (the argmax for the backward pass is kept only for a tracked input).
pub fn max_pool2d_ceil(x: &Tensor, k: usize, s: usize, pad: usize) -> Result<Tensor> {
    apply(x, Kind::Max, k, s, pad)
}

/// `AvgPool2d(k, stride=s, padding=pad, ceil_mode=True, count_include_pad=True)` on a
/// `[n, c, h, w]` f32 CPU tensor, differentiable.
pub fn avg_pool2d_ceil(x: &Tensor, k: usize, s: usize, pad: usize) -> Result<Tensor> {
    apply(x, Kind::Avg, k, s, pad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn close(a: &Tensor, b: &Tensor, tol: f32) -> bool {
        crate::model::kernels::train::max_abs_diff(a, b) <= tol
    }

    /// Forward values equal candle's pooling kernels (the inference path on other devices);
    /// gradients equal central finite differences.
    #[test]
    fn matches_candle_forward_and_numeric_gradients() {
        use crate::model::layers::{candle_pool, Reduce};
        let dev = Device::Cpu;
        for &(h, w, k, s, pad) in &[
            (9, 9, 3, 2, 0),
            (8, 7, 3, 2, 0),
            (7, 7, 3, 1, 1),
            (6, 5, 3, 1, 1),
        ] {
            // Distinct values keep every window's maximum unique (finite differences need it).
            let n = 2 * 3 * h * w;
            let mut vals: Vec<f32> = (0..n).map(|i| ((i * 7919) % n) as f32 / n as f32).collect();
            vals.iter_mut()
                .enumerate()
                .for_each(|(i, v)| *v += (i % 3) as f32);
            let x = Tensor::from_vec(vals.clone(), (2, 3, h, w), &dev).unwrap();
            for max in [true, false] {
                if !max && s != 1 {
                    continue; // candle's avg kernel has no ceil-edge windows; see the hand test.
                }
                let f = |t: &Tensor| {
                    if max {
                        max_pool2d_ceil(t, k, s, pad)
                    } else {
                        avg_pool2d_ceil(t, k, s, pad)
                    }
                };
                let reduce = if max { Reduce::Max } else { Reduce::Avg };
                let y_ref = candle_pool(&x, k, s, pad, reduce).unwrap();
                let xv = Var::from_tensor(&x).unwrap();
                let y = f(&xv).unwrap();
                assert_eq!(y.dims(), y_ref.dims(), "{:?}", (h, w, k, s, pad, max));
                assert!(close(&y, &y_ref, 1e-6), "{:?}", (h, w, k, s, pad, max));
                let r = Tensor::randn(0f32, 1.0, y.dims(), &dev).unwrap();
                let g = (y * &r).unwrap().sum_all().unwrap().backward().unwrap();
                let g = g
                    .get(&xv)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap();
                let loss = |v: &[f32]| -> f32 {
                    let t = Tensor::from_slice(v, (2, 3, h, w), &dev).unwrap();
                    (f(&t).unwrap() * &r)
                        .unwrap()
                        .sum_all()
                        .unwrap()
                        .to_scalar()
                        .unwrap()
                };
                let eps = 1e-3;
                for i in (0..n).step_by(5) {
                    let (mut a, mut b) = (vals.clone(), vals.clone());
                    a[i] += eps;
                    b[i] -= eps;
                    let numeric = (loss(&a) - loss(&b)) / (2.0 * eps);
                    assert!(
                        (numeric - g[i]).abs() < 2e-2,
                        "{:?} at {i}: {numeric} vs {}",
                        (h, w, k, s, pad, max),
                        g[i]
                    );
                }
            }
        }
    }

    /// The argmax kernel equals a plain scan of each window (clipped edges, padding), ties
    /// included (values on a coarse grid repeat often).
    #[test]
    fn argmax_kernel_matches_a_plain_scan() {
        for &(h, w, k, s, pad) in &[(23, 31, 3, 2, 0), (12, 17, 3, 1, 1), (9, 26, 2, 2, 0)] {
            let g = PoolGrid::new(h, w, k, s, pad).unwrap();
            let x: Vec<f32> = (0..h * w).map(|i| ((i * 37) % 11) as f32).collect();
            let (mut out, mut arg) = (vec![0f32; g.oh * g.ow], vec![0u32; g.oh * g.ow]);
            max_plane_argmax(&g, &x, &mut out, &mut arg);
            for oy in 0..g.oh {
                let (y0, y1, _) = window(g.row(oy));
                for ox in 0..g.ow {
                    let (x0, x1, _) = window(g.col(ox));
                    let mut best = y0 * w + x0;
                    for y in y0..y1 {
                        for xx in x0..x1 {
                            if x[y * w + xx] > x[best] {
                                best = y * w + xx;
                            }
                        }
                    }
                    let o = oy * g.ow + ox;
                    assert_eq!((arg[o] as usize, out[o]), (best, x[best]), "{oy},{ox}");
                }
            }
        }
    }

    #[test]
    fn avg_divides_ceil_edge_windows_as_pytorch() {
        // torch.nn.AvgPool2d(3, 2, 1, ceil_mode=True)(torch.ones(1, 1, 1, 5)) →
        // [[[[0.2222, 0.3333, 0.2222]]]]: column windows [-1, 2), [1, 4), [3, 6) all divide by
        // 3 × 3 (padding counts; the last window ends exactly at the padded edge).
        let x = Tensor::ones((1, 1, 1, 5), DType::F32, &Device::Cpu).unwrap();
        let y = avg_pool2d_ceil(&x, 3, 2, 1).unwrap();
        let row: Vec<f32> = y.flatten_all().unwrap().to_vec1().unwrap();
        let expected = [2.0 / 9.0, 3.0 / 9.0, 2.0 / 9.0];
        for (a, b) in row.iter().zip(expected) {
            assert!((a - b).abs() < 1e-6, "{row:?}");
        }
    }

    #[test]
    fn max_gradient_goes_to_the_first_maximum() {
        let x = Var::from_tensor(
            &Tensor::new(&[[[[1f32, 5.0, 5.0], [0.0, 2.0, 1.0]]]], &Device::Cpu).unwrap(),
        )
        .unwrap();
        let y = max_pool2d_ceil(&x, 2, 2, 0).unwrap(); // ceil: 2 windows across 3 columns
        assert_eq!(
            y.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            vec![5.0, 5.0]
        );
        let g = y.sum_all().unwrap().backward().unwrap();
        let gx = g
            .get(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert_eq!(gx, vec![0.0, 1.0, 1.0, 0.0, 0.0, 0.0]);
    }
}
