//! # ember-tensor
//!
//! Shapes, [`Tensor`], the [`Backend`] trait that every device implements, the ops as data
//! ([`ops`]: each op's reference semantics, its default body built from primitives, its
//! conformance cases), the optimizer-update definitions, and the seeded generators ([`rng`]).
//! It holds no device code and no `unsafe`: the backends are `ember-cpu` (the reference) and
//! `ember-wgpu`.
//!
//! ```
//! use ember_cpu::Cpu;
//! use ember_tensor::Tensor;
//!
//! // Logits of two samples over three classes, and their labels (class indices as f32).
//! let logits = Tensor::from_vec(vec![2.0, 1.0, 0.1, 0.5, 2.5, 0.3], [2, 3], &Cpu)?;
//! let labels = Tensor::from_vec(vec![0.0, 1.0], [2], &Cpu)?;
//! let loss = logits.softmax_cross_entropy(&labels)?.mean_all()?.to_scalar()?;
//! assert!((loss - 0.3185).abs() < 1e-3);
//! assert_eq!(logits.argmax()?.to_vec()?, vec![0.0, 1.0]);
//! # Ok::<(), ember_tensor::Error>(())
//! ```
//!
//! Library code is generic over `B: Backend`; the facade crate `ember-dl` names the CPU by
//! default, so a user's program need not.
//!
//! **In the stack:** the bottom layer; it depends on no other Ember crate. `ember-cpu` and
//! `ember-wgpu` implement its [`Backend`] trait, `ember-autodiff` records operations on its
//! tensors, and every crate above uses its [`Tensor`].

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod backend;
pub mod conformance;
mod error;
pub mod ops;
pub mod rng;
mod shape;
mod tensor;

pub use backend::Backend;
pub use error::{Error, Result};
pub use rng::{SeededRng, philox4x32_10, seeded_rng, stream_key};
pub use shape::Shape;
pub use tensor::Tensor;

/// The `rand` crate Ember draws from (re-exported from `ndarray-rand`), so dependents use the
/// same version.
pub use ndarray_rand::rand;
/// Distributions (re-exported from `ndarray-rand`).
pub use ndarray_rand::rand_distr;
