//! The one matrix product every kernel uses, on the `gemm` crate (the engine behind candle's CPU
//! matmul), behind a safe interface: operands are strided views of slices, so a product can read
//! a channel slice or a transposed matrix of one buffer and write a channel slice of another,
//! and every view is checked against its slice before the unsafe call.

use ::gemm::Parallelism;

/// A read-only `rows`×`cols` matrix: element `[i, j]` at `data[i·rs + j·cs]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mat<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

/// Index one past the last element a strided view touches (0 when empty).
fn extent(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    }
}

impl<'a> Mat<'a> {
    /// The view; panics if it reaches past `data`.
    pub(crate) fn new(data: &'a [f32], (rows, cols): (usize, usize), (rs, cs): (usize, usize)) -> Self {
        let need = extent(rows, cols, rs, cs);
        assert!(
            need <= data.len(),
            "gemm operand {rows}x{cols} (strides {rs}, {cs}) needs {need} floats, has {}",
            data.len()
        );
        Mat {
            data,
            rows,
            cols,
            rs,
            cs,
        }
    }

    /// Row-major `rows`×`cols` with rows `ld` apart.
    pub(crate) fn rows(data: &'a [f32], rows: usize, cols: usize, ld: usize) -> Self {
        Mat::new(data, (rows, cols), (ld, 1))
    }
}

/// A writable row-major `rows`×`cols` matrix with rows `ld ≥ cols` apart (no two elements share
/// memory, so gemm's threads never write the same float).
#[derive(Debug)]
pub(crate) struct MatMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
    ld: usize,
}

impl<'a> MatMut<'a> {
    /// The view; panics if it reaches past `data` or its rows overlap.
    pub(crate) fn rows(data: &'a mut [f32], rows: usize, cols: usize, ld: usize) -> Self {
        let need = extent(rows, cols, ld, 1);
        assert!(
            (rows <= 1 || ld >= cols) && need <= data.len(),
            "gemm output {rows}x{cols} (row stride {ld}) does not fit {} floats",
            data.len()
        );
        MatMut {
            data,
            rows,
            cols,
            ld,
        }
    }
}

/// `dst = lhs · rhs`, or `dst += lhs · rhs` with `accumulate`. `threads > 1` lets gemm split
/// the product over rayon's pool. Panics if the shapes do not agree.
pub(crate) fn matmul(dst: MatMut, lhs: Mat, rhs: Mat, accumulate: bool, threads: usize) {
    let (m, n, k) = (dst.rows, dst.cols, lhs.cols);
    assert!(
        lhs.rows == m && rhs.rows == k && rhs.cols == n,
        "gemm shapes: [{}, {}] · [{}, {}] into [{m}, {n}]",
        lhs.rows,
        lhs.cols,
        rhs.rows,
        rhs.cols
    );
    if m == 0 || n == 0 {
        return;
    }
    let parallelism = if threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    // SAFETY: the views were checked against their slices (every addressed element exists),
    // `dst` is a unique borrow whose rows do not overlap, and the shapes agree.
    unsafe {
        ::gemm::gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr(),
            1,
            dst.ld as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_product_matches_naive() {
        let (m, n, k, lda, ldc) = (5, 3, 4, 6, 7);
        let lhs: Vec<f32> = (0..m * lda).map(|v| (v % 11) as f32 - 5.0).collect();
        let rhs: Vec<f32> = (0..k * n).map(|v| (v % 7) as f32 * 0.5).collect();
        for accumulate in [false, true] {
            let mut dst = vec![-1f32; m * ldc];
            matmul(
                MatMut::rows(&mut dst[2..], m, n, ldc),
                Mat::rows(&lhs, m, k, lda),
                Mat::rows(&rhs, k, n, n),
                accumulate,
                2,
            );
            for i in 0..m {
                for j in 0..ldc {
                    let got = dst[i * ldc + j];
                    if (2..2 + n).contains(&j) {
                        let dot: f32 = (0..k).map(|p| lhs[i * lda + p] * rhs[p * n + j - 2]).sum();
                        let want = if accumulate { dot - 1.0 } else { dot };
                        assert!((got - want).abs() < 1e-5, "{i},{j}: {got} vs {want}");
                    } else {
                        assert_eq!(got, -1.0, "wrote outside the window at {i},{j}");
                    }
                }
            }
        }
    }

    #[test]
    fn transposed_operand_needs_no_copy() {
        // rhs stored as [n, k] and read transposed.
        let (m, n, k) = (3, 4, 5);
        let lhs: Vec<f32> = (0..m * k).map(|v| v as f32 * 0.25).collect();
        let rhs_t: Vec<f32> = (0..n * k).map(|v| (v % 5) as f32 - 2.0).collect();
        let mut dst = vec![0f32; m * n];
        let rhs = Mat::new(&rhs_t, (k, n), (1, k));
        matmul(MatMut::rows(&mut dst, m, n, n), Mat::rows(&lhs, m, k, k), rhs, false, 1);
        for i in 0..m {
            for j in 0..n {
                let want: f32 = (0..k).map(|p| lhs[i * k + p] * rhs_t[j * k + p]).sum();
                assert!((dst[i * n + j] - want).abs() < 1e-5);
            }
        }
    }

    #[test]
    #[should_panic(expected = "needs")]
    fn an_operand_past_its_slice_is_refused() {
        let short = vec![0f32; 7];
        Mat::rows(&short, 2, 4, 4);
    }

    #[test]
    #[should_panic(expected = "does not fit")]
    fn overlapping_output_rows_are_refused() {
        let mut buf = vec![0f32; 16];
        MatMut::rows(&mut buf, 3, 4, 2);
    }
}
