//! Convolution on the CPU. The forward pass runs image by image (a few images at a time when
//! they are small): each thread unfolds its images into a buffer that stays in cache,
//! multiplies the weight by it, and writes the product with its bias straight into
//! `[N, O, OH, OW]`. The default body instead builds `unfold(x)` for the whole batch (22 MB for
//! the lab CNN's second layer), multiplies it from memory into `[O, N·OH·OW]`, then moves that
//! to `[N, O, OH, OW]` and adds the bias: three more passes over memory. Every output element
//! is the same sum in the same order either way. The input gradient runs image by image too
//! (see [`input_gradient`]); the weight gradient is the default body's.

use std::mem::MaybeUninit;

use super::grid::Grid;
use super::layout::{fold_channel, unfold_rows};
use super::matmul::operand;
use super::{Cpu, CpuStorage, copy_floats, split_blocks};
use crate::gemm::{Engine, MatRef, gemm_with};
use crate::ops::conv2d::{InputAndWeight, output_rows, weight_gradient};
use crate::ops::{Conv2dGradients, Conv2dOp, Window2d};
use crate::profile::{Category, timed};
use crate::{Error, Result};

/// The unfolded images of one piece of the batch fill about this many bytes: they stay in L2
/// (512 KiB per core on Zen 3) while the product reads them.
const UNFOLDED_BYTES: usize = 256 << 10;

impl Conv2dOp<Cpu> for Cpu {
    fn conv2d(
        _backend: &Cpu,
        x: &CpuStorage,
        weight: &CpuStorage,
        bias: Option<&CpuStorage>,
        window: &Window2d,
        out_channels: usize,
    ) -> Result<CpuStorage> {
        timed(Category::ConvForward, || {
            conv2d(x, weight, bias, window, out_channels)
        })
    }

    fn conv2d_backward(
        backend: &Cpu,
        x: &CpuStorage,
        weight: &CpuStorage,
        grad: &CpuStorage,
        window: &Window2d,
        out_channels: usize,
        wanted: Conv2dGradients,
    ) -> Result<InputAndWeight<CpuStorage>> {
        let grad_weight = wanted
            .weight
            .then(|| {
                let grad_rows = output_rows(backend, grad, window, out_channels)?;
                weight_gradient(backend, x, &grad_rows, window, out_channels)
            })
            .transpose()?;
        let grad_input = wanted
            .input
            .then(|| {
                timed(Category::ConvInputGradient, || {
                    input_gradient(weight, grad, window, out_channels)
                })
            })
            .transpose()?;
        Ok((grad_input, grad_weight))
    }
}

/// `fold(Wᵀ · G)` image by image: each image's output gradient (`[O, OH·OW]`, contiguous in
/// `grad`) is multiplied into a buffer that stays in cache and folded into its own input
/// gradient; the images split between the threads. The default body instead moves `grad` to
/// `[O, N·OH·OW]`, builds the whole `Wᵀ · G` in memory (22 MB for the lab CNN's second layer)
/// and folds it. Each element is the same sum in the same order either way.
fn input_gradient(
    weight: &CpuStorage,
    grad: &CpuStorage,
    window: &Window2d,
    out_channels: usize,
) -> Result<CpuStorage> {
    let grad = grad.as_slice().ok_or_else(not_contiguous)?;
    let weight = operand(weight, out_channels, window.patch_len(), false)?.t();
    let one = Window2d {
        batch: 1,
        ..*window
    };
    let grid = Grid::of(window);
    let (pixels, image_len) = (one.positions(), one.input_len());
    let plane_len = window.input[0] * window.input[1];
    let engine = one_thread()?;
    let failure = std::sync::Mutex::new(None);
    let mut out = vec![0.0f32; window.input_len()];
    split_blocks(&mut out, window.batch, image_len, |first, images| {
        let (mut columns, mut spread, mut padded) = (Vec::new(), Vec::new(), Vec::new());
        for (i, image) in images.chunks_exact_mut(image_len.max(1)).enumerate() {
            let n = first + i;
            let g = &grad[n * out_channels * pixels..][..out_channels * pixels];
            let (g, positions) = match &grid {
                Some(grid) => {
                    grid.spread(g, out_channels, &mut spread);
                    (&spread[..], grid.positions())
                }
                None => (g, pixels),
            };
            columns.resize(one.patch_len() * positions, 0.0);
            let product = MatRef::row_major(g, out_channels, positions)
                .and_then(|g| gemm_with(engine, weight, g, &mut columns));
            if let Err(e) = product {
                if let Ok(mut slot) = failure.lock() {
                    *slot = Some(e);
                }
                return;
            }
            match &grid {
                Some(grid) => grid.fold(&columns, &mut padded, image),
                None => {
                    let planes = image.chunks_exact_mut(plane_len.max(1));
                    for (c, plane) in planes.enumerate() {
                        fold_channel(&columns, &one, c, plane);
                    }
                }
            }
        }
    });
    match failure.into_inner().ok().flatten() {
        Some(e) => Err(e),
        None => Ok(CpuStorage::from(out)),
    }
}

fn conv2d(
    x: &CpuStorage,
    weight: &CpuStorage,
    bias: Option<&CpuStorage>,
    window: &Window2d,
    out_channels: usize,
) -> Result<CpuStorage> {
    let image = x.as_slice().ok_or_else(not_contiguous)?;
    let weight = operand(weight, out_channels, window.patch_len(), false)?;
    let bias = bias
        .map(|b| b.as_slice().ok_or_else(not_contiguous))
        .transpose()?;
    let pixels = window.output[0] * window.output[1];
    let grid = Grid::of(window);
    let positions = grid.as_ref().map_or(pixels, Grid::positions);
    let per_image = window.patch_len() * positions * std::mem::size_of::<f32>();
    let images = (UNFOLDED_BYTES / per_image.max(1)).clamp(1, window.batch.max(1));
    let image_len = window.input_len() / window.batch.max(1);
    // Each thread takes half the images.
    let engine = one_thread()?;
    let failure = std::sync::Mutex::new(None);
    let convolve = |first: usize, out: &mut [MaybeUninit<f32>]| {
        let (mut padded, mut unfolded, mut product) = (Vec::new(), Vec::new(), Vec::new());
        let chunks = out.chunks_mut((images * out_channels * pixels).max(1));
        for (c, out) in chunks.enumerate() {
            let n0 = first + c * images;
            let count = out.len() / (out_channels * pixels).max(1);
            let piece = Window2d {
                batch: count,
                ..*window
            };
            let source = &image[n0 * image_len..(n0 + count) * image_len];
            let result = convolve_images(
                (source, &piece, grid.as_ref()),
                (weight, bias),
                engine,
                (&mut padded, &mut unfolded, &mut product),
                out,
            );
            if let Err(e) = result {
                if let Ok(mut slot) = failure.lock() {
                    *slot = Some(e);
                }
                // The output is not returned: fill it so that it is initialised memory.
                out.fill(MaybeUninit::new(f32::NAN));
            }
        }
    };
    let mut out = Vec::with_capacity(window.batch * out_channels * pixels);
    let spare = &mut out.spare_capacity_mut()[..window.batch * out_channels * pixels];
    split_blocks(spare, window.batch, out_channels * pixels, convolve);
    // SAFETY: `convolve` wrote every image of the output: the product, or NaN on failure.
    unsafe { out.set_len(window.batch * out_channels * pixels) };
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    Ok(CpuStorage::from(out))
}

/// One piece of the batch (`piece.batch` images of `source`): unfolds it into `unfolded` (on
/// the grid, through `padded`, for a stride-1 window), multiplies the weight by it into
/// `product` (`[O, n·positions]`), and writes each image's planes plus the bias into `out`
/// (`[n, O, OH, OW]`, every element).
fn convolve_images(
    (source, piece, grid): (&[f32], &Window2d, Option<&Grid>),
    (weight, bias): (MatRef<'_>, Option<&[f32]>),
    engine: Engine,
    (padded, unfolded, product): (&mut Vec<f32>, &mut Vec<f32>, &mut Vec<f32>),
    out: &mut [MaybeUninit<f32>],
) -> Result<()> {
    let rows = piece.patch_len();
    let [oh, ow] = piece.output;
    // Output positions per image and per output row.
    let (positions, pitch) = match grid {
        Some(grid) => {
            grid.pad(source, piece.batch, padded);
            grid.unfold(padded, piece.batch, unfolded);
            (grid.positions(), grid.pitch())
        }
        None => {
            unfolded.clear();
            unfolded.reserve(rows * piece.positions());
            unfold_rows(
                source,
                piece,
                0.0,
                0,
                &mut unfolded.spare_capacity_mut()[..rows * piece.positions()],
            );
            // SAFETY: `unfold_rows` wrote all its rows.
            unsafe { unfolded.set_len(rows * piece.positions()) };
            (oh * ow, ow)
        }
    };
    let cols = piece.batch * positions;
    let out_channels = weight.rows();
    product.resize(out_channels * cols, 0.0);
    gemm_with(
        engine,
        weight,
        MatRef::row_major(unfolded, rows, cols)?,
        product,
    )?;
    let planes = out.chunks_exact_mut((oh * ow).max(1));
    for (p, plane) in planes.enumerate() {
        let (n, o) = (p / out_channels, p % out_channels);
        let image = &product[o * cols + n * positions..][..positions];
        let lines = plane.chunks_exact_mut(ow.max(1)).zip(image.chunks(pitch));
        match bias {
            Some(b) => {
                for (line, run) in lines {
                    copy_floats(line, &run[..ow], |v| MaybeUninit::new(v + b[o]));
                }
            }
            None => {
                for (line, run) in lines {
                    copy_floats(line, &run[..ow], MaybeUninit::new);
                }
            }
        }
    }
    Ok(())
}

/// The selected GEMM engine kept on the calling thread: the image-by-image passes already
/// split their images between the two threads.
fn one_thread() -> Result<Engine> {
    Ok(Engine {
        two_threads: false,
        ..Engine::selected()?
    })
}

fn not_contiguous() -> Error {
    Error::Device {
        op: "conv2d",
        message: "storage is not contiguous".to_string(),
    }
}
