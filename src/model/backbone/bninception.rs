//! pretrainedmodels' `bninception` (layer names `conv1_7x7_s2`, `inception_3a_1x1_bn`, ...; state_dict
//! prefix `base_model.`), without `last_linear`: `[n, 3, S, S]` (BGR, 0..255 minus mean) →
//! `[n, 1024]` after global average pooling.

use crate::model::kernels::infer::bninception::{BlockPlan, BnInceptionPlan, Pool};
use crate::model::kernels::infer::conv::ConvPlan;
use crate::model::layers::{
    avg_pool_include_pad, global_avg_pool, max_pool_ceil, BnMode, ConvBnRelu,
};
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;
use std::sync::Arc;

/// Channel plan of one inception block.
pub(crate) struct BlockSpec {
    pub(crate) name: &'static str,
    pub(crate) c_in: usize,
    /// `_1x1` branch width (None for the stride-2 blocks 3c and 4e).
    pub(crate) c1: Option<usize>,
    pub(crate) c3_reduce: usize,
    pub(crate) c3: usize,
    pub(crate) cd_reduce: usize,
    pub(crate) cd: usize,
    pub(crate) pool: PoolKind,
    /// `_pool_proj` width (None for the stride-2 blocks).
    pub(crate) proj: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum PoolKind {
    /// AvgPool2d(3, 1, 1, ceil, count_include_pad)
    Avg,
    /// MaxPool2d(3, 1, 1, ceil) — only 5b
    MaxSame,
    /// MaxPool2d(3, 2, ceil) in the reduction blocks, whose 3×3 convs have stride 2
    MaxReduce,
}

pub(crate) const BLOCKS: [BlockSpec; 10] = [
    BlockSpec {
        name: "3a",
        c_in: 192,
        c1: Some(64),
        c3_reduce: 64,
        c3: 64,
        cd_reduce: 64,
        cd: 96,
        pool: PoolKind::Avg,
        proj: Some(32),
    },
    BlockSpec {
        name: "3b",
        c_in: 256,
        c1: Some(64),
        c3_reduce: 64,
        c3: 96,
        cd_reduce: 64,
        cd: 96,
        pool: PoolKind::Avg,
        proj: Some(64),
    },
    BlockSpec {
        name: "3c",
        c_in: 320,
        c1: None,
        c3_reduce: 128,
        c3: 160,
        cd_reduce: 64,
        cd: 96,
        pool: PoolKind::MaxReduce,
        proj: None,
    },
    BlockSpec {
        name: "4a",
        c_in: 576,
        c1: Some(224),
        c3_reduce: 64,
        c3: 96,
        cd_reduce: 96,
        cd: 128,
        pool: PoolKind::Avg,
        proj: Some(128),
    },
    BlockSpec {
        name: "4b",
        c_in: 576,
        c1: Some(192),
        c3_reduce: 96,
        c3: 128,
        cd_reduce: 96,
        cd: 128,
        pool: PoolKind::Avg,
        proj: Some(128),
    },
    BlockSpec {
        name: "4c",
        c_in: 576,
        c1: Some(160),
        c3_reduce: 128,
        c3: 160,
        cd_reduce: 128,
        cd: 160,
        pool: PoolKind::Avg,
        proj: Some(128),
    },
    BlockSpec {
        name: "4d",
        c_in: 608,
        c1: Some(96),
        c3_reduce: 128,
        c3: 192,
        cd_reduce: 160,
        cd: 192,
        pool: PoolKind::Avg,
        proj: Some(128),
    },
    BlockSpec {
        name: "4e",
        c_in: 608,
        c1: None,
        c3_reduce: 128,
        c3: 192,
        cd_reduce: 192,
        cd: 256,
        pool: PoolKind::MaxReduce,
        proj: None,
    },
    BlockSpec {
        name: "5a",
        c_in: 1056,
        c1: Some(352),
        c3_reduce: 192,
        c3: 320,
        cd_reduce: 160,
        cd: 224,
        pool: PoolKind::Avg,
        proj: Some(128),
    },
    BlockSpec {
        name: "5b",
        c_in: 1024,
        c1: Some(352),
        c3_reduce: 192,
        c3: 320,
        cd_reduce: 192,
        cd: 224,
        pool: PoolKind::MaxSame,
        proj: Some(128),
    },
];

/// `name` and `name_bn` under `vb`, as one conv+BN+ReLU unit.
fn unit(
    c_in: usize,
    c_out: usize,
    k: usize,
    stride: usize,
    name: &str,
    bn: BnMode,
    vb: &VarBuilder,
) -> Result<ConvBnRelu> {
    ConvBnRelu::new(
        c_in,
        c_out,
        k,
        stride,
        k / 2,
        bn,
        vb.pp(name),
        vb.pp(format!("{name}_bn")),
    )
}

#[derive(Debug, Clone)]
struct Block {
    b1: Option<ConvBnRelu>,
    b3: [ConvBnRelu; 2],
    bd: [ConvBnRelu; 3],
    pool: PoolKind,
    proj: Option<ConvBnRelu>,
}

impl Block {
    fn new(s: &BlockSpec, bn: BnMode, vb: &VarBuilder) -> Result<Self> {
        let p = |suffix: &str| format!("inception_{}_{suffix}", s.name);
        let stride = if s.pool == PoolKind::MaxReduce { 2 } else { 1 };
        Ok(Block {
            b1: match s.c1 {
                Some(c) => Some(unit(s.c_in, c, 1, 1, &p("1x1"), bn, vb)?),
                None => None,
            },
            b3: [
                unit(s.c_in, s.c3_reduce, 1, 1, &p("3x3_reduce"), bn, vb)?,
                unit(s.c3_reduce, s.c3, 3, stride, &p("3x3"), bn, vb)?,
            ],
            bd: [
                unit(s.c_in, s.cd_reduce, 1, 1, &p("double_3x3_reduce"), bn, vb)?,
                unit(s.cd_reduce, s.cd, 3, 1, &p("double_3x3_1"), bn, vb)?,
                unit(s.cd, s.cd, 3, stride, &p("double_3x3_2"), bn, vb)?,
            ],
            pool: s.pool,
            proj: match s.proj {
                Some(c) => Some(unit(s.c_in, c, 1, 1, &p("pool_proj"), bn, vb)?),
                None => None,
            },
        })
    }

    fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut outs = Vec::with_capacity(4);
        if let Some(b1) = &self.b1 {
            outs.push(b1.forward_t(x, train)?);
        }
        let y = self.b3[0].forward_t(x, train)?;
        outs.push(self.b3[1].forward_t(&y, train)?);
        let mut y = self.bd[0].forward_t(x, train)?;
        for u in &self.bd[1..] {
            y = u.forward_t(&y, train)?;
        }
        outs.push(y);
        let pooled = match self.pool {
            PoolKind::Avg => avg_pool_include_pad(x, 3, 1, 1, train)?,
            PoolKind::MaxSame => max_pool_ceil(x, 3, 1, 1, train)?,
            PoolKind::MaxReduce => max_pool_ceil(x, 3, 2, 0, train)?,
        };
        outs.push(match &self.proj {
            Some(proj) => proj.forward_t(&pooled, train)?,
            None => pooled,
        });
        Tensor::cat(&outs, 1)
    }

    /// The block on the NHWC CPU kernels (folded BatchNorm only).
    fn cpu_plan(&self) -> Result<BlockPlan> {
        let opt = |u: &Option<ConvBnRelu>| u.as_ref().map(plan).transpose();
        BlockPlan::new(
            opt(&self.b1)?,
            [plan(&self.b3[0])?, plan(&self.b3[1])?],
            [plan(&self.bd[0])?, plan(&self.bd[1])?, plan(&self.bd[2])?],
            match self.pool {
                PoolKind::Avg => Pool::Avg,
                PoolKind::MaxSame => Pool::MaxSame,
                PoolKind::MaxReduce => Pool::MaxReduce,
            },
            opt(&self.proj)?,
        )
    }
}

/// A unit as a CPU kernel; fails unless its BatchNorm is folded.
fn plan(u: &ConvBnRelu) -> Result<ConvPlan> {
    u.cpu_plan()?
        .ok_or_else(|| candle_core::Error::msg("CPU inference kernels need folded BatchNorm"))
}

/// BN-Inception features.
#[derive(Debug, Clone)]
pub struct BnInception {
    conv1: ConvBnRelu,
    conv2_reduce: ConvBnRelu,
    conv2: ConvBnRelu,
    blocks: Vec<Block>,
    /// NHWC CPU kernels for inference, when built for it.
    fast: Option<Arc<BnInceptionPlan>>,
}

impl BnInception {
    /// `vb` points at `base_model`; `c_in` is 3 for RGB. With partial BN (`first_bn` Trainable, `rest_bn` Frozen) only
    /// the first BatchNorm trains, as in the original. `cpu_inference` (folded BatchNorm only) also
    /// prepares the NHWC CPU kernels that [`BnInception::forward_t`] uses when not training on
    /// the CPU (the weights are then copied: they must not change afterwards).
    pub fn new(
        c_in: usize,
        vb: VarBuilder,
        first_bn: BnMode,
        rest_bn: BnMode,
        cpu_inference: bool,
    ) -> Result<Self> {
        let mut net = BnInception {
            conv1: unit(c_in, 64, 7, 2, "conv1_7x7_s2", first_bn, &vb)?,
            conv2_reduce: unit(64, 64, 1, 1, "conv2_3x3_reduce", rest_bn, &vb)?,
            conv2: unit(64, 192, 3, 1, "conv2_3x3", rest_bn, &vb)?,
            blocks: BLOCKS
                .iter()
                .map(|s| Block::new(s, rest_bn, &vb))
                .collect::<Result<_>>()?,
            fast: None,
        };
        if cpu_inference {
            net.fast = Some(Arc::new(BnInceptionPlan {
                conv1: plan(&net.conv1)?,
                conv2_reduce: plan(&net.conv2_reduce)?,
                conv2: plan(&net.conv2)?,
                blocks: net
                    .blocks
                    .iter()
                    .map(Block::cpu_plan)
                    .collect::<Result<_>>()?,
            }));
        }
        Ok(net)
    }

    /// `[n, 3, S, S]` → `[n, 1024]`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        if let Some(fast) = self.fast.as_ref().filter(|_| !train && x.device().is_cpu()) {
            return fast.forward(x);
        }
        let x = self.conv1.forward_t(x, train)?; // [n, 64, 112, 112]
        let x = max_pool_ceil(&x, 3, 2, 0, train)?; // [n, 64, 56, 56]
        let x = self.conv2_reduce.forward_t(&x, train)?;
        let x = self.conv2.forward_t(&x, train)?; // [n, 192, 56, 56]
        let mut x = max_pool_ceil(&x, 3, 2, 0, train)?; // [n, 192, 28, 28]
        for b in &self.blocks {
            x = b.forward_t(&x, train)?;
        } // [n, 1024, 7, 7]
        global_avg_pool(&x) // [n, 1024]
    }
}

/// The conv layer names whose BatchNorm is `{name}_bn`, for folding BN at load time.
pub fn conv_bn_pairs() -> Vec<String> {
    let mut names = vec![
        "conv1_7x7_s2".to_string(),
        "conv2_3x3_reduce".to_string(),
        "conv2_3x3".to_string(),
    ];
    for s in &BLOCKS {
        let mut suffixes = vec![];
        if s.c1.is_some() {
            suffixes.push("1x1");
        }
        suffixes.extend([
            "3x3_reduce",
            "3x3",
            "double_3x3_reduce",
            "double_3x3_1",
            "double_3x3_2",
        ]);
        if s.proj.is_some() {
            suffixes.push("pool_proj");
        }
        names.extend(suffixes.iter().map(|x| format!("inception_{}_{x}", s.name)));
    }
    names
}
