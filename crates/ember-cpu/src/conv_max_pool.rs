//! A convolution and the max pooling of its output, image by image, each thread on its own
//! images: each image's convolution output stays in cache (100 KiB for the lab CNN's first
//! layer) and only its pooled quarter goes to memory. The two ops in a row write the whole
//! `[N, O, OH, OW]` output (10 MB for that layer at batch 100) and read it back, and their
//! backward passes write and read its gradient the same way.
//!
//! - **Forward**: each image convolved as [`Conv2dOp::conv2d`](ember_tensor::ops::Conv2dOp) does it
//!   (`conv.rs`), then pooled plane by plane as [`MaxPool2dOp::max_pool2d`] does: the same
//!   values and indices as the two ops.
//! - **Backward**, with 8 or more input channels and a pooling that keeps at most half the
//!   outputs: from the pooling's winners alone (`pool_winners.rs`), the same terms as the two
//!   ops' sums less their zero ones, added in another order. Otherwise, for a stride-1
//!   convolution: each image's pooled gradient is spread back over its convolution output
//!   (`unpool_image`), then that image's terms of the weight gradient and its input gradient
//!   are computed as the convolution's own backward pass computes them, the batch in the same
//!   fixed parts: the same bits as the two ops. Other windows (and an input gradient the
//!   convolution computes by folding) run the two ops.
//!
//! [`MaxPool2dOp::max_pool2d`]: ember_tensor::ops::MaxPool2dOp::max_pool2d

use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::Mutex;

use super::conv::{
    WEIGHT_GRADIENT_PARTS, add_image_weight_gradient, convolve_images, flipped_weight,
    not_contiguous, one_thread, product_of_piece, sum_parts, transposed,
};
use super::grid::Grid;
use super::matmul::operand;
use super::pool::{Out, is_lab_pool, pool_lab_plane, pool_plane, unpool_image, unpool_plane};
use super::{Cpu, CpuStorage, claim_each, pool_winners};
use crate::profile::{Category, timed};
use ember_tensor::ops::conv2d::InputAndWeight;
use ember_tensor::ops::conv2d_max_pool2d::unfused_backward;
use ember_tensor::ops::{Conv2dGradients, Conv2dMaxPool2dOp, Window2d};
use ember_tensor::{Error, Result};

impl Conv2dMaxPool2dOp<Cpu> for Cpu {
    fn conv2d_max_pool2d(
        _backend: &Cpu,
        x: &CpuStorage,
        weight: &CpuStorage,
        bias: Option<&CpuStorage>,
        conv: &Window2d,
        pool: &Window2d,
    ) -> Result<(CpuStorage, CpuStorage)> {
        timed(Category::ConvMaxPoolForward, || {
            conv2d_max_pool2d(x, weight, bias, conv, pool)
        })
    }

    fn conv2d_max_pool2d_backward(
        backend: &Cpu,
        x: &CpuStorage,
        weight: &CpuStorage,
        grad: &CpuStorage,
        indices: &CpuStorage,
        conv: &Window2d,
        pool: &Window2d,
        wanted: Conv2dGradients,
    ) -> Result<InputAndWeight<CpuStorage>> {
        if !wanted.input && !wanted.weight {
            return Ok((None, None));
        }
        if pool_winners::applies(conv, pool) {
            return timed(Category::ConvMaxPoolBackward, || {
                pool_winners::backward(
                    (x, weight),
                    (grad, indices),
                    (conv, pool),
                    (wanted.input, wanted.weight),
                )
            });
        }
        let transposed = transposed(conv, pool.channels);
        match Grid::of(conv) {
            Some(grid) if !wanted.input || transposed.is_some() => {
                timed(Category::ConvMaxPoolBackward, || {
                    let windows = Windows {
                        conv,
                        pool,
                        grid: &grid,
                        transposed: wanted.input.then_some(transposed).flatten(),
                    };
                    backward_on_grid((x, weight), (grad, indices), &windows, wanted.weight)
                })
            }
            _ => unfused_backward(backend, (x, weight), (grad, indices), (conv, pool), wanted),
        }
    }
}

fn conv2d_max_pool2d(
    x: &CpuStorage,
    weight: &CpuStorage,
    bias: Option<&CpuStorage>,
    conv: &Window2d,
    pool: &Window2d,
) -> Result<(CpuStorage, CpuStorage)> {
    let images = x.as_slice().ok_or_else(not_contiguous)?;
    let out_channels = pool.channels;
    let weight = operand(weight, out_channels, conv.patch_len(), false)?;
    let bias = bias
        .map(|b| b.as_slice().ok_or_else(not_contiguous))
        .transpose()?;
    let grid = Grid::of(conv);
    let one = Window2d { batch: 1, ..*conv };
    let image_len = conv.input_len() / conv.batch.max(1);
    let conv_len = out_channels * pool.input[0] * pool.input[1];
    let (plane_in, plane_out) = (
        pool.input[0] * pool.input[1],
        pool.output[0] * pool.output[1],
    );
    let (pooled_len, ow) = (out_channels * plane_out, pool.output[1]);
    let len = conv.batch * pooled_len;
    let engine = one_thread()?;
    let failure = Mutex::new(None);
    let (mut values, mut indices) = (Vec::with_capacity(len), Vec::with_capacity(len));
    let mut pieces: Vec<(&mut [Out], &mut [Out])> = values.spare_capacity_mut()[..len]
        .chunks_mut(pooled_len.max(1))
        .zip(indices.spare_capacity_mut()[..len].chunks_mut(pooled_len.max(1)))
        .collect();
    let scratch = || (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    claim_each(
        &mut pieces,
        scratch,
        |(padded, unfolded, product, out), n, (values, indices)| {
            let source = (&images[n * image_len..][..image_len], &one, grid.as_ref());
            let pooled = values
                .chunks_exact_mut(plane_out.max(1))
                .zip(indices.chunks_exact_mut(plane_out.max(1)));
            let done = if is_lab_pool(pool) {
                // Pooled straight from the product, the bias added to each value as it is read.
                let scratch = (&mut *padded, &mut *unfolded, &mut *product);
                product_of_piece(source, weight, engine, scratch).map(|(positions, pitch)| {
                    let planes = product.chunks(positions.max(1));
                    for (o, (plane, (values, indices))) in planes.zip(pooled).enumerate() {
                        let plane = (plane, pitch);
                        match bias {
                            Some(b) => pool_lab_plane(plane, |v| v + b[o], ow, values, indices),
                            None => pool_lab_plane(plane, |v| v, ow, values, indices),
                        }
                    }
                })
            } else {
                out.clear();
                out.reserve(conv_len);
                let scratch = (&mut *padded, &mut *unfolded, &mut *product);
                let spare = &mut out.spare_capacity_mut()[..conv_len];
                convolve_images(source, (weight, bias), engine, scratch, spare).map(|()| {
                    // SAFETY: `convolve_images` wrote every element of the image's output.
                    unsafe { out.set_len(conv_len) };
                    let planes = out.chunks_exact(plane_in.max(1));
                    for (plane, (values, indices)) in planes.zip(pooled) {
                        pool_plane(plane, pool, values, indices);
                    }
                })
            };
            if let Err(e) = done {
                if let Ok(mut slot) = failure.lock() {
                    *slot = Some(e);
                }
                // Not returned: filled so that it is initialised memory.
                values.fill(MaybeUninit::new(f32::NAN));
                indices.fill(MaybeUninit::new(f32::NAN));
            }
        },
    );
    // SAFETY: every image's values and indices were written: pooled, or NaN on failure.
    unsafe {
        values.set_len(len);
        indices.set_len(len);
    }
    match failure.into_inner().ok().flatten() {
        Some(e) => Err(e),
        None => Ok((CpuStorage::from(values), CpuStorage::from(indices))),
    }
}

/// What the fused backward pass reads its images through.
struct Windows<'a> {
    conv: &'a Window2d,
    pool: &'a Window2d,
    /// The stride-1 convolution's grid.
    grid: &'a Grid,
    /// The input gradient's convolution (see `conv.rs`), when the input gradient is wanted.
    transposed: Option<Window2d>,
}

/// Each thread's buffers for the backward pass.
#[derive(Default)]
struct Scratch {
    /// One image's gradient of the convolution's output.
    grad: Vec<f32>,
    /// The image, padded on the grid, and its gradient spread over the grid.
    padded: Vec<f32>,
    spread: Vec<f32>,
    /// The input gradient's convolution: the gradient padded on its grid, and its product.
    grad_padded: Vec<f32>,
    unfolded: Vec<f32>,
    product: Vec<f32>,
}

/// The input gradient (if `windows.transposed`) and the weight gradient (if `weight_wanted`)
/// of a stride-1 convolution followed by a max pooling, image by image, in the fixed parts of
/// the convolution's own weight gradient (`conv.rs`).
fn backward_on_grid(
    (x, weight): (&CpuStorage, &CpuStorage),
    (grad, indices): (&CpuStorage, &CpuStorage),
    windows: &Windows<'_>,
    weight_wanted: bool,
) -> Result<InputAndWeight<CpuStorage>> {
    let Windows {
        conv,
        pool,
        grid,
        transposed,
    } = windows;
    let (x, weight) = (
        x.as_slice().ok_or_else(not_contiguous)?,
        weight.as_slice().ok_or_else(not_contiguous)?,
    );
    let (grad, indices) = (
        grad.as_slice().ok_or_else(not_contiguous)?,
        indices.as_slice().ok_or_else(not_contiguous)?,
    );
    let out_channels = pool.channels;
    let batch = conv.batch;
    let image_len = conv.input_len() / batch.max(1);
    let plane_out = (pool.output[0] * pool.output[1]).max(1);
    let pooled_len = out_channels * plane_out;
    let pool_one = Window2d { batch: 1, ..**pool };
    let taps = conv.patch_len();
    let engine = one_thread()?;
    // The input gradient's convolution: the flipped weight, on its own grid, image by image.
    let flipped = transposed
        .as_ref()
        .map(|_| flipped_weight(weight, conv, out_channels));
    let input_gradient = match (transposed, &flipped) {
        (Some(t), Some(flipped)) => Some((
            Window2d { batch: 1, ..*t },
            Grid::of(t).ok_or_else(|| not_on_grid(t))?,
            operand(flipped, conv.channels, t.patch_len(), false)?,
        )),
        _ => None,
    };

    // The lab's pool spreads the pooled gradient straight over the grid; other pools (and the
    // input gradient) go through each image's convolution-output gradient.
    let straight = is_lab_pool(pool);
    let parts = BatchParts::of(batch);
    let dx_len = if input_gradient.is_some() {
        conv.input_len()
    } else {
        0
    };
    let mut dx = Vec::with_capacity(dx_len);
    let spare = &mut dx.spare_capacity_mut()[..dx_len];
    let mut items: Vec<_> = parts
        .split(spare, image_len)
        .into_iter()
        .map(|dx| (Ok(Vec::new()), dx))
        .collect();

    // Part `p`: its images' sum `Σ_n unfold(x_n) · G_nᵀ` (`[C·kh·kw, O]`, if wanted), and
    // their input gradients written into `dx`.
    let part = |s: &mut Scratch, p: usize, dx: &mut [MaybeUninit<f32>]| -> Result<Vec<f32>> {
        let mut sum = vec![
            0.0f32;
            if weight_wanted {
                taps * out_channels
            } else {
                0
            }
        ];
        for (i, n) in parts.images(p).enumerate() {
            let pooled = n * pooled_len..(n + 1) * pooled_len;
            let (grad, taps) = (&grad[pooled.clone()], &indices[pooled]);
            if input_gradient.is_some() || !straight {
                unpool_image(grad, taps, &pool_one, &mut s.grad);
            }
            if weight_wanted {
                grid.pad(&x[n * image_len..][..image_len], &mut s.padded);
                if straight {
                    let planes = grid.spread_planes(out_channels, &mut s.spread);
                    let windows = grad
                        .chunks_exact(plane_out)
                        .zip(taps.chunks_exact(plane_out));
                    for (plane, windows) in planes.zip(windows) {
                        unpool_plane(windows, &pool_one, (plane, grid.pitch()), |v| v);
                    }
                } else {
                    grid.spread(&s.grad, out_channels, &mut s.spread);
                }
                let image = (s.padded.as_slice(), s.spread.as_slice());
                add_image_weight_gradient(engine, grid, image, out_channels, &mut sum)?;
            }
            if let Some((one, grad_grid, flipped)) = &input_gradient {
                convolve_images(
                    (&s.grad, one, Some(grad_grid)),
                    (*flipped, None),
                    engine,
                    (&mut s.grad_padded, &mut s.unfolded, &mut s.product),
                    &mut dx[i * image_len..][..image_len],
                )?;
            }
        }
        Ok(sum)
    };
    claim_each(&mut items, Scratch::default, |s, p, (sum, dx)| {
        *sum = part(s, p, dx);
        if sum.is_err() {
            // Not returned: filled so that it is initialised memory.
            dx.fill(MaybeUninit::new(f32::NAN));
        }
    });
    let sums: Vec<Result<Vec<f32>>> = items.into_iter().map(|(sum, _)| sum).collect();
    // SAFETY: every part wrote its images' input gradients, or NaN on failure.
    unsafe { dx.set_len(dx_len) };
    let sums = sums.into_iter().collect::<Result<Vec<_>>>()?;
    let grad_weight = weight_wanted.then(|| sum_parts(&sums, out_channels));
    let grad_input = (dx_len > 0).then(|| CpuStorage::from(dx));
    Ok((grad_input, grad_weight))
}

/// The batch in the convolution's fixed weight-gradient parts (`conv.rs`): the images each
/// part sums, in order, and each part's share of the input gradient.
pub(super) struct BatchParts {
    batch: usize,
    parts: usize,
}

impl BatchParts {
    pub(super) fn of(batch: usize) -> Self {
        BatchParts {
            batch,
            parts: batch.clamp(1, WEIGHT_GRADIENT_PARTS),
        }
    }

    /// The images part `p` sums.
    pub(super) fn images(&self, p: usize) -> Range<usize> {
        p * self.batch / self.parts..(p + 1) * self.batch / self.parts
    }

    /// `dx` (`image_len` floats per image, or empty when not wanted) cut into each part's
    /// images, parts in order.
    pub(super) fn split<'a>(
        &self,
        mut dx: &'a mut [MaybeUninit<f32>],
        image_len: usize,
    ) -> Vec<&'a mut [MaybeUninit<f32>]> {
        (0..self.parts)
            .map(|p| {
                let len = if dx.is_empty() {
                    0
                } else {
                    self.images(p).len() * image_len
                };
                let (head, tail) = std::mem::take(&mut dx).split_at_mut(len);
                dx = tail;
                head
            })
            .collect()
    }
}

fn not_on_grid(window: &Window2d) -> Error {
    Error::Device {
        op: "conv2d_max_pool2d",
        message: format!(
            "the input gradient's window {:?} has no stride-1 grid",
            window.options
        ),
    }
}

#[cfg(test)]
mod tests {
    use crate::Cpu;
    use crate::test_values;
    use ember_tensor::Tensor;
    use ember_tensor::ops::{Conv2dGradients, WindowOptions};

    fn tensor(dims: &[usize], seed: usize) -> Tensor<Cpu> {
        let values = test_values(dims.iter().product(), seed);
        Tensor::from_vec(values, dims, &Cpu).unwrap()
    }

    fn bits(t: &Tensor<Cpu>) -> Vec<u32> {
        t.to_vec().unwrap().iter().map(|v| v.to_bits()).collect()
    }

    /// The largest difference between `got` and `want`, relative to `1 + |want|`.
    fn worst_difference(got: &Tensor<Cpu>, want: &Tensor<Cpu>) -> f32 {
        let (got, want) = (got.to_vec().unwrap(), want.to_vec().unwrap());
        assert_eq!(got.len(), want.len());
        got.iter()
            .zip(&want)
            .map(|(g, w)| (g - w).abs() / (1.0 + w.abs()))
            .fold(0.0, f32::max)
    }

    /// The fused op gives the values and indices of the convolution and the pooling run one
    /// after the other, bit for bit. Its gradients are the same bits where it runs the
    /// convolution's own backward pass image by image, and the same sums in another order
    /// where it walks the pooling's winners (`pool_winners.rs`: eight or more input channels
    /// and a pooling that keeps at most half the outputs). The configurations: the lab CNN's
    /// blocks (batch 11: parts of unequal sizes), a pooling with overlapping, padded windows,
    /// a convolution with fewer channels than the flipped-weight input gradient needs, a
    /// stride-2 convolution (left to the two ops), and a dilated stride-2 convolution with
    /// enough channels for the winners.
    #[test]
    fn fused_gives_the_results_of_the_two_ops() {
        let lab = WindowOptions::new([3, 3]).padding([1, 1]);
        let lab_pool = WindowOptions::new([2, 2]).stride([2, 2]);
        let overlapping = WindowOptions::new([3, 3]).stride([2, 2]).padding([1, 1]);
        let dilated = WindowOptions::new([3, 2])
            .stride([2, 2])
            .padding([2, 1])
            .dilation([2, 1]);
        // (input, weight, convolution, pooling, whether the winners are walked)
        let configurations = [
            ([11, 1, 28, 28], [32, 1, 3, 3], lab, lab_pool, false),
            ([11, 32, 14, 14], [64, 32, 3, 3], lab, lab_pool, true),
            ([3, 9, 9, 7], [5, 9, 3, 3], lab, overlapping, true),
            ([2, 3, 8, 8], [4, 3, 3, 3], lab, lab_pool, false),
            (
                [2, 3, 11, 9],
                [4, 3, 3, 3],
                WindowOptions::new([3, 3]).stride([2, 2]),
                lab_pool,
                false,
            ),
            ([3, 40, 13, 11], [6, 40, 3, 2], dilated, overlapping, true),
        ];
        let wanted = Conv2dGradients {
            input: true,
            weight: true,
        };
        for (i, (input, weight, conv, pool, winners)) in configurations.into_iter().enumerate() {
            let (x, w, b) = (
                tensor(&input, i),
                tensor(&weight, 10 + i),
                tensor(&weight[..1], 20 + i),
            );
            let (y, indices) = x.conv2d_max_pool2d(&w, Some(&b), conv, pool).unwrap();
            let convolved = x.conv2d(&w, Some(&b), conv).unwrap();
            let (want_y, want_indices) = convolved.max_pool2d(pool).unwrap();
            assert_eq!(bits(&y), bits(&want_y), "configuration {i}: values");
            assert_eq!(
                bits(&indices),
                bits(&want_indices),
                "configuration {i}: indices"
            );

            // Some pooled gradients zero, as a ReLU after the pooling leaves them.
            let g = tensor(y.dims(), 30 + i).relu().unwrap();
            let (dx, dw) = x
                .conv2d_max_pool2d_backward(&w, (&g, &indices), (conv, pool), wanted)
                .unwrap();
            let g_conv = g
                .max_pool2d_backward(&indices, convolved.shape(), pool)
                .unwrap();
            let (want_dx, want_dw) = x.conv2d_backward(&w, &g_conv, conv, wanted).unwrap();
            let (dx, dw, want_dx, want_dw) =
                (dx.unwrap(), dw.unwrap(), want_dx.unwrap(), want_dw.unwrap());
            if winners {
                for (what, got, want) in [("dx", &dx, &want_dx), ("dW", &dw, &want_dw)] {
                    let worst = worst_difference(got, want);
                    assert!(worst < 1e-5, "configuration {i}: {what} differs by {worst}");
                }
            } else {
                assert_eq!(bits(&dx), bits(&want_dx), "configuration {i}: dx");
                assert_eq!(bits(&dw), bits(&want_dw), "configuration {i}: dW");
            }

            // Each gradient alone, the same as both together.
            for wanted in [(true, false), (false, true)] {
                let wanted = Conv2dGradients {
                    input: wanted.0,
                    weight: wanted.1,
                };
                let (dx_alone, dw_alone) = x
                    .conv2d_max_pool2d_backward(&w, (&g, &indices), (conv, pool), wanted)
                    .unwrap();
                assert_eq!(
                    (dx_alone.is_some(), dw_alone.is_some()),
                    (wanted.input, wanted.weight)
                );
                if let Some(dx_alone) = dx_alone {
                    assert_eq!(bits(&dx_alone), bits(&dx), "configuration {i}: dx alone");
                }
                if let Some(dw_alone) = dw_alone {
                    assert_eq!(bits(&dw_alone), bits(&dw), "configuration {i}: dW alone");
                }
            }
        }
    }
}
