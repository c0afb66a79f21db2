//! squeezenet1_1 features on the NHWC CPU kernels: the same layers as
//! [`crate::model::backbone::squeezenet`], with each Fire module's two expand convolutions
//! writing straight into their concatenation.

use super::conv::ConvPlan;
use super::pool::max_pool;
use super::{Act, View};
use crate::model::layers::Conv;
use candle_core::{Result, Tensor};

/// One Fire module.
#[derive(Debug, Clone)]
struct FirePlan {
    squeeze: ConvPlan,
    expand1x1: ConvPlan,
    expand3x3: ConvPlan,
}

impl FirePlan {
    /// `[n, h, w, c_in]` → `[n, h, w, e1 + e3]`.
    fn forward(&self, x: View) -> Result<Act> {
        let s = self.squeeze.forward(x)?;
        let (e1, e3) = (self.expand1x1.c_out, self.expand3x3.c_out);
        let mut y = Act::for_overwrite(s.n, s.h, s.w, e1 + e3);
        self.expand1x1.forward_into(s.view(), y.out(0, e1))?;
        self.expand3x3.forward_into(s.view(), y.out(e1, e3))?;
        Ok(y)
    }
}

/// The inference plan of squeezenet1_1's features.
#[derive(Debug, Clone)]
pub struct SqueezeNetPlan {
    conv0: ConvPlan,
    /// Fire modules in three groups, each preceded by a 3×3/stride-2 max pool.
    groups: Vec<Vec<FirePlan>>,
}

impl SqueezeNetPlan {
    /// From the backbone's layers: `conv0` and the Fire modules' (squeeze, expand1x1,
    /// expand3x3) convolutions, grouped by the max pool in front of each group.
    pub fn new(conv0: &Conv, groups: &[Vec<[&Conv; 3]>]) -> Result<Self> {
        Ok(SqueezeNetPlan {
            conv0: conv0.cpu_plan(true)?,
            groups: groups
                .iter()
                .map(|g| {
                    g.iter()
                        .map(|[s, e1, e3]| {
                            Ok(FirePlan {
                                squeeze: s.cpu_plan(true)?,
                                expand1x1: e1.cpu_plan(true)?,
                                expand3x3: e3.cpu_plan(true)?,
                            })
                        })
                        .collect::<Result<Vec<_>>>()
                })
                .collect::<Result<_>>()?,
        })
    }

    /// `[n, 3, S, S]` → `[n, 512]`.
    pub fn forward(&self, frames: &Tensor) -> Result<Tensor> {
        let x = self.forward_act(Act::from_nchw(frames)?)?;
        Tensor::from_vec(x, (frames.dim(0)?, 512), frames.device())
    }

    /// `[n, S, S, 3]` → `[n, 512]` flattened.
    fn forward_act(&self, input: Act) -> Result<Vec<f32>> {
        let mut x = self.conv0.forward(input.view())?; // [n, 111, 111, 64]
        for group in &self.groups {
            x = max_pool(x.view(), 3, 2, 0)?;
            for fire in group {
                x = fire.forward(x.view())?;
            }
        } // [n, 13, 13, 512]
        Ok(x.global_avg_pool())
    }
}

#[cfg(test)]
mod tests {
    use crate::model::backbone::squeezenet::SqueezeNet11;
    use crate::model::kernels::infer::assert_same_features;
    use candle_core::{DType, Device, Result, Tensor};
    use candle_nn::{VarBuilder, VarMap};

    /// The NHWC plan computes what candle's NCHW layers compute.
    #[test]
    fn plan_matches_candle_layers() -> Result<()> {
        let dev = Device::Cpu;
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &dev);
        let fast = SqueezeNet11::new(vb.clone(), true)?;
        let slow = SqueezeNet11::new(vb, false)?;
        let x = Tensor::randn(0f32, 1., (2, 3, 67, 67), &dev)?;
        let a = fast.forward_t(&x, false)?;
        assert_eq!(a.dims(), &[2, 512]);
        assert_same_features(&a, &slow.forward_t(&x, false)?, "squeezenet1_1");
        Ok(())
    }
}
