//! 2-D max pooling, forward and backward side by side: the forward pass saves the tap index
//! of each window's first maximum, so backward sends the gradient there, as PyTorch.

use ember_tensor::Backend;
use ember_tensor::ops::WindowOptions;

use crate::Result;
use crate::var::Var;

impl<B: Backend> Var<B> {
    /// Max pooling of `[N, C, H, W]` (as `torch.nn.functional.max_pool2d`; padding counts as
    /// −∞).
    pub fn max_pool2d(&self, options: WindowOptions) -> Result<Var<B>> {
        let x = self.value();
        let (y, indices) = x.max_pool2d(options)?;
        let input_shape = x.shape().clone();
        Ok(Var::from_op(y, "max_pool2d", &[self], move |g| {
            Ok(vec![Some(g.max_pool2d_backward(
                &indices,
                &input_shape,
                options,
            )?)])
        }))
    }
}
