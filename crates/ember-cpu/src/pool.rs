//! Max pooling on the CPU as one direct pass per window (overriding the default body of
//! [`MaxPool2dOp`], which unfolds, transposes, takes the argmax and gathers: four passes over
//! memory). Same results: the first maximum in the window's row-major order, padding never
//! wins. Backward adds each gradient at its window's maximum, windows in order. Both split the
//! planes between the two threads; the lab's 2×2, stride-2 pool has its own loop.

use std::mem::MaybeUninit;

use super::{Cpu, CpuStorage, PARALLEL_MIN_LEN, split_blocks, written_in_blocks};
use crate::parallel;
use crate::profile::{Category, timed};
use ember_tensor::ops::{MaxPool2dOp, Window2d};
use ember_tensor::{Error, Result};

impl MaxPool2dOp<Cpu> for Cpu {
    fn max_pool2d(
        _backend: &Cpu,
        x: &CpuStorage,
        window: &Window2d,
    ) -> Result<(CpuStorage, CpuStorage)> {
        timed(Category::Pooling, || max_pool2d(x, window))
    }

    fn max_pool2d_backward(
        _backend: &Cpu,
        grad: &CpuStorage,
        indices: &CpuStorage,
        window: &Window2d,
    ) -> Result<CpuStorage> {
        timed(Category::Pooling, || {
            max_pool2d_backward(grad, indices, window)
        })
    }
}

fn max_pool2d(x: &CpuStorage, window: &Window2d) -> Result<(CpuStorage, CpuStorage)> {
    {
        let src = x.as_slice().ok_or_else(not_contiguous)?;
        let [h, w] = window.input;
        let [oh, ow] = window.output;
        let planes = window.batch * window.channels;
        let (plane_in, plane_out) = (h * w, oh * ow);
        let len = planes * plane_out;
        // Written whole by `pool_plane` (no zeroing pass first).
        let (mut values, mut indices) = (Vec::with_capacity(len), Vec::with_capacity(len));
        let pool_planes = |first: usize, values: &mut [Out], indices: &mut [Out]| {
            let outputs = values
                .chunks_exact_mut(plane_out.max(1))
                .zip(indices.chunks_exact_mut(plane_out.max(1)));
            for (p, (values, indices)) in outputs.enumerate() {
                let plane = &src[(first + p) * plane_in..][..plane_in];
                pool_plane(plane, window, values, indices);
            }
        };
        let (values_out, indices_out) = (
            &mut values.spare_capacity_mut()[..len],
            &mut indices.spare_capacity_mut()[..len],
        );
        if len < PARALLEL_MIN_LEN || planes < 2 {
            pool_planes(0, values_out, indices_out);
        } else {
            // Each thread pools whole planes.
            let half = planes / 2;
            let (values_a, values_b) = values_out.split_at_mut(half * plane_out);
            let (indices_a, indices_b) = indices_out.split_at_mut(half * plane_out);
            let pool_planes = &pool_planes;
            parallel::join(
                || pool_planes(0, values_a, indices_a),
                move || pool_planes(half, values_b, indices_b),
            );
        }
        // SAFETY: `pool_plane` wrote every value and index of every plane.
        unsafe {
            values.set_len(len);
            indices.set_len(len);
        }
        Ok((CpuStorage::from(values), CpuStorage::from(indices)))
    }
}

fn max_pool2d_backward(
    grad: &CpuStorage,
    indices: &CpuStorage,
    window: &Window2d,
) -> Result<CpuStorage> {
    let grad = grad.as_slice().ok_or_else(not_contiguous)?;
    let indices = indices.as_slice().ok_or_else(not_contiguous)?;
    let [h, w] = window.input;
    let [oh, ow] = window.output;
    let (plane_in, plane_out) = (h * w, oh * ow);
    let planes = window.batch * window.channels;
    if is_lab_pool(window) {
        // Windows tile the plane without overlapping: every input element is written once,
        // its window's gradient at the winning tap and zero elsewhere (no zeroing pass).
        let unpool = |first: usize, chunk: &mut [MaybeUninit<f32>]| {
            for (p, plane) in chunk.chunks_exact_mut(plane_in.max(1)).enumerate() {
                let o = (first + p) * plane_out;
                let (grad, taps) = (&grad[o..][..plane_out], &indices[o..][..plane_out]);
                unpool_plane((grad, taps), window, (plane, w), MaybeUninit::new);
            }
        };
        // SAFETY: `unpool_plane` writes every element of its plane.
        let out = unsafe { written_in_blocks(planes, plane_in, unpool) };
        return Ok(CpuStorage::from(out));
    }
    let mut out = vec![0.0f32; window.input_len()];
    // Each thread owns whole planes; within a plane, windows add in order.
    split_blocks(&mut out, planes, plane_in, |first, chunk| {
        for (p, plane) in chunk.chunks_exact_mut(plane_in.max(1)).enumerate() {
            let o = (first + p) * plane_out;
            let (grad, taps) = (&grad[o..][..plane_out], &indices[o..][..plane_out]);
            scatter_plane(grad, taps, window, plane);
        }
    });
    Ok(CpuStorage::from(out))
}

/// Adds each of one plane's window gradients at its window's winning tap of `plane` (`H × W`),
/// windows in order.
fn scatter_plane(grad: &[f32], taps: &[f32], window: &Window2d, plane: &mut [f32]) {
    let kw = window.options.kernel[1];
    let w = window.input[1];
    let ow = window.output[1];
    for (at, (&g, &tap)) in grad.iter().zip(taps).enumerate() {
        let tap = tap as usize;
        if let Some((y, xx)) = window.source(at / ow, at % ow, tap / kw, tap % kw) {
            plane[y * w + xx] += g;
        }
    }
}

/// The input gradient of one image's planes (`grad` and `taps`: `[C, OH, OW]`) into `out`
/// (`[C, H, W]`, replaced): the bits [`MaxPool2dOp::max_pool2d_backward`] gives that image.
pub(super) fn unpool_image(grad: &[f32], taps: &[f32], window: &Window2d, out: &mut Vec<f32>) {
    let [h, w] = window.input;
    let [oh, ow] = window.output;
    let (plane_in, plane_out) = (h * w, oh * ow);
    let len = window.channels * plane_in;
    out.clear();
    let windows = grad
        .chunks_exact(plane_out.max(1))
        .zip(taps.chunks_exact(plane_out.max(1)));
    if is_lab_pool(window) {
        out.reserve(len);
        let planes = out.spare_capacity_mut()[..len].chunks_exact_mut(plane_in.max(1));
        for (plane, windows) in planes.zip(windows) {
            unpool_plane(windows, window, (plane, w), MaybeUninit::new);
        }
        // SAFETY: `unpool_plane` wrote every element of every plane.
        unsafe { out.set_len(len) };
    } else {
        out.resize(len, 0.0);
        for (plane, (grad, taps)) in out.chunks_exact_mut(plane_in.max(1)).zip(windows) {
            scatter_plane(grad, taps, window, plane);
        }
    }
}

/// The lab's pool: 2×2 windows, stride 2, no padding or dilation.
pub(super) fn is_lab_pool(window: &Window2d) -> bool {
    let o = window.options;
    o.kernel == [2, 2] && o.stride == [2, 2] && o.padding == [0, 0] && o.dilation == [1, 1]
}

/// The gradient of one `H × W` plane of the lab's pool from its windows' gradients and winning
/// taps: writes the first `W` elements of each of the plane's `H` rows (`pitch` apart), a last
/// row or column no window covers included, each value through `wrap`.
pub(super) fn unpool_plane<T: Copy>(
    (grad, taps): (&[f32], &[f32]),
    window: &Window2d,
    (plane, pitch): (&mut [T], usize),
    wrap: impl Fn(f32) -> T,
) {
    let [h, w] = window.input;
    let ow = window.output[1];
    let zero = wrap(0.0);
    let mut rows = plane
        .chunks_exact_mut(pitch.max(1))
        .map(|row| &mut row[..w]);
    let windows = grad
        .chunks_exact(ow.max(1))
        .zip(taps.chunks_exact(ow.max(1)));
    for (grad, taps) in windows {
        let (Some(top), Some(bottom)) = (rows.next(), rows.next()) else {
            break;
        };
        let pairs = top.chunks_exact_mut(2).zip(bottom.chunks_exact_mut(2));
        for ((t, b), (&g, &tap)) in pairs.zip(grad.iter().zip(taps)) {
            // `0.0 + g`, as the general path's sum into zeros gives (−0.0 becomes +0.0).
            let at = |k: f32| wrap(if tap == k { 0.0 + g } else { 0.0 });
            (t[0], t[1], b[0], b[1]) = (at(0.0), at(1.0), at(2.0), at(3.0));
        }
        if w % 2 == 1 {
            (top[w - 1], bottom[w - 1]) = (zero, zero);
        }
    }
    // An odd last row (no window reaches it).
    for row in rows {
        row.fill(zero);
    }
    debug_assert!(h / 2 == window.output[0]);
}

/// An output element, written once.
pub(super) type Out = MaybeUninit<f32>;

/// Pools one plane with the lab's pool (2×2 windows, stride 2: two input rows per output
/// row, four taps in row-major order) into its maxima and their taps (every element of
/// `values` and `indices`, `OW` per output row). The plane's rows start `pitch` floats apart
/// (its width, or more for a plane laid out wider), and each value is read through `read`
/// (a convolution's bias added as [`MaxPool2dOp::max_pool2d`] would find it in its input).
///
/// [`MaxPool2dOp::max_pool2d`]: ember_tensor::ops::MaxPool2dOp::max_pool2d
pub(super) fn pool_lab_plane(
    (plane, pitch): (&[f32], usize),
    read: impl Fn(f32) -> f32,
    ow: usize,
    values: &mut [Out],
    indices: &mut [Out],
) {
    let lines = values
        .chunks_exact_mut(ow.max(1))
        .zip(indices.chunks_exact_mut(ow.max(1)));
    for (oy, (values, indices)) in lines.enumerate() {
        let top = &plane[2 * oy * pitch..][..2 * ow];
        let bottom = &plane[(2 * oy + 1) * pitch..][..2 * ow];
        let windows = top.chunks_exact(2).zip(bottom.chunks_exact(2));
        for ((value, index), (t, b)) in values.iter_mut().zip(indices.iter_mut()).zip(windows) {
            let (mut best, mut tap) = (read(t[0]), 0.0);
            for (v, k) in [(t[1], 1.0), (b[0], 2.0), (b[1], 3.0)] {
                let v = read(v);
                if v > best {
                    best = v;
                    tap = k;
                }
            }
            *value = Out::new(best);
            *index = Out::new(tap);
        }
    }
}

/// Pools one `H × W` plane into its `OH × OW` maxima and their taps (every element of
/// `values` and `indices`).
pub(super) fn pool_plane(
    plane: &[f32],
    window: &Window2d,
    values: &mut [Out],
    indices: &mut [Out],
) {
    let [kh, kw] = window.options.kernel;
    let w = window.input[1];
    let ow = window.output[1];
    let o = window.options;
    if is_lab_pool(window) {
        pool_lab_plane((plane, w), |v| v, ow, values, indices);
        return;
    }
    let outputs = values.iter_mut().zip(indices.iter_mut()).enumerate();
    if o.padding == [0, 0] && o.dilation == [1, 1] {
        // Every tap inside the input: no bounds to test.
        for (at, (value, index)) in outputs {
            let corner = at / ow * o.stride[0] * w + at % ow * o.stride[1];
            let mut best = plane[corner];
            let mut best_tap = 0usize;
            for i in 0..kh {
                let line = &plane[corner + i * w..][..kw];
                for (j, &v) in line.iter().enumerate() {
                    if v > best {
                        best = v;
                        best_tap = i * kw + j;
                    }
                }
            }
            *value = Out::new(best);
            *index = Out::new(best_tap as f32);
        }
        return;
    }
    for (at, (value, index)) in outputs {
        let (oy, ox) = (at / ow, at % ow);
        let mut best = f32::NEG_INFINITY;
        let mut best_tap = 0usize;
        let mut found = false;
        for i in 0..kh {
            for j in 0..kw {
                if let Some((y, xx)) = window.source(oy, ox, i, j) {
                    let v = plane[y * w + xx];
                    // The reference's argmax: strictly greater replaces; the first of equal
                    // values stays.
                    if !found || v > best {
                        best = v;
                        best_tap = i * kw + j;
                        found = true;
                    }
                } else if !found {
                    // A padding tap reads −∞: it is the first maximum only until a real value
                    // (> −∞) comes.
                    best_tap = i * kw + j;
                    found = true;
                }
            }
        }
        *value = Out::new(best);
        *index = Out::new(best_tap as f32);
    }
}

fn not_contiguous() -> Error {
    Error::Device {
        op: "max_pool2d",
        message: "storage is not contiguous".to_string(),
    }
}
