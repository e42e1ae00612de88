//! Differentiable ops, one file per family; each op's forward is written next to its gradient
//! rule.

mod elementwise;
mod loss;
mod matmul;
mod reduce;
