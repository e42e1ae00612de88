//! `Flatten` and `Unflatten`: views of another shape, as PyTorch's layers of those names. No
//! data moves.

use ember_autodiff::Var;
use ember_tensor::Backend;

use crate::module::Module;
use crate::{Error, Result};

/// Dimensions `start_dim..` merged into one (as `nn.Flatten`, default `start_dim = 1`): no
/// copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flatten {
    /// The first dimension merged.
    pub start_dim: usize,
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten { start_dim: 1 }
    }
}

impl<B: Backend> Module<B> for Flatten {
    fn forward(&self, x: &Var<B>) -> Result<Var<B>> {
        x.flatten_from(self.start_dim)
            .map_err(|source| Error::Layer {
                layer: format!("Flatten(start_dim={})", self.start_dim),
                source: Box::new(source),
            })
    }

    fn visit_parameters(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Var<B>)) {}
}

/// Dimension `dim` split into `sizes` (as `nn.Unflatten`): e.g. `[N, 784]` → `[N, 1, 28, 28]`
/// with `dim = 1`, `sizes = [1, 28, 28]`. No copy.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Unflatten {
    /// The dimension split.
    pub dim: usize,
    /// What it becomes.
    pub sizes: Vec<usize>,
}

impl Unflatten {
    /// Splits `dim` into `sizes`.
    pub fn new(dim: usize, sizes: &[usize]) -> Self {
        Unflatten {
            dim,
            sizes: sizes.to_vec(),
        }
    }
}

impl<B: Backend> Module<B> for Unflatten {
    fn forward(&self, x: &Var<B>) -> Result<Var<B>> {
        let shape = x.shape();
        let dims = shape.dims();
        let describe = || format!("Unflatten(dim={}, sizes={:?})", self.dim, self.sizes);
        if dims.get(self.dim) != Some(&self.sizes.iter().product()) {
            let mut expected: Vec<String> = (0..self.dim).map(|i| format!("d{i}")).collect();
            expected.push(self.sizes.iter().product::<usize>().to_string());
            return Err(Error::InputShape {
                layer: describe(),
                expected: format!("[{}, ...]", expected.join(", ")),
                got: shape,
            });
        }
        let mut new_dims = dims[..self.dim].to_vec();
        new_dims.extend(&self.sizes);
        new_dims.extend(&dims[self.dim + 1..]);
        x.reshape(new_dims).map_err(|source| Error::Layer {
            layer: describe(),
            source: Box::new(source),
        })
    }

    fn visit_parameters(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Var<B>)) {}
}
