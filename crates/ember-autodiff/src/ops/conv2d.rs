//! 2-D convolution: the forward pass and its gradients side by side. Backward needs the input
//! and the weight (saved), and computes only the gradients that are needed: the input of a
//! network's first layer needs none.

use ember_tensor::ops::{Conv2dGradients, WindowOptions};
use ember_tensor::{Backend, Result as TensorResult, Tensor};

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
        let forward = |x: &Tensor<B>, w: &Tensor<B>, b: Option<&Tensor<B>>| {
            Ok((x.conv2d(w, b, options)?, ()))
        };
        let grads = move |x: &Tensor<B>, w: &Tensor<B>, g: &Tensor<B>, _: &(), wanted| {
            x.conv2d_backward(w, g, options, wanted)
        };
        record_convolution("conv2d", (self, weight, bias), forward, grads)
    }
}

/// Records a convolution-like op on `x`, `weight` and an optional per-channel `bias`:
/// `forward` gives its output from their values and what its backward pass needs besides
/// them (`S`), `grads` the gradients of the input and the weight (each only if wanted) from
/// the output gradient. Backward saves the input and the weight; the bias's gradient is the
/// output gradient summed over `N`, `H` and `W`.
pub(crate) fn record_convolution<B: Backend, S: Send + Sync + 'static>(
    op: &'static str,
    (x, weight, bias): (&Var<B>, &Var<B>, Option<&Var<B>>),
    forward: impl FnOnce(&Tensor<B>, &Tensor<B>, Option<&Tensor<B>>) -> TensorResult<(Tensor<B>, S)>,
    grads: impl Fn(&Tensor<B>, &Tensor<B>, &Tensor<B>, &S, Conv2dGradients) -> TensorResult<Grads<B>>
    + Send
    + Sync
    + 'static,
) -> Result<Var<B>> {
    let (x_value, w) = (x.value(), weight.value());
    let b = bias.map(Var::value);
    let (y, saved) = forward(&x_value, &w, b.as_ref())?;
    let wanted = Conv2dGradients {
        input: x.requires_grad(),
        weight: weight.requires_grad(),
    };
    let wants_bias = bias.is_some_and(Var::requires_grad);
    let mut inputs = vec![x, weight];
    inputs.extend(bias);
    Ok(Var::from_op(y, op, &inputs, move |g| {
        let (grad_x, grad_w) = grads(&x_value, &w, g, &saved, wanted)?;
        let mut grads = vec![grad_x, grad_w];
        if b.is_some() {
            grads.push(wants_bias.then(|| g.channel_sums()).transpose()?);
        }
        Ok(grads)
    }))
}

/// The input's and the weight's gradients, each present when it was wanted.
type Grads<B> = (Option<Tensor<B>>, Option<Tensor<B>>);
