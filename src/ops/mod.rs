//! Differentiable ops with a fast CPU backward, for training: candle differentiates
//! convolutions through a slow direct-loop transposed convolution, has no pooling backward for
//! kernel ≠ stride, and keeps a chain of full-size tensors for every ReLU, bias and
//! concatenation. Forward results are identical to candle's; used by the model's layers only
//! when gradients are tracked on the CPU.

pub mod conv;
pub mod fused;
pub mod pool;

pub use conv::conv2d;
pub use fused::{conv_bias_relu_cat_pool, FusedConv};
pub use pool::{avg_pool2d_ceil, max_pool2d_ceil};

/// Largest absolute difference between two tensors of the same shape (test helper).
#[cfg(test)]
pub(crate) fn max_abs_diff(a: &candle_core::Tensor, b: &candle_core::Tensor) -> f32 {
    (a - b)
        .and_then(|d| d.abs())
        .and_then(|d| d.flatten_all())
        .and_then(|d| d.max(0))
        .and_then(|d| d.to_scalar())
        .expect("tensors of the same shape")
}
