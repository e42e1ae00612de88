//! Sums and means.

use ember_tensor::{Backend, Tensor};

use crate::Result;
use crate::var::Var;

impl<B: Backend> Var<B> {
    /// Sum along `axis`; the gradient is broadcast back over that axis.
    pub fn sum_axis(&self, axis: usize, keepdim: bool) -> Result<Var<B>> {
        self.reduce_axis(axis, keepdim, false)
    }

    /// Mean along `axis`; the gradient is broadcast back and divided by the axis length.
    pub fn mean_axis(&self, axis: usize, keepdim: bool) -> Result<Var<B>> {
        self.reduce_axis(axis, keepdim, true)
    }

    fn reduce_axis(&self, axis: usize, keepdim: bool, mean: bool) -> Result<Var<B>> {
        let x = self.value();
        let y = if mean {
            x.mean_axis(axis, keepdim)?
        } else {
            x.sum_axis(axis, keepdim)?
        };
        let input_shape = x.shape().clone();
        let kept_shape = input_shape.reduced(axis, true);
        let count = input_shape.dims()[axis];
        let backend = x.backend().clone();
        Ok(Var::from_op(
            y,
            if mean { "mean" } else { "sum" },
            &[self],
            move |g| {
                let g = g.reshape(kept_shape.clone())?;
                let g = if mean {
                    g.mul_scalar(1.0 / count as f32)?
                } else {
                    g
                };
                Ok(vec![Some(broadcast_to(&g, &input_shape, &backend)?)])
            },
        ))
    }

    /// Sum of all elements, as a scalar.
    pub fn sum_all(&self) -> Result<Var<B>> {
        self.reshape([self.shape().numel()])?.sum_axis(0, false)
    }

    /// Mean of all elements, as a scalar.
    pub fn mean_all(&self) -> Result<Var<B>> {
        self.reshape([self.shape().numel()])?.mean_axis(0, false)
    }
}

/// Expands `g` to `shape` by broadcasting.
pub(crate) fn broadcast_to<B: Backend>(
    g: &Tensor<B>,
    shape: &ember_tensor::Shape,
    backend: &B,
) -> Result<Tensor<B>> {
    if g.shape() == shape {
        return Ok(g.clone());
    }
    Ok(Tensor::zeros(shape.clone(), backend)?.add(g)?)
}
