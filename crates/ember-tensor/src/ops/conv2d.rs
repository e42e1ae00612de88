//! 2-D convolution (`NCHW`, as `torch.nn.functional.conv2d` with `groups = 1`): shape checks,
//! the `Tensor` methods, the [`Conv2dOp`] family with default bodies built from unfold, matmul,
//! strided copy and fold, and the op's conformance cases.
//!
//! Forward: `cols = unfold(x)` (`[C·kh·kw, N·OH·OW]`), `y = W · cols` (`[O, N·OH·OW]`), then
//! a strided copy to `[N, O, OH, OW]`. Backward, with `G` the output gradient as
//! `[O, N·OH·OW]`: `dW = G · colsᵀ` and `dx = fold(Wᵀ · G)`.

use crate::conformance::{CaseInput, CaseValues, OpCall, OpCase};
use crate::ops::layout::StridedView;
use crate::ops::window::{Window2d, WindowOptions};
use crate::ops::{BinaryOp, MatmulDims, ReduceOp};
use crate::{Backend, Error, Result, Shape, Tensor};

/// Convolution on a backend. Every method has a default body built from the backend's
/// primitives, so a backend gets convolution by writing `impl Conv2dOp<MyBackend> for
/// MyBackend {}` and overrides a method only where a benchmark says so.
pub trait Conv2dOp<B: Backend> {
    /// `y[n, o] = Σ_c W[o, c] ⋆ x[n, c] + bias[o]`: `x` is `[N, C, H, W]` (described by
    /// `window`), `weight` is `[O, C·kh·kw]`, `bias` (if any) is `[O]`; returns
    /// `[N, O, OH, OW]`.
    fn conv2d(
        backend: &B,
        x: &B::Storage,
        weight: &B::Storage,
        bias: Option<&B::Storage>,
        window: &Window2d,
        out_channels: usize,
    ) -> Result<B::Storage> {
        let y = weight_times_unfolded(backend, x, weight, window, out_channels)?;
        let y = backend.strided_copy(&y, &channels_to_images(window, out_channels))?;
        match bias {
            None => Ok(y),
            Some(bias) => {
                let pixels = window.output[0] * window.output[1];
                let shape = Shape::new([window.batch, out_channels, pixels]);
                backend.binary(
                    BinaryOp::Add,
                    &y,
                    &shape,
                    bias,
                    &Shape::new([out_channels, 1]),
                    &shape,
                )
            }
        }
    }

    /// Gradients of [`Conv2dOp::conv2d`] with respect to `x` and `weight` (each only when asked
    /// for), given the output gradient `grad` (`[N, O, OH, OW]`).
    fn conv2d_backward(
        backend: &B,
        x: &B::Storage,
        weight: &B::Storage,
        grad: &B::Storage,
        window: &Window2d,
        out_channels: usize,
        wanted: Conv2dGradients,
    ) -> Result<InputAndWeight<B::Storage>> {
        let grad_rows = output_rows(backend, grad, window, out_channels)?;
        let grad_weight = wanted
            .weight
            .then(|| weight_gradient(backend, x, &grad_rows, window, out_channels))
            .transpose()?;
        let grad_input = wanted
            .input
            .then(|| input_gradient(backend, weight, &grad_rows, window, out_channels))
            .transpose()?;
        Ok((grad_input, grad_weight))
    }
}

/// The weight gradient `G · unfold(x)ᵀ` (`[O, C·kh·kw]`), from the output gradient as
/// [`output_rows`].
pub fn weight_gradient<B: Backend>(
    backend: &B,
    x: &B::Storage,
    grad_rows: &B::Storage,
    window: &Window2d,
    out_channels: usize,
) -> Result<B::Storage> {
    let cols = backend.unfold2d(x, window, 0.0)?;
    backend.matmul(
        grad_rows,
        &cols,
        MatmulDims {
            m: out_channels,
            k: window.positions(),
            n: window.patch_len(),
            trans_a: false,
            trans_b: true,
        },
    )
}

/// The output gradient (`[N, O, OH, OW]`) as `[O, N·OH·OW]`, one row per output channel: the
/// layout of the products of the backward pass.
pub fn output_rows<B: Backend>(
    backend: &B,
    grad: &B::Storage,
    window: &Window2d,
    out_channels: usize,
) -> Result<B::Storage> {
    backend.strided_copy(grad, &images_to_channels(window, out_channels))
}

/// The input gradient `fold(Wᵀ · G)`, from the output gradient as [`output_rows`].
fn input_gradient<B: Backend>(
    backend: &B,
    weight: &B::Storage,
    grad_rows: &B::Storage,
    window: &Window2d,
    out_channels: usize,
) -> Result<B::Storage> {
    let grad_cols = backend.matmul(
        weight,
        grad_rows,
        MatmulDims {
            m: window.patch_len(),
            k: out_channels,
            n: window.positions(),
            trans_a: true,
            trans_b: false,
        },
    )?;
    backend.fold2d(&grad_cols, window)
}

/// The gradients of the input and of the weight, each present when it was asked for.
pub type InputAndWeight<T> = (Option<T>, Option<T>);

/// `W · unfold(x)`: the convolution as `[O, N·OH·OW]`, one row per output channel (what the
/// default body then moves to `[N, O, OH, OW]`; a backend's override may start from it too).
pub fn weight_times_unfolded<B: Backend>(
    backend: &B,
    x: &B::Storage,
    weight: &B::Storage,
    window: &Window2d,
    out_channels: usize,
) -> Result<B::Storage> {
    let cols = backend.unfold2d(x, window, 0.0)?;
    backend.matmul(
        weight,
        &cols,
        MatmulDims {
            m: out_channels,
            k: window.patch_len(),
            n: window.positions(),
            trans_a: false,
            trans_b: false,
        },
    )
}

/// Which gradients [`Conv2dOp::conv2d_backward`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conv2dGradients {
    /// The input's.
    pub input: bool,
    /// The weight's.
    pub weight: bool,
}

/// Reads `[O, N·OH·OW]` (a row per output channel) as `[N, O, OH·OW]`: runs of `OH·OW`.
pub(crate) fn channels_to_images(window: &Window2d, out_channels: usize) -> StridedView {
    let pixels = window.output[0] * window.output[1];
    StridedView {
        offset: 0,
        dims: vec![window.batch, out_channels, pixels],
        strides: vec![pixels, window.batch * pixels, 1],
    }
}

/// Reads `[N, O, OH·OW]` as `[O, N·OH·OW]` (as `[O, N, OH·OW]`).
fn images_to_channels(window: &Window2d, out_channels: usize) -> StridedView {
    let pixels = window.output[0] * window.output[1];
    StridedView {
        offset: 0,
        dims: vec![out_channels, window.batch, pixels],
        strides: vec![pixels, out_channels * pixels, 1],
    }
}

/// The window a `[O, C, kh, kw]` weight with `options` places over `input`, after checking
/// that the two fit: the errors name both shapes.
pub fn conv2d_window(input: &Shape, weight: &Shape, options: WindowOptions) -> Result<Window2d> {
    let &[out_channels, in_channels, kh, kw] = weight.dims() else {
        return Err(Error::WrongRank {
            op: "conv2d",
            expected: "a weight of shape [out_channels, in_channels, kh, kw]",
            shape: weight.clone(),
        });
    };
    if out_channels == 0 {
        return Err(Error::InvalidArgument {
            op: "conv2d",
            message: format!("weight {weight} has no output channels"),
        });
    }
    let window = Window2d::new(
        "conv2d",
        input,
        WindowOptions {
            kernel: [kh, kw],
            ..options
        },
    )?;
    if window.channels != in_channels {
        return Err(Error::InvalidArgument {
            op: "conv2d",
            message: format!(
                "input {input} has {} channels but weight {weight} expects {in_channels}",
                window.channels
            ),
        });
    }
    Ok(window)
}

impl<B: Backend> Tensor<B> {
    /// 2-D convolution of `[N, C, H, W]` by `weight` (`[O, C, kh, kw]`) plus an optional
    /// `bias` (`[O]`); `options.kernel` is taken from the weight. Returns `[N, O, OH, OW]`.
    pub fn conv2d(
        &self,
        weight: &Self,
        bias: Option<&Self>,
        options: WindowOptions,
    ) -> Result<Self> {
        let window = conv2d_window(self.shape(), weight.shape(), options)?;
        let out_channels = weight.dims()[0];
        if let Some(bias) = bias {
            bias.expect_dims("conv2d bias", &[out_channels])?;
        }
        let storage = B::conv2d(
            self.backend(),
            self.storage(),
            weight.storage(),
            bias.map(Tensor::storage),
            &window,
            out_channels,
        )?;
        Tensor::from_storage(storage, window.output_shape(out_channels), self.backend())
    }

    /// Gradients of [`Tensor::conv2d`] with respect to the input and the weight (each only if
    /// `wanted`), given the output gradient `grad`.
    pub fn conv2d_backward(
        &self,
        weight: &Self,
        grad: &Self,
        options: WindowOptions,
        wanted: Conv2dGradients,
    ) -> Result<(Option<Self>, Option<Self>)> {
        let window = conv2d_window(self.shape(), weight.shape(), options)?;
        let out_channels = weight.dims()[0];
        grad.expect_dims("conv2d backward", window.output_shape(out_channels).dims())?;
        let (grad_input, grad_weight) = B::conv2d_backward(
            self.backend(),
            self.storage(),
            weight.storage(),
            grad.storage(),
            &window,
            out_channels,
            wanted,
        )?;
        let grad_input = grad_input
            .map(|s| Tensor::from_storage(s, self.shape().clone(), self.backend()))
            .transpose()?;
        let grad_weight = grad_weight
            .map(|s| Tensor::from_storage(s, weight.shape().clone(), self.backend()))
            .transpose()?;
        Ok((grad_input, grad_weight))
    }

    /// The gradient of a per-channel bias of an `[N, C, H, W]` output: `grad` summed over
    /// `N`, `H` and `W`.
    pub fn channel_sums(&self) -> Result<Self> {
        let &[n, c, h, w] = self.dims() else {
            return Err(Error::WrongRank {
                op: "channel_sums",
                expected: "a tensor of shape [N, C, H, W]",
                shape: self.shape().clone(),
            });
        };
        self.reshape([n, c, h * w])?
            .reduce(ReduceOp::Sum, 2, false)?
            .reduce(ReduceOp::Sum, 0, false)
    }
}

/// Convolutions of the conformance table: padding, stride, no padding with a large kernel, a
/// rectangular kernel with uneven stride and dilation, and the lab CNN's second layer.
pub(crate) fn conformance_cases(backward: bool) -> Vec<OpCase> {
    let shapes: [(&'static str, [usize; 4], [usize; 4], WindowOptions); 5] = [
        (
            "3x3 pad 1",
            [2, 3, 7, 6],
            [4, 3, 3, 3],
            WindowOptions::new([3, 3]).padding([1, 1]),
        ),
        (
            "3x3 stride 2",
            [2, 2, 9, 8],
            [3, 2, 3, 3],
            WindowOptions::new([3, 3]).stride([2, 2]),
        ),
        (
            "5x5",
            [1, 3, 8, 8],
            [2, 3, 5, 5],
            WindowOptions::new([5, 5]),
        ),
        (
            "2x3 stride (2,1) dilation 2",
            [2, 2, 9, 7],
            [3, 2, 2, 3],
            WindowOptions::new([2, 3])
                .stride([2, 1])
                .padding([1, 0])
                .dilation([2, 1]),
        ),
        (
            "lab CNN layer 2",
            [4, 32, 14, 14],
            [64, 32, 3, 3],
            WindowOptions::new([3, 3]).padding([1, 1]),
        ),
    ];
    shapes
        .into_iter()
        .map(|(class, input, weight, options)| {
            let values = CaseValues::Uniform(-1.0, 1.0);
            let tensor = |dims: &[usize]| CaseInput::new(dims, values);
            let mut inputs = vec![tensor(&input), tensor(&weight)];
            let call = if backward {
                let window =
                    conv2d_window(&Shape::from(&input[..]), &Shape::from(&weight[..]), options)
                        .expect("the table's convolutions fit");
                inputs.push(tensor(window.output_shape(weight[0]).dims()));
                OpCall::Conv2dBackward(options)
            } else {
                inputs.push(tensor(&[weight[0]]));
                OpCall::Conv2d(options)
            };
            OpCase {
                call,
                class,
                inputs,
            }
        })
        .collect()
}
