//! The error type of `ember-autodiff`.

use ember_tensor::Shape;

/// What can go wrong while recording or differentiating.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A tensor operation failed (shapes, device).
    #[error(transparent)]
    Tensor(#[from] ember_tensor::Error),
    /// `backward` was called on a value with more than one element.
    #[error(
        "backward: the output must be a scalar (one element), got shape {shape}; reduce it first (e.g. mean_all)"
    )]
    NotScalar {
        /// Shape of the value `backward` was called on.
        shape: Shape,
    },
    /// `backward` went through a graph whose saved values were already freed by an earlier
    /// `backward`.
    #[error(
        "backward: the graph through `{op}` was already used by an earlier backward and freed; run the forward pass again"
    )]
    GraphFreed {
        /// The operation whose saved values are gone.
        op: &'static str,
    },
    /// A backward rule returned another number of gradients than its op has inputs (a custom
    /// op's rule, see [`Var::custom`](crate::Var::custom), must return one per input, `None`
    /// for an input that needs none).
    #[error(
        "backward of `{op}`: its rule returned {gradients} gradient(s) for {inputs} input(s); return one per input (None where an input needs no gradient)"
    )]
    GradientCount {
        /// The op whose rule is at fault.
        op: &'static str,
        /// How many inputs the op was recorded with.
        inputs: usize,
        /// How many gradients its rule returned.
        gradients: usize,
    },
    /// A backward rule returned a gradient whose shape is not its input's.
    #[error(
        "backward of `{op}`: the gradient of input {input} has shape {got}, but the input has shape {expected}"
    )]
    GradientShape {
        /// The op whose rule is at fault.
        op: &'static str,
        /// Which input (its position among the op's inputs).
        input: usize,
        /// The input's shape.
        expected: Shape,
        /// The gradient's shape.
        got: Shape,
    },
    /// A gradient check found an analytic gradient that disagrees with finite differences.
    #[error(
        "gradient check of {name}: input {input} element {index}: analytic {analytic} vs numeric {numeric}"
    )]
    GradientMismatch {
        /// Name of the checked function.
        name: String,
        /// Which input.
        input: usize,
        /// Which element of it.
        index: usize,
        /// Backward's value.
        analytic: f32,
        /// Central-difference estimate.
        numeric: f32,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
