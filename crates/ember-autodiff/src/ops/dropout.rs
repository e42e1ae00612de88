//! Dropout, forward and backward side by side: the backward pass applies the forward's mask
//! (the same key and step, so the same bits) to the output gradient.

use ember_tensor::Backend;
use ember_tensor::ops::DropoutMask;

use crate::Result;
use crate::var::Var;

impl<B: Backend> Var<B> {
    /// Dropout in training mode (as `torch.nn.functional.dropout(x, p, training=True)`): each
    /// element zeroed or scaled by `1 / (1 − p)` as `mask` draws it.
    pub fn dropout(&self, mask: &DropoutMask) -> Result<Var<B>> {
        let y = self.value().dropout(mask)?;
        let mask = *mask;
        Ok(Var::from_op(y, "dropout", &[self], move |g| {
            Ok(vec![Some(g.dropout(&mask)?)])
        }))
    }
}
