//! The one matrix product the CPU kernels need, on the `gemm` crate (the engine behind candle's
//! CPU matmul): strided row-major operands, so a product can read a channel slice of one buffer
//! and write into a channel slice of another.

use ::gemm::Parallelism;

/// `dst[i, j] = Σ_p lhs[i, p] · rhs[p, j]` for `i < m`, `j < n`, `p < k`, where row `i` of `lhs`
/// starts at `lhs + i·lda`, row `p` of `rhs` at `rhs[p·n]` (row-major `[k, n]`), and row `i` of
/// `dst` at `dst + i·ldc`. `threads > 1` lets gemm split the product over rayon's pool.
///
/// # Safety
/// `lhs` must be readable for `(m−1)·lda + k` floats and `dst` writable for `(m−1)·ldc + n`
/// floats, with no other thread touching those `dst` rows meanwhile.
#[allow(clippy::too_many_arguments)]
pub unsafe fn matmul(
    m: usize,
    n: usize,
    k: usize,
    lhs: *const f32,
    lda: usize,
    rhs: &[f32],
    dst: *mut f32,
    ldc: usize,
    threads: usize,
) {
    debug_assert!(rhs.len() >= k * n);
    matmul_strided(m, n, k, lhs, lda, rhs.as_ptr(), n, 1, dst, ldc, threads);
}

/// [`matmul`] with any `rhs` layout: element `[p, j]` at `rhs + p·rhs_rs + j·rhs_cs` (a
/// transposed weight matrix needs no copy).
///
/// # Safety
/// As [`matmul`], and `rhs` readable at every such offset for `p < k`, `j < n`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn matmul_strided(
    m: usize,
    n: usize,
    k: usize,
    lhs: *const f32,
    lda: usize,
    rhs: *const f32,
    rhs_rs: usize,
    rhs_cs: usize,
    dst: *mut f32,
    ldc: usize,
    threads: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    let parallelism = if threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    ::gemm::gemm(
        m,
        n,
        k,
        dst,
        1,
        ldc as isize,
        false,
        lhs,
        1,
        lda as isize,
        rhs,
        rhs_cs as isize,
        rhs_rs as isize,
        0.0,
        1.0,
        false,
        false,
        false,
        parallelism,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_product_matches_naive() {
        let (m, n, k, lda, ldc) = (5, 3, 4, 6, 7);
        let lhs: Vec<f32> = (0..m * lda).map(|v| (v % 11) as f32 - 5.0).collect();
        let rhs: Vec<f32> = (0..k * n).map(|v| (v % 7) as f32 * 0.5).collect();
        let mut dst = vec![-1f32; m * ldc];
        unsafe {
            matmul(
                m,
                n,
                k,
                lhs.as_ptr(),
                lda,
                &rhs,
                dst.as_mut_ptr().add(2),
                ldc,
                2,
            )
        };
        for i in 0..m {
            for j in 0..ldc {
                let got = dst[i * ldc + j];
                if (2..2 + n).contains(&j) {
                    let want: f32 = (0..k).map(|p| lhs[i * lda + p] * rhs[p * n + j - 2]).sum();
                    assert!((got - want).abs() < 1e-5, "{i},{j}: {got} vs {want}");
                } else {
                    assert_eq!(got, -1.0, "wrote outside the window at {i},{j}");
                }
            }
        }
    }
}
