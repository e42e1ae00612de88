//! A convolution followed by a max pooling as one op (the lab CNN's `Conv2d` and
//! `MaxPool2d`, with the ReLU between them moved after the pooling): shape checks, the `Tensor`
//! methods, the [`Conv2dMaxPool2dOp`] family whose default bodies run
//! [`Conv2dOp`](crate::ops::Conv2dOp) and [`MaxPool2dOp`](crate::ops::MaxPool2dOp) one after
//! the other, and the op's conformance cases.
//!
//! Run as two ops, the convolution's whole output (`[N, O, OH, OW]`, 10 MB for the lab CNN's
//! first layer at batch 100) goes to memory and is read back by the pooling, and the backward
//! pass writes the same size again as the pooling's input gradient, which the convolution's
//! gradients then read. A backend that fuses the two keeps each image's convolution output
//! in cache and only the pooled quarter leaves it. The results are those of the two ops: the
//! pooled values and their indices, and the convolution's input and weight gradients.

use crate::conformance::{CaseInput, CaseValues, OpCall, OpCase};
use crate::ops::conv2d::{Conv2dGradients, InputAndWeight, conv2d_window};
use crate::ops::max_pool2d::pool2d_window;
use crate::ops::window::{Window2d, WindowOptions};
use crate::{Backend, Result, Shape, Tensor};

/// A convolution and the max pooling of its output, on a backend. The default bodies run
/// [`Conv2dOp`](crate::ops::Conv2dOp) then [`MaxPool2dOp`](crate::ops::MaxPool2dOp) (and the
/// backward passes in the reverse order), so every backend has the op; a backend overrides
/// them to keep the convolution's output out of memory.
pub trait Conv2dMaxPool2dOp<B: Backend> {
    /// `max_pool2d(conv2d(x, weight, bias))`: the pooled values (`[N, O, PH, PW]`) and the tap
    /// of each window's first maximum. `conv` describes `x` (`[N, C, H, W]`) under the
    /// convolution, `pool` the convolution's output (`[N, O, OH, OW]`) under the pooling.
    fn conv2d_max_pool2d(
        backend: &B,
        x: &B::Storage,
        weight: &B::Storage,
        bias: Option<&B::Storage>,
        conv: &Window2d,
        pool: &Window2d,
    ) -> Result<(B::Storage, B::Storage)> {
        unfused_forward(backend, x, weight, bias, conv, pool)
    }

    /// The gradients of [`Conv2dMaxPool2dOp::conv2d_max_pool2d`] with respect to `x` and
    /// `weight` (each only when asked for), given the pooled output's gradient `grad` and the
    /// forward pass's `indices`.
    #[allow(clippy::too_many_arguments)]
    fn conv2d_max_pool2d_backward(
        backend: &B,
        x: &B::Storage,
        weight: &B::Storage,
        grad: &B::Storage,
        indices: &B::Storage,
        conv: &Window2d,
        pool: &Window2d,
        wanted: Conv2dGradients,
    ) -> Result<InputAndWeight<B::Storage>> {
        unfused_backward(backend, (x, weight), (grad, indices), (conv, pool), wanted)
    }
}

/// The default forward body: the convolution, then the pooling of its output.
pub fn unfused_forward<B: Backend>(
    backend: &B,
    x: &B::Storage,
    weight: &B::Storage,
    bias: Option<&B::Storage>,
    conv: &Window2d,
    pool: &Window2d,
) -> Result<(B::Storage, B::Storage)> {
    let y = B::conv2d(backend, x, weight, bias, conv, pool.channels)?;
    B::max_pool2d(backend, &y, pool)
}

/// The default backward body: the pooling's input gradient, then the convolution's gradients.
pub fn unfused_backward<B: Backend>(
    backend: &B,
    (x, weight): (&B::Storage, &B::Storage),
    (grad, indices): (&B::Storage, &B::Storage),
    (conv, pool): (&Window2d, &Window2d),
    wanted: Conv2dGradients,
) -> Result<InputAndWeight<B::Storage>> {
    let grad_conv = B::max_pool2d_backward(backend, grad, indices, pool)?;
    B::conv2d_backward(backend, x, weight, &grad_conv, conv, pool.channels, wanted)
}

/// The windows of the convolution over `input` and of the pooling over the convolution's
/// output, after both ops' checks (errors name the shapes).
pub fn conv2d_max_pool2d_windows(
    input: &Shape,
    weight: &Shape,
    conv: WindowOptions,
    pool: WindowOptions,
) -> Result<(Window2d, Window2d)> {
    let conv = conv2d_window(input, weight, conv)?;
    let pool = pool2d_window("max_pool2d", &conv.output_shape(weight.dims()[0]), pool)?;
    Ok((conv, pool))
}

impl<B: Backend> Tensor<B> {
    /// `max_pool2d(conv2d(x, weight, bias, conv), pool)` as one op: the pooled values and the
    /// indices of the maxima, as [`Tensor::max_pool2d`] returns them.
    pub fn conv2d_max_pool2d(
        &self,
        weight: &Self,
        bias: Option<&Self>,
        conv: WindowOptions,
        pool: WindowOptions,
    ) -> Result<(Self, Self)> {
        let (conv, pool) = conv2d_max_pool2d_windows(self.shape(), weight.shape(), conv, pool)?;
        if let Some(bias) = bias {
            bias.expect_dims("conv2d bias", &[pool.channels])?;
        }
        let (y, indices) = B::conv2d_max_pool2d(
            self.backend(),
            self.storage(),
            weight.storage(),
            bias.map(Tensor::storage),
            &conv,
            &pool,
        )?;
        let shape = pool.output_shape(pool.channels);
        Ok((
            Tensor::from_storage(y, shape.clone(), self.backend())?,
            Tensor::from_storage(indices, shape, self.backend())?,
        ))
    }

    /// The gradients of [`Tensor::conv2d_max_pool2d`] with respect to the input and the weight
    /// (each only if `wanted`), given the pooled output's gradient `grad` and the `indices` of
    /// the forward pass. The bias's gradient is `grad.channel_sums()`: each pooled gradient
    /// lands on one element of the convolution's output.
    pub fn conv2d_max_pool2d_backward(
        &self,
        weight: &Self,
        (grad, indices): (&Self, &Self),
        (conv, pool): (WindowOptions, WindowOptions),
        wanted: Conv2dGradients,
    ) -> Result<(Option<Self>, Option<Self>)> {
        let (conv, pool) = conv2d_max_pool2d_windows(self.shape(), weight.shape(), conv, pool)?;
        let pooled = pool.output_shape(pool.channels);
        grad.expect_dims("conv2d_max_pool2d backward", pooled.dims())?;
        indices.expect_dims("conv2d_max_pool2d backward", pooled.dims())?;
        let (grad_input, grad_weight) = B::conv2d_max_pool2d_backward(
            self.backend(),
            self.storage(),
            weight.storage(),
            grad.storage(),
            indices.storage(),
            &conv,
            &pool,
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
}

/// A conformance case's shape class, input and weight dimensions, and the two windows.
type Block = (
    &'static str,
    [usize; 4],
    [usize; 4],
    WindowOptions,
    WindowOptions,
);

/// Convolutions with a pooling after them: the lab CNN's two blocks (at batch 3), a stride-1
/// window with overlapping, padded pooling windows over an odd-sized output, and a stride-2
/// convolution (which fused backends may leave to the default body).
pub(crate) fn conformance_cases(backward: bool) -> Vec<OpCase> {
    let lab = WindowOptions::new([3, 3]).padding([1, 1]);
    let lab_pool = WindowOptions::new([2, 2]).stride([2, 2]);
    let shapes: [Block; 4] = [
        (
            "lab CNN block 1",
            [3, 1, 28, 28],
            [32, 1, 3, 3],
            lab,
            lab_pool,
        ),
        (
            "lab CNN block 2",
            [3, 32, 14, 14],
            [64, 32, 3, 3],
            lab,
            lab_pool,
        ),
        (
            "3x3 pad 1, pool 3x3 stride 2 pad 1",
            [2, 9, 7, 9],
            [5, 9, 3, 3],
            lab,
            WindowOptions::new([3, 3]).stride([2, 2]).padding([1, 1]),
        ),
        (
            "3x3 stride 2, pool 2x2",
            [2, 3, 11, 9],
            [4, 3, 3, 3],
            WindowOptions::new([3, 3]).stride([2, 2]),
            lab_pool,
        ),
    ];
    shapes
        .into_iter()
        .map(|(class, input, weight, conv, pool)| {
            let values = CaseValues::Uniform(-1.0, 1.0);
            let tensor = |dims: &[usize]| CaseInput::new(dims, values);
            let mut inputs = vec![tensor(&input), tensor(&weight)];
            let call = if backward {
                let (_, pool_window) = conv2d_max_pool2d_windows(
                    &Shape::from(&input[..]),
                    &Shape::from(&weight[..]),
                    conv,
                    pool,
                )
                .expect("the table's windows fit");
                inputs.push(tensor(pool_window.output_shape(weight[0]).dims()));
                OpCall::Conv2dMaxPool2dBackward { conv, pool }
            } else {
                inputs.push(tensor(&[weight[0]]));
                OpCall::Conv2dMaxPool2d { conv, pool }
            };
            OpCase {
                call,
                class,
                inputs,
            }
        })
        .collect()
}
