//! The inner loop of TRN's expectation mode on the CPU: given the per-slot projections
//! `P[j, i] = W_j·relu(f_i)` of one scale, sums `relu(b + Σ_j P[j, r_j])` over a list of
//! relations r. Relations come sorted lexicographically, so consecutive ones share prefixes:
//! the running prefix sums are kept per slot and only the slots after the first changed index
//! are recomputed (about one 256-wide vector add per relation instead of k).

/// `Σ_r relu(bias + Σ_j proj[(j·n + r_j)·h ..][..h])`, a vector of `h = bias.len()` floats, on
/// the calling thread. `proj` is `[k, n, h]`; `relations` is `[R, k]` flattened, each row
/// ascending frame indices.
pub fn relu_sum(proj: &[f32], n: usize, k: usize, bias: &[f32], relations: &[u32]) -> Vec<f32> {
    let h = bias.len();
    assert_eq!(proj.len(), k * n * h, "projections are [k, n, h]");
    assert_eq!(relations.len() % k.max(1), 0, "relations are [R, k]");
    crate::model::kernels::simd(RelationSum {
        proj,
        n,
        k,
        bias,
        relations,
    })
}

/// The loop of [`relu_sum`], compiled per instruction set.
struct RelationSum<'a> {
    proj: &'a [f32],
    n: usize,
    k: usize,
    bias: &'a [f32],
    relations: &'a [u32],
}

impl pulp::WithSimd for RelationSum<'_> {
    type Output = Vec<f32>;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> Vec<f32> {
        let RelationSum {
            proj,
            n,
            k,
            bias,
            relations,
        } = self;
        let h = bias.len();
        let mut acc = vec![0f32; h];
        // prefix[j] = bias + Σ_{j' < j} P[j', r_j'] for the current relation; prefix[0] = bias.
        let mut prefix = vec![0f32; (k + 1) * h];
        prefix[..h].copy_from_slice(bias);
        let mut prev: Option<&[u32]> = None;
        for rel in relations.chunks_exact(k) {
            let first_changed = match prev {
                Some(p) => p.iter().zip(rel).position(|(a, b)| a != b).unwrap_or(k),
                None => 0,
            };
            for j in first_changed..k {
                let (done, rest) = prefix.split_at_mut((j + 1) * h);
                let src = &done[j * h..];
                let row = (j * n + rel[j] as usize) * h;
                let p = &proj[row..row + h];
                for ((d, s), v) in rest[..h].iter_mut().zip(src).zip(p) {
                    *d = s + v;
                }
            }
            for (a, v) in acc.iter_mut().zip(&prefix[k * h..]) {
                *a += v.max(0.0);
            }
            prev = Some(rel);
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_direct_sum() {
        let (n, k, h) = (6, 3, 5);
        let proj: Vec<f32> = (0..k * n * h)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.1)
            .collect();
        let bias: Vec<f32> = (0..h).map(|i| i as f32 * 0.05 - 0.1).collect();
        let rels = crate::model::consensus::trn::combinations(n, k);
        let flat: Vec<u32> = rels.iter().flatten().map(|&i| i as u32).collect();
        let got = relu_sum(&proj, n, k, &bias, &flat);
        let mut want = vec![0f32; h];
        for r in &rels {
            for o in 0..h {
                let v: f32 = bias[o] + (0..k).map(|j| proj[(j * n + r[j]) * h + o]).sum::<f32>();
                want[o] += v.max(0.0);
            }
        }
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-4, "{got:?} vs {want:?}");
        }
    }
}
