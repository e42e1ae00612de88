//! The one error type of `ember-tensor`.

use crate::Shape;

/// Everything a caller can get wrong when building or combining tensors, and device failures.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Two operands whose shapes must be equal are not.
    #[error("{op}: shapes {lhs} and {rhs} must be equal")]
    ShapeMismatch {
        /// The operation that was asked for.
        op: &'static str,
        /// Shape of the left operand.
        lhs: Shape,
        /// Shape of the right operand.
        rhs: Shape,
    },
    /// Two shapes cannot be broadcast against each other (PyTorch's rules).
    #[error(
        "{op}: shapes {lhs} and {rhs} cannot be broadcast (trailing dimensions must be equal or 1)"
    )]
    NotBroadcastable {
        /// The operation that was asked for.
        op: &'static str,
        /// Shape of the left operand.
        lhs: Shape,
        /// Shape of the right operand.
        rhs: Shape,
    },
    /// Inner dimensions of a matrix product do not agree.
    #[error(
        "{op}: cannot multiply {lhs} by {rhs} (after transposes: [{m}, {k_lhs}] x [{k_rhs}, {n}])"
    )]
    MatmulMismatch {
        /// The operation that was asked for.
        op: &'static str,
        /// Shape of the left operand as stored.
        lhs: Shape,
        /// Shape of the right operand as stored.
        rhs: Shape,
        /// Rows of the product.
        m: usize,
        /// Inner dimension of the left operand.
        k_lhs: usize,
        /// Inner dimension of the right operand.
        k_rhs: usize,
        /// Columns of the product.
        n: usize,
    },
    /// An operand has the wrong number of dimensions.
    #[error("{op}: expected {expected}, got a tensor of shape {shape}")]
    WrongRank {
        /// The operation that was asked for.
        op: &'static str,
        /// What the operation accepts, in words.
        expected: &'static str,
        /// The shape it got.
        shape: Shape,
    },
    /// An axis index past the tensor's rank.
    #[error("{op}: axis {axis} is out of range for shape {shape}")]
    InvalidAxis {
        /// The operation that was asked for.
        op: &'static str,
        /// The axis that was asked for.
        axis: usize,
        /// The tensor's shape.
        shape: Shape,
    },
    /// Host data whose length does not match the shape it should fill.
    #[error("{op}: shape {shape} holds {expected} elements but {got} were given")]
    DataLength {
        /// The operation that was asked for.
        op: &'static str,
        /// The requested shape.
        shape: Shape,
        /// `shape.numel()`.
        expected: usize,
        /// Length of the data.
        got: usize,
    },
    /// A reshape to a shape with another number of elements.
    #[error("reshape: cannot view {from} ({from_numel} elements) as {to} ({to_numel} elements)")]
    Reshape {
        /// The tensor's shape.
        from: Shape,
        /// Its element count.
        from_numel: usize,
        /// The requested shape.
        to: Shape,
        /// The requested shape's element count.
        to_numel: usize,
    },
    /// A class label that is not a valid column index.
    #[error("{op}: label {label} at row {row} is not a class index in 0..{classes}")]
    LabelOutOfRange {
        /// The operation that was asked for.
        op: &'static str,
        /// Row of the offending label.
        row: usize,
        /// The label as stored (f32, since labels live in device storage).
        label: f32,
        /// Number of classes (columns of the logits).
        classes: usize,
    },
    /// An invalid argument that is not a shape (e.g. a negative standard deviation).
    #[error("{op}: {message}")]
    InvalidArgument {
        /// The operation that was asked for.
        op: &'static str,
        /// What is wrong and what is accepted.
        message: String,
    },
    /// A fused optimizer update was given the wrong number or size of state buffers.
    #[error("{op}: {message}")]
    OptimizerState {
        /// The update that was asked for.
        op: &'static str,
        /// What was expected and what was given.
        message: String,
    },
    /// Two tensors live on different devices.
    #[error("{op}: operands live on different devices ({lhs} and {rhs})")]
    DeviceMismatch {
        /// The operation that was asked for.
        op: &'static str,
        /// Device of the left operand.
        lhs: String,
        /// Device of the right operand.
        rhs: String,
    },
    /// An environment variable Ember reads (`EMBER_THREADS`, `EMBER_GEMM`) holds a value it does
    /// not accept.
    #[error(
        "{variable}={value:?} is not allowed: {problem}; {allowed} (or leave {variable} unset)"
    )]
    Environment {
        /// The variable's name.
        variable: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with the value.
        problem: String,
        /// The values that are allowed, in words.
        allowed: String,
    },
    /// A failure reported by a device backend (no adapter, a shader error, an out-of-memory...).
    #[error("device error in {op}: {message}")]
    Device {
        /// The operation that failed.
        op: &'static str,
        /// The backend's own message.
        message: String,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
