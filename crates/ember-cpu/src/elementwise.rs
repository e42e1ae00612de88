//! Element-wise ops: unary functions, their backward step, scalar ops and broadcasting binary
//! ops. The loops over contiguous data are compiled per instruction set ([`multiversion!`]).
//! Equal shapes, scalars, rows and per-channel values (`[1, C, 1]` with `[N, C, S]`) run in
//! one pass each; other broadcasts go through ndarray. Long passes are split over the two
//! threads, each element computed alone, so the split changes no bit.

use ndarray::{ArcArray1, ArrayViewD, IxDyn, Zip};

use std::mem::MaybeUninit;
use std::ops::Range;

use super::simd::multiversion;
use super::{CpuStorage, written_in_halves};
use ember_tensor::ops::{BinaryOp, ScalarOp, UnaryOp};
use ember_tensor::{Error, Result, Shape};

/// Calls `$body` with `$c` bound to a constant of `$op`'s variant, so that every loop over
/// elements is compiled (and vectorised) for one op instead of matching on it per element.
macro_rules! specialise {
    ($op:expr, $ty:ident [$($variant:ident),+], |$c:ident| $body:expr) => {
        match $op {
            $($ty::$variant => {
                const $c: $ty = $ty::$variant;
                $body
            })+
        }
    };
}

/// [`specialise`] over every unary op.
macro_rules! for_each_unary {
    ($op:expr, |$c:ident| $body:expr) => {
        specialise!($op, UnaryOp [Neg, Exp, Log, Relu, Sigmoid, Tanh, Sqrt, Square], |$c| $body)
    };
}

/// [`specialise`] over every binary op.
macro_rules! for_each_binary {
    ($op:expr, |$c:ident| $body:expr) => {
        specialise!($op, BinaryOp [Add, Sub, Mul, Div], |$c| $body)
    };
}

/// [`specialise`] over every scalar op.
macro_rules! for_each_scalar {
    ($op:expr, |$c:ident| $body:expr) => {
        specialise!($op, ScalarOp [Add, Mul, Pow], |$c| $body)
    };
}

pub(super) fn unary(op: UnaryOp, x: &CpuStorage) -> CpuStorage {
    match x.as_slice() {
        Some(x) => CpuStorage::from(unary_slice(op, x)),
        None => x.map(|&v| op.apply(v)).into_shared(),
    }
}

/// `op` applied to every element of `x`.
pub(super) fn unary_slice(op: UnaryOp, x: &[f32]) -> Vec<f32> {
    // SAFETY: `unary_into` writes every element of its output.
    unsafe { written_in_halves(x.len(), |range, out| unary_into(op, &x[range], out)) }
}

multiversion! {
    fn unary_into(op: UnaryOp, x: &[f32], out: &mut [MaybeUninit<f32>]) {
        for_each_unary!(op, |OP| for (out, &v) in out.iter_mut().zip(x) {
            *out = MaybeUninit::new(OP.apply(v));
        })
    }
}

/// The gradient through `op` of every element: `g · op'(x)` (with `y = op(x)`).
pub(super) fn unary_backward_slices(op: UnaryOp, x: &[f32], y: &[f32], g: &[f32]) -> Vec<f32> {
    let len = x.len().min(y.len()).min(g.len());
    let fill = |range: Range<usize>, out: &mut [MaybeUninit<f32>]| {
        unary_backward_into(op, &x[range.clone()], &y[range.clone()], &g[range], out)
    };
    // SAFETY: `unary_backward_into` writes every element of its output (the inputs are as
    // long).
    unsafe { written_in_halves(len, fill) }
}

multiversion! {
    fn unary_backward_into(
        op: UnaryOp,
        x: &[f32],
        y: &[f32],
        g: &[f32],
        out: &mut [MaybeUninit<f32>],
    ) {
        for_each_unary!(op, |OP| {
            let inputs = x.iter().zip(y).zip(g);
            for (out, ((&x, &y), &g)) in out.iter_mut().zip(inputs) {
                *out = MaybeUninit::new(g * OP.derivative(x, y));
            }
        })
    }
}

multiversion! {
    pub(super) fn scalar_slice(op: ScalarOp, x: &[f32], s: f32) -> Vec<f32> {
        for_each_scalar!(op, |OP| x.iter().map(|&v| OP.apply(v, s)).collect())
    }
}

multiversion! {
    pub(super) fn binary_slices(op: BinaryOp, a: &[f32], b: &[f32]) -> Vec<f32> {
        for_each_binary!(op, |OP| a
            .iter()
            .zip(b)
            .map(|(&a, &b)| OP.apply(a, b))
            .collect())
    }
}

multiversion! {
    /// `op` between each `row.len()`-wide row of `matrix` and `row`: `row` on the right when
    /// `row_is_rhs`, else on the left.
    pub(super) fn binary_rows(op: BinaryOp, matrix: &[f32], row: &[f32], row_is_rhs: bool) -> Vec<f32> {
        let mut data = Vec::with_capacity(matrix.len());
        for_each_binary!(op, |OP| for m in matrix.chunks_exact(row.len().max(1)) {
            if row_is_rhs {
                data.extend(m.iter().zip(row).map(|(&a, &b)| OP.apply(a, b)));
            } else {
                data.extend(row.iter().zip(m).map(|(&a, &b)| OP.apply(a, b)));
            }
        });
        data
    }
}

multiversion! {
    /// `op` between each run of `inner` consecutive elements of `full` and one value of
    /// `channels`, cycling through `channels`: a per-channel broadcast such as `[N, C, S]` with
    /// `[1, C, 1]` (BatchNorm2d). `channels` on the right when `channels_are_rhs`.
    pub(super) fn binary_channels(
        op: BinaryOp,
        full: &[f32],
        channels: &[f32],
        inner: usize,
        channels_are_rhs: bool,
    ) -> Vec<f32> {
        let mut data = Vec::with_capacity(full.len());
        for_each_binary!(op, |OP| for (k, run) in full.chunks_exact(inner).enumerate() {
            let c = channels[k % channels.len()];
            if channels_are_rhs {
                data.extend(run.iter().map(|&a| OP.apply(a, c)));
            } else {
                data.extend(run.iter().map(|&b| OP.apply(c, b)));
            }
        });
        data
    }
}

pub(super) fn unary_backward(
    op: UnaryOp,
    x: &CpuStorage,
    y: &CpuStorage,
    grad: &CpuStorage,
) -> CpuStorage {
    if let (Some(x), Some(y), Some(g)) = (x.as_slice(), y.as_slice(), grad.as_slice()) {
        return CpuStorage::from(unary_backward_slices(op, x, y, g));
    }
    Zip::from(x)
        .and(y)
        .and(grad)
        .map_collect(|&x, &y, &g| g * op.derivative(x, y))
        .into_shared()
}

pub(super) fn scalar(op: ScalarOp, x: &CpuStorage, s: f32) -> CpuStorage {
    match x.as_slice() {
        Some(values) => CpuStorage::from(scalar_slice(op, values, s)),
        None => x.map(|&v| op.apply(v, s)).into_shared(),
    }
}

pub(super) fn binary(
    op: BinaryOp,
    a: &CpuStorage,
    a_shape: &Shape,
    b: &CpuStorage,
    b_shape: &Shape,
    out: &Shape,
) -> Result<CpuStorage> {
    // Same shapes: one zipped pass.
    if a_shape == b_shape {
        if let (Some(a), Some(b)) = (a.as_slice(), b.as_slice()) {
            return Ok(CpuStorage::from(binary_slices(op, a, b)));
        }
        return Ok(Zip::from(a)
            .and(b)
            .map_collect(|&a, &b| op.apply(a, b))
            .into_shared());
    }
    let n = out.numel();
    // A scalar against anything.
    if b.len() == 1 && a.len() == n {
        let s = b[0];
        return Ok(a.map(|&a| op.apply(a, s)).into_shared());
    }
    if a.len() == 1 && b.len() == n {
        let s = a[0];
        return Ok(b.map(|&b| op.apply(s, b)).into_shared());
    }
    // A row vector against a matrix (a bias): repeat it over the rows.
    if let (Some(a_slice), Some(b_slice)) = (a.as_slice(), b.as_slice()) {
        let cols = out.dims().last().copied().unwrap_or(1);
        if a.len() == n && b.len() == cols && b_shape.numel() == cols && is_row(b_shape, out) {
            return Ok(ArcArray1::from(binary_rows(op, a_slice, b_slice, true)));
        }
        if b.len() == n && a.len() == cols && a_shape.numel() == cols && is_row(a_shape, out) {
            return Ok(ArcArray1::from(binary_rows(op, b_slice, a_slice, false)));
        }
    }
    // Per-channel values against a tensor (`[1, C, 1]` with `[N, C, S]`): one value per run.
    if let (Some(a_slice), Some(b_slice)) = (a.as_slice(), b.as_slice()) {
        if a.len() == n
            && let Some(inner) = channel_run(b_shape, out)
        {
            return Ok(ArcArray1::from(binary_channels(
                op, a_slice, b_slice, inner, true,
            )));
        }
        if b.len() == n
            && let Some(inner) = channel_run(a_shape, out)
        {
            return Ok(ArcArray1::from(binary_channels(
                op, b_slice, a_slice, inner, false,
            )));
        }
    }
    // The general case: ndarray's broadcasting follows the same rules as PyTorch.
    let a_view = dyn_view(a, a_shape)?;
    let b_view = dyn_view(b, b_shape)?;
    let shape = IxDyn(out.dims());
    let (Some(a_b), Some(b_b)) = (a_view.broadcast(shape.clone()), b_view.broadcast(shape)) else {
        return Err(Error::NotBroadcastable {
            op: op.name(),
            lhs: a_shape.clone(),
            rhs: b_shape.clone(),
        });
    };
    let result = Zip::from(&a_b)
        .and(&b_b)
        .map_collect(|&a, &b| op.apply(a, b));
    Ok(ArcArray1::from(
        result.iter().copied().collect::<Vec<f32>>(),
    ))
}

/// Whether `shape` is `[.., 1, 1, cols]`: one row broadcast over all rows of `out`.
fn is_row(shape: &Shape, out: &Shape) -> bool {
    let dims = shape.dims();
    dims.last() == out.dims().last() && dims.iter().rev().skip(1).all(|&d| d == 1)
}

/// If `shape`, aligned right against `out`, equals `out` on one block of consecutive axes and
/// is 1 elsewhere (`[1, C, 1]` against `[N, C, S]`), the number of output elements each of its
/// values covers in a row (`S`); `None` otherwise (or when it has no axis to cycle through).
fn channel_run(shape: &Shape, out: &Shape) -> Option<usize> {
    let out = out.dims();
    let dims = shape.dims();
    if dims.len() > out.len() || shape.numel() <= 1 {
        return None;
    }
    let offset = out.len() - dims.len();
    let matches = |axis: usize| axis >= offset && dims[axis - offset] == out[axis];
    let is_one = |axis: usize| axis < offset || dims[axis - offset] == 1;
    let first = (0..out.len()).find(|&a| !is_one(a))?;
    let end = (first..out.len())
        .find(|&a| is_one(a) && !matches(a))
        .unwrap_or(out.len());
    let block_matches = (first..end).all(matches);
    let rest_ones = (end..out.len()).all(is_one);
    (block_matches && rest_ones).then(|| out[end..].iter().product::<usize>().max(1))
}

pub(super) fn dyn_view<'a>(x: &'a CpuStorage, shape: &Shape) -> Result<ArrayViewD<'a, f32>> {
    x.view()
        .into_shape_with_order(IxDyn(shape.dims()))
        .map_err(|e| Error::Device {
            op: "view",
            message: format!("cannot view {} elements as {shape}: {e}", x.len()),
        })
}
