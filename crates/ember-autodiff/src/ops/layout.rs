//! Layout: views and reorderings. A reshape (`view`, `flatten`) moves no data; a permute or
//! transpose copies once, and its gradient is the inverse permutation.

use ember_tensor::{Backend, Shape};

use crate::Result;
use crate::var::Var;

impl<B: Backend> Var<B> {
    /// The same values with another shape (as `Tensor.view`); an alias of [`Var::reshape`].
    pub fn view(&self, shape: impl Into<Shape>) -> Result<Var<B>> {
        self.reshape(shape)
    }

    /// Dimensions `start..` merged into one (as `torch.flatten(x, start)`); no copy.
    pub fn flatten_from(&self, start: usize) -> Result<Var<B>> {
        let flat = self.value().flatten_from(start)?;
        self.reshape(flat.shape().clone())
    }

    /// The dimensions reordered: output dimension `i` is input dimension `order[i]`. The
    /// gradient is permuted back.
    pub fn permute(&self, order: &[usize]) -> Result<Var<B>> {
        let y = self.value().permute(order)?;
        let mut inverse = vec![0; order.len()];
        for (i, &axis) in order.iter().enumerate() {
            inverse[axis] = i;
        }
        Ok(Var::from_op(y, "permute", &[self], move |g| {
            Ok(vec![Some(g.permute(&inverse)?)])
        }))
    }

    /// Dimensions `a` and `b` swapped; the gradient is swapped back (a transpose is its own
    /// inverse).
    pub fn transpose(&self, a: usize, b: usize) -> Result<Var<B>> {
        let y = self.value().transpose(a, b)?;
        Ok(Var::from_op(y, "transpose", &[self], move |g| {
            Ok(vec![Some(g.transpose(a, b)?)])
        }))
    }
}
