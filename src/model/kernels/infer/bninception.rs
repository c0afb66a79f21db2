//! BN-Inception features on the NHWC CPU kernels (BatchNorm folded into the convolutions): the
//! same layers as [`crate::model::backbone::bninception`], every branch of an inception block
//! writing straight into its slice of the block's concatenated output.

use super::conv::ConvPlan;
use super::pool::{avg_pool_bias_relu_into, grid, max_pool, max_pool_into};
use super::{Act, View};
use candle_core::{Result, Tensor};

/// The pooling branch of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    /// AvgPool2d(3, 1, 1, ceil, count_include_pad) then `pool_proj`.
    Avg,
    /// MaxPool2d(3, 1, 1, ceil) then `pool_proj` (block 5b).
    MaxSame,
    /// MaxPool2d(3, 2, ceil) with no projection (the stride-2 blocks 3c and 4e).
    MaxReduce,
}

/// The pool projection of a block, as it runs.
#[derive(Debug, Clone)]
enum Proj {
    /// Average pool: the projection's linear part ran inside the fused 1×1 product (pooling and
    /// a 1×1 convolution commute), so only its bias and ReLU remain, after the pool.
    Fused(Vec<f32>),
    /// Max pool then the projection (block 5b: max does not commute).
    AfterPool(ConvPlan),
    /// The stride-2 blocks: the max-pooled input is the branch.
    None,
}

/// One inception block: four branches concatenated in the order 1×1, 3×3, double 3×3, pool.
/// All 1×1 convolutions of the block input run as one product ([`BlockPlan::fused`]).
#[derive(Debug, Clone)]
pub struct BlockPlan {
    /// `_1x1` ‖ `_3x3_reduce` ‖ `_double_3x3_reduce` ‖ (linear part of `_pool_proj`).
    fused: ConvPlan,
    /// Widths of the fused parts: 1×1 (0 in the stride-2 blocks), 3×3 reduce, double reduce.
    c1: usize,
    c3r: usize,
    cdr: usize,
    /// `_3x3`
    b3: ConvPlan,
    /// `_double_3x3_1`, `_double_3x3_2`
    bd: [ConvPlan; 2],
    pool: Pool,
    proj: Proj,
}

impl BlockPlan {
    /// From the block's units: `b1` = `_1x1`, `b3` = `_3x3_reduce`, `_3x3`, `bd` =
    /// `_double_3x3_reduce`, `_double_3x3_1`, `_double_3x3_2`, `proj` = `_pool_proj`.
    pub fn new(
        b1: Option<ConvPlan>,
        b3: [ConvPlan; 2],
        bd: [ConvPlan; 3],
        pool: Pool,
        proj: Option<ConvPlan>,
    ) -> Result<Self> {
        let [b3r, b3] = b3;
        let [bdr, bd1, bd2] = bd;
        let mut parts: Vec<&ConvPlan> = b1.iter().chain([&b3r, &bdr]).collect();
        let (proj_linear, proj) = match (pool, proj) {
            (Pool::Avg, Some(p)) => {
                let (linear, bias) = p.linear_part();
                (Some(linear), Proj::Fused(bias))
            }
            (Pool::MaxSame, Some(p)) => (None, Proj::AfterPool(p)),
            (Pool::MaxReduce, None) => (None, Proj::None),
            _ => candle_core::bail!("a {pool:?} block with the wrong pool projection"),
        };
        parts.extend(proj_linear.as_ref());
        Ok(BlockPlan {
            fused: ConvPlan::concat(&parts)?,
            c1: b1.as_ref().map_or(0, |c| c.c_out),
            c3r: b3r.c_out,
            cdr: bdr.c_out,
            b3,
            bd: [bd1, bd2],
            pool,
            proj,
        })
    }

    /// `[n, h, w, c_in]` → `[n, h', w', c_out]` (h' = h, or h/2 in the stride-2 blocks).
    fn forward(&self, x: View) -> Result<Act> {
        let (oh, ow) = self.b3.out_hw(x.h, x.w)?;
        if matches!(self.proj, Proj::None) {
            let g = grid(&x, 3, 2, 0)?;
            if (g.oh, g.ow) != (oh, ow) {
                candle_core::bail!(
                    "BN-Inception: a {}x{} map gives {oh}x{ow} convolved but {}x{} pooled; this \
                     input size cannot be concatenated",
                    x.h,
                    x.w,
                    g.oh,
                    g.ow
                );
            }
        }
        let (c1, c3r, cdr) = (self.c1, self.c3r, self.cdr);
        let c3 = self.b3.c_out;
        let cd = self.bd[1].c_out;
        let cp = match &self.proj {
            Proj::Fused(bias) => bias.len(),
            Proj::AfterPool(p) => p.c_out,
            Proj::None => x.c,
        };
        let mut y = Act::for_overwrite(x.n, oh, ow, c1 + c3 + cd + cp);
        let t = self.fused.forward(x)?; // [n, h, w, c1 + c3r + cdr (+ cp)]
        if c1 > 0 {
            for (dst, src) in y.data.chunks_exact_mut(y.c).zip(t.data.chunks_exact(t.c)) {
                dst[..c1].copy_from_slice(&src[..c1]);
            }
        }
        self.b3.forward_into(t.channels(c1, c3r), y.out(c1, c3))?;
        let u = self.bd[0].forward(t.channels(c1 + c3r, cdr))?;
        self.bd[1].forward_into(u.view(), y.out(c1 + c3, cd))?;
        let off = c1 + c3 + cd;
        match &self.proj {
            Proj::Fused(bias) => {
                let projected = t.channels(c1 + c3r + cdr, cp);
                avg_pool_bias_relu_into(projected, 3, 1, 1, bias, y.out(off, cp))?;
            }
            Proj::AfterPool(proj) => {
                let pooled = max_pool(x, 3, 1, 1)?;
                proj.forward_into(pooled.view(), y.out(off, cp))?;
            }
            Proj::None => {
                max_pool_into(x, 3, 2, 0, y.out(off, cp))?;
            }
        }
        debug_assert_eq!(self.pool == Pool::Avg, matches!(self.proj, Proj::Fused(_)));
        Ok(y)
    }
}

/// The inference plan of BN-Inception's features.
#[derive(Debug, Clone)]
pub struct BnInceptionPlan {
    pub conv1: ConvPlan,
    pub conv2_reduce: ConvPlan,
    pub conv2: ConvPlan,
    pub blocks: Vec<BlockPlan>,
}

impl BnInceptionPlan {
    /// `[n, 3, S, S]` → `[n, 1024]`.
    pub fn forward(&self, frames: &Tensor) -> Result<Tensor> {
        let x = self.forward_act(Act::from_nchw(frames)?)?;
        Tensor::from_vec(x, (frames.dim(0)?, 1024), frames.device())
    }

    /// `[n, S, S, 3]` → `[n, 1024]` flattened.
    fn forward_act(&self, input: Act) -> Result<Vec<f32>> {
        let x = self.conv1.forward(input.view())?; // [n, 112, 112, 64]
        let x = max_pool(x.view(), 3, 2, 0)?; // [n, 56, 56, 64]
        let x = self.conv2_reduce.forward(x.view())?;
        let x = self.conv2.forward(x.view())?; // [n, 56, 56, 192]
        let mut x = max_pool(x.view(), 3, 2, 0)?; // [n, 28, 28, 192]
        for b in &self.blocks {
            x = b.forward(x.view())?;
        } // [n, 7, 7, 1024]
        Ok(x.global_avg_pool())
    }
}

#[cfg(test)]
mod tests {
    use crate::model::backbone::bninception::BnInception;
    use crate::model::kernels::infer::assert_same_features;
    use crate::model::layers::BnMode;
    use candle_core::{DType, Device, Result, Tensor};
    use candle_nn::{VarBuilder, VarMap};

    /// The NHWC plan computes what candle's NCHW layers compute (folded BatchNorm).
    #[test]
    fn plan_matches_candle_layers() -> Result<()> {
        let dev = Device::Cpu;
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &dev);
        let fast = BnInception::new(vb.clone(), BnMode::Folded, BnMode::Folded, true)?;
        let slow = BnInception::new(vb, BnMode::Folded, BnMode::Folded, false)?;
        // 32 is the smallest input size the configuration accepts.
        for size in [64, 32] {
            let x = Tensor::randn(0f32, 1., (2, 3, size, size), &dev)?;
            let a = fast.forward_t(&x, false)?;
            assert_eq!(a.dims(), &[2, 1024]);
            assert_same_features(&a, &slow.forward_t(&x, false)?, &format!("input {size}"));
        }
        Ok(())
    }
}
