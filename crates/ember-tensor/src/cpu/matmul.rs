//! Matrix products through ndarray's GEMM (`general_mat_mul`, backed by `matrixmultiply`'s
//! single-threaded AVX-512 kernels: on the training shapes one thread was as fast as two, and
//! twice as fast for `softmax`'s small products; see `docs/BENCHMARKS.md`).

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2};

use super::CpuStorage;
use crate::ops::MatmulDims;
use crate::{Error, Result};

pub(super) fn matmul(a: &CpuStorage, b: &CpuStorage, dims: MatmulDims) -> Result<CpuStorage> {
    let MatmulDims {
        m,
        k,
        n,
        trans_a,
        trans_b,
    } = dims;
    let a_stored = if trans_a { (k, m) } else { (m, k) };
    let b_stored = if trans_b { (n, k) } else { (k, n) };
    let a = matrix(a, a_stored)?;
    let b = matrix(b, b_stored)?;
    let a = if trans_a { a.reversed_axes() } else { a };
    let b = if trans_b { b.reversed_axes() } else { b };
    let mut c = Array2::<f32>::zeros((m, n));
    general_mat_mul(1.0, &a, &b, 0.0, &mut c);
    Ok(c.into_shape_with_order(m * n)
        .map_err(|e| Error::Device {
            op: "matmul",
            message: e.to_string(),
        })?
        .into_shared())
}

fn matrix(x: &CpuStorage, dims: (usize, usize)) -> Result<ArrayView2<'_, f32>> {
    x.view()
        .into_shape_with_order(dims)
        .map_err(|e| Error::Device {
            op: "matmul",
            message: format!("cannot view {} elements as {dims:?}: {e}", x.len()),
        })
}
