//! The error type of `ember-optim`.

/// What can go wrong stepping an optimizer or restoring its state.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tensor operation (the fused update) failed.
    #[error(transparent)]
    Tensor(#[from] ember_tensor::Error),
    /// Recording or differentiating failed.
    #[error(transparent)]
    Autodiff(#[from] ember_autodiff::Error),
    /// Saving or loading a state file failed.
    #[error(transparent)]
    StateDict(#[from] ember_nn::Error),
    /// A hyperparameter outside its valid range.
    #[error("{optimizer}: invalid {name} {value}: {expected}")]
    InvalidHyperparameter {
        /// The optimizer.
        optimizer: &'static str,
        /// The hyperparameter.
        name: &'static str,
        /// The value given.
        value: f32,
        /// What is accepted.
        expected: &'static str,
    },
    /// A saved state that does not fit this optimizer.
    #[error("{optimizer}: cannot restore state: {message}")]
    IncompatibleState {
        /// The optimizer.
        optimizer: &'static str,
        /// What does not fit.
        message: String,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
