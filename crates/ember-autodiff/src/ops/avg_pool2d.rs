//! 2-D average pooling, forward and backward side by side: backward spreads each output
//! gradient evenly over its window.

use ember_tensor::Backend;
use ember_tensor::ops::WindowOptions;

use crate::Result;
use crate::var::Var;

impl<B: Backend> Var<B> {
    /// Average pooling of `[N, C, H, W]` (as `torch.nn.functional.avg_pool2d`, padding counted
    /// as zeros).
    pub fn avg_pool2d(&self, options: WindowOptions) -> Result<Var<B>> {
        let x = self.value();
        let y = x.avg_pool2d(options)?;
        let input_shape = x.shape().clone();
        Ok(Var::from_op(y, "avg_pool2d", &[self], move |g| {
            Ok(vec![Some(g.avg_pool2d_backward(&input_shape, options)?)])
        }))
    }
}
