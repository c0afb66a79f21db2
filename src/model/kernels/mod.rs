//! The model's hand-written CPU kernels, in one place: [`infer`] runs the backbones for
//! inference in NHWC layout without autograd, [`train`] holds differentiable NCHW ops with a
//! fast backward for CPU training. They share the pooling window grid ([`geometry`]), the
//! im2col ([`im2col`]) and the matrix product ([`gemm`]); `model::layers` chooses which
//! implementation runs.

pub(crate) mod gemm;
pub mod geometry;
pub mod im2col;
pub mod infer;
pub mod train;

/// Runs `op` compiled for the best instruction set this CPU has — AVX-512, AVX2+FMA or
/// baseline x86-64 — chosen at run time by pulp (feature detection is cached by std). The crate
/// is built for baseline x86-64, where the compiler may only vectorise the kernels' loops with
/// SSE2; gemm does its own dispatch. `op`'s `with_simd` must be `#[inline(always)]`, or its body
/// is compiled without those features.
#[inline]
pub(crate) fn simd<Op: pulp::WithSimd>(op: Op) -> Op::Output {
    pulp::Arch::new().dispatch(op)
}

/// Largest absolute difference of two equally long slices, infinite where either holds a NaN
/// (so that `max_abs_diff(..) < tol` fails on NaN).
#[cfg(test)]
pub(crate) fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "compared buffers differ in length");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .map(|d| if d.is_nan() { f32::INFINITY } else { d })
        .fold(0.0, f32::max)
}
