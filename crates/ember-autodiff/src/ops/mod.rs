//! Differentiable ops, one file per op or family; each op's forward is written next to its
//! gradient rule.

mod avg_pool2d;
pub(crate) mod batch_norm;
mod conv2d;
mod conv2d_max_pool2d;
mod dropout;
mod elementwise;
mod layout;
mod loss;
mod matmul;
mod max_pool2d;
mod reduce;
