//! Layout primitives of the CPU backend: strided copy, unfold (im2col), fold (col2im) and
//! scatter. Unfold splits its rows between the two threads and copies each row as runs of an
//! input line; fold splits the channels, each summed by one thread in the reference's order,
//! so results are the same bits on one thread or two.

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

/// Runs `per_block(first, chunk)` over `out` split between the two threads at a multiple of
/// `block_len` (the work of `blocks` independent blocks: rows of an unfolded matrix, or
/// channels of a folded image).
fn split_blocks(
    out: &mut [f32],
    blocks: usize,
    block_len: usize,
    per_block: impl Fn(usize, &mut [f32]) + Sync,
) {
    if out.len() < PARALLEL_MIN_LEN || blocks < 2 {
        per_block(0, out);
        return;
    }
    let half = blocks / 2;
    let (first, second) = out.split_at_mut(half * block_len);
    let per_block = &per_block;
    parallel::join(|| per_block(0, first), move || per_block(half, second));
}

/// For output positions `0..out` along one axis and tap `k`, the input index each reads
/// (`None` in the padding): `o · stride + k · dilation - padding`.
fn source_index(
    o: usize,
    k: usize,
    stride: usize,
    dilation: usize,
    padding: usize,
    len: usize,
) -> Option<usize> {
    (o * stride + k * dilation)
        .checked_sub(padding)
        .filter(|&i| i < len)
}

pub(super) fn unfold2d(x: &CpuStorage, window: &Window2d, pad_value: f32) -> Result<CpuStorage> {
    let src = contiguous("unfold2d", x)?;
    let o = window.options;
    let [kh, kw] = o.kernel;
    let [h, w] = window.input;
    let [oh, ow] = window.output;
    let (batch, channels) = (window.batch, window.channels);
    let row_len = window.positions();
    let mut out = vec![0.0f32; window.patch_len() * row_len];
    split_blocks(&mut out, window.patch_len(), row_len, |first, chunk| {
        for (r, row) in chunk.chunks_exact_mut(row_len.max(1)).enumerate() {
            let tap = first + r;
            let (c, i, j) = (tap / (kh * kw), tap / kw % kh, tap % kw);
            // The output columns whose tap j lands inside the input: ox in lo..hi.
            let lo = (0..ow)
                .find(|&ox| {
                    source_index(ox, j, o.stride[1], o.dilation[1], o.padding[1], w).is_some()
                })
                .unwrap_or(ow);
            let hi = (lo..ow)
                .find(|&ox| {
                    source_index(ox, j, o.stride[1], o.dilation[1], o.padding[1], w).is_none()
                })
                .unwrap_or(ow);
            for (n, image) in row.chunks_exact_mut(oh * ow).enumerate().take(batch) {
                let plane = &src[(n * channels + c) * h * w..][..h * w];
                for (oy, line) in image.chunks_exact_mut(ow).enumerate() {
                    let Some(y) = source_index(oy, i, o.stride[0], o.dilation[0], o.padding[0], h)
                    else {
                        line.fill(pad_value);
                        continue;
                    };
                    let input = &plane[y * w..][..w];
                    line[..lo].fill(pad_value);
                    line[hi..].fill(pad_value);
                    let x0 = (lo * o.stride[1] + j * o.dilation[1]).saturating_sub(o.padding[1]);
                    if o.stride[1] == 1 {
                        line[lo..hi].copy_from_slice(&input[x0..x0 + (hi - lo)]);
                    } else {
                        for (k, value) in line[lo..hi].iter_mut().enumerate() {
                            *value = input[x0 + k * o.stride[1]];
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
    let o = window.options;
    let [kh, kw] = o.kernel;
    let [h, w] = window.input;
    let [oh, ow] = window.output;
    let (batch, channels) = (window.batch, window.channels);
    let row_len = window.positions();
    // Channel-major scratch ([C, N, H, W]), so each thread owns whole channels; the rows of a
    // channel are added in tap order, as the reference does.
    let plane_len = h * w;
    let mut by_channel = vec![0.0f32; window.input_len()];
    split_blocks(
        &mut by_channel,
        channels,
        batch * plane_len,
        |first, chunk| {
            for (ci, planes) in chunk
                .chunks_exact_mut((batch * plane_len).max(1))
                .enumerate()
            {
                let c = first + ci;
                for i in 0..kh {
                    for j in 0..kw {
                        let row = &src[((c * kh + i) * kw + j) * row_len..][..row_len];
                        for (n, plane) in planes.chunks_exact_mut(plane_len).enumerate() {
                            let image = &row[n * oh * ow..][..oh * ow];
                            for (oy, line) in image.chunks_exact(ow).enumerate() {
                                let Some(y) = source_index(
                                    oy,
                                    i,
                                    o.stride[0],
                                    o.dilation[0],
                                    o.padding[0],
                                    h,
                                ) else {
                                    continue;
                                };
                                let target = &mut plane[y * w..][..w];
                                for (ox, &value) in line.iter().enumerate() {
                                    if let Some(x) = source_index(
                                        ox,
                                        j,
                                        o.stride[1],
                                        o.dilation[1],
                                        o.padding[1],
                                        w,
                                    ) {
                                        target[x] += value;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    );
    if channels == 1 {
        return Ok(CpuStorage::from(by_channel));
    }
    // [C, N, H, W] → [N, C, H, W]: whole planes move.
    let mut out = Vec::with_capacity(by_channel.len());
    for n in 0..batch {
        for c in 0..channels {
            out.extend_from_slice(&by_channel[(c * batch + n) * plane_len..][..plane_len]);
        }
    }
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
