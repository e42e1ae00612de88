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
