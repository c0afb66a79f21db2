//! Differentiable ops with a fast CPU backward, for training: candle differentiates
//! convolutions through a slow direct-loop transposed convolution and has no pooling backward for
//! kernel ≠ stride, and a chain of full-size tensors for every ReLU, bias and concatenation. Forward results are identical to candle's; used by the model's layers only
//! when gradients are tracked on the CPU.

pub mod conv;
pub mod fused;
pub mod pool;

pub use conv::conv2d;
pub use fused::{conv_bias_relu_cat, conv_bias_relu_cat_pool, FusedConv};
pub use pool::{avg_pool2d_ceil, max_pool2d_ceil};
