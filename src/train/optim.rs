//! The original's optimiser (docs/ARCHITECTURE.md §6), which candle does not have: SGD with
//! momentum and L2 weight decay exactly as `torch.optim.SGD` (dampening 0, no Nesterov),
//! per-parameter learning-rate and decay multipliers (the parameter groups), step decay of the
//! learning rate, and clipping of the global gradient norm as `clip_grad_norm`. Adam
//! (`torch.optim.Adam`, L2 decay added to the gradient) is the alternative.

use crate::model::kernels::simd;
use crate::{Error, Result};
use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, Var};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Which update rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    #[default]
    Sgd,
    Adam,
}

impl std::str::FromStr for OptimizerKind {
    type Err = crate::util::UnknownName;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "sgd" => Ok(OptimizerKind::Sgd),
            "adam" => Ok(OptimizerKind::Adam),
            _ => Err(crate::util::UnknownName {
                what: "optimizer",
                got: s.to_string(),
                expected: "sgd or adam",
            }),
        }
    }
}

/// Optimiser hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimConfig {
    pub kind: OptimizerKind,
    pub momentum: f64,
    pub weight_decay: f64,
    /// Global gradient-norm limit (`--clip-gradient`); `None` disables clipping.
    pub clip_gradient: Option<f64>,
    pub adam_betas: (f64, f64),
    pub adam_eps: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            kind: OptimizerKind::Sgd,
            momentum: 0.9,
            weight_decay: 5e-4,
            clip_gradient: Some(20.0),
            adam_betas: (0.9, 0.999),
            adam_eps: 1e-8,
        }
    }
}

/// One trainable tensor and its group's multipliers.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub var: Var,
    pub lr_mult: f64,
    pub decay_mult: f64,
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    /// Global L2 norm of the gradients before clipping.
    pub grad_norm: f64,
    /// The factor the gradients were scaled by, when clipped.
    pub clip_coef: Option<f64>,
}

/// Σ v² in f64, over 8 interleaved partial sums so that the loop vectorises (a single running
/// sum must stay scalar: float addition is not associative).
struct SumOfSquares<'a>(&'a [f32]);

impl pulp::WithSimd for SumOfSquares<'_> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> f64 {
        let mut acc = [0f64; 8];
        let chunks = self.0.chunks_exact(8);
        let tail = chunks.remainder();
        for c in chunks {
            for (a, &v) in acc.iter_mut().zip(c) {
                *a += f64::from(v) * f64::from(v);
            }
        }
        let tail: f64 = tail.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        acc.iter().sum::<f64>() + tail
    }
}

/// One Adam update of a parameter in place, element by element in the order the tensor version
/// computes (no fused multiply-add, so the results are the same bits), compiled for the CPU's
/// vector width: on a fine-tuning head the update is most of a step's time.
struct AdamLoop<'a> {
    w: &'a mut [f32],
    g: &'a [f32],
    m: &'a mut [f32],
    v: &'a mut [f32],
    /// β₁, 1 − β₁, β₂, 1 − β₂, the two bias corrections, ε, the learning rate.
    k: [f32; 8],
}

impl pulp::WithSimd for AdamLoop<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let [b1, c1, b2, c2, h1, h2, eps, lr] = self.k;
        let n = self.w.len();
        let (w, g, m, v) = (self.w, &self.g[..n], &mut self.m[..n], &mut self.v[..n]);
        for i in 0..n {
            let gi = g[i];
            m[i] = m[i] * b1 + gi * c1;
            v[i] = v[i] * b2 + (gi * gi) * c2;
            let update = (m[i] * h1) / ((v[i] * h2).sqrt() + eps);
            w[i] -= update * lr;
        }
    }
}

/// One parameter's optimiser state. The CPU path keeps it as plain vectors between steps (a
/// head-only fine-tuning step is small enough that copying it in and out of tensors showed in
/// the profile); the tensor path and checkpoints convert as needed.
#[derive(Debug, Clone)]
enum Slot {
    Momentum(Tensor),
    Adam { m: Tensor, v: Tensor },
    MomentumHost(Vec<f32>),
    AdamHost { m: Vec<f32>, v: Vec<f32> },
}

impl Slot {
    /// The same state as tensors shaped like `p`.
    fn into_tensors(self, p: &Param) -> Result<Slot> {
        let t = |v: Vec<f32>| Tensor::from_vec(v, p.var.shape(), p.var.device());
        Ok(match self {
            Slot::MomentumHost(b) => Slot::Momentum(t(b)?),
            Slot::AdamHost { m, v } => Slot::Adam { m: t(m)?, v: t(v)? },
            other => other,
        })
    }
}

/// The learning rate of 0-based `epoch`: `base × 0.1^(number of steps ≤ epoch)` (the original's
/// `adjust_learning_rate`).
pub fn lr_at_epoch(base: f64, lr_steps: &[usize], epoch: usize) -> f64 {
    let decays = lr_steps.iter().filter(|&&s| epoch >= s).count();
    base * 0.1f64.powi(decays as i32)
}

/// The learning rate of optimiser step `step` (0-based, counted over the whole run) during a
/// linear warm-up of `warmup_steps` steps: `lr × (step + 1) / warmup_steps`, then `lr`.
pub fn warmup_lr(lr: f64, step: u64, warmup_steps: u64) -> f64 {
    if step >= warmup_steps {
        lr
    } else {
        lr * (step + 1) as f64 / warmup_steps as f64
    }
}

/// SGD-momentum or Adam over a list of parameters.
pub struct Optimizer {
    cfg: OptimConfig,
    params: Vec<Param>,
    state: Vec<Option<Slot>>,
    steps: u64,
}

impl Optimizer {
    /// An optimiser with empty state.
    pub fn new(params: Vec<Param>, cfg: OptimConfig) -> Self {
        let state = vec![None; params.len()];
        Optimizer {
            cfg,
            params,
            state,
            steps: 0,
        }
    }

    /// The parameters being optimised.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Global L2 norm of the parameters' gradients.
    fn grad_norm(grads: &[Option<Tensor>]) -> Result<f64> {
        let mut sq = Vec::new();
        for g in grads.iter().flatten() {
            sq.push(g.sqr()?.sum_all()?);
        }
        if sq.is_empty() {
            return Ok(0.0);
        }
        let total = Tensor::stack(&sq, 0)?.sum_all()?.to_scalar::<f32>()?;
        Ok((total as f64).sqrt())
    }

    /// One update with learning rate `lr` (before the groups' multipliers). Refuses, without
    /// touching any parameter, gradients whose norm is not finite.
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<StepReport> {
        let gs: Vec<Option<Tensor>> = self
            .params
            .iter()
            .map(|p| grads.get(p.var.as_tensor()).map(|g| g.detach()))
            .collect();
        let cpu_f32 = |t: &Tensor| t.device().is_cpu() && t.dtype() == DType::F32;
        if self.params.iter().all(|p| cpu_f32(p.var.as_tensor()))
            && gs.iter().flatten().all(cpu_f32)
        {
            return self.step_cpu(gs, lr);
        }
        self.step_tensors(gs, lr)
    }

    /// Whether to clip, given the gradient norm; refuses a norm that is not finite.
    fn clip_coef(&self, grad_norm: f64) -> Result<Option<f64>> {
        if !grad_norm.is_finite() {
            return Err(Error::Diverged(format!("the gradient norm is {grad_norm}")));
        }
        // clip_grad_norm: scale by max_norm / (norm + 1e-6) when the norm exceeds max_norm.
        Ok(match self.cfg.clip_gradient {
            Some(max) if grad_norm > max => Some(max / (grad_norm + 1e-6)),
            _ => None,
        })
    }

    /// [`Optimizer::step`] for f32 CPU parameters as plain loops over their data: the same
    /// f32 arithmetic in the same order as the tensor version, without the hundreds of small
    /// candle ops (each with its thread-pool hand-off) that cost ~100 ms per step.
    fn step_cpu(&mut self, gs: Vec<Option<Tensor>>, lr: f64) -> Result<StepReport> {
        let to_vec = |t: &Tensor| -> Result<Vec<f32>> { Ok(t.flatten_all()?.to_vec1::<f32>()?) };
        let gs: Vec<Option<Vec<f32>>> = gs
            .iter()
            .map(|g| g.as_ref().map(to_vec).transpose())
            .collect::<Result<_>>()?;
        let sq: f64 = gs.iter().flatten().map(|g| simd(SumOfSquares(g))).sum();
        let grad_norm = sq.sqrt();
        let clip_coef = self.clip_coef(grad_norm)?;
        self.steps += 1;
        let cfg = &self.cfg;
        for ((p, g), slot) in self.params.iter().zip(gs).zip(self.state.iter_mut()) {
            let Some(mut g) = g else { continue };
            let (shape, dev) = (p.var.shape(), p.var.device());
            if let Some(c) = clip_coef {
                let c = c as f32;
                g.iter_mut().for_each(|v| *v *= c);
            }
            let mut w = to_vec(p.var.as_tensor())?;
            let decay = cfg.weight_decay * p.decay_mult;
            if decay != 0.0 {
                let d = decay as f32;
                g.iter_mut().zip(&w).for_each(|(g, &w)| *g += w * d);
            }
            let lr = (lr * p.lr_mult) as f32;
            match cfg.kind {
                OptimizerKind::Sgd => {
                    let update = if cfg.momentum != 0.0 {
                        let m = cfg.momentum as f32;
                        let previous = match slot.take() {
                            Some(Slot::Momentum(b)) => Some(to_vec(&b)?),
                            Some(Slot::MomentumHost(b)) => Some(b),
                            _ => None,
                        };
                        let buf = match previous {
                            Some(mut b) => {
                                b.iter_mut().zip(&g).for_each(|(b, &g)| *b = *b * m + g);
                                b
                            }
                            None => g,
                        };
                        *slot = Some(Slot::MomentumHost(buf.clone()));
                        buf
                    } else {
                        g
                    };
                    w.iter_mut().zip(&update).for_each(|(w, &u)| *w -= u * lr);
                }
                OptimizerKind::Adam => {
                    let (b1, b2) = cfg.adam_betas;
                    let (mut m, mut v) = match slot.take() {
                        Some(Slot::Adam { m, v }) => (to_vec(&m)?, to_vec(&v)?),
                        Some(Slot::AdamHost { m, v }) => (m, v),
                        _ => (vec![0f32; g.len()], vec![0f32; g.len()]),
                    };
                    let t = self.steps as i32;
                    let (b1f, b2f, c1, c2) =
                        (b1 as f32, b2 as f32, (1.0 - b1) as f32, (1.0 - b2) as f32);
                    let (h1, h2) = (
                        (1.0 / (1.0 - b1.powi(t))) as f32,
                        (1.0 / (1.0 - b2.powi(t))) as f32,
                    );
                    let eps = cfg.adam_eps as f32;
                    simd(AdamLoop {
                        w: &mut w,
                        g: &g,
                        m: &mut m,
                        v: &mut v,
                        k: [b1f, c1, b2f, c2, h1, h2, eps, lr],
                    });
                    *slot = Some(Slot::AdamHost { m, v });
                }
            }
            p.var.set(&Tensor::from_vec(w, shape, dev)?)?;
        }
        Ok(StepReport {
            grad_norm,
            clip_coef,
        })
    }

    /// [`Optimizer::step`] through candle's tensor ops (any device).
    fn step_tensors(&mut self, gs: Vec<Option<Tensor>>, lr: f64) -> Result<StepReport> {
        let grad_norm = Self::grad_norm(&gs)?;
        let clip_coef = self.clip_coef(grad_norm)?;
        self.steps += 1;
        for ((p, g), slot) in self.params.iter().zip(gs).zip(self.state.iter_mut()) {
            let Some(mut g) = g else { continue };
            if let Some(c) = clip_coef {
                g = g.affine(c, 0.0)?;
            }
            let w = p.var.as_tensor().detach();
            let decay = self.cfg.weight_decay * p.decay_mult;
            if decay != 0.0 {
                g = (g + w.affine(decay, 0.0)?)?;
            }
            let lr = lr * p.lr_mult;
            if let Some(host) = slot.take() {
                *slot = Some(host.into_tensors(p)?);
            }
            let update = match self.cfg.kind {
                OptimizerKind::Sgd => {
                    if self.cfg.momentum != 0.0 {
                        let buf = match slot.take() {
                            Some(Slot::Momentum(b)) => (b.affine(self.cfg.momentum, 0.0)? + g)?,
                            _ => g,
                        };
                        *slot = Some(Slot::Momentum(buf.clone()));
                        buf
                    } else {
                        g
                    }
                }
                OptimizerKind::Adam => {
                    let (b1, b2) = self.cfg.adam_betas;
                    let (m, v) = match slot.take() {
                        Some(Slot::Adam { m, v }) => (m, v),
                        _ => (g.zeros_like()?, g.zeros_like()?),
                    };
                    let m = (m.affine(b1, 0.0)? + g.affine(1.0 - b1, 0.0)?)?;
                    let v = (v.affine(b2, 0.0)? + g.sqr()?.affine(1.0 - b2, 0.0)?)?;
                    let t = self.steps as i32;
                    let m_hat = m.affine(1.0 / (1.0 - b1.powi(t)), 0.0)?;
                    let v_hat = v.affine(1.0 / (1.0 - b2.powi(t)), 0.0)?;
                    *slot = Some(Slot::Adam { m, v });
                    (m_hat / v_hat.sqrt()?.affine(1.0, self.cfg.adam_eps)?)?
                }
            };
            p.var.set(&(w - update.affine(lr, 0.0)?)?)?;
        }
        Ok(StepReport {
            grad_norm,
            clip_coef,
        })
    }

    /// The optimiser's state as named tensors (for checkpoints): `momentum.{param}`, or
    /// `adam_m.{param}` and `adam_v.{param}`.
    pub fn state_tensors(&self) -> Result<Vec<(String, Tensor)>> {
        let mut out = Vec::new();
        for (p, slot) in self.params.iter().zip(&self.state) {
            let t = |v: &[f32]| Tensor::from_slice(v, p.var.shape(), p.var.device());
            let named: Vec<(&str, Tensor)> = match slot {
                None => continue,
                Some(Slot::Momentum(b)) => vec![("momentum", b.clone())],
                Some(Slot::MomentumHost(b)) => vec![("momentum", t(b)?)],
                Some(Slot::Adam { m, v }) => vec![("adam_m", m.clone()), ("adam_v", v.clone())],
                Some(Slot::AdamHost { m, v }) => vec![("adam_m", t(m)?), ("adam_v", t(v)?)],
            };
            out.extend(
                named
                    .into_iter()
                    .map(|(kind, tensor)| (format!("{kind}.{}", p.name), tensor)),
            );
        }
        Ok(out)
    }

    /// Restores what [`Optimizer::state_tensors`] saved, and the step count.
    pub fn load_state(&mut self, tensors: &HashMap<String, Tensor>, steps: u64) -> Result<()> {
        let device = self
            .params
            .first()
            .map(|p| p.var.device().clone())
            .unwrap_or(candle_core::Device::Cpu);
        let get = |key: String, p: &Param| -> Result<Option<Tensor>> {
            match tensors.get(&key) {
                None => Ok(None),
                Some(t) if t.shape() != p.var.shape() => Err(Error::Config(format!(
                    "optimizer state {key} has shape {:?}, the parameter {:?}",
                    t.dims(),
                    p.var.dims()
                ))),
                Some(t) => Ok(Some(t.to_device(&device)?)),
            }
        };
        for (p, slot) in self.params.iter().zip(self.state.iter_mut()) {
            *slot = match self.cfg.kind {
                OptimizerKind::Sgd => get(format!("momentum.{}", p.name), p)?.map(Slot::Momentum),
                OptimizerKind::Adam => {
                    match (
                        get(format!("adam_m.{}", p.name), p)?,
                        get(format!("adam_v.{}", p.name), p)?,
                    ) {
                        (Some(m), Some(v)) => Some(Slot::Adam { m, v }),
                        _ => None,
                    }
                }
            };
        }
        self.steps = steps;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_ramps_linearly_then_holds() {
        assert_eq!(warmup_lr(0.1, 0, 4), 0.025);
        assert_eq!(warmup_lr(0.1, 1, 4), 0.05);
        assert_eq!(warmup_lr(0.1, 3, 4), 0.1);
        assert_eq!(warmup_lr(0.1, 4, 4), 0.1);
        assert_eq!(warmup_lr(0.1, 0, 0), 0.1);
    }
    use candle_core::{Device, Tensor};

    fn var(v: &[f32]) -> Var {
        Var::from_tensor(&Tensor::new(v, &Device::Cpu).unwrap()).unwrap()
    }

    fn values(v: &Var) -> Vec<f32> {
        v.as_tensor().to_vec1().unwrap()
    }

    fn close(a: &[f32], b: &[f64]) -> bool {
        a.iter().zip(b).all(|(x, y)| (*x as f64 - y).abs() < 1e-6)
    }

    /// Loss = sum(c ⊙ w), so the gradient of w is c whatever w is.
    fn linear_loss(w: &Var, c: &[f32]) -> GradStore {
        let c = Tensor::new(c, &Device::Cpu).unwrap();
        (w.as_tensor() * c)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap()
    }

    #[test]
    fn sgd_momentum_and_decay_match_hand_computation() {
        // torch.optim.SGD([w], lr=0.1, momentum=0.9, weight_decay=0.01), grad = c each step:
        // d1 = c + 0.01 w0; buf1 = d1; w1 = w0 - 0.1 buf1
        // d2 = c + 0.01 w1; buf2 = 0.9 buf1 + d2; w2 = w1 - 0.1 buf2
        let (w0, c) = ([1.0f64, -2.0], [0.5f64, 0.25]);
        let d1: Vec<f64> = (0..2).map(|i| c[i] + 0.01 * w0[i]).collect();
        let w1: Vec<f64> = (0..2).map(|i| w0[i] - 0.1 * d1[i]).collect();
        let buf2: Vec<f64> = (0..2).map(|i| 0.9 * d1[i] + c[i] + 0.01 * w1[i]).collect();
        let w2: Vec<f64> = (0..2).map(|i| w1[i] - 0.1 * buf2[i]).collect();

        let w = var(&[1.0, -2.0]);
        let cfg = OptimConfig {
            weight_decay: 0.01,
            clip_gradient: None,
            ..Default::default()
        };
        let param = Param {
            name: "w".into(),
            var: w.clone(),
            lr_mult: 1.0,
            decay_mult: 1.0,
        };
        let mut opt = Optimizer::new(vec![param], cfg);
        opt.step(&linear_loss(&w, &[0.5, 0.25]), 0.1).unwrap();
        assert!(close(&values(&w), &w1), "{:?} vs {w1:?}", values(&w));
        opt.step(&linear_loss(&w, &[0.5, 0.25]), 0.1).unwrap();
        assert!(close(&values(&w), &w2), "{:?} vs {w2:?}", values(&w));
        assert_eq!(opt.steps(), 2);
    }

    #[test]
    fn groups_scale_lr_and_decay() {
        // A bias group: lr ×2, no decay, no momentum history yet: w1 = w0 - 2·lr·g.
        let b = var(&[3.0]);
        let cfg = OptimConfig {
            weight_decay: 0.5,
            clip_gradient: None,
            ..Default::default()
        };
        let param = Param {
            name: "b".into(),
            var: b.clone(),
            lr_mult: 2.0,
            decay_mult: 0.0,
        };
        let mut opt = Optimizer::new(vec![param], cfg);
        opt.step(&linear_loss(&b, &[1.0]), 0.1).unwrap();
        assert!(close(&values(&b), &[3.0 - 0.2]));
    }

    #[test]
    fn clipping_scales_to_the_global_norm() {
        // Gradients (3, 0) and (4,): global norm 5, clip at 1 → coef 1/(5+1e-6).
        let (a, b) = (var(&[0.0, 0.0]), var(&[0.0]));
        let loss = ((a.as_tensor() * Tensor::new(&[3f32, 0.0], &Device::Cpu).unwrap())
            .unwrap()
            .sum_all()
            .unwrap()
            + (b.as_tensor() * 4.0).unwrap().sum_all().unwrap())
        .unwrap();
        let grads = loss.backward().unwrap();
        let cfg = OptimConfig {
            momentum: 0.0,
            weight_decay: 0.0,
            clip_gradient: Some(1.0),
            ..Default::default()
        };
        let mk = |n: &str, v: &Var| Param {
            name: n.into(),
            var: v.clone(),
            lr_mult: 1.0,
            decay_mult: 1.0,
        };
        let mut opt = Optimizer::new(vec![mk("a", &a), mk("b", &b)], cfg);
        let r = opt.step(&grads, 1.0).unwrap();
        assert!((r.grad_norm - 5.0).abs() < 1e-6);
        let coef = 1.0 / (5.0 + 1e-6);
        assert!((r.clip_coef.unwrap() - coef).abs() < 1e-9);
        assert!(close(&values(&a), &[-3.0 * coef, 0.0]));
        assert!(close(&values(&b), &[-4.0 * coef]));
    }

    #[test]
    fn adam_matches_hand_computation_and_state_round_trips() {
        // Step 1 of Adam: m̂ = g, v̂ = g², update = lr·g/(|g| + eps) = lr·sign(g) (nearly).
        let w = var(&[1.0, 1.0]);
        let cfg = OptimConfig {
            kind: OptimizerKind::Adam,
            weight_decay: 0.0,
            clip_gradient: None,
            ..Default::default()
        };
        let mk = || Param {
            name: "w".into(),
            var: w.clone(),
            lr_mult: 1.0,
            decay_mult: 1.0,
        };
        let mut opt = Optimizer::new(vec![mk()], cfg.clone());
        opt.step(&linear_loss(&w, &[2.0, -0.5]), 0.01).unwrap();
        let e = 1e-8;
        assert!(close(
            &values(&w),
            &[1.0 - 0.01 * 2.0 / (2.0 + e), 1.0 + 0.01 * 0.5 / (0.5 + e)]
        ));
        // Step 2 from restored state equals step 2 of the original optimiser.
        let saved: HashMap<String, Tensor> = opt.state_tensors().unwrap().into_iter().collect();
        assert_eq!(saved.len(), 2);
        let start = values(&w);
        opt.step(&linear_loss(&w, &[1.0, 1.0]), 0.01).unwrap();
        let expected = values(&w);
        w.set(&Tensor::new(start.as_slice(), &Device::Cpu).unwrap())
            .unwrap();
        let mut restored = Optimizer::new(vec![mk()], cfg);
        restored.load_state(&saved, 1).unwrap();
        restored.step(&linear_loss(&w, &[1.0, 1.0]), 0.01).unwrap();
        assert_eq!(values(&w), expected);
    }

    #[test]
    fn non_finite_gradients_change_nothing() {
        let w = var(&[1.0]);
        let mut opt = Optimizer::new(
            vec![Param {
                name: "w".into(),
                var: w.clone(),
                lr_mult: 1.0,
                decay_mult: 1.0,
            }],
            OptimConfig::default(),
        );
        let e = opt.step(&linear_loss(&w, &[f32::NAN]), 0.1).unwrap_err();
        assert!(matches!(e, Error::Diverged(_)));
        assert_eq!(values(&w), vec![1.0]);
    }

    /// The plain-loop CPU step equals the tensor-op step (SGD and Adam, clipping, decay
    /// multipliers) over several steps.
    #[test]
    fn cpu_loops_match_tensor_ops() {
        for kind in [OptimizerKind::Sgd, OptimizerKind::Adam] {
            let init: Vec<Tensor> = (0..2)
                .map(|i| Tensor::randn(0f32, 1.0, (3, 4 + i), &Device::Cpu).unwrap())
                .collect();
            let cfg = OptimConfig {
                kind,
                clip_gradient: Some(2.0),
                ..Default::default()
            };
            let build = || {
                let params: Vec<Param> = init
                    .iter()
                    .enumerate()
                    .map(|(i, t)| Param {
                        name: i.to_string(),
                        var: Var::from_tensor(t).unwrap(),
                        lr_mult: 1.0 + i as f64,
                        decay_mult: i as f64,
                    })
                    .collect();
                Optimizer::new(params, cfg.clone())
            };
            let (mut fast, mut slow) = (build(), build());
            for step in 0..3 {
                let scale = Tensor::randn(0f32, 3.0, (3, 4), &Device::Cpu).unwrap();
                let loss = |o: &Optimizer| {
                    let p = o.params();
                    let a = (p[0].var.as_tensor() * &scale).unwrap().sum_all().unwrap();
                    let b = p[1].var.as_tensor().sqr().unwrap().sum_all().unwrap();
                    (a + b).unwrap().backward().unwrap()
                };
                let (gf, gs) = (loss(&fast), loss(&slow));
                let rf = fast.step(&gf, 0.05).unwrap();
                let gs: Vec<Option<Tensor>> = slow
                    .params
                    .iter()
                    .map(|p| gs.get(p.var.as_tensor()).cloned())
                    .collect();
                let rs = slow.step_tensors(gs, 0.05).unwrap();
                assert!((rf.grad_norm - rs.grad_norm).abs() < 1e-4 * rs.grad_norm.max(1.0));
                for (a, b) in fast.params().iter().zip(slow.params()) {
                    let d = (a.var.as_tensor() - b.var.as_tensor())
                        .unwrap()
                        .abs()
                        .unwrap()
                        .max_all()
                        .unwrap()
                        .to_scalar::<f32>()
                        .unwrap();
                    assert!(d < 1e-5, "{kind:?} step {step}: {d}");
                }
            }
        }
    }

    #[test]
    fn lr_steps_divide_by_ten() {
        assert_eq!(lr_at_epoch(0.001, &[15, 25], 0), 0.001);
        assert!((lr_at_epoch(0.001, &[15, 25], 15) - 1e-4).abs() < 1e-12);
        assert!((lr_at_epoch(0.001, &[15, 25], 29) - 1e-5).abs() < 1e-12);
    }
}
