//! A convolution followed by a max pooling, as one op: forward and backward side by side.
//! Backward needs the input, the weight and the indices of the maxima (saved); the
//! convolution's output itself is never kept.

use ember_tensor::ops::WindowOptions;
use ember_tensor::{Backend, Tensor};

use super::conv2d::record_convolution;
use crate::Result;
use crate::var::Var;

impl<B: Backend> Var<B> {
    /// `max_pool2d(conv2d(x, weight, bias, conv), pool)` as one op
    /// ([`ember_tensor::Tensor::conv2d_max_pool2d`]): the same values as [`Var::conv2d`] then
    /// [`Var::max_pool2d`] and the same gradients (up to the order of their sums), without the
    /// convolution's output in memory.
    ///
    /// Gradients: `dx` and `dW` from [`ember_tensor::Tensor::conv2d_max_pool2d_backward`],
    /// `db` the pooled output's gradient summed over `N`, `H` and `W` (each window's gradient
    /// goes to one element of the convolution's output, unless the window's maximum is a
    /// padding tap: only when every value of the window is −∞).
    ///
    /// ```
    /// use ember_autodiff::Var;
    /// use ember_tensor::ops::WindowOptions;
    /// use ember_cpu::Cpu;
    /// use ember_tensor::Tensor;
    ///
    /// let x = Var::constant(Tensor::ones([1, 1, 4, 4], &Cpu)?);
    /// let w = Var::parameter(Tensor::ones([2, 1, 3, 3], &Cpu)?);
    /// let conv = WindowOptions::new([3, 3]).padding([1, 1]);
    /// let pool = WindowOptions::new([2, 2]).stride([2, 2]);
    /// let y = x.conv2d_max_pool2d(&w, None, conv, pool)?;
    /// // Each 2×2 window's maximum: an inner pixel sees 9 ones.
    /// assert_eq!(y.value().to_vec()?, vec![9.0; 8]);
    /// y.sum_all()?.backward()?;
    /// assert_eq!(w.grad().expect("a parameter").dims(), &[2, 1, 3, 3]);
    /// # Ok::<(), ember_autodiff::Error>(())
    /// ```
    pub fn conv2d_max_pool2d(
        &self,
        weight: &Var<B>,
        bias: Option<&Var<B>>,
        conv: WindowOptions,
        pool: WindowOptions,
    ) -> Result<Var<B>> {
        // The forward pass's indices of the maxima are what backward needs besides x and W.
        let forward = |x: &Tensor<B>, w: &Tensor<B>, b: Option<&Tensor<B>>| {
            x.conv2d_max_pool2d(w, b, conv, pool)
        };
        let grads =
            move |x: &Tensor<B>, w: &Tensor<B>, g: &Tensor<B>, indices: &Tensor<B>, wanted| {
                x.conv2d_max_pool2d_backward(w, (g, indices), (conv, pool), wanted)
            };
        record_convolution("conv2d_max_pool2d", (self, weight, bias), forward, grads)
    }
}
