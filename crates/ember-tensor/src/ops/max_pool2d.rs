//! 2-D max pooling (`NCHW`, as `torch.nn.functional.max_pool2d`): shape checks, the `Tensor`
//! methods, the [`MaxPool2dOp`] family with default bodies built from unfold, argmax, gather,
//! scatter and fold, and the op's conformance cases.
//!
//! Each channel's windows are unfolded (padding reads −∞) and transposed to one row per
//! window, the first maximum of each row is kept with its tap index, and the backward pass puts
//! each output gradient at that tap and folds: the gradient goes to the first maximum of a
//! window, as in PyTorch.

use crate::conformance::{CaseInput, CaseValues, OpCall, OpCase};
use crate::ops::layout::StridedView;
use crate::ops::window::{Window2d, WindowOptions};
use crate::{Backend, Error, Result, Shape, Tensor};

/// Max pooling on a backend, with default bodies built from the backend's primitives.
pub trait MaxPool2dOp<B: Backend> {
    /// The maximum of each window of each channel of `x` (`[N, C, H, W]`), and the index of
    /// its first occurrence among the window's taps (as `f32`, row-major in the window).
    fn max_pool2d(
        backend: &B,
        x: &B::Storage,
        window: &Window2d,
    ) -> Result<(B::Storage, B::Storage)> {
        let per_channel = window.per_channel();
        let (outputs, taps) = (per_channel.positions(), per_channel.taps());
        let cols = backend.unfold2d(x, &per_channel, f32::NEG_INFINITY)?;
        let windows = backend.strided_copy(&cols, &transposed(taps, outputs))?;
        let indices = backend.argmax(&windows, outputs, taps)?;
        let y = backend.gather(&windows, &indices, outputs, taps)?;
        Ok((y, indices))
    }

    /// The gradient with respect to `x`: each value of `grad` (`[N, C, OH, OW]`) added at the
    /// input position its window's maximum came from.
    fn max_pool2d_backward(
        backend: &B,
        grad: &B::Storage,
        indices: &B::Storage,
        window: &Window2d,
    ) -> Result<B::Storage> {
        let per_channel = window.per_channel();
        let (outputs, taps) = (per_channel.positions(), per_channel.taps());
        let windows = backend.scatter(grad, indices, outputs, taps)?;
        let cols = backend.strided_copy(&windows, &transposed(outputs, taps))?;
        backend.fold2d(&cols, &per_channel)
    }
}

/// Reads a `[rows, cols]` matrix as its `[cols, rows]` transpose.
fn transposed(rows: usize, cols: usize) -> StridedView {
    StridedView {
        offset: 0,
        dims: vec![cols, rows],
        strides: vec![1, cols],
    }
}

/// The window of a pooling op over `input`, after PyTorch's checks (padding at most half the
/// kernel).
pub fn pool2d_window(op: &'static str, input: &Shape, options: WindowOptions) -> Result<Window2d> {
    let window = Window2d::new(op, input, options)?;
    let o = &window.options;
    for axis in 0..2 {
        if 2 * o.padding[axis] > o.kernel[axis] {
            return Err(Error::InvalidArgument {
                op,
                message: format!(
                    "padding {:?} must be at most half the kernel size {:?}",
                    o.padding, o.kernel
                ),
            });
        }
    }
    Ok(window)
}

impl<B: Backend> Tensor<B> {
    /// Max pooling of `[N, C, H, W]`: the output `[N, C, OH, OW]` and, for the backward pass,
    /// the tap index of each maximum.
    pub fn max_pool2d(&self, options: WindowOptions) -> Result<(Self, Self)> {
        let window = pool2d_window("max_pool2d", self.shape(), options)?;
        let (y, indices) = B::max_pool2d(self.backend(), self.storage(), &window)?;
        let shape = window.output_shape(window.channels);
        Ok((
            Tensor::from_storage(y, shape.clone(), self.backend())?,
            Tensor::from_storage(indices, shape, self.backend())?,
        ))
    }

    /// The gradient of [`Tensor::max_pool2d`] with respect to its input (of `input_shape`),
    /// given the output gradient (`self`) and the indices the forward pass returned.
    pub fn max_pool2d_backward(
        &self,
        indices: &Self,
        input_shape: &Shape,
        options: WindowOptions,
    ) -> Result<Self> {
        let window = pool2d_window("max_pool2d backward", input_shape, options)?;
        let out = window.output_shape(window.channels);
        self.expect_dims("max_pool2d backward", out.dims())?;
        indices.expect_dims("max_pool2d backward", out.dims())?;
        let storage =
            B::max_pool2d_backward(self.backend(), self.storage(), indices.storage(), &window)?;
        Tensor::from_storage(storage, input_shape.clone(), self.backend())
    }
}

/// Pooling windows of the conformance table (shared with average pooling): 2×2, 3×3 with
/// stride 2 and padding (overlapping windows), a rectangular window, and the lab CNN's pools.
pub(crate) fn pool_shapes() -> [(&'static str, [usize; 4], WindowOptions); 4] {
    [
        (
            "2x2",
            [2, 3, 6, 8],
            WindowOptions::new([2, 2]).stride([2, 2]),
        ),
        (
            "3x3 stride 2 pad 1",
            [2, 2, 7, 9],
            WindowOptions::new([3, 3]).stride([2, 2]).padding([1, 1]),
        ),
        (
            "2x3 stride (1,2)",
            [1, 3, 5, 7],
            WindowOptions::new([2, 3]).stride([1, 2]),
        ),
        (
            "lab CNN pool",
            [4, 32, 28, 28],
            WindowOptions::new([2, 2]).stride([2, 2]),
        ),
    ]
}

/// Max-pooling cases, on seeded values and on small integers (ties in most windows).
pub(crate) fn conformance_cases(backward: bool) -> Vec<OpCase> {
    let mut cases = Vec::new();
    for (class, input, options) in pool_shapes() {
        for values in [CaseValues::Uniform(-3.0, 3.0), CaseValues::Ties] {
            let out = Window2d::new("max_pool2d", &Shape::from(&input[..]), options)
                .map(|w| w.output_shape(w.channels));
            let mut inputs = vec![CaseInput::new(&input, values)];
            let call = if backward {
                if let Ok(out) = out {
                    inputs.push(CaseInput::new(out.dims(), CaseValues::Uniform(-1.0, 1.0)));
                }
                OpCall::MaxPool2dBackward(options)
            } else {
                OpCall::MaxPool2d(options)
            };
            cases.push(OpCase {
                call,
                class,
                inputs,
            });
        }
    }
    cases
}
