//! Layout primitives of the CPU backend: strided copy, unfold (im2col), fold (col2im) and
//! scatter. Unfold splits its rows between the two threads and copies each row as runs of an
//! input line; fold splits the channels, each summed by one thread in the reference's order,
//! so results are the same bits on one thread or two. A strided copy splits its outermost
//! dimension; short runs are copied inline by `copy_floats`, not through `memcpy`.

use std::mem::MaybeUninit;

use super::{CpuStorage, copy_floats, split_blocks, written_in_blocks};
use ember_tensor::ops::layout::StridedView;
use ember_tensor::ops::window::Window2d;
use ember_tensor::{Error, Result};

fn contiguous<'a>(op: &'static str, x: &'a CpuStorage) -> Result<&'a [f32]> {
    x.as_slice().ok_or_else(|| Error::Device {
        op,
        message: "storage is not contiguous".to_string(),
    })
}

pub(super) fn strided_copy(x: &CpuStorage, view: &StridedView) -> Result<CpuStorage> {
    let src = contiguous("strided_copy", x)?;
    let len = view.len();
    if view.dims.len() != view.strides.len() {
        return Err(Error::Device {
            op: "strided_copy",
            message: format!(
                "{} dimensions but {} strides",
                view.dims.len(),
                view.strides.len()
            ),
        });
    }
    let out = match (view.dims.as_slice(), view.strides.as_slice()) {
        ([], []) => src.get(view.offset).copied().into_iter().collect(),
        ([n], [1]) => src[view.offset..view.offset + n].to_vec(),
        ([], _) | (_, []) | ([0, ..], _) => Vec::new(), // nothing to copy
        // The outermost dimension split between the threads; within it, the innermost
        // dimension as a tight loop and the others walk an index odometer.
        ([outer, rest @ ..], [outer_stride, rest_strides @ ..]) => {
            let block_len = len / outer;
            let copy_blocks = |first: usize, chunk: &mut [MaybeUninit<f32>]| {
                for (b, block) in chunk.chunks_exact_mut(block_len.max(1)).enumerate() {
                    let base = view.offset + (first + b) * outer_stride;
                    copy_block(src, base, rest, rest_strides, block);
                }
            };
            // SAFETY: `copy_block` writes every element of each block (see there).
            unsafe { written_in_blocks(*outer, block_len, copy_blocks) }
        }
    };
    Ok(CpuStorage::from(out))
}

/// Writes the elements of `src` at `base` with `dims` and `strides` (row-major order) into
/// `block`, which holds exactly their number: every element of `block` is written.
fn copy_block(
    src: &[f32],
    base: usize,
    dims: &[usize],
    strides: &[usize],
    block: &mut [MaybeUninit<f32>],
) {
    let (Some(&inner), Some(&inner_stride)) = (dims.last(), strides.last()) else {
        // A block of one element.
        block[0] = MaybeUninit::new(src[base]);
        return;
    };
    let rank = dims.len();
    let mut index = vec![0usize; rank - 1];
    let mut base = base;
    for line in block.chunks_exact_mut(inner.max(1)) {
        if inner_stride == 1 {
            for (slot, &value) in line.iter_mut().zip(&src[base..base + inner]) {
                *slot = MaybeUninit::new(value);
            }
        } else {
            for (i, slot) in line.iter_mut().enumerate() {
                *slot = MaybeUninit::new(src[base + i * inner_stride]);
            }
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

/// The output positions `lo..hi` (out of `0..out`) whose tap `k` lands inside an input axis of
/// `len`: a contiguous run, as the taps move by `stride` per position.
fn valid_outputs(
    out: usize,
    k: usize,
    stride: usize,
    dilation: usize,
    padding: usize,
    len: usize,
) -> (usize, usize) {
    let inside = |o: usize| source_index(o, k, stride, dilation, padding, len).is_some();
    let lo = (0..out).find(|&o| inside(o)).unwrap_or(out);
    let hi = (lo..out).find(|&o| !inside(o)).unwrap_or(out);
    (lo, hi)
}

pub(super) fn unfold2d(x: &CpuStorage, window: &Window2d, pad_value: f32) -> Result<CpuStorage> {
    let src = contiguous("unfold2d", x)?;
    let fill_rows = |first: usize, chunk: &mut [MaybeUninit<f32>]| {
        unfold_rows(src, window, pad_value, first, chunk);
    };
    // SAFETY: `unfold_rows` writes every element of its chunk.
    let out = unsafe { written_in_blocks(window.patch_len(), window.positions(), fill_rows) };
    Ok(CpuStorage::from(out))
}

/// Rows `first..` of `unfold(src)` (as many as `rows` holds, `N·OH·OW` each): writes every
/// element of `rows`. The lines of each image either read the input on `lo..hi` and are padded
/// around it, or are padding whole.
pub(super) fn unfold_rows(
    src: &[f32],
    window: &Window2d,
    pad_value: f32,
    first: usize,
    rows: &mut [MaybeUninit<f32>],
) {
    let o = window.options;
    let [kh, kw] = o.kernel;
    let [h, w] = window.input;
    let [oh, ow] = window.output;
    let (batch, channels) = (window.batch, window.channels);
    let row_len = window.positions();
    let pad = MaybeUninit::new(pad_value);
    for (r, row) in rows.chunks_exact_mut(row_len.max(1)).enumerate() {
        let tap = first + r;
        let (c, i, j) = (tap / (kh * kw), tap / kw % kh, tap % kw);
        let (lo, hi) = valid_outputs(ow, j, o.stride[1], o.dilation[1], o.padding[1], w);
        for (n, image) in row.chunks_exact_mut(oh * ow).enumerate().take(batch) {
            let plane = &src[(n * channels + c) * h * w..][..h * w];
            for (oy, line) in image.chunks_exact_mut(ow).enumerate() {
                let Some(y) = source_index(oy, i, o.stride[0], o.dilation[0], o.padding[0], h)
                else {
                    line.fill(pad);
                    continue;
                };
                let input = &plane[y * w..][..w];
                line[..lo].fill(pad);
                line[hi..].fill(pad);
                let x0 = (lo * o.stride[1] + j * o.dilation[1]).saturating_sub(o.padding[1]);
                let line = &mut line[lo..hi];
                if o.stride[1] == 1 {
                    copy_floats(line, &input[x0..x0 + (hi - lo)], MaybeUninit::new);
                } else {
                    let taken = input[x0..].iter().step_by(o.stride[1]);
                    for (value, &x) in line.iter_mut().zip(taken) {
                        *value = MaybeUninit::new(x);
                    }
                }
            }
        }
    }
}

pub(super) fn fold2d(cols: &CpuStorage, window: &Window2d) -> Result<CpuStorage> {
    let src = contiguous("fold2d", cols)?;
    let [h, w] = window.input;
    let (batch, channels) = (window.batch, window.channels);
    // Channel-major scratch ([C, N, H, W]), so each thread owns whole channels; the rows of a
    // channel are added in tap order, as the reference does.
    let plane_len = h * w;
    let mut by_channel = vec![0.0f32; window.input_len()];
    split_blocks(
        &mut by_channel,
        channels,
        batch * plane_len,
        |first, chunk| {
            let channels = chunk.chunks_exact_mut((batch * plane_len).max(1));
            for (ci, planes) in channels.enumerate() {
                fold_channel(src, window, first + ci, planes);
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

/// Adds the rows of channel `c` of the unfolded `src` (`[C·kh·kw, N·OH·OW]`) into `planes`
/// (its `N` planes of `H × W`), taps in order: what [`fold2d`] does for one channel.
pub(super) fn fold_channel(src: &[f32], window: &Window2d, c: usize, planes: &mut [f32]) {
    let o = window.options;
    let [kh, kw] = o.kernel;
    let [h, w] = window.input;
    let [oh, ow] = window.output;
    let row_len = window.positions();
    for i in 0..kh {
        for j in 0..kw {
            let row = &src[((c * kh + i) * kw + j) * row_len..][..row_len];
            let (lo, hi) = valid_outputs(ow, j, o.stride[1], o.dilation[1], o.padding[1], w);
            let x0 = (lo * o.stride[1] + j * o.dilation[1]).saturating_sub(o.padding[1]);
            for (n, plane) in planes.chunks_exact_mut((h * w).max(1)).enumerate() {
                let image = &row[n * oh * ow..][..oh * ow];
                for (oy, line) in image.chunks_exact(ow).enumerate() {
                    let Some(y) = source_index(oy, i, o.stride[0], o.dilation[0], o.padding[0], h)
                    else {
                        continue;
                    };
                    let target = &mut plane[y * w..][..w];
                    let line = &line[lo..hi];
                    if o.stride[1] == 1 {
                        let target = &mut target[x0..x0 + line.len()];
                        for (t, &value) in target.iter_mut().zip(line) {
                            *t += value;
                        }
                    } else {
                        for (k, &value) in line.iter().enumerate() {
                            target[x0 + k * o.stride[1]] += value;
                        }
                    }
                }
            }
        }
    }
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
