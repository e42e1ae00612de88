//! Convolution on the CPU, image by image, each thread on its own images, in cache.
//!
//! - **Forward.** A stride-1 window (the lab CNN's) runs on the padded grid (see `grid.rs`):
//!   the product reads each tap's row of the unfolded image as a run of the padded image where
//!   it lies. Other windows unfold a few images at a time into a buffer that stays in cache.
//!   Either way the product plus its bias goes straight into `[N, O, OH, OW]`. The default body
//!   instead builds `unfold(x)` for the whole batch (22 MB for the lab CNN's second layer),
//!   multiplies it from memory into `[O, N·OH·OW]`, then moves that to `[N, O, OH, OW]` and
//!   adds the bias: three more passes over memory. Every output element is the same sum in the
//!   same order either way.
//! - **Input gradient** ([`input_gradient`]): for a stride-1 window with enough input channels,
//!   the forward pass above applied to the output gradient and the flipped weight (the terms
//!   of the default body's sums, added in another order); otherwise each image's `Wᵀ · G_n`,
//!   folded on its own (the default body's bits).
//! - **Weight gradient** of a stride-1 window ([`weight_gradient_on_grid`]): summed image by
//!   image, in fixed parts of the batch; other windows take the default body.

use std::mem::MaybeUninit;

use super::grid::Grid;
use super::layout::{fold_channel, unfold_rows};
use super::matmul::operand;
use super::simd::multiversion;
use super::{Cpu, CpuStorage, claim_each, copy_floats, split_blocks};
use crate::gemm::{Engine, MatRef, RowsAt, gemm_add_rows_at, gemm_rows_at, gemm_with};
use crate::profile::{Category, timed};
use ember_tensor::ops::conv2d::{InputAndWeight, output_rows, weight_gradient};
use ember_tensor::ops::{Conv2dGradients, Conv2dOp, Window2d};
use ember_tensor::{Error, Result};

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
            .then(|| match Grid::of(window) {
                Some(grid) => timed(Category::ConvWeightGradient, || {
                    weight_gradient_on_grid(x, grad, window, &grid, out_channels)
                }),
                None => {
                    let grad_rows = output_rows(backend, grad, window, out_channels)?;
                    weight_gradient(backend, x, &grad_rows, window, out_channels)
                }
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

/// The input gradient. For a stride-1 window it is itself a stride-1 convolution: of the
/// output gradient (`O` channels), padded by `d·(k - 1) - p`, by the weight flipped along both
/// axes with its two channel axes swapped (`W'[c, o, i, j] = W[o, c, kh-1-i, kw-1-j]`), and
/// runs as the forward pass does, on the grid (see [`transposed`]). Otherwise (or when the
/// padding exceeds `d·(k - 1)`), `fold(Wᵀ · G_n)` image by image ([`folded_input_gradient`]).
fn input_gradient(
    weight: &CpuStorage,
    grad: &CpuStorage,
    window: &Window2d,
    out_channels: usize,
) -> Result<CpuStorage> {
    match transposed(window, out_channels) {
        Some(transposed) => {
            let weight = weight.as_slice().ok_or_else(not_contiguous)?;
            let flipped = flipped_weight(weight, window, out_channels);
            conv2d(grad, &flipped, None, &transposed, window.channels)
        }
        None => folded_input_gradient(weight, grad, window, out_channels),
    }
}

/// The input gradient's convolution has one row of output per input channel: with fewer than
/// this, most rows of the kernel's tiles (6 with AVX2, 12 with AVX-512) would be empty, and
/// `fold(Wᵀ · G)` (a row per input channel and tap) is faster: 5.3 ms against 1.8 ms for the
/// input gradient of the lab CNN's first layer (one input channel), batch 100.
const TRANSPOSED_MIN_CHANNELS: usize = 8;

/// The window of the input gradient's convolution (see [`input_gradient`]) over the output
/// gradient `[N, O, OH, OW]`, if `window` has stride 1, padding at most `d·(k - 1)`, and at
/// least [`TRANSPOSED_MIN_CHANNELS`] input channels.
pub(super) fn transposed(window: &Window2d, out_channels: usize) -> Option<Window2d> {
    let o = window.options;
    if window.channels < TRANSPOSED_MIN_CHANNELS || o.stride != [1, 1] {
        return None;
    }
    let reach = |axis: usize| o.dilation[axis] * (o.kernel[axis] - 1);
    let padding = [
        reach(0).checked_sub(o.padding[0])?,
        reach(1).checked_sub(o.padding[1])?,
    ];
    let shape = ember_tensor::Shape::from([
        window.batch,
        out_channels,
        window.output[0],
        window.output[1],
    ]);
    let transposed = Window2d::new(
        "conv2d",
        &shape,
        ember_tensor::ops::WindowOptions { padding, ..o },
    );
    transposed.ok().filter(|t| t.output == window.input)
}

/// `W'[c, o, i, j] = W[o, c, kh-1-i, kw-1-j]` of a `[O, C, kh, kw]` weight.
pub(super) fn flipped_weight(weight: &[f32], window: &Window2d, out_channels: usize) -> CpuStorage {
    let [kh, kw] = window.options.kernel;
    let channels = window.channels;
    let mut flipped = Vec::with_capacity(weight.len());
    for c in 0..channels {
        for o in 0..out_channels {
            let taps = &weight[(o * channels + c) * kh * kw..][..kh * kw];
            flipped.extend(taps.iter().rev());
        }
    }
    CpuStorage::from(flipped)
}

/// `fold(Wᵀ · G)` image by image: each image's output gradient (`[O, OH·OW]`, contiguous in
/// `grad`) is multiplied into a buffer that stays in cache and folded into its own input
/// gradient; the images split between the threads. The default body instead moves `grad` to
/// `[O, N·OH·OW]`, builds the whole `Wᵀ · G` in memory (22 MB for the lab CNN's second layer)
/// and folds it. Each element is the same sum in the same order either way.
fn folded_input_gradient(
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
    let (pixels, image_len) = (one.positions(), one.input_len());
    let plane_len = window.input[0] * window.input[1];
    let engine = one_thread()?;
    let failure = std::sync::Mutex::new(None);
    let mut out = vec![0.0f32; window.input_len()];
    split_blocks(&mut out, window.batch, image_len, |first, images| {
        let mut columns = vec![0.0f32; one.patch_len() * pixels];
        for (i, image) in images.chunks_exact_mut(image_len.max(1)).enumerate() {
            let n = first + i;
            let g = &grad[n * out_channels * pixels..][..out_channels * pixels];
            let product = MatRef::row_major(g, out_channels, pixels)
                .and_then(|g| gemm_with(engine, weight, g, &mut columns));
            if let Err(e) = product {
                if let Ok(mut slot) = failure.lock() {
                    *slot = Some(e);
                }
                return;
            }
            let planes = image.chunks_exact_mut(plane_len.max(1));
            for (c, plane) in planes.enumerate() {
                fold_channel(&columns, &one, c, plane);
            }
        }
    });
    match failure.into_inner().ok().flatten() {
        Some(e) => Err(e),
        None => Ok(CpuStorage::from(out)),
    }
}

/// Parts of the batch the weight gradient sums separately (see [`weight_gradient_on_grid`]):
/// enough that a thread slowed down takes fewer, few enough that adding them up is nothing.
pub(super) const WEIGHT_GRADIENT_PARTS: usize = 8;

/// The weight gradient of a stride-1 window, `Σ_n G_n · unfold(x_n)ᵀ`, image by image on the
/// grid, in cache: each image's unfolded matrix (its rows runs of the padded image, read where
/// they lie) is multiplied by its output gradient spread over the grid (zero at the extra
/// columns), adding into a sum that stays in cache. The default body instead builds the whole
/// batch's unfolded matrix in memory (22 MB for the lab CNN's second layer) and its output
/// gradient as rows, and multiplies them from memory.
///
/// The batch is summed in [`WEIGHT_GRADIENT_PARTS`] fixed parts, which the threads claim one
/// at a time, added in order at the end: the same bits on one thread or two, however the parts
/// fell. (The default body sums over the whole batch in `K` blocks of the GEMM: the same terms
/// in another order, so the last bits differ.) Each image's product is taken as
/// `unfold(x_n) · G_nᵀ` (`[C·kh·kw, O]`): its strips of `O` columns pack a transpose of the
/// small `G_n`, and the unfolded rows are read in place.
fn weight_gradient_on_grid(
    x: &CpuStorage,
    grad: &CpuStorage,
    window: &Window2d,
    grid: &Grid,
    out_channels: usize,
) -> Result<CpuStorage> {
    let x = x.as_slice().ok_or_else(not_contiguous)?;
    let grad = grad.as_slice().ok_or_else(not_contiguous)?;
    let taps = window.patch_len();
    let pixels = window.output[0] * window.output[1];
    let image_len = window.input_len() / window.batch.max(1);
    let engine = one_thread()?;
    // Part `p`'s sum `Σ_n unfold(x_n) · G_nᵀ` over its images, as `[C·kh·kw, O]`.
    let parts = window.batch.clamp(1, WEIGHT_GRADIENT_PARTS);
    let part_sum = |(padded, spread): &mut (Vec<f32>, Vec<f32>), p: usize| -> Result<Vec<f32>> {
        let mut part = vec![0.0f32; taps * out_channels];
        for n in p * window.batch / parts..(p + 1) * window.batch / parts {
            grid.pad(&x[n * image_len..][..image_len], padded);
            let g = &grad[n * out_channels * pixels..][..out_channels * pixels];
            grid.spread(g, out_channels, spread);
            add_image_weight_gradient(engine, grid, (padded, spread), out_channels, &mut part)?;
        }
        Ok(part)
    };
    let mut sums: Vec<Result<Vec<f32>>> = (0..parts).map(|_| Ok(Vec::new())).collect();
    claim_each(
        &mut sums,
        || (Vec::new(), Vec::new()),
        |scratch, p, sum| {
            *sum = part_sum(scratch, p);
        },
    );
    Ok(sum_parts(
        &sums.into_iter().collect::<Result<Vec<_>>>()?,
        out_channels,
    ))
}

/// Adds one image's terms of a stride-1 window's weight gradient, `unfold(x_n) · G_nᵀ`
/// (`[C·kh·kw, O]`), into `sum`: `padded` holds the image on the grid ([`Grid::pad`]), `spread`
/// its output gradient spread over the grid ([`Grid::spread`], `[O, positions]`): the GEMM
/// reads the unfolded rows in place and packs the transpose of the small `G_n`.
pub(super) fn add_image_weight_gradient(
    engine: Engine,
    grid: &Grid,
    (padded, spread): (&[f32], &[f32]),
    out_channels: usize,
    sum: &mut [f32],
) -> Result<()> {
    let a = RowsAt::new(padded, grid.row_starts(), grid.positions())?;
    let b = MatRef::row_major(spread, out_channels, grid.positions())?.t();
    gemm_add_rows_at(engine, a, b, sum)
}

/// The weight gradient (`[O, C·kh·kw]`) from the parts' sums (each `[C·kh·kw, O]`, at least
/// one), added in order.
pub(super) fn sum_parts(sums: &[Vec<f32>], out_channels: usize) -> CpuStorage {
    let taps = sums[0].len() / out_channels.max(1);
    let mut out = Vec::with_capacity(out_channels * taps);
    for o in 0..out_channels {
        out.extend((0..taps).map(|t| {
            let at = t * out_channels + o;
            sums[1..]
                .iter()
                .fold(sums[0][at], |total, part| total + part[at])
        }));
    }
    CpuStorage::from(out)
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
    // On the grid, the product reads each image where it lies: one image at a time.
    let images = match grid {
        Some(_) => 1,
        None => (UNFOLDED_BYTES / per_image.max(1)).clamp(1, window.batch.max(1)),
    };
    let image_len = window.input_len() / window.batch.max(1);
    // The threads claim pieces one at a time.
    let engine = one_thread()?;
    let failure = std::sync::Mutex::new(None);
    let scratch = || (Vec::new(), Vec::new(), Vec::new());
    let convolve = |(padded, unfolded, product): &mut (Vec<f32>, Vec<f32>, Vec<f32>),
                    index: usize,
                    out: &mut &mut [MaybeUninit<f32>]| {
        let n0 = index * images;
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
            (padded, unfolded, product),
            out,
        );
        if let Err(e) = result {
            if let Ok(mut slot) = failure.lock() {
                *slot = Some(e);
            }
            // The output is not returned: fill it so that it is initialised memory.
            out.fill(MaybeUninit::new(f32::NAN));
        }
    };
    let mut out = Vec::with_capacity(window.batch * out_channels * pixels);
    let spare = &mut out.spare_capacity_mut()[..window.batch * out_channels * pixels];
    let mut pieces: Vec<_> = spare
        .chunks_mut((images * out_channels * pixels).max(1))
        .collect();
    claim_each(&mut pieces, scratch, convolve);
    // SAFETY: `convolve` wrote every image of the output: the product, or NaN on failure.
    unsafe { out.set_len(window.batch * out_channels * pixels) };
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    Ok(CpuStorage::from(out))
}

/// One piece of the batch (`piece.batch` images of `source`; one on the grid): multiplies the
/// weight by its unfolded matrix into `product` (`[O, n·positions]`), and writes each image's
/// planes plus the bias into `out` (`[n, O, OH, OW]`, every element). On the grid (a stride-1
/// window), the product reads the padded image (in `padded`) where it lies; otherwise the
/// piece is unfolded into `unfolded` first.
pub(super) fn convolve_images(
    (source, piece, grid): (&[f32], &Window2d, Option<&Grid>),
    (weight, bias): (MatRef<'_>, Option<&[f32]>),
    engine: Engine,
    (padded, unfolded, product): (&mut Vec<f32>, &mut Vec<f32>, &mut Vec<f32>),
    out: &mut [MaybeUninit<f32>],
) -> Result<()> {
    let [oh, ow] = piece.output;
    let out_channels = weight.rows();
    let (positions, pitch) = product_of_piece(
        (source, piece, grid),
        weight,
        engine,
        (padded, unfolded, product),
    )?;
    let cols = piece.batch * positions;
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

/// The product of the weight and the piece's unfolded images (`[O, n·positions]`) into
/// `product`, as [`convolve_images`] computes it; returns the output positions per image and
/// per output row: on the grid [`Grid::positions`] and [`Grid::pitch`], otherwise `OH·OW` and
/// `OW`.
pub(super) fn product_of_piece(
    (source, piece, grid): (&[f32], &Window2d, Option<&Grid>),
    weight: MatRef<'_>,
    engine: Engine,
    (padded, unfolded, product): (&mut Vec<f32>, &mut Vec<f32>, &mut Vec<f32>),
) -> Result<(usize, usize)> {
    let rows = piece.patch_len();
    let [oh, ow] = piece.output;
    let out_channels = weight.rows();
    Ok(match grid {
        Some(grid) => {
            grid.pad(source, padded);
            product.resize(out_channels * grid.positions(), 0.0);
            // Checks every tap's run against the padded image, for either path.
            let b = RowsAt::new(padded, grid.row_starts(), grid.positions())?;
            match weight.contiguous_rows().filter(|_| rows <= FEW_TAPS) {
                Some(weight) => {
                    few_taps_product(weight, padded, grid.row_starts(), grid.positions(), product)
                }
                None => gemm_rows_at(engine, weight, b, product)?,
            }
            (grid.positions(), grid.pitch())
        }
        None => {
            let cols = piece.positions();
            unfolded.clear();
            unfolded.reserve(rows * cols);
            unfold_rows(
                source,
                piece,
                0.0,
                0,
                &mut unfolded.spare_capacity_mut()[..rows * cols],
            );
            // SAFETY: `unfold_rows` wrote all its rows.
            unsafe { unfolded.set_len(rows * cols) };
            product.resize(out_channels * cols, 0.0);
            let b = MatRef::row_major(unfolded, rows, cols)?;
            gemm_with(engine, weight, b, product)?;
            (oh * ow, ow)
        }
    })
}

/// Up to this many taps per output (`C·kh·kw`; 9 for the lab CNN's first layer, one input
/// channel), the forward product on the grid is [`few_taps_product`]: the GEMM's micro-tiles
/// would run only a few steps of `K` between loading and storing their tile of `C`, and be
/// bound by those stores. The lab CNN's first block (convolution and pooling, batch 100, two
/// threads of a Zen 3) takes 1.4 ms with it, 1.9 ms with the GEMM.
const FEW_TAPS: usize = 9;

multiversion! {
    /// `product[o, p] = Σ_t weight[o, t] · padded[starts[t] + p]` (`weight` row-major
    /// `[O, T]`, `product` `[O, P]`), taps in order: a multiplication and an addition per tap,
    /// as plain loops over `p` that the compiler vectorises (the same bits at every level).
    fn few_taps_product(
        weight: &[f32],
        padded: &[f32],
        starts: &[usize],
        positions: usize,
        product: &mut [f32],
    ) {
        let taps = starts.len();
        let rows = product.chunks_exact_mut(positions.max(1));
        for (row, weights) in rows.zip(weight.chunks_exact(taps.max(1))) {
            // Runs of `RUN` outputs summed in registers over every tap, then stored once.
            let mut runs = row.chunks_exact_mut(RUN);
            let run_at = |start: usize, r: usize| -> &[f32; RUN] {
                // The caller checked every run against `padded`: the fallback is never taken.
                padded[start + r * RUN..]
                    .first_chunk::<RUN>()
                    .unwrap_or(&[0.0; RUN])
            };
            for (r, run) in runs.by_ref().enumerate() {
                let x = run_at(starts[0], r);
                let mut sum: [f32; RUN] = std::array::from_fn(|l| weights[0] * x[l]);
                for (&start, &w) in starts[1..].iter().zip(&weights[1..]) {
                    let x = run_at(start, r);
                    for (s, &x) in sum.iter_mut().zip(x) {
                        *s += w * x;
                    }
                }
                run.copy_from_slice(&sum);
            }
            let first = positions - positions % RUN;
            for (p, out) in runs.into_remainder().iter_mut().enumerate() {
                let mut sum = 0.0;
                for (t, (&start, &w)) in starts.iter().zip(weights).enumerate() {
                    let x = padded[start + first + p];
                    sum = if t == 0 { w * x } else { sum + w * x };
                }
                *out = sum;
            }
        }
    }
}

/// Outputs [`few_taps_product`] keeps in registers at once: four AVX2 vectors.
const RUN: usize = 32;

/// The selected GEMM engine kept on the calling thread: the image-by-image passes already
/// split their images between the two threads.
pub(super) fn one_thread() -> Result<Engine> {
    Ok(Engine {
        two_threads: false,
        ..Engine::selected()?
    })
}

pub(super) fn not_contiguous() -> Error {
    Error::Device {
        op: "conv2d",
        message: "storage is not contiguous".to_string(),
    }
}
