//! # ember-cpu
//!
//! [`Cpu`], the backend that runs Ember's ops on the processor, and the reference every other
//! backend is compared against: `ndarray` storage, GEMM kernels chosen at run time for the CPU
//! found ([`gemm`]: AVX-512, AVX2+FMA, NEON, `matrixmultiply` as the fallback), hot loops
//! compiled for each instruction set, and at most two threads ([`parallel`]) splitting work so
//! that every output element is computed by one thread in one order: the same bits on one
//! thread or two.
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
//! **In the stack:** a peer of `ember-wgpu`: both implement `ember-tensor`'s
//! [`Backend`](ember_tensor::Backend) trait, and every crate above runs on either. The
//! kernels' `unsafe` code (SIMD intrinsics, the GEMM's packed buffers, the helper thread's
//! hand-off) lives in this crate; the core and the layers above forbid it.
//!
//! One file per op family, the same family names as `ember-wgpu`'s shaders: `elementwise.rs`,
//! `matmul.rs`, `reduce.rs`, `rows.rs` (log-softmax, softmax-cross-entropy, argmax, gather),
//! `optimizer.rs`, `layout.rs` (strided copy, unfold, fold, scatter), `conv.rs`, `pool.rs`,
//! `conv_max_pool.rs` with `pool_winners.rs` and `grid.rs`, `dropout.rs`; `simd.rs` compiles the
//! hot loops for each instruction set and `split.rs` splits passes over the two threads.

#![warn(missing_docs)]

mod backend;
mod conv;
mod conv_max_pool;
mod dropout;
mod elementwise;
mod environment;
pub mod gemm;
mod grid;
mod layout;
mod matmul;
mod optimizer;
pub mod parallel;
mod pool;
mod pool_winners;
pub mod profile;
mod reduce;
mod rows;
mod simd;
mod split;

pub use backend::{Cpu, CpuStorage};
pub use environment::{Settings, check_environment};

#[cfg(test)]
pub(crate) use split::test_values;
pub(crate) use split::{
    PARALLEL_MIN_LEN, claim_each, copy_floats, split_blocks, written_in_blocks, written_in_halves,
};
