//! Matrix products through [`crate::gemm`] (an AVX-512 kernel on two threads where the CPU has
//! it, `matrixmultiply` elsewhere; see `docs/BENCHMARKS.md`). Transposed operands are strided
//! views: nothing is copied before the kernel packs its blocks. Outputs start on a cache line
//! and are not zeroed first.

use std::mem::MaybeUninit;

use ndarray::s;

use super::CpuStorage;
use crate::gemm::{MatRef, gemm_uninit};
use ember_tensor::ops::MatmulDims;
use ember_tensor::{Error, Result};

pub(super) fn matmul(a: &CpuStorage, b: &CpuStorage, dims: MatmulDims) -> Result<CpuStorage> {
    let MatmulDims {
        m,
        k,
        n,
        trans_a,
        trans_b,
    } = dims;
    let a = operand(a, m, k, trans_a)?;
    let b = operand(b, k, n, trans_b)?;
    aligned_output(m * n, |c| gemm_uninit(a, b, c))
}

/// A product's `len` outputs, written by `write` (which must write every element when it
/// succeeds). The output starts on a cache line (two threads then never write the same line of
/// a row whose length is a multiple of 16, and the kernel's stores never straddle two lines:
/// 15–30 % faster on the training shapes), and is not zeroed first.
fn aligned_output(
    len: usize,
    write: impl FnOnce(&mut [MaybeUninit<f32>]) -> Result<()>,
) -> Result<CpuStorage> {
    let mut c: Vec<f32> = Vec::with_capacity(len + CACHE_LINE_FLOATS - 1);
    let offset = c.as_ptr().align_offset(CACHE_LINE_FLOATS * 4);
    let offset = if offset < CACHE_LINE_FLOATS {
        offset
    } else {
        0
    };
    let spare = c.spare_capacity_mut();
    spare[..offset].fill(MaybeUninit::new(0.0));
    write(&mut spare[offset..offset + len])?;
    // SAFETY: the first `offset` elements were written above, and `write` succeeded, so the
    // next `len` are initialised too.
    unsafe { c.set_len(offset + len) };
    Ok(CpuStorage::from(c).slice_move(s![offset..]))
}

/// Floats per 64-byte cache line.
const CACHE_LINE_FLOATS: usize = 16;

/// The `rows × cols` operand stored row-major, or stored as its transpose when `transposed`.
pub(super) fn operand(
    x: &CpuStorage,
    rows: usize,
    cols: usize,
    transposed: bool,
) -> Result<MatRef<'_>> {
    let data = x.as_slice().ok_or_else(|| Error::Device {
        op: "matmul",
        message: "operand is not contiguous".to_string(),
    })?;
    if data.len() != rows * cols {
        return Err(Error::Device {
            op: "matmul",
            message: format!("cannot view {} elements as {rows}×{cols}", data.len()),
        });
    }
    MatRef::stored(data, rows, cols, transposed)
}
