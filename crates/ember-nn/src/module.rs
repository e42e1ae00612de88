//! The `Module` trait: forward, named parameters and buffers, train/eval mode, random streams.

use ember_autodiff::Var;
use ember_tensor::{Backend, stream_key};

use crate::Result;
use crate::buffer::{Buffer, StateTensor};
use crate::conv2d::Conv2d;
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
/// the parameter visit.
///
/// Modules are `Send` and `Sync` (parameters, buffers and random streams sit behind `Arc`s
/// with locks or atomics), so a model can be built on one thread and trained, evaluated or
/// saved on another.
///
/// ```
/// use ember_autodiff::Var;
/// use ember_nn::{Linear, Module, ReLU, Result, module_fields};
/// use ember_cpu::Cpu;
/// use ember_tensor::{Backend, Tensor, seeded_rng};
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
///     module_fields!(B => linear1, linear2, relu);
/// }
///
/// let model = Dnn::new(&Cpu, 777)?;
/// let names: Vec<String> = model.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias"]);
/// let x = Var::constant(Tensor::zeros([2, 784], &Cpu)?);
/// assert_eq!(model.forward(&x)?.shape().dims(), &[2, 10]);
/// # Ok::<(), ember_nn::Error>(())
/// ```
pub trait Module<B: Backend>: Send + Sync {
    /// The forward pass.
    fn forward(&self, x: &Var<B>) -> Result<Var<B>>;

    /// Calls `f` with the full name and the value of every parameter, in a fixed order. The
    /// value can be read and, through [`Var::set_value`], written.
    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Var<B>));

    /// Calls `f` with the full name and the buffer of every buffer, in a fixed order. Layers
    /// with buffers and containers override this; the default has none.
    fn visit_buffers(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Buffer<B>)) {}

    /// What kind of layer this is, for containers that rewrite a run of layers into fewer ops
    /// with the same numbers ([`Sequential`](crate::Sequential) fuses a convolution with the
    /// max pooling after it). A layer of your own keeps the default, [`LayerKind::Other`].
    fn kind(&self) -> LayerKind<'_, B> {
        LayerKind::Other
    }

    /// Switches training mode on or off (as PyTorch's `train()`/`eval()`); layers whose
    /// behaviour depends on it, and containers, override this.
    fn set_training(&mut self, _training: bool) {}

    /// Whether the module is in training mode: `None` for one whose forward pass does not
    /// depend on it (and holds no layer that does). Containers report their children's: in
    /// training mode if any of them is. [`evaluate`](crate::evaluate) uses it to put the
    /// model back as it found it.
    fn training_mode(&self) -> Option<bool> {
        None
    }

    /// Calls `f` with the full name and the [`RandomStream`] of every layer that draws random
    /// numbers (dropout), in a fixed order; layers that draw override this, containers pass
    /// it on.
    fn visit_random_streams(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &RandomStream)) {}

    /// Keys every random stream from `seed` and its layer's name
    /// ([`ember_tensor::stream_key`]): layers draw independent masks, the same in every run
    /// with this seed. Without it each stream is keyed by its layer's name on the model's first
    /// [`Module::call`] (or, for a layer only ever run through `forward`, by the order layers
    /// were built on this thread): two layers never share a mask unless a key is set to make
    /// them.
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

    /// Calls the module (as PyTorch's `model(x)`): keys the random streams no one has keyed
    /// by their layers' names (`stream_key(0, name)`, see [`Module::seed_random_streams`]),
    /// then runs [`Module::forward`].
    fn call(&self, x: &Var<B>) -> Result<Var<B>> {
        self.visit_random_streams("", &mut |name, stream| stream.key_by_name(name));
        self.forward(x)
    }
}

/// What kind of layer a module is ([`Module::kind`]): what a container needs to know to run a
/// sequence of layers as fewer ops giving the same numbers.
#[derive(Debug)]
#[non_exhaustive]
pub enum LayerKind<'a, B: Backend> {
    /// Any layer without a rewrite: every layer of your own.
    Other,
    /// [`ReLU`](crate::ReLU), which commutes with max pooling, value and gradient: it keeps
    /// positive values and their order and sends everything else to 0, so a window's first
    /// maximum is the same before and after it (a window of no positive value gives 0 and a zero
    /// gradient either way). So a max pooling may run first, and the ReLU on the pooled tensor.
    /// With a NaN in a window the two orders may differ; a zero gradient may differ in its sign.
    ReLU,
    /// A max pooling.
    MaxPool2d(&'a MaxPool2d),
    /// A convolution, which runs with a max pooling after it as one op
    /// (`Var::conv2d_max_pool2d`), so that its whole output never goes to memory.
    Conv2d(&'a Conv2d<B>),
}

/// The training mode of a container whose children report `modes`: training if any child is,
/// `None` if none has a mode.
pub fn combined_mode(modes: &[Option<bool>]) -> Option<bool> {
    modes.iter().flatten().copied().reduce(|a, b| a || b)
}

/// `prefix.name`, or `name` when the prefix is empty.
pub fn join_name(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Writes `visit_parameters`, `visit_buffers`, `set_training`, `training_mode` and
/// `visit_random_streams` of a struct whose fields are modules, parameters ([`Var`](ember_autodiff::Var)) and buffers
/// ([`Buffer`]), naming each as PyTorch does: a parameter field `scale` is `scale`, a module
/// field `linear1`'s parameters are `linear1.weight`, … (the struct's own parameters and
/// buffers first, then its modules', as `named_parameters()` orders them). Use inside
/// `impl Module<…> for …`, naming the backend type first:
///
/// ```text
/// module_fields!(B => linear1, linear2, relu);
/// module_fields!(Cpu => body, head; parameters: scale, shift; buffers: count);
/// module_fields!(B => ; parameters: weight);
/// ```
///
/// A model for the CPU only, with a raw parameter field:
///
/// ```
/// use ember_autodiff::Var;
/// use ember_cpu::Cpu;
/// use ember_nn::{Linear, Module, Result, module_fields};
/// use ember_tensor::{Tensor, seeded_rng};
///
/// struct Scaled {
///     linear: Linear<Cpu>,
///     scale: Var<Cpu>,
/// }
///
/// impl Module<Cpu> for Scaled {
///     fn forward(&self, x: &Var<Cpu>) -> Result<Var<Cpu>> {
///         Ok(self.linear.forward(x)?.mul(&self.scale)?)
///     }
///     module_fields!(Cpu => linear; parameters: scale);
/// }
///
/// let model = Scaled {
///     linear: Linear::new(3, 2, &mut seeded_rng(0), &Cpu)?,
///     scale: Var::parameter(Tensor::ones([2], &Cpu)?),
/// };
/// let names: Vec<String> = model.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["scale", "linear.weight", "linear.bias"]);
/// # Ok::<(), ember_nn::Error>(())
/// ```
#[macro_export]
macro_rules! module_fields {
    ($backend:ty => $($module:ident),* $(,)?
        $(; parameters: $($parameter:ident),+ $(,)?)?
        $(; buffers: $($buffer:ident),+ $(,)?)?
    ) => {
        fn visit_parameters(
            &self,
            prefix: &str,
            f: &mut dyn FnMut(&str, &$crate::__private::Var<$backend>),
        ) {
            $($( f(&$crate::join_name(prefix, stringify!($parameter)), &self.$parameter); )+)?
            $( $crate::Module::<$backend>::visit_parameters(
                &self.$module,
                &$crate::join_name(prefix, stringify!($module)),
                f,
            ); )*
        }
        fn visit_buffers(
            &self,
            prefix: &str,
            f: &mut dyn FnMut(&str, &$crate::Buffer<$backend>),
        ) {
            $($( f(&$crate::join_name(prefix, stringify!($buffer)), &self.$buffer); )+)?
            $( $crate::Module::<$backend>::visit_buffers(
                &self.$module,
                &$crate::join_name(prefix, stringify!($module)),
                f,
            ); )*
        }
        fn set_training(&mut self, training: bool) {
            $( $crate::Module::<$backend>::set_training(&mut self.$module, training); )*
            let _ = training;
        }
        fn training_mode(&self) -> Option<bool> {
            let modes = [$( $crate::Module::<$backend>::training_mode(&self.$module) ),*];
            $crate::__private::combined_mode(&modes)
        }
        fn visit_random_streams(
            &self,
            prefix: &str,
            f: &mut dyn FnMut(&str, &$crate::RandomStream),
        ) {
            $( $crate::Module::<$backend>::visit_random_streams(
                &self.$module,
                &$crate::join_name(prefix, stringify!($module)),
                f,
            ); )*
            let _ = (prefix, f);
        }
    };
}
