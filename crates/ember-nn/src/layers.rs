//! Layers: `Linear` and the activations.

use ember_autodiff::Var;
use ember_tensor::rand::Rng;
use ember_tensor::{Backend, Tensor};

use crate::module::{LayerKind, Module, join_name};
use crate::{Result, init};

/// `y = x·Wᵀ + b`, with `W` of shape `[out, in]` and `b` of shape `[out]`, as PyTorch's
/// `nn.Linear`. Initialised as PyTorch does by default: `W` Kaiming-uniform with `a = √5`
/// (i.e. `U(±1/√in)`), `b` `U(±1/√in)`.
#[derive(Debug, Clone)]
pub struct Linear<B: Backend> {
    /// `[out_features, in_features]`
    pub weight: Var<B>,
    /// `[out_features]`, absent with `bias = false`.
    pub bias: Option<Var<B>>,
}

impl<B: Backend> Linear<B> {
    /// A layer with bias and PyTorch's default initialisation drawn from `rng`.
    pub fn new<R: Rng + ?Sized>(
        in_features: usize,
        out_features: usize,
        rng: &mut R,
        backend: &B,
    ) -> Result<Self> {
        Self::with_bias(in_features, out_features, true, rng, backend)
    }

    /// A layer with or without bias, PyTorch's default initialisation.
    pub fn with_bias<R: Rng + ?Sized>(
        in_features: usize,
        out_features: usize,
        bias: bool,
        rng: &mut R,
        backend: &B,
    ) -> Result<Self> {
        let weight = Var::parameter(Tensor::zeros([out_features, in_features], backend)?);
        init::kaiming_uniform_(&weight, 5f32.sqrt(), init::FanMode::FanIn, rng)?;
        let bias = if bias {
            let bound = if in_features > 0 {
                1.0 / (in_features as f32).sqrt()
            } else {
                0.0
            };
            let b = Var::parameter(Tensor::zeros([out_features], backend)?);
            init::uniform_(&b, -bound, bound, rng)?;
            Some(b)
        } else {
            None
        };
        Ok(Linear { weight, bias })
    }

    /// `in_features`
    pub fn in_features(&self) -> usize {
        self.weight.shape().dims()[1]
    }

    /// `out_features`
    pub fn out_features(&self) -> usize {
        self.weight.shape().dims()[0]
    }
}

impl<B: Backend> Module<B> for Linear<B> {
    fn forward(&self, x: &Var<B>) -> Result<Var<B>> {
        let y = x.matmul_t(&self.weight, false, true)?;
        Ok(match &self.bias {
            Some(b) => y.add(b)?,
            None => y,
        })
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Var<B>)) {
        f(&join_name(prefix, "weight"), &self.weight);
        if let Some(b) = &self.bias {
            f(&join_name(prefix, "bias"), b);
        }
    }
}

macro_rules! activation {
    ($(#[$doc:meta])* $name:ident, $method:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $name;

        impl<B: Backend> Module<B> for $name {
            fn forward(&self, x: &Var<B>) -> Result<Var<B>> {
                Ok(x.$method()?)
            }
            fn visit_parameters(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Var<B>)) {}

            fn kind(&self) -> LayerKind<'_, B> {
                $kind
            }
        }
    };
}

activation!(
    /// `max(x, 0)`, as `nn.ReLU`.
    ReLU,
    relu,
    LayerKind::ReLU
);
activation!(
    /// The logistic function, as `nn.Sigmoid`.
    Sigmoid,
    sigmoid,
    LayerKind::Other
);
activation!(
    /// Hyperbolic tangent, as `nn.Tanh`.
    Tanh,
    tanh,
    LayerKind::Other
);
