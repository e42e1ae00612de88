//! 2-D convolution: the forward pass and its gradients side by side. Backward needs the input
//! and the weight (saved), and computes only the gradients that are needed: the input of a
//! network's first layer needs none.

use ember_tensor::Backend;
use ember_tensor::ops::{Conv2dGradients, WindowOptions};

use crate::Result;
use crate::var::Var;

impl<B: Backend> Var<B> {
    /// 2-D convolution of `[N, C, H, W]` by `weight` (`[O, C, kh, kw]`, its size giving the
    /// kernel) plus an optional `bias` (`[O]`), as `torch.nn.functional.conv2d`.
    ///
    /// Gradients: `dx` and `dW` from [`ember_tensor::Tensor::conv2d_backward`] (matmul + fold),
    /// `db` the output gradient summed over `N`, `H` and `W`.
    pub fn conv2d(
        &self,
        weight: &Var<B>,
        bias: Option<&Var<B>>,
        options: WindowOptions,
    ) -> Result<Var<B>> {
        let x = self.value();
        let w = weight.value();
        let b = bias.map(Var::value);
        let y = x.conv2d(&w, b.as_ref(), options)?;
        let wanted = Conv2dGradients {
            input: self.requires_grad(),
            weight: weight.requires_grad(),
        };
        let wants_bias = bias.is_some_and(Var::requires_grad);
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        Ok(Var::from_op(y, "conv2d", &inputs, move |g| {
            let (grad_x, grad_w) = x.conv2d_backward(&w, g, options, wanted)?;
            let mut grads = vec![grad_x, grad_w];
            if b.is_some() {
                grads.push(wants_bias.then(|| g.channel_sums()).transpose()?);
            }
            Ok(grads)
        }))
    }
}
