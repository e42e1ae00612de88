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
