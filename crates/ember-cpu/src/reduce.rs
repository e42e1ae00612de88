//! Reductions along one axis. Sums over an outer axis accumulate whole rows, in ndarray's
//! order, without temporaries; long sums over the innermost axis (bias gradients) use both
//! threads, each output summed by one of them in a fixed order.

use ndarray::{ArcArray1, ArrayView1, Axis};

use super::elementwise::dyn_view;
use super::simd::multiversion;
use super::{CpuStorage, PARALLEL_MIN_LEN};
use ember_tensor::ops::ReduceOp;
use ember_tensor::{Result, Shape};

pub(super) fn reduce(
    op: ReduceOp,
    x: &CpuStorage,
    shape: &Shape,
    axis: usize,
) -> Result<CpuStorage> {
    let dims = shape.dims();
    let inner: usize = dims.get(axis + 1..).map_or(1, |d| d.iter().product());
    let summed = matches!(op, ReduceOp::Sum | ReduceOp::Mean);
    if let Some(values) = x
        .as_slice()
        .filter(|v| summed && inner > 1 && v.len() == shape.numel())
    {
        let len = dims[axis];
        let outer: usize = dims[..axis].iter().product();
        let mut out = sum_outer_axis(values, outer, len, inner);
        if op == ReduceOp::Mean {
            out.iter_mut().for_each(|s| *s /= len as f32);
        }
        return Ok(ArcArray1::from(out));
    }
    if let Some(values) = x
        .as_slice()
        .filter(|v| op == ReduceOp::Sum && inner == 1 && v.len() == shape.numel())
        .filter(|v| v.len() >= PARALLEL_MIN_LEN && dims[axis] > 0)
    {
        // The innermost axis (a bias gradient's pixels): each lane summed alone, as ndarray's
        // `sum_axis` sums it (`lane.sum()`), the lanes split between the threads.
        let len = dims[axis];
        let lanes = values.len() / len;
        let sum_lanes = |first: usize, out: &mut [f32]| {
            for (i, sum) in out.iter_mut().enumerate() {
                *sum = ArrayView1::from(&values[(first + i) * len..][..len]).sum();
            }
        };
        let mut out = vec![0.0f32; lanes];
        let (a, b) = out.split_at_mut(lanes / 2);
        crate::parallel::join(|| sum_lanes(0, a), || sum_lanes(lanes / 2, b));
        return Ok(ArcArray1::from(out));
    }
    let view = dyn_view(x, shape)?;
    let reduced = match op {
        ReduceOp::Sum => view.sum_axis(Axis(axis)),
        ReduceOp::Mean => {
            let n = shape.dims()[axis];
            view.sum_axis(Axis(axis)).mapv(|s| s / n as f32)
        }
        ReduceOp::Max => view.fold_axis(Axis(axis), f32::NEG_INFINITY, |&acc, &v| {
            if v > acc || v.is_nan() { v } else { acc }
        }),
    };
    Ok(ArcArray1::from(
        reduced.iter().copied().collect::<Vec<f32>>(),
    ))
}

multiversion! {
    /// Sum along an axis that is not the innermost (a bias gradient: the rows of a batch): whole
    /// rows are accumulated in axis order, the order ndarray's `sum_axis` uses for such an axis,
    /// so the result is the same bits, without its temporary array per row.
    pub(super) fn sum_outer_axis(values: &[f32], outer: usize, len: usize, inner: usize) -> Vec<f32> {
        let mut out = vec![0.0f32; outer * inner];
        if len == 0 {
            return out;
        }
        for (acc, block) in out
            .chunks_exact_mut(inner)
            .zip(values.chunks_exact(len * inner))
        {
            for row in block.chunks_exact(inner) {
                for (a, &v) in acc.iter_mut().zip(row) {
                    *a += v;
                }
            }
        }
        out
    }
}

/// `Σ x²` in one pass without a temporary: 16 running sums (one zmm, or two ymm, of lanes),
/// combined at the end; the order is fixed, so the result is too.
pub(super) fn sum_squares(x: &CpuStorage) -> f32 {
    match x.as_slice() {
        Some(values) => sum_squares_slice(values),
        None => x.iter().fold(0.0, |sum, v| sum + v * v),
    }
}

multiversion! {
    pub(super) fn sum_squares_slice(values: &[f32]) -> f32 {
        const LANES: usize = 16;
        let mut lanes = [0.0f32; LANES];
        let chunks = values.chunks_exact(LANES);
        let tail: f32 = chunks.remainder().iter().map(|v| v * v).sum();
        for chunk in chunks {
            for (lane, v) in lanes.iter_mut().zip(chunk) {
                *lane += v * v;
            }
        }
        lanes.iter().sum::<f32>() + tail
    }
}
