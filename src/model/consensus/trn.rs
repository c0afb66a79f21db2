//! Multi-scale temporal relations (TRN `RelationModuleMultiScale`). For each scale k = N, N−1, …, 2
//! a relation is an ordered k-subset of frames; `fc_fusion_scales.{i}` = ReLU, Linear(k·D, 256)
//! \[`.1`\], ReLU, Linear(256, C) \[`.3`\] scores its concatenated features. The clip's score is the
//! N-frame relation plus, per smaller scale, the sum of min(3, C(N,k)) relations.
//!
//! The original draws those relations at random on every pass ([`TrnMode::Random`]). At inference
//! we use the expectation ([`TrnMode::Expectation`]): min(3, C(N,k)) × the mean over all
//! relations of the scale, deterministic and lower-variance. Where a scale has more than
//! [`MAX_RELATIONS_PER_SCALE`] relations (N > 16) a fixed, seeded, uniformly drawn set of that
//! many relations stands in for "all".
//!
//! Cost: the first Linear is linear in each frame's slot, so `W·concat(f_i1..f_ik)` =
//! Σ_j W_j·f_ij. We compute every `W_j·f_i` once ([b, k, N, 256]) and a relation is then k vector
//! additions instead of a k·D×256 product: all C(16, 8) = 12,870 relations of N = 16 cost less
//! than one naive relation per frame pair.

use crate::model::config::TrnMode;
use crate::model::kernels::gemm::{matmul, Mat, MatMut};
use crate::model::kernels::infer::{host_vec, relations::relu_sum, with_slice};
use crate::model::layers::linear;
use crate::model::layers::Dense;
use candle_core::{Device, Module, Result, Tensor};
use candle_nn::VarBuilder;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use std::borrow::Cow;
use std::sync::Mutex;

const BOTTLENECK: usize = 256;
const SUBSAMPLE: usize = 3;
/// Above this many relations in one scale, a fixed seeded subset is used for the expectation.
pub const MAX_RELATIONS_PER_SCALE: usize = 16_384;

/// One scale: its layers and its relations (frame indices, ascending within a relation).
#[derive(Debug)]
struct Scale {
    k: usize,
    fc1: Dense,
    fc2: Dense,
    relations: Vec<Vec<usize>>,
    /// How many relations the original sums for this scale.
    draws: usize,
    /// Per slot j: `[R]` indices into the `[k·N]` flattened projections (`j·N + frame`).
    gather: Vec<Tensor>,
    /// `relations` flattened to `[R, k]`, for the CPU inference loop.
    flat: Vec<u32>,
}

/// The TRNmultiscale head.
#[derive(Debug)]
pub struct TrnHead {
    n: usize,
    d: usize,
    scales: Vec<Scale>,
    mode: TrnMode,
    rng: Mutex<rand::rngs::StdRng>,
}

/// All k-subsets of 0..n in lexicographic order (itertools.combinations).
pub fn combinations(n: usize, k: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut idx: Vec<usize> = (0..k).collect();
    loop {
        out.push(idx.clone());
        let mut i = k;
        loop {
            if i == 0 {
                return out;
            }
            i -= 1;
            if idx[i] != i + n - k {
                break;
            }
            if i == 0 {
                return out;
            }
        }
        idx[i] += 1;
        for j in i + 1..k {
            idx[j] = idx[j - 1] + 1;
        }
    }
}

/// C(n, k), saturating.
pub fn binomial(n: usize, k: usize) -> u128 {
    let k = k.min(n - k);
    (0..k).fold(1u128, |acc, i| acc * (n - i) as u128 / (i + 1) as u128)
}

/// The relations standing for scale k: all of them, or a seeded uniform sample when too many.
fn relations_for(n: usize, k: usize) -> Vec<Vec<usize>> {
    if binomial(n, k) <= MAX_RELATIONS_PER_SCALE as u128 {
        return combinations(n, k);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x7e1a_7100 + (n * 64 + k) as u64);
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < MAX_RELATIONS_PER_SCALE {
        let mut pool: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = rng.random_range(i..n);
            pool.swap(i, j);
        }
        let mut rel = pool[..k].to_vec();
        rel.sort_unstable();
        seen.insert(rel);
    }
    seen.into_iter().collect()
}

fn gather_indices(
    relations: &[Vec<usize>],
    k: usize,
    n: usize,
    dev: &Device,
) -> Result<Vec<Tensor>> {
    (0..k)
        .map(|j| {
            let idx: Vec<u32> = relations.iter().map(|r| (j * n + r[j]) as u32).collect();
            Tensor::from_vec(idx, relations.len(), dev)
        })
        .collect()
}

fn flatten(relations: &[Vec<usize>]) -> Vec<u32> {
    relations.iter().flatten().map(|&i| i as u32).collect()
}

impl TrnHead {
    /// `vb` points at `consensus`. `seed` seeds the random mode's draws.
    pub fn new(
        n: usize,
        d: usize,
        classes: usize,
        mode: TrnMode,
        seed: u64,
        vb: VarBuilder,
    ) -> Result<Self> {
        let dev = vb.device().clone();
        let scales = (2..=n)
            .rev()
            .enumerate()
            .map(|(i, k)| {
                let vbi = vb.pp("fc_fusion_scales").pp(i);
                let relations = relations_for(n, k);
                let draws = (binomial(n, k).min(SUBSAMPLE as u128)) as usize;
                Ok(Scale {
                    k,
                    fc1: linear(k * d, BOTTLENECK, vbi.pp("1"))?,
                    fc2: linear(BOTTLENECK, classes, vbi.pp("3"))?,
                    gather: gather_indices(&relations, k, n, &dev)?,
                    flat: flatten(&relations),
                    relations,
                    draws,
                })
            })
            .collect::<Result<_>>()?;
        Ok(TrnHead {
            n,
            d,
            scales,
            mode,
            rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(seed)),
        })
    }

    /// Scores of a set of relations of one scale, summed with weight `weight` each:
    /// `[b, N, D]` (already ReLU'd) → `[b, C]`.
    fn relation_sum(
        &self,
        s: &Scale,
        x: &Tensor,
        gather: &[Tensor],
        weight: f64,
    ) -> Result<Tensor> {
        let (b, n, d) = x.dims3()?;
        // fc1.weight [256, k·D] → per slot [k, D, 256]
        let w = s
            .fc1
            .weight()
            .reshape((BOTTLENECK, s.k, d))?
            .permute((1, 2, 0))?
            .contiguous()?;
        // [b, 1, N, D] x [1, k, D, 256] → [b, k, N, 256] → [b, k·N, 256]
        let proj = x.unsqueeze(1)?.broadcast_matmul(&w.unsqueeze(0)?)?;
        let proj = proj.reshape((b, s.k * n, BOTTLENECK))?;
        let mut hidden = proj.index_select(&gather[0], 1)?; // [b, R, 256]
        for g in &gather[1..] {
            hidden = (hidden + proj.index_select(g, 1)?)?;
        }
        let bias = s
            .fc1
            .bias()
            .expect("fc1 has a bias")
            .reshape((1, 1, BOTTLENECK))?;
        let hidden = hidden.broadcast_add(&bias)?.relu()?; // [b, R, 256]
        let r = hidden.dim(1)?;
        // fc2 is affine, so Σ_r w·fc2(h_r) = fc2(w·Σ h_r) with the bias counted w·R times.
        let summed = (hidden.sum(1)? * weight)?; // [b, 256]
        let out = summed.matmul(&s.fc2.weight().t()?)?; // [b, C]
        let fc2_bias = s.fc2.bias().expect("fc2 has a bias");
        out.broadcast_add(&(fc2_bias * (weight * r as f64))?)
    }

    /// [`TrnHead::relation_sum`] for inference on the CPU, single-threaded (the scales run in
    /// parallel), with `xs` the ReLU'd features `[b, N, D]` on the host and `relations`
    /// flattened to `[R, k]`: the relations are summed in a loop that reuses shared prefixes
    /// ([`relu_sum`]) instead of materialising `[b, R, 256]`. Returns `[b, C]` flattened.
    fn relation_sum_cpu(
        &self,
        s: &Scale,
        xs: &[f32],
        b: usize,
        relations: &[u32],
        weight: f64,
    ) -> Result<Vec<f32>> {
        let (n, d, k) = (self.n, self.d, s.k);
        let hk = BOTTLENECK * k;
        // fc1.weight [256, k·D] read as [256·k, D]: row o·k + j is row o of slot j's W_j, so
        // q[bi·N + i, o·k + j] = (W_j·f_i)[o].
        let mut q = vec![0f32; b * n * hk];
        with_slice(&s.fc1.weight().contiguous()?, |w| {
            // xs [b·N, D] · w [256·k, D] read transposed → q [b·N, 256·k].
            let xs = Mat::rows(xs, b * n, d, d);
            let w = Mat::new(w, (d, hk), (1, d));
            matmul(MatMut::rows(&mut q, b * n, hk, hk), xs, w, false, 1);
        })?;
        let bias = host_vec(s.fc1.bias().expect("fc1 has a bias"))?;
        let fc2_w = host_vec(s.fc2.weight())?; // [C, 256]
        let fc2_b = host_vec(s.fc2.bias().expect("fc2 has a bias"))?;
        let c = fc2_b.len();
        let r = (relations.len() / k) as f32;
        let weight = weight as f32;
        let mut out = vec![0f32; b * c];
        let mut proj = vec![0f32; k * n * BOTTLENECK]; // [k, N, 256]
        for (bi, out) in out.chunks_exact_mut(c).enumerate() {
            for i in 0..n {
                let qrow = &q[(bi * n + i) * hk..][..hk];
                for (o, per_slot) in qrow.chunks_exact(k).enumerate() {
                    for (j, v) in per_slot.iter().enumerate() {
                        proj[(j * n + i) * BOTTLENECK + o] = *v;
                    }
                }
            }
            let hidden = relu_sum(&proj, n, k, &bias, relations); // [256]
                                                                  // fc2 is affine: Σ_r w·fc2(h_r) = w·(W2·Σ_r h_r + R·b2).
            for ((o, row), b2) in out
                .iter_mut()
                .zip(fc2_w.chunks_exact(BOTTLENECK))
                .zip(&fc2_b)
            {
                let dot: f32 = row.iter().zip(&hidden).map(|(a, h)| a * h).sum();
                *o = weight * (dot + r * b2);
            }
        }
        Ok(out)
    }

    /// Every scale but the full-length one on the CPU, the scales in parallel: `[b, N, D]`
    /// (ReLU'd) → `[b, C]`.
    fn smaller_scales_cpu(&self, x: &Tensor) -> Result<Tensor> {
        let b = x.dim(0)?;
        let xs = host_vec(x)?;
        let jobs: Vec<(&Scale, Cow<[u32]>, f64)> = self.scales[1..]
            .iter()
            .map(|s| match self.mode {
                TrnMode::Expectation => {
                    let weight = s.draws as f64 / s.relations.len() as f64;
                    (s, Cow::Borrowed(s.flat.as_slice()), weight)
                }
                TrnMode::Random => (s, Cow::Owned(flatten(&self.draw(s))), 1.0),
            })
            .collect();
        let parts = jobs
            .par_iter()
            .map(|(s, rels, w)| self.relation_sum_cpu(s, &xs, b, rels, *w))
            .collect::<Result<Vec<_>>>()?;
        let c = parts.first().map_or(0, |p| p.len() / b.max(1));
        let mut total = vec![0f32; b * c];
        for p in parts {
            total.iter_mut().zip(p).for_each(|(t, v)| *t += v);
        }
        Tensor::from_vec(total, (b, c), x.device())
    }

    /// `[b, N, D]` → `[b, C]`. Training follows the configured mode; the original draws at random.
    /// Without training on the CPU, the relation sums run in `TrnHead::smaller_scales_cpu`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let (b, n, d) = x.dims3()?;
        if n != self.n || d != self.d {
            candle_core::bail!(
                "TRN head built for [_, {}, {}], got {:?}",
                self.n,
                self.d,
                x.dims()
            );
        }
        let x = x.relu()?;
        // The full-length relation: all frames in order.
        let top = &self.scales[0];
        let mut acc = top
            .fc2
            .forward(&top.fc1.forward(&x.reshape((b, n * d))?)?.relu()?)?;
        if self.scales.len() == 1 {
            // N = 2: the full-length relation is the only one.
            return Ok(acc);
        }
        if !train && x.device().is_cpu() {
            return acc + self.smaller_scales_cpu(&x)?;
        }
        for s in &self.scales[1..] {
            let scores = match self.mode {
                TrnMode::Expectation => {
                    let weight = s.draws as f64 / s.relations.len() as f64;
                    self.relation_sum(s, &x, &s.gather, weight)?
                }
                TrnMode::Random => {
                    let picked = self.draw(s);
                    let gather = gather_indices(&picked, s.k, n, x.device())?;
                    self.relation_sum(s, &x, &gather, 1.0)?
                }
            };
            acc = (acc + scores)?;
        }
        Ok(acc)
    }

    /// `draws` distinct relations of the scale, at random (np.random.choice without replacement).
    fn draw(&self, s: &Scale) -> Vec<Vec<usize>> {
        let all = combinations(self.n, s.k);
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        rand::seq::index::sample(&mut *rng, all.len(), s.draws)
            .into_iter()
            .map(|i| all[i].clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;

    #[test]
    fn combinations_match_itertools() {
        assert_eq!(
            combinations(4, 2),
            vec![
                vec![0, 1],
                vec![0, 2],
                vec![0, 3],
                vec![1, 2],
                vec![1, 3],
                vec![2, 3]
            ]
        );
        assert_eq!(combinations(3, 3), vec![vec![0, 1, 2]]);
        assert_eq!(combinations(16, 8).len(), 12_870);
        assert_eq!(binomial(32, 16), 601_080_390);
        assert_eq!(relations_for(32, 16).len(), MAX_RELATIONS_PER_SCALE);
    }

    /// The decomposed relation sum (candle ops when training, the CPU loop otherwise) equals
    /// scoring each relation with the plain layers.
    #[test]
    fn expectation_equals_naive_mean_over_relations() -> Result<()> {
        let dev = Device::Cpu;
        let (n, d, c) = (5, 6, 4);
        let vm = candle_nn::VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &dev);
        let head = TrnHead::new(n, d, c, TrnMode::Expectation, 0, vb.pp("consensus"))?;
        let x = Tensor::randn(0f32, 1., (2, n, d), &dev)?;
        let xr = x.relu()?;
        let mut want = Tensor::zeros((2, c), DType::F32, &dev)?;
        for s in &head.scales {
            let rels = combinations(n, s.k);
            let weight = if s.k == n {
                1.0
            } else {
                s.draws as f64 / rels.len() as f64
            };
            for r in &rels {
                let idx =
                    Tensor::from_vec(r.iter().map(|&i| i as u32).collect::<Vec<_>>(), s.k, &dev)?;
                let feats = xr.index_select(&idx, 1)?.reshape((2, s.k * d))?;
                let score = s.fc2.forward(&s.fc1.forward(&feats)?.relu()?)?;
                want = (want + (score * weight)?)?;
            }
        }
        for train in [false, true] {
            let got = head.forward_t(&x, train)?;
            let diff = (got - &want)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert!(diff < 1e-4, "train={train}: diff {diff}");
        }
        Ok(())
    }

    #[test]
    fn random_mode_sums_three_relations() -> Result<()> {
        let dev = Device::Cpu;
        let vm = candle_nn::VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &dev);
        let head = TrnHead::new(8, 4, 3, TrnMode::Random, 7, vb)?;
        let picked = head.draw(&head.scales[3]);
        assert_eq!(picked.len(), 3);
        let x = Tensor::randn(0f32, 1., (1, 8, 4), &dev)?;
        assert_eq!(head.forward_t(&x, true)?.dims(), &[1, 3]);
        Ok(())
    }
}
