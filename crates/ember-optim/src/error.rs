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
    /// A parameter group that does not exist.
    #[error("{optimizer}: no parameter group {group}; it has {groups} (numbered from 0)")]
    NoSuchGroup {
        /// The optimizer.
        optimizer: &'static str,
        /// The group asked for.
        group: usize,
        /// How many it has.
        groups: usize,
    },
    /// An optimizer name that is not one of [`crate::OPTIMIZER_NAMES`].
    #[error("unknown optimizer `{name}`; choose one of {}", crate::OPTIMIZER_NAMES.join(", "))]
    UnknownOptimizer {
        /// The name given.
        name: String,
    },
    /// A scheduler name that is not one of [`crate::SCHEDULER_NAMES`].
    #[error("unknown scheduler `{name}`; choose one of {}", crate::SCHEDULER_NAMES.join(", "))]
    UnknownScheduler {
        /// The name given.
        name: String,
    },
    /// A scheduler option that is unknown, unparsable or out of range.
    #[error("{scheduler}: invalid option {key}={value}: {expected}")]
    InvalidSchedulerOption {
        /// The scheduler.
        scheduler: &'static str,
        /// The option.
        key: String,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// A scheduler stepped beyond its end (`OneCycleLR` past `total_steps`, as PyTorch raises).
    #[error(
        "{scheduler}: tried to step {step} times, but total_steps is {total_steps}; raise \
         total_steps (or epochs × steps per epoch) to cover the run"
    )]
    SteppedPastEnd {
        /// The scheduler.
        scheduler: &'static str,
        /// The step attempted.
        step: u64,
        /// The schedule's length.
        total_steps: u64,
    },
    /// A saved scheduler state that does not fit this scheduler.
    #[error("{scheduler}: cannot restore state: {message}")]
    IncompatibleSchedulerState {
        /// The scheduler.
        scheduler: &'static str,
        /// What does not fit.
        message: String,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
