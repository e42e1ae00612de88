//! Reductions along one axis.

use ndarray::{ArcArray1, Axis};

use super::CpuStorage;
use super::elementwise::dyn_view;
use crate::ops::ReduceOp;
use crate::{Result, Shape};

pub(super) fn reduce(
    op: ReduceOp,
    x: &CpuStorage,
    shape: &Shape,
    axis: usize,
) -> Result<CpuStorage> {
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

/// `Σ x²` in one pass without a temporary: 16 running sums (one zmm, or two ymm, of lanes),
/// combined at the end; the order is fixed, so the result is too.
pub(super) fn sum_squares(x: &CpuStorage) -> f32 {
    const LANES: usize = 16;
    let mut lanes = [0.0f32; LANES];
    let mut tail = 0.0f32;
    match x.as_slice() {
        Some(values) => {
            let chunks = values.chunks_exact(LANES);
            tail = chunks.remainder().iter().map(|v| v * v).sum();
            for chunk in chunks {
                for (lane, v) in lanes.iter_mut().zip(chunk) {
                    *lane += v * v;
                }
            }
        }
        None => x.iter().for_each(|v| tail += v * v),
    }
    lanes.iter().sum::<f32>() + tail
}
