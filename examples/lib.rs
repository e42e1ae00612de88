//! Ember's example programs live beside this file, one per `[[example]]` of this package, each
//! on the facade crate `ember-dl` alone (`use ember_dl::prelude::*;`); run one from the
//! workspace root with `cargo run --release --example NAME`:
//!
//! | example | what it shows |
//! |---|---|
//! | `softmax_normal` | the seed's first program: Linear 784→10, weights `normal_`, Adam |
//! | `softmax` | the seed's class version: a module struct, PyTorch's default init |
//! | `mlp` | the seed's 784-256-256-10 ReLU network |
//! | `load_pytorch` | loading a state dict PyTorch saved, and predicting with it |
//! | `custom_module` | a user-defined module (`module_fields!`) and a hand-written training loop |
//! | `custom_op` | a differentiable op of your own (`Var::custom`), checked with `check_gradients` |
//! | `gpu` | the `mlp` on wgpu, falling back to the CPU without a GPU adapter |
//!
//! The training examples take `--train-limit N` to train on the first `N` samples only.
//!
//! This library has no items: it exists so that the workspace README's Rust snippets compile
//! and run as its doctests (`cargo test -p ember-examples --doc`).

#![warn(missing_docs)]

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
