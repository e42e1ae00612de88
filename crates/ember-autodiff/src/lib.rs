//! # ember-autodiff
//!
//! Reverse-mode automatic differentiation over any [`Backend`](ember_tensor::Backend).
//!
//! A [`Var`] wraps a [`Tensor`](ember_tensor::Tensor). Ops on `Var`s record, next to their
//! result, a rule that maps the output's gradient to the inputs' gradients using backend ops —
//! so the backward pass runs on whichever device the forward pass ran on. [`Var::backward`]
//! walks the record from a scalar in reverse topological order, sums the contributions of a
//! value used more than once, accumulates into leaves (parameters) as PyTorch's `.grad`, and
//! frees the saved values as it goes.
//!
//! **In the stack:** above `ember-tensor` (whose backends it runs on), below `ember-nn` (layers
//! and losses are built from [`Var`] operations) and `ember-optim`.
//!
//! Differentiate `f(w, b) = mean((x·wᵀ + b)²)`:
//!
//! ```
//! use ember_autodiff::Var;
//! use ember_cpu::Cpu;
//! use ember_tensor::Tensor;
//!
//! let x = Var::constant(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], [2, 2], &Cpu)?);
//! let w = Var::parameter(Tensor::from_vec(vec![0.5, -1.0], [1, 2], &Cpu)?);
//! let b = Var::parameter(Tensor::from_vec(vec![1.0], [1], &Cpu)?);
//! let y = x.matmul_t(&w, false, true)?.add(&b)?; // [2, 1]: [-0.5, -1.5]
//! let loss = y.square()?.mean_all()?;              // (0.25 + 2.25) / 2
//! loss.backward()?;
//! assert_eq!(loss.value().to_scalar()?, 1.25);
//! // dL/dy = y, so dL/db = sum(y) = -2 and dL/dw = yᵀ·x = [-5, -7]
//! assert_eq!(b.grad().unwrap().to_vec()?, vec![-2.0]);
//! assert_eq!(w.grad().unwrap().to_vec()?, vec![-5.0, -7.0]);
//! # Ok::<(), ember_autodiff::Error>(())
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod backward;
mod error;
mod grad_mode;
pub mod gradcheck;
mod ops;
mod var;

pub use error::{Error, Result};
pub use grad_mode::{NoGradGuard, is_grad_enabled, no_grad};
pub use ops::batch_norm::{BatchNormOutput, BatchNormStatistics};
pub use var::Var;
