//! `Sequential`: modules applied in order, named by position or by the names given, and run
//! with the rewrites that give the same numbers for less work.

use ember_autodiff::Var;
use ember_tensor::Backend;

use crate::Result;
use crate::buffer::Buffer;
use crate::module::{LayerKind, Module, join_name};
use crate::random::RandomStream;

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
    /// then the ReLU on the pooled quarter), decided from each layer's [`Module::kind`]:
    /// - a max pooling runs before the ReLUs just before it (they commute, see
    ///   [`LayerKind::ReLU`]);
    /// - a convolution then followed by a max pooling runs with it as one op.
    fn forward(&self, x: &Var<B>) -> Result<Var<B>> {
        let mut h = x.clone();
        let mut layers = fused_order(&self.layers).into_iter().peekable();
        while let Some(layer) = layers.next() {
            let conv_then_pool = match (layer.kind(), layers.peek().map(|next| next.kind())) {
                (LayerKind::Conv2d(conv), Some(LayerKind::MaxPool2d(pool))) => Some((conv, pool)),
                _ => None,
            };
            h = match conv_then_pool {
                Some((conv, pool)) => {
                    layers.next();
                    conv.forward_max_pooled(&h, pool)?
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

    fn training_mode(&self) -> Option<bool> {
        Some(self.training)
    }

    fn visit_random_streams(&self, prefix: &str, f: &mut dyn FnMut(&str, &RandomStream)) {
        for (name, layer) in &self.layers {
            layer.visit_random_streams(&join_name(prefix, name), f);
        }
    }
}

/// The order the layers run in: each max pooling moved before the ReLUs that precede it.
fn fused_order<B: Backend>(layers: &[(String, Box<dyn Module<B>>)]) -> Vec<&dyn Module<B>> {
    let mut order: Vec<&dyn Module<B>> = Vec::with_capacity(layers.len());
    for (_, layer) in layers {
        let mut at = order.len();
        if matches!(layer.kind(), LayerKind::MaxPool2d(_)) {
            while at > 0 && matches!(order[at - 1].kind(), LayerKind::ReLU) {
                at -= 1;
            }
        }
        order.insert(at, layer.as_ref());
    }
    order
}
