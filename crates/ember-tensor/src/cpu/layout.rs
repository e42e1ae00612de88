//! Layout primitives of the CPU backend: strided copy, unfold (im2col), fold (col2im) and
//! scatter. Unfold and fold split the batch between the two threads; each image is handled
//! whole by one thread in the reference order, so results are the same bits on one thread or
//! two.

use super::CpuStorage;
use crate::ops::layout::StridedView;
use crate::ops::window::Window2d;
use crate::parallel;
use crate::{Error, Result};

/// Below this many output elements the work stays on one thread.
const PARALLEL_MIN_LEN: usize = 1 << 15;

fn contiguous<'a>(op: &'static str, x: &'a CpuStorage) -> Result<&'a [f32]> {
    x.as_slice().ok_or_else(|| Error::Device {
        op,
        message: "storage is not contiguous".to_string(),
    })
}

pub(super) fn strided_copy(x: &CpuStorage, view: &StridedView) -> Result<CpuStorage> {
    let src = contiguous("strided_copy", x)?;
    let len = view.len();
    let mut out = Vec::with_capacity(len);
    match (view.dims.as_slice(), view.strides.as_slice()) {
        ([], []) => out.extend(src.get(view.offset).copied()),
        ([n], [1]) => out.extend_from_slice(&src[view.offset..view.offset + n]),
        // The innermost dimension as a tight loop; the outer ones walk an index odometer.
        (dims, strides) => {
            let rank = dims.len();
            let (inner, inner_stride) = (dims[rank - 1], strides[rank - 1]);
            let mut index = vec![0usize; rank - 1];
            let mut base = view.offset;
            for _ in 0..len / inner.max(1) {
                if inner_stride == 1 {
                    out.extend_from_slice(&src[base..base + inner]);
                } else {
                    out.extend((0..inner).map(|i| src[base + i * inner_stride]));
                }
                for d in (0..rank - 1).rev() {
                    index[d] += 1;
                    base += strides[d];
                    if index[d] < dims[d] {
                        break;
                    }
                    base -= strides[d] * dims[d];
                    index[d] = 0;
                }
            }
        }
    }
    Ok(CpuStorage::from(out))
}

/// Runs `per_image(first_image, images, out_chunk)` over `out` split at an image boundary
/// between the two threads (`per_image_len` output elements per image).
fn split_images(
    out: &mut [f32],
    images: usize,
    per_image_len: usize,
    per_image: impl Fn(usize, &mut [f32]) + Sync,
) {
    if out.len() < PARALLEL_MIN_LEN || images < 2 {
        per_image(0, out);
        return;
    }
    let half = images / 2;
    let (first, second) = out.split_at_mut(half * per_image_len);
    let per_image = &per_image;
    parallel::join(|| per_image(0, first), move || per_image(half, second));
}

pub(super) fn unfold2d(x: &CpuStorage, window: &Window2d, pad_value: f32) -> Result<CpuStorage> {
    let src = contiguous("unfold2d", x)?;
    let [kh, kw] = window.options.kernel;
    let [h, w] = window.input;
    let [oh, ow] = window.output;
    let channels = window.channels;
    let cols = window.cols();
    let per_image = oh * ow * cols;
    let mut out = vec![0.0f32; window.rows() * cols];
    split_images(&mut out, window.batch, per_image, |first, chunk| {
        for (image, block) in chunk.chunks_exact_mut(per_image.max(1)).enumerate() {
            let n = first + image;
            for (pixel, row) in block.chunks_exact_mut(cols).enumerate() {
                let (oy, ox) = (pixel / ow, pixel % ow);
                for c in 0..channels {
                    let plane = &src[(n * channels + c) * h * w..][..h * w];
                    let taps = &mut row[c * kh * kw..][..kh * kw];
                    for i in 0..kh {
                        for j in 0..kw {
                            taps[i * kw + j] = match window.source(oy, ox, i, j) {
                                Some((y, xx)) => plane[y * w + xx],
                                None => pad_value,
                            };
                        }
                    }
                }
            }
        }
    });
    Ok(CpuStorage::from(out))
}

pub(super) fn fold2d(cols: &CpuStorage, window: &Window2d) -> Result<CpuStorage> {
    let src = contiguous("fold2d", cols)?;
    let [kh, kw] = window.options.kernel;
    let [h, w] = window.input;
    let [oh, ow] = window.output;
    let channels = window.channels;
    let width = window.cols();
    let per_image = channels * h * w;
    let mut out = vec![0.0f32; window.input_len()];
    split_images(&mut out, window.batch, per_image, |first, chunk| {
        for (image, planes) in chunk.chunks_exact_mut(per_image.max(1)).enumerate() {
            let n = first + image;
            let rows = &src[n * oh * ow * width..][..oh * ow * width];
            for (pixel, row) in rows.chunks_exact(width).enumerate() {
                let (oy, ox) = (pixel / ow, pixel % ow);
                for c in 0..channels {
                    let plane = &mut planes[c * h * w..][..h * w];
                    let taps = &row[c * kh * kw..][..kh * kw];
                    for i in 0..kh {
                        for j in 0..kw {
                            if let Some((y, xx)) = window.source(oy, ox, i, j) {
                                plane[y * w + xx] += taps[i * kw + j];
                            }
                        }
                    }
                }
            }
        }
    });
    Ok(CpuStorage::from(out))
}

pub(super) fn scatter(
    values: &CpuStorage,
    indices: &CpuStorage,
    rows: usize,
    cols: usize,
) -> Result<CpuStorage> {
    let mut out = vec![0.0f32; rows * cols];
    for (r, (&value, &index)) in values.iter().zip(indices.iter()).enumerate() {
        let column = index as usize;
        if index < 0.0 || column >= cols || index.fract() != 0.0 {
            return Err(Error::InvalidArgument {
                op: "scatter",
                message: format!("index {index} at row {r} is not a column in 0..{cols}"),
            });
        }
        out[r * cols + column] = value;
    }
    Ok(CpuStorage::from(out))
}
