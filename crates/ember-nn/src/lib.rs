//! # ember-nn
//!
//! The [`Module`] trait, layers ([`Linear`], [`ReLU`], [`Sigmoid`], [`Tanh`], [`Dropout`],
//! [`Sequential`], [`Conv2d`], [`BatchNorm1d`], [`BatchNorm2d`], …), module [`Buffer`]s, losses
//! ([`CrossEntropyLoss`], [`MSELoss`]), initialisers ([`init`]) and safetensors state
//! dicts ([`state_dict`]) whose names, dtypes and shapes match PyTorch's.
//!
//! **In the stack:** above `ember-autodiff` and `ember-tensor`; `ember-optim` updates the
//! parameters its modules expose, and `ember-train` builds its experiments from them.
//!
//! The seed's ReLU network:
//!
//! ```
//! use ember_autodiff::Var;
//! use ember_nn::{CrossEntropyLoss, Linear, Module, ReLU, Sequential};
//! use ember_cpu::Cpu;
//! use ember_tensor::{Tensor, seeded_rng};
//!
//! let mut rng = seeded_rng(777);
//! let model = Sequential::new()
//!     .append(Linear::new(784, 256, &mut rng, &Cpu)?)
//!     .append(ReLU)
//!     .append(Linear::new(256, 256, &mut rng, &Cpu)?)
//!     .append(ReLU)
//!     .append(Linear::new(256, 10, &mut rng, &Cpu)?);
//! let x = Var::constant(Tensor::rand_uniform([100, 784], 0.0, 1.0, &mut rng, &Cpu)?);
//! let y = Tensor::from_vec((0..100).map(|i| (i % 10) as f32).collect(), [100], &Cpu)?;
//! let cost = CrossEntropyLoss::default().forward(&model.forward(&x)?, &y)?;
//! cost.backward()?;
//! assert!(model.parameters().iter().all(|p| p.grad().is_some()));
//! assert_eq!(model.named_parameters()[4].0, "4.weight");
//! # Ok::<(), ember_nn::Error>(())
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod batch_norm;
mod buffer;
mod conv2d;
mod dropout;
mod error;
mod evaluate;
pub mod init;
mod layers;
mod loss;
mod module;
mod pool2d;
mod random;
mod reshape;
mod sequential;
pub mod state_dict;

pub use batch_norm::{BatchNorm1d, BatchNorm2d, BatchNormConfig};
pub use buffer::{Buffer, Dtype, I64Tensor, StateTensor};
pub use conv2d::{Conv2d, Conv2dConfig};
pub use dropout::Dropout;
pub use error::{Error, Result};
pub use evaluate::evaluate;
pub use layers::{Linear, ReLU, Sigmoid, Tanh};
pub use loss::{CrossEntropyLoss, MSELoss, Reduction};
pub use module::{LayerKind, Module, join_name};
pub use pool2d::{AvgPool2d, MaxPool2d};
pub use random::RandomStream;
pub use reshape::{Flatten, Unflatten};
pub use sequential::Sequential;

#[doc(hidden)]
pub mod __private {
    pub use crate::module::combined_mode;
    pub use ember_autodiff::Var;
}
