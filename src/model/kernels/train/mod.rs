//! Differentiable ops with a fast CPU backward, for training: candle differentiates
//! convolutions through a slow direct-loop transposed convolution, has no pooling backward for
//! kernel ≠ stride, and keeps a chain of full-size tensors for every ReLU, bias and
//! concatenation. Forward results are identical to candle's; `model::layers` uses them on the
//! CPU (the pools also for evaluation: one pass, no padded copy).

pub mod conv;
pub mod fused;
pub mod pool;

pub use conv::conv2d;
pub use fused::{conv_bias_relu_cat, conv_bias_relu_cat_pool, FusedConv};
pub use pool::{avg_pool2d_ceil, max_pool2d_ceil};

use candle_core::{bail, CpuStorage, Layout, Result};

/// The f32 data of a contiguous CPU storage region (what the ops' CPU kernels read).
pub(crate) fn cpu_slice<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => bail!("a CPU kernel needs contiguous operands"),
    }
}

/// Largest absolute difference between two tensors of the same shape, infinite on NaN (test
/// helper).
#[cfg(test)]
pub(crate) fn max_abs_diff(a: &candle_core::Tensor, b: &candle_core::Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "compared tensors differ in shape");
    let flat = |t: &candle_core::Tensor| {
        t.flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .expect("an f32 tensor")
    };
    super::max_abs_diff(&flat(a), &flat(b))
}

#[cfg(test)]
mod tests {
    use crate::model::config::{Arch, Consensus, ModelConfig};
    use crate::model::tsn::{BuildOptions, Tsn};
    use candle_core::{DType, Device, Tensor};
    use candle_nn::{Optimizer, VarBuilder, VarMap, SGD};

    /// One CPU training step (forward, backward, SGD update) of BNInception at the smallest
    /// input size the configuration accepts. There block 4e pools a 2×2 map, which the
    /// training pools once refused although inference and `ModelConfig::validate` accept it.
    #[test]
    fn bninception_trains_on_the_cpu_at_the_smallest_input_size() {
        let dev = Device::Cpu;
        let labels: Vec<String> = (0..3).map(|i| format!("g{i}")).collect();
        let mut cfg = ModelConfig::new(Arch::BnInception, Consensus::Avg, 2, labels);
        let smallest = (1..=224)
            .find(|&size| {
                cfg.input_size = size;
                cfg.resize_size = size;
                cfg.validate().is_ok()
            })
            .expect("some input size is valid");
        cfg.input_size = smallest;
        cfg.resize_size = smallest;
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &dev);
        let model = Tsn::new(&cfg, vb, BuildOptions::training(true, 0)).unwrap();
        let x = Tensor::randn(0f32, 1., (2, 2, 3, smallest, smallest), &dev).unwrap();
        let y = Tensor::new(&[0u32, 2], &dev).unwrap();
        let logits = model.forward_t(&x, true).unwrap(); // [2, 3]
        assert_eq!(logits.dims(), &[2, 3]);
        let loss = candle_nn::loss::cross_entropy(&logits, &y).unwrap();
        assert!(loss.to_scalar::<f32>().unwrap().is_finite());
        let vars = vm.all_vars();
        let before: Vec<Vec<f32>> = vars.iter().map(|v| flat(v.as_tensor())).collect();
        let grads = loss.backward().unwrap();
        // The first convolution's gradient has passed through every block, 4e's pool included.
        let conv1 = vm.data().lock().unwrap()["base_model.conv1_7x7_s2.weight"].clone();
        let g = flat(grads.get(&conv1).expect("a gradient for the first convolution"));
        assert!(g.iter().all(|v| v.is_finite()) && g.iter().any(|v| *v != 0.0));
        let mut sgd = SGD::new(vars.clone(), 0.1).unwrap();
        sgd.step(&grads).unwrap();
        let changed = (vars.iter().zip(&before))
            .filter(|(v, b)| flat(v.as_tensor()) != **b)
            .count();
        assert!(changed > vars.len() / 2, "{changed} of {} parameters moved", vars.len());
    }

    fn flat(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1().unwrap()
    }
}
