//! The softmax family: log-softmax and the fused softmax-cross-entropy.

use ember_tensor::{Backend, Tensor};

use crate::Result;
use crate::var::Var;

impl<B: Backend> Var<B> {
    /// Log-softmax along the last axis. With `y = log_softmax(x)`:
    /// `dx = g - exp(y) · Σ g` (the sum over the row).
    pub fn log_softmax(&self) -> Result<Var<B>> {
        let x = self.value();
        let y = x.log_softmax()?;
        let saved_y = y.clone();
        Ok(Var::from_op(y, "log_softmax", &[self], move |g| {
            let last = g.shape().rank() - 1;
            let row_sums = g.sum_axis(last, true)?;
            Ok(vec![Some(g.sub(&saved_y.exp()?.mul(&row_sums)?)?)])
        }))
    }

    /// Per-row softmax cross-entropy of logits `[N, C]` against class indices `labels` `[N]`
    /// (stored as `f32`); returns the `[N]` losses. The gradient
    /// `(softmax - onehot) · g` is one fused backend pass.
    pub fn softmax_cross_entropy(&self, labels: &Tensor<B>) -> Result<Var<B>> {
        let logits = self.value();
        let losses = logits.softmax_cross_entropy(labels)?;
        let labels = labels.clone();
        Ok(Var::from_op(
            losses,
            "softmax_cross_entropy",
            &[self],
            move |g| {
                Ok(vec![Some(
                    logits.softmax_cross_entropy_backward(&labels, g)?,
                )])
            },
        ))
    }
}
