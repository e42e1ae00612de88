//! The error type of `ember-nn`.

use std::path::PathBuf;

use ember_tensor::Shape;

/// What can go wrong building, running, saving or loading a module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] ember_tensor::Error),
    /// Recording or differentiating failed.
    #[error(transparent)]
    Autodiff(#[from] ember_autodiff::Error),
    /// Reading or batching a data set failed (evaluation). Boxed: the data crate's errors are
    /// large, and this keeps every `Result` of this crate small.
    #[error(transparent)]
    Data(Box<ember_data::Error>),
    /// An initialiser got a tensor it is not defined for, or a bad argument.
    #[error("{init}: {message}")]
    Init {
        /// The initialiser.
        init: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing a checkpoint file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A checkpoint file is not a valid safetensors file (truncated, garbage, bad header).
    #[error("{path}: not a valid safetensors checkpoint: {message}")]
    CorruptCheckpoint {
        /// The file.
        path: PathBuf,
        /// What the parser found.
        message: String,
    },
    /// A checkpoint lacks a tensor the module has.
    #[error(
        "{path}: missing tensor `{name}` (expected shape {expected}); the checkpoint holds: {present}"
    )]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The parameter's name.
        name: String,
        /// The parameter's shape.
        expected: Shape,
        /// Names the checkpoint does hold.
        present: String,
    },
    /// A checkpoint holds a tensor the module does not have.
    #[error("{path}: unexpected tensor `{name}`; the module has: {expected}")]
    UnexpectedTensor {
        /// The file.
        path: PathBuf,
        /// The unknown name.
        name: String,
        /// Names the module has.
        expected: String,
    },
    /// A tensor has another shape than the parameter it should fill.
    #[error("{path}: tensor `{name}` has shape {found}, expected {expected}")]
    ShapeMismatch {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The parameter's shape.
        expected: Shape,
        /// The stored shape.
        found: Shape,
    },
    /// A tensor is stored with another element type than the parameter or buffer it should fill
    /// (or one Ember does not read).
    #[error("{path}: tensor `{name}` has dtype {found}, expected {expected}")]
    DtypeMismatch {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The dtype wanted (`F32`, `I64`, or `F32 or I64` when reading a file).
        expected: String,
        /// The stored dtype.
        found: String,
    },
    /// A layer got an input of a shape it cannot take.
    #[error("{layer}: expected an input of shape {expected}, got {got}")]
    InputShape {
        /// The layer, as PyTorch prints it (e.g. `Conv2d(1, 32, kernel_size=(3, 3), ...)`).
        layer: String,
        /// The shape it takes, e.g. `[N, 1, H, W]`.
        expected: String,
        /// The shape it got.
        got: Shape,
    },
    /// A layer's forward pass failed (e.g. its window does not fit the input).
    #[error("{layer}: {source}")]
    Layer {
        /// The layer, as PyTorch prints it.
        layer: String,
        /// What the op reported.
        source: Box<ember_autodiff::Error>,
    },
    /// A BatchNorm layer in training mode got one value per channel: its variance is undefined
    /// (PyTorch: "Expected more than 1 value per channel when training").
    #[error(
        "{layer}: expected more than 1 value per channel when training, got an input of shape \
         {got}; use a batch of at least 2, or evaluation mode (`set_training(false)`)"
    )]
    SingleValuePerChannel {
        /// The layer, as PyTorch prints it.
        layer: String,
        /// The input's shape.
        got: Shape,
    },
    /// A layer was configured with values it cannot use.
    #[error("{layer}: {message}")]
    Config {
        /// The layer, as PyTorch prints it.
        layer: String,
        /// What is wrong and what is allowed.
        message: String,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<ember_data::Error> for Error {
    fn from(error: ember_data::Error) -> Self {
        Error::Data(Box::new(error))
    }
}
