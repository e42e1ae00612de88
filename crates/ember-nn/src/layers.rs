//! Layers: `Linear`, the activations, and `Sequential`.

use ember_autodiff::Var;
use ember_tensor::rand::Rng;
use ember_tensor::{Backend, Tensor};

use crate::buffer::Buffer;
use crate::module::{Module, join_name};
use crate::random::RandomStream;
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
    ($(#[$doc:meta])* $name:ident, $method:ident, $commutes:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub struct $name;

        impl<B: Backend> Module<B> for $name {
            fn forward(&self, x: &Var<B>) -> Result<Var<B>> {
                Ok(x.$method()?)
            }
            fn visit_parameters(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Var<B>)) {}

            fn commutes_with_max_pool(&self) -> bool {
                $commutes
            }
        }
    };
}

activation!(
    /// `max(x, 0)`, as `nn.ReLU`.
    ReLU,
    relu,
    true
);
activation!(
    /// The logistic function, as `nn.Sigmoid`.
    Sigmoid,
    sigmoid,
    false
);
activation!(
    /// Hyperbolic tangent, as `nn.Tanh`.
    Tanh,
    tanh,
    false
);

/// Modules applied in order; parameters are named by position (`0.weight`, `2.bias`, ...), as
/// PyTorch's `nn.Sequential`, or by the names given to [`Sequential::append_named`] (as a
/// `Sequential` built from an `OrderedDict`: `layer1.0.weight`, `fc.bias`, ...).
pub struct Sequential<B: Backend> {
    layers: Vec<(String, Box<dyn Module<B>>)>,
    training: bool,
}

impl<B: Backend> Default for Sequential<B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<B: Backend> std::fmt::Debug for Sequential<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sequential")
            .field("layers", &self.layers.len())
            .field("training", &self.training)
            .finish()
    }
}

impl<B: Backend> Sequential<B> {
    /// An empty sequence.
    pub fn new() -> Self {
        Sequential {
            layers: Vec::new(),
            training: true,
        }
    }

    /// Appends a module (builder style), named by its position.
    pub fn append(mut self, layer: impl Module<B> + 'static) -> Self {
        self.push(layer);
        self
    }

    /// Appends a module named `name` (builder style): its parameters are `name.weight`, ...
    pub fn append_named(mut self, name: &str, layer: impl Module<B> + 'static) -> Self {
        self.layers.push((name.to_string(), Box::new(layer)));
        self
    }

    /// Appends a module, named by its position.
    pub fn push(&mut self, layer: impl Module<B> + 'static) {
        let name = self.layers.len().to_string();
        self.layers.push((name, Box::new(layer)));
    }

    /// Number of modules.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no modules.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Whether the sequence is in training mode.
    pub fn is_training(&self) -> bool {
        self.training
    }
}

impl<B: Backend> Module<B> for Sequential<B> {
    /// Runs the layers in order, with two rewrites that give the same numbers for less work
    /// (the lab CNN's `Conv2d, ReLU, MaxPool2d` runs as one fused convolution and pooling,
    /// then the ReLU on the pooled quarter):
    /// - a max pooling runs before the layers just before it that commute with it
    ///   ([`Module::commutes_with_max_pool`], ReLU);
    /// - a layer then followed by a max pooling runs with it as one op where it has one
    ///   ([`Module::forward_max_pooled`], Conv2d).
    fn forward(&self, x: &Var<B>) -> Result<Var<B>> {
        // The order the layers run in: each max pooling moved before the commuting layers
        // that precede it.
        let mut order: Vec<&dyn Module<B>> = Vec::with_capacity(self.layers.len());
        for (_, layer) in &self.layers {
            let mut at = order.len();
            if layer.as_max_pool().is_some() {
                while at > 0 && order[at - 1].commutes_with_max_pool() {
                    at -= 1;
                }
            }
            order.insert(at, layer.as_ref());
        }
        let mut h = x.clone();
        let mut layers = order.into_iter().peekable();
        while let Some(layer) = layers.next() {
            let fused = layers
                .peek()
                .and_then(|next| next.as_max_pool())
                .and_then(|pool| layer.forward_max_pooled(&h, pool));
            h = match fused {
                Some(pooled) => {
                    layers.next();
                    pooled?
                }
                None => layer.forward(&h)?,
            };
        }
        Ok(h)
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Var<B>)) {
        for (name, layer) in &self.layers {
            layer.visit_parameters(&join_name(prefix, name), f);
        }
    }

    fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, &Buffer<B>)) {
        for (name, layer) in &self.layers {
            layer.visit_buffers(&join_name(prefix, name), f);
        }
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
        for (_, layer) in &mut self.layers {
            layer.set_training(training);
        }
    }

    fn visit_random_streams(&self, prefix: &str, f: &mut dyn FnMut(&str, &RandomStream)) {
        for (name, layer) in &self.layers {
            layer.visit_random_streams(&join_name(prefix, name), f);
        }
    }
}
