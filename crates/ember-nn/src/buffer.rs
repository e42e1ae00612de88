//! Module buffers: state that belongs to a module and is saved with it, but is not trained
//! (BatchNorm's running statistics and its batch counter), and the tensors of a state dict,
//! which keep PyTorch's dtype (`num_batches_tracked` is an I64 scalar).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ember_tensor::{Backend, Shape, Tensor};

/// The element type of a state-dict tensor, named as safetensors names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// 32-bit float: parameters and running statistics.
    F32,
    /// 64-bit signed integer: counters (`num_batches_tracked`).
    I64,
}

impl Dtype {
    /// The name safetensors (and this crate's messages) use: `F32`, `I64`.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "F32",
            Dtype::I64 => "I64",
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An integer tensor, kept on the host: counters are read and written by the host only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct I64Tensor {
    /// Its shape (`[]` for a scalar).
    pub shape: Shape,
    /// Its values, row-major.
    pub data: Vec<i64>,
}

impl I64Tensor {
    /// A 0-d tensor holding `value`, as PyTorch's `torch.tensor(value)`.
    pub fn scalar(value: i64) -> Self {
        I64Tensor {
            shape: Shape::from(Vec::<usize>::new()),
            data: vec![value],
        }
    }
}

/// A tensor of a state dict: an f32 tensor on the backend, or a host i64 tensor.
#[derive(Debug, Clone)]
pub enum StateTensor<B: Backend> {
    /// Parameters, running statistics.
    F32(Tensor<B>),
    /// Counters.
    I64(I64Tensor),
}

impl<B: Backend> StateTensor<B> {
    /// Its shape.
    pub fn shape(&self) -> &Shape {
        match self {
            StateTensor::F32(t) => t.shape(),
            StateTensor::I64(t) => &t.shape,
        }
    }

    /// Its element type.
    pub fn dtype(&self) -> Dtype {
        match self {
            StateTensor::F32(_) => Dtype::F32,
            StateTensor::I64(_) => Dtype::I64,
        }
    }

    /// The f32 tensor, if it is one.
    pub fn as_f32(&self) -> Option<&Tensor<B>> {
        match self {
            StateTensor::F32(t) => Some(t),
            StateTensor::I64(_) => None,
        }
    }

    /// The i64 tensor, if it is one.
    pub fn as_i64(&self) -> Option<&I64Tensor> {
        match self {
            StateTensor::F32(_) => None,
            StateTensor::I64(t) => Some(t),
        }
    }
}

impl<B: Backend> From<Tensor<B>> for StateTensor<B> {
    fn from(t: Tensor<B>) -> Self {
        StateTensor::F32(t)
    }
}

impl<B: Backend> From<I64Tensor> for StateTensor<B> {
    fn from(t: I64Tensor) -> Self {
        StateTensor::I64(t)
    }
}

/// A module's buffer, as PyTorch's `register_buffer`: visited by
/// [`Module::visit_buffers`](crate::Module::visit_buffers), saved and loaded with the
/// parameters, never given to an optimizer. Cloning shares the value (as cloning a `Var`
/// does), so a layer can update it in its `forward(&self)` and a state-dict load can replace it.
/// The value sits behind an `Arc` and a lock, so a module with buffers is `Send` and `Sync`.
#[derive(Clone)]
pub struct Buffer<B: Backend> {
    value: Arc<Mutex<StateTensor<B>>>,
}

impl<B: Backend> fmt::Debug for Buffer<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.lock();
        f.debug_struct("Buffer")
            .field("dtype", &value.dtype())
            .field("shape", value.shape())
            .finish()
    }
}

impl<B: Backend> Buffer<B> {
    /// A buffer holding `value`.
    pub fn new(value: impl Into<StateTensor<B>>) -> Self {
        Buffer {
            value: Arc::new(Mutex::new(value.into())),
        }
    }

    /// The value, locked for a clone or an assignment (never across code that could panic, so
    /// a poisoned lock still holds a whole value).
    fn lock(&self) -> MutexGuard<'_, StateTensor<B>> {
        self.value.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Its value (a cheap clone).
    pub fn get(&self) -> StateTensor<B> {
        self.lock().clone()
    }

    /// Replaces its value. The caller keeps dtype and shape (a state-dict load checks them).
    pub fn set(&self, value: impl Into<StateTensor<B>>) {
        *self.lock() = value.into();
    }

    /// Its shape.
    pub fn shape(&self) -> Shape {
        self.lock().shape().clone()
    }

    /// Its element type.
    pub fn dtype(&self) -> Dtype {
        self.lock().dtype()
    }
}
