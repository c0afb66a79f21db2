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
/// baseline x86-64 — chosen at run time by pulp (feature detection is cached by std), or for the
/// one `GESTURE_APP_SIMD` names (`avx512`, `avx2`, `scalar`; see [`simd_level`]). The crate is
/// built for baseline x86-64, where the compiler may only vectorise the kernels' loops with
/// SSE2; gemm does its own dispatch. `op`'s `with_simd` must be `#[inline(always)]`, or its body
/// is compiled without those features.
#[inline]
pub(crate) fn simd<Op: pulp::WithSimd>(op: Op) -> Op::Output {
    arch().dispatch(op)
}

/// The environment variable that caps the instruction set of the kernels' own loops, to measure
/// the AVX2 path on a machine that has AVX-512. It does not reach the `gemm` crate, which picks
/// its kernels itself: build with `--no-default-features` (no `avx512` feature) for AVX2 gemm.
pub const SIMD_ENV: &str = "GESTURE_APP_SIMD";

/// The instruction set [`simd`] runs: the CPU's best, capped by [`SIMD_ENV`]. An unknown value
/// is reported once on stderr and ignored.
fn arch() -> pulp::Arch {
    static ARCH: std::sync::OnceLock<pulp::Arch> = std::sync::OnceLock::new();
    *ARCH.get_or_init(|| {
        let best = pulp::Arch::new();
        let Ok(wanted) = std::env::var(SIMD_ENV) else {
            return best;
        };
        match wanted.trim().to_ascii_lowercase().as_str() {
            "" | "avx512" | "best" => best,
            #[cfg(target_arch = "x86_64")]
            "avx2" => match (best, pulp::x86::V3::try_new()) {
                (pulp::Arch::Scalar, _) | (_, None) => best,
                (_, Some(v3)) => pulp::Arch::V3(v3),
            },
            "scalar" => pulp::Arch::Scalar,
            other => {
                eprintln!(
                    "warning: {SIMD_ENV}={other:?} is not one of avx512, avx2, scalar; ignored"
                );
                best
            }
        }
    })
}

/// What the CPU kernels run on, for benchmark reports: the kernels' instruction set and the
/// gemm crate's (`avx512` where it was built with it and the CPU has it, else `avx2`).
pub fn simd_level() -> String {
    let kernels = match arch() {
        pulp::Arch::Scalar => "scalar",
        #[cfg(target_arch = "x86_64")]
        pulp::Arch::V3(_) => "avx2",
        _ => "avx512",
    };
    #[cfg(target_arch = "x86_64")]
    let gemm = if cfg!(feature = "avx512") && std::arch::is_x86_feature_detected!("avx512f") {
        "avx512"
    } else if std::arch::is_x86_feature_detected!("fma") {
        "avx2"
    } else {
        "scalar"
    };
    #[cfg(not(target_arch = "x86_64"))]
    let gemm = "native";
    format!("kernels {kernels}, gemm {gemm}")
}

#[cfg(test)]
mod simd_tests {
    #[test]
    fn the_level_names_both_parts() {
        let level = super::simd_level();
        assert!(
            level.starts_with("kernels ") && level.contains(", gemm "),
            "{level}"
        );
    }
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
