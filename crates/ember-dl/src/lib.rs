//! # ember-dl
//!
//! Ember trains neural networks the way PyTorch does (tensors, `loss.backward()`,
//! `optimizer.step()`) in Rust, on the CPU or on any GPU through wgpu. This is the one crate a
//! program depends on: it re-exports Ember's crates and has a [`prelude`], so a program starts
//! with one `use` line, and [`Tensor`] and [`Var`] name the CPU backend unless told otherwise.
//!
//! The seed's ReLU network, one step of Adam on a batch:
//!
//! ```
//! use ember_dl::prelude::*;
//!
//! let mut rng = seeded_rng(777);
//! let model = Sequential::new()
//!     .append(Linear::new(784, 256, &mut rng, &Cpu)?)
//!     .append(ReLU)
//!     .append(Linear::new(256, 256, &mut rng, &Cpu)?)
//!     .append(ReLU)
//!     .append(Linear::new(256, 10, &mut rng, &Cpu)?);
//! let mut optimizer = Adam::new(model.named_parameters(), AdamConfig::default())?;
//!
//! let x = Tensor::rand_uniform([100, 784], 0.0, 1.0, &mut rng, &Cpu)?;
//! let y = Tensor::from_vec((0..100).map(|i| (i % 10) as f32).collect(), [100], &Cpu)?;
//! let cost = CrossEntropyLoss::default().forward(&model.forward(&Var::constant(x))?, &y)?;
//! optimizer.zero_grad();
//! cost.backward()?;
//! optimizer.step()?;
//! assert!(cost.value().to_scalar()? > 2.0);
//! # Ok::<(), ember_dl::Error>(())
//! ```
//!
//! **In the stack:** the top of the library crates, below only the trainer (`ember-train`).
//! Each module here is one of Ember's crates: [`tensor`] (shapes, `Tensor<B>`, the `Backend`
//! trait), [`cpu`] and [`wgpu`] (the backends), [`autodiff`], [`nn`], [`optim`], [`data`].
//!
//! Features, both on by default: `wgpu` (the GPU backend, [`Wgpu`]) and `download` (the data
//! sets' verified downloader over HTTPS).

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub use ember_autodiff as autodiff;
pub use ember_cpu as cpu;
pub use ember_data as data;
pub use ember_nn as nn;
pub use ember_optim as optim;
pub use ember_tensor as tensor;
#[cfg(feature = "wgpu")]
pub use ember_wgpu as wgpu;

pub use ember_autodiff::{NoGradGuard, no_grad};
pub use ember_cpu::Cpu;
pub use ember_tensor::{Backend, Shape, seeded_rng};
#[cfg(feature = "wgpu")]
pub use ember_wgpu::Wgpu;

/// An `f32` tensor, on the CPU unless another backend is named (`Tensor<Wgpu>`).
pub type Tensor<B = Cpu> = ember_tensor::Tensor<B>;
/// A tensor on the autodiff tape, on the CPU unless another backend is named.
pub type Var<B = Cpu> = ember_autodiff::Var<B>;
/// `y = x·Wᵀ + b` ([`nn::Linear`]), on the CPU unless another backend is named.
pub type Linear<B = Cpu> = ember_nn::Linear<B>;
/// A 2-D convolution ([`nn::Conv2d`]), on the CPU unless another backend is named.
pub type Conv2d<B = Cpu> = ember_nn::Conv2d<B>;
/// Batch normalisation over `[N, C]` or `[N, C, L]` ([`nn::BatchNorm1d`]), on the CPU unless
/// another backend is named.
pub type BatchNorm1d<B = Cpu> = ember_nn::BatchNorm1d<B>;
/// Batch normalisation over `[N, C, H, W]` ([`nn::BatchNorm2d`]), on the CPU unless another
/// backend is named.
pub type BatchNorm2d<B = Cpu> = ember_nn::BatchNorm2d<B>;
/// Modules applied in order ([`nn::Sequential`]), on the CPU unless another backend is named.
pub type Sequential<B = Cpu> = ember_nn::Sequential<B>;

/// Anything Ember's crates report, so that `?` works on each of them in one function.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Shapes, devices, environment variables ([`tensor::Error`]).
    #[error(transparent)]
    Tensor(#[from] ember_tensor::Error),
    /// Recording and differentiating ([`autodiff::Error`]).
    #[error(transparent)]
    Autodiff(#[from] ember_autodiff::Error),
    /// Layers, losses, state dicts, evaluation ([`nn::Error`]).
    #[error(transparent)]
    Nn(#[from] ember_nn::Error),
    /// Optimizers and schedulers ([`optim::Error`]).
    #[error(transparent)]
    Optim(#[from] ember_optim::Error),
    /// Data files, downloads and batching ([`data::Error`]).
    #[error(transparent)]
    Data(#[from] ember_data::Error),
    /// The GPU backend: no adapter, a shader, a device lost ([`wgpu::Error`]).
    #[cfg(feature = "wgpu")]
    #[error(transparent)]
    Wgpu(#[from] ember_wgpu::Error),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a training program uses, in one `use ember_dl::prelude::*;`: tensors and the tape,
/// the backends, the layers and losses, the optimizers, the data sets and their loader.
pub mod prelude {
    pub use crate::{
        Backend, BatchNorm1d, BatchNorm2d, Conv2d, Cpu, Linear, Sequential, Shape, Tensor, Var,
        no_grad, seeded_rng,
    };
    #[cfg(feature = "wgpu")]
    pub use ember_wgpu::Wgpu;

    pub use ember_nn::state_dict::{load_module, load_safetensors, save_module};
    pub use ember_nn::{
        AvgPool2d, BatchNormConfig, Conv2dConfig, CrossEntropyLoss, Dropout, Flatten, MSELoss,
        MaxPool2d, Module, ReLU, Reduction, Sigmoid, Tanh, Unflatten, evaluate, init,
        module_fields,
    };

    pub use ember_optim::{
        Adadelta, AdadeltaConfig, Adagrad, AdagradConfig, Adam, AdamConfig, AdamW, AdamWConfig,
        Adamax, AdamaxConfig, LrScheduler, NAdam, NAdamConfig, Optimizer, RAdam, RAdamConfig,
        RmsProp, RmsPropConfig, SchedulerKind, Sgd, SgdConfig,
    };

    pub use ember_data::{DataLoader, Dataset, DatasetKind, InMemoryDataset, TrainTest};
}
