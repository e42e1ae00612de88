//! The `Module` trait: forward, named parameters and buffers, train/eval mode, random streams.

use ember_autodiff::Var;
use ember_tensor::{Backend, stream_key};

use crate::Result;
use crate::buffer::{Buffer, StateTensor};
use crate::pool2d::MaxPool2d;
use crate::random::RandomStream;

/// A layer or a network: a forward pass and a visit over its named parameters and buffers.
///
/// Buffers ([`Buffer`]) are state that is saved but not trained, such as BatchNorm's running
/// statistics: [`Module::state_dict`] holds the parameters and then the buffers, all under
/// PyTorch's names. A container visits its children's buffers and passes
/// [`Module::set_training`] on to them; [`module_fields!`](crate::module_fields) and
/// [`Sequential`](crate::Sequential) do both.
///
/// Names follow PyTorch (`0.weight`, `0.bias` inside a [`Sequential`](crate::Sequential), field
/// names inside a struct), so a state dict round-trips with PyTorch. A user-defined network is a
/// struct of layers whose `forward` calls them; [`module_fields!`](crate::module_fields) writes
/// the parameter visit:
///
/// ```
/// use ember_autodiff::Var;
/// use ember_nn::{Linear, Module, ReLU, Result, module_fields};
/// use ember_tensor::{Backend, Cpu, Tensor, seeded_rng};
///
/// /// The seed's `DNN` class: layers built once in `new`, `forward` only calls them.
/// struct Dnn<B: Backend> {
///     linear1: Linear<B>,
///     linear2: Linear<B>,
///     relu: ReLU,
/// }
///
/// impl<B: Backend> Dnn<B> {
///     fn new(backend: &B, seed: u64) -> Result<Self> {
///         let mut rng = seeded_rng(seed);
///         Ok(Dnn {
///             linear1: Linear::new(784, 256, &mut rng, backend)?,
///             linear2: Linear::new(256, 10, &mut rng, backend)?,
///             relu: ReLU,
///         })
///     }
/// }
///
/// impl<B: Backend> Module<B> for Dnn<B> {
///     fn forward(&self, x: &Var<B>) -> Result<Var<B>> {
///         let h = self.relu.forward(&self.linear1.forward(x)?)?;
///         self.linear2.forward(&h)
///     }
///     module_fields!(linear1, linear2, relu);
/// }
///
/// let model = Dnn::new(&Cpu, 777)?;
/// let names: Vec<String> = model.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias"]);
/// let x = Var::constant(Tensor::zeros([2, 784], &Cpu)?);
/// assert_eq!(model.forward(&x)?.shape().dims(), &[2, 10]);
/// # Ok::<(), ember_nn::Error>(())
/// ```
pub trait Module<B: Backend> {
    /// The forward pass.
    fn forward(&self, x: &Var<B>) -> Result<Var<B>>;

    /// Calls `f` with the full name and the value of every parameter, in a fixed order. The
    /// value can be read and, through [`Var::set_value`], written.
    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Var<B>));

    /// Calls `f` with the full name and the buffer of every buffer, in a fixed order. Layers
    /// with buffers and containers override this; the default has none.
    fn visit_buffers(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Buffer<B>)) {}

    /// Whether this layer commutes with max pooling, value and gradient: `pool(f(x))` and
    /// `f(pool(x))` are the same numbers, and so are their gradients. [`Sequential`] then pools
    /// first, so `f` runs on the pooled tensor, a quarter of the size behind a 2×2 pool. Only
    /// [`ReLU`] says so: it keeps positive values and their order, and sends everything else
    /// to 0, so a window's first maximum is the same before and after it (a window of no
    /// positive value gives 0 and a zero gradient either way). With a NaN in a window the two
    /// orders may differ; a zero gradient may differ in its sign.
    ///
    /// [`Sequential`]: crate::Sequential
    /// [`ReLU`]: crate::ReLU
    fn commutes_with_max_pool(&self) -> bool {
        false
    }

    /// This layer as a max pooling, if it is one (see [`Module::commutes_with_max_pool`] and
    /// [`Module::forward_max_pooled`]).
    fn as_max_pool(&self) -> Option<&MaxPool2d> {
        None
    }

    /// This layer's forward pass followed by `pool`, as one op, if the layer has one:
    /// [`Conv2d`](crate::Conv2d) does (`Var::conv2d_max_pool2d`), so that its output never
    /// goes to memory whole. [`Sequential`](crate::Sequential) calls it for a layer followed
    /// by a max pooling; the default (`None`) runs the two one after the other.
    fn forward_max_pooled(&self, _x: &Var<B>, _pool: &MaxPool2d) -> Option<Result<Var<B>>> {
        None
    }

    /// Switches training mode on or off (as PyTorch's `train()`/`eval()`); layers whose
    /// behaviour depends on it, and containers, override this.
    fn set_training(&mut self, _training: bool) {}

    /// Calls `f` with the full name and the [`RandomStream`] of every layer that draws random
    /// numbers (dropout), in a fixed order; layers that draw override this, containers pass
    /// it on.
    fn visit_random_streams(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &RandomStream)) {}

    /// Keys every random stream from `seed` and its layer's name
    /// ([`ember_tensor::stream_key`]): layers draw independent masks, the same in every run
    /// with this seed.
    fn seed_random_streams(&self, seed: u64) {
        self.visit_random_streams("", &mut |name, stream| {
            stream.set_key(stream_key(seed, name));
        });
    }

    /// Sets the step every random stream draws next. The trainer passes the global step
    /// (`(epoch − 1) · steps per epoch + step`), so a resumed run draws the masks an
    /// uninterrupted one draws.
    fn set_random_step(&self, step: u64) {
        self.visit_random_streams("", &mut |_, stream| stream.set_step(step));
    }

    /// Every parameter with its name.
    fn named_parameters(&self) -> Vec<(String, Var<B>)> {
        let mut out = Vec::new();
        self.visit_parameters("", &mut |name, p| out.push((name.to_string(), p.clone())));
        out
    }

    /// Every parameter.
    fn parameters(&self) -> Vec<Var<B>> {
        self.named_parameters()
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    /// Number of scalar parameters.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(|p| p.shape().numel()).sum()
    }

    /// Every buffer with its name.
    fn named_buffers(&self) -> Vec<(String, Buffer<B>)> {
        let mut out = Vec::new();
        self.visit_buffers("", &mut |name, b| out.push((name.to_string(), b.clone())));
        out
    }

    /// The parameters' and then the buffers' current values by name (cheap clones), as
    /// PyTorch's `state_dict()`: what a checkpoint saves and a load restores.
    fn state_dict(&self) -> Vec<(String, StateTensor<B>)> {
        let mut out: Vec<(String, StateTensor<B>)> = self
            .named_parameters()
            .into_iter()
            .map(|(n, p)| (n, StateTensor::F32(p.value())))
            .collect();
        out.extend(self.named_buffers().into_iter().map(|(n, b)| (n, b.get())));
        out
    }

    /// Clears every parameter's gradient.
    fn zero_grad(&self) {
        self.visit_parameters("", &mut |_, p| p.zero_grad());
    }

    /// Calls the module (as PyTorch's `model(x)`).
    fn call(&self, x: &Var<B>) -> Result<Var<B>> {
        self.forward(x)
    }
}

/// `prefix.name`, or `name` when the prefix is empty.
pub fn join_name(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Writes `visit_parameters`, `visit_buffers`, `set_training` and `visit_random_streams` of a
/// struct whose fields are modules, naming each field's parameters and buffers `field.name` as
/// PyTorch does. Use inside `impl Module<B> for ...`.
#[macro_export]
macro_rules! module_fields {
    ($($field:ident),* $(,)?) => {
        fn visit_parameters(
            &self,
            prefix: &str,
            f: &mut dyn FnMut(&str, &$crate::__private::Var<B>),
        ) {
            $( $crate::Module::<B>::visit_parameters(
                &self.$field,
                &$crate::join_name(prefix, stringify!($field)),
                f,
            ); )*
        }
        fn visit_buffers(
            &self,
            prefix: &str,
            f: &mut dyn FnMut(&str, &$crate::Buffer<B>),
        ) {
            $( $crate::Module::<B>::visit_buffers(
                &self.$field,
                &$crate::join_name(prefix, stringify!($field)),
                f,
            ); )*
        }
        fn set_training(&mut self, training: bool) {
            $( $crate::Module::<B>::set_training(&mut self.$field, training); )*
        }
        fn visit_random_streams(
            &self,
            prefix: &str,
            f: &mut dyn FnMut(&str, &$crate::RandomStream),
        ) {
            $( $crate::Module::<B>::visit_random_streams(
                &self.$field,
                &$crate::join_name(prefix, stringify!($field)),
                f,
            ); )*
        }
    };
}
