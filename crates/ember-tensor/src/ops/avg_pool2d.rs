//! 2-D average pooling (`NCHW`, as `torch.nn.functional.avg_pool2d` with
//! `count_include_pad = True`): shape checks, the `Tensor` methods, the [`AvgPool2dOp`] family
//! with default bodies built from unfold, mean, strided copy and fold, and its conformance
//! cases.

use crate::conformance::{CaseInput, CaseValues, OpCall, OpCase};
use crate::ops::layout::StridedView;
use crate::ops::max_pool2d::{pool_shapes, pool2d_window};
use crate::ops::window::{Window2d, WindowOptions};
use crate::ops::{ReduceOp, ScalarOp};
use crate::{Backend, Result, Shape, Tensor};

/// Average pooling on a backend, with default bodies built from the backend's primitives.
pub trait AvgPool2dOp<B: Backend> {
    /// The mean of each window of each channel of `x` (`[N, C, H, W]`); padding counts as
    /// zeros.
    fn avg_pool2d(backend: &B, x: &B::Storage, window: &Window2d) -> Result<B::Storage> {
        let per_channel = window.per_channel();
        let cols = backend.unfold2d(x, &per_channel, 0.0)?;
        let shape = Shape::new([per_channel.taps(), per_channel.positions()]);
        backend.reduce(ReduceOp::Mean, &cols, &shape, 0)
    }

    /// The gradient with respect to `x`: each value of `grad` spread evenly over its window.
    fn avg_pool2d_backward(
        backend: &B,
        grad: &B::Storage,
        window: &Window2d,
    ) -> Result<B::Storage> {
        let per_channel = window.per_channel();
        let taps = per_channel.taps();
        let spread = backend.strided_copy(
            grad,
            &StridedView {
                offset: 0,
                dims: vec![taps, per_channel.positions()],
                strides: vec![0, 1],
            },
        )?;
        let spread = backend.scalar(ScalarOp::Mul, &spread, 1.0 / taps as f32)?;
        backend.fold2d(&spread, &per_channel)
    }
}

impl<B: Backend> Tensor<B> {
    /// Average pooling of `[N, C, H, W]` to `[N, C, OH, OW]`.
    pub fn avg_pool2d(&self, options: WindowOptions) -> Result<Self> {
        let window = pool2d_window("avg_pool2d", self.shape(), options)?;
        let y = B::avg_pool2d(self.backend(), self.storage(), &window)?;
        Tensor::from_storage(y, window.output_shape(window.channels), self.backend())
    }

    /// The gradient of [`Tensor::avg_pool2d`] with respect to its input (of `input_shape`),
    /// given the output gradient (`self`).
    pub fn avg_pool2d_backward(&self, input_shape: &Shape, options: WindowOptions) -> Result<Self> {
        let window = pool2d_window("avg_pool2d backward", input_shape, options)?;
        self.expect_dims(
            "avg_pool2d backward",
            window.output_shape(window.channels).dims(),
        )?;
        let storage = B::avg_pool2d_backward(self.backend(), self.storage(), &window)?;
        Tensor::from_storage(storage, input_shape.clone(), self.backend())
    }
}

/// Average-pooling cases: the pooling windows of the max-pooling table.
pub(crate) fn conformance_cases(backward: bool) -> Vec<OpCase> {
    pool_shapes()
        .into_iter()
        .map(|(class, input, options)| {
            let values = CaseValues::Uniform(-3.0, 3.0);
            let mut inputs = vec![CaseInput::new(&input, values)];
            let call = if backward {
                if let Ok(w) = Window2d::new("avg_pool2d", &Shape::from(&input[..]), options) {
                    inputs.push(CaseInput::new(w.output_shape(w.channels).dims(), values));
                }
                OpCall::AvgPool2dBackward(options)
            } else {
                OpCall::AvgPool2d(options)
            };
            OpCase {
                call,
                class,
                inputs,
            }
        })
        .collect()
}
