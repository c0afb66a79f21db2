//! torchvision's squeezenet1_1 `features` (state_dict prefix `base_model.`), without its
//! classifier: `[n, 3, S, S]` → `[n, 512]` after global average pooling.

use crate::model::kernels::infer::squeezenet::SqueezeNetPlan;
use crate::model::layers::{
    conv_relu, conv_relu_cat, conv_relu_cat_max_pool, global_avg_pool, Conv,
};
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;
use std::sync::Arc;

/// Fire(in → squeeze → expand1x1 + expand3x3), outputs concatenated in that order.
#[derive(Debug, Clone)]
struct Fire {
    squeeze: Conv,
    expand1x1: Conv,
    expand3x3: Conv,
}

impl Fire {
    fn new(c_in: usize, s: usize, e1: usize, e3: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Fire {
            squeeze: Conv::new(c_in, s, 1, 1, 0, true, vb.pp("squeeze"))?,
            expand1x1: Conv::new(s, e1, 1, 1, 0, true, vb.pp("expand1x1"))?,
            expand3x3: Conv::new(s, e3, 3, 1, 1, true, vb.pp("expand3x3"))?,
        })
    }

    /// `[n, c_in, h, w]` → `[n, e1 + e3, h, w]`, then the `MaxPool2d(3, 2, ceil_mode=True)`
    /// that follows the module if `pool` (fused with the expand convolutions when training).
    fn forward(&self, x: &Tensor, pool: bool, train: bool) -> Result<Tensor> {
        let s = conv_relu(&self.squeeze, x)?;
        let expand = [&self.expand1x1, &self.expand3x3];
        if pool {
            conv_relu_cat_max_pool(&expand, &s, (3, 2), train)
        } else {
            conv_relu_cat(&expand, &s)
        }
    }
}

/// The (squeeze, expand1x1, expand3x3) convolutions of each Fire module.
fn fire_convs(fires: &[Fire]) -> Vec<[&Conv; 3]> {
    fires
        .iter()
        .map(|f| [&f.squeeze, &f.expand1x1, &f.expand3x3])
        .collect()
}

/// squeezenet1_1 features. Layer indices follow torchvision's `features` Sequential.
#[derive(Debug, Clone)]
pub struct SqueezeNet11 {
    conv0: Conv,
    fires_a: [Fire; 2],
    fires_b: [Fire; 2],
    fires_c: [Fire; 4],
    /// NHWC CPU kernels for inference, when built for it.
    fast: Option<Arc<SqueezeNetPlan>>,
}

impl SqueezeNet11 {
    /// `vb` points at `base_model`; `c_in` is 3 for RGB. `cpu_inference` also prepares the NHWC CPU kernels that
    /// [`SqueezeNet11::forward_t`] uses when not training on the CPU (the weights are then
    /// copied: they must not change afterwards).
    pub fn new(c_in: usize, vb: VarBuilder, cpu_inference: bool) -> Result<Self> {
        let mut net = SqueezeNet11 {
            conv0: Conv::new(c_in, 64, 3, 2, 0, true, vb.pp("0"))?,
            fires_a: [
                Fire::new(64, 16, 64, 64, vb.pp("3"))?,
                Fire::new(128, 16, 64, 64, vb.pp("4"))?,
            ],
            fires_b: [
                Fire::new(128, 32, 128, 128, vb.pp("6"))?,
                Fire::new(256, 32, 128, 128, vb.pp("7"))?,
            ],
            fires_c: [
                Fire::new(256, 48, 192, 192, vb.pp("9"))?,
                Fire::new(384, 48, 192, 192, vb.pp("10"))?,
                Fire::new(384, 64, 256, 256, vb.pp("11"))?,
                Fire::new(512, 64, 256, 256, vb.pp("12"))?,
            ],
            fast: None,
        };
        if cpu_inference {
            let groups = [
                fire_convs(&net.fires_a),
                fire_convs(&net.fires_b),
                fire_convs(&net.fires_c),
            ];
            net.fast = Some(Arc::new(SqueezeNetPlan::new(&net.conv0, &groups)?));
        }
        Ok(net)
    }

    /// `[n, 3, S, S]` → `[n, 512]`. Squeezenet has no BatchNorm, so `train` only selects the
    /// differentiable pooling.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        if let Some(fast) = self.fast.as_ref().filter(|_| !train && x.device().is_cpu()) {
            return fast.forward(x);
        }
        // conv0 [n, 64, 111, 111] → pool [n, 64, 55, 55]
        let mut x = conv_relu_cat_max_pool(&[&self.conv0], x, (3, 2), train)?;
        // Each group's last module is followed by a pool.
        for (group, pool) in [
            (&self.fires_a[..], true),  // [n, 128, 55, 55] → [n, 128, 27, 27]
            (&self.fires_b[..], true),  // [n, 256, 27, 27] → [n, 256, 13, 13]
            (&self.fires_c[..], false), // [n, 512, 13, 13]
        ] {
            for (i, f) in group.iter().enumerate() {
                x = f.forward(&x, pool && i + 1 == group.len(), train)?;
            }
        }
        global_avg_pool(&x) // [n, 512]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    /// The training forward (fused conv + ReLU + pool ops on tracked weights) equals the NHWC
    /// inference kernels, and yields a gradient for every weight.
    #[test]
    fn training_forward_matches_inference_kernels() -> Result<()> {
        let dev = Device::Cpu;
        let vm = VarMap::new();
        let net = SqueezeNet11::new(3, VarBuilder::from_varmap(&vm, DType::F32, &dev), true)?;
        let x = Tensor::randn(0f32, 1., (2, 3, 67, 64), &dev)?;
        let eval = net.forward_t(&x, false)?;
        let train = net.forward_t(&x, true)?;
        assert_eq!(train.dims(), &[2, 512]);
        let d = (&eval - &train)?.abs()?.max_all()?.to_scalar::<f32>()?;
        let scale = eval.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(d <= 1e-4 * scale.max(1.0), "{d} (scale {scale})");
        let grads = train.sum_all()?.backward()?;
        for v in vm.all_vars() {
            assert!(
                grads.get(v.as_tensor()).is_some(),
                "a weight has no gradient"
            );
        }
        Ok(())
    }
}
