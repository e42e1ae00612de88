//! # ember-tensor
//!
//! Shapes, [`Tensor`], the [`Backend`] trait that every device implements, and [`Cpu`], the
//! `ndarray` backend that is the reference for all others.
//!
//! ```
//! use ember_tensor::{Cpu, Tensor};
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
//! Library code is generic over `B: Backend`; `Tensor` defaults to the CPU so examples need not
//! name a backend.
//!
//! **In the stack:** the bottom layer; it depends on no other Ember crate. `ember-autodiff`
//! records operations on its tensors, `ember-wgpu` implements its [`Backend`] trait on the GPU,
//! and every crate above uses its [`Tensor`].

#![warn(missing_docs)]

mod backend;
pub mod conformance;
mod cpu;
mod environment;
mod error;
pub mod gemm;
pub mod ops;
pub mod parallel;
pub mod profile;
mod rng;
mod shape;
mod tensor;

pub use backend::Backend;
pub use cpu::{Cpu, CpuStorage};
pub use environment::{Settings, check_environment};
pub use error::{Error, Result};
pub use rng::{SeededRng, philox4x32_10, seeded_rng, stream_key};
pub use shape::Shape;
pub use tensor::Tensor;

/// The `rand` crate Ember draws from (re-exported from `ndarray-rand`), so dependents use the
/// same version.
pub use ndarray_rand::rand;
/// Distributions (re-exported from `ndarray-rand`).
pub use ndarray_rand::rand_distr;
