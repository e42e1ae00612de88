//! `Tensor<B>`: the value users hold, checked shapes over a backend's storage.

use std::fmt;

use ndarray::Array1;
use ndarray_rand::RandomExt;
use ndarray_rand::rand::Rng;
use ndarray_rand::rand_distr::{Normal, Uniform};

use crate::ops::{BinaryOp, MatmulDims, ReduceOp, ScalarOp, UnaryOp};
use crate::{Backend, Error, Result, Shape};

/// An `f32` tensor on backend `B` (`ember-cpu`'s `Cpu`, `ember-wgpu`'s `Wgpu`; the facade crate
/// `ember-dl` names the CPU by default).
///
/// Cloning is cheap: the storage is reference-counted. Every operation checks shapes and returns
/// a typed [`Error`] naming the operation and the shapes when they do not fit.
///
/// ```
/// use ember_cpu::Cpu;
/// use ember_tensor::Tensor;
///
/// let a = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], [2, 2], &Cpu)?;
/// let bias = Tensor::from_vec(vec![10.0, 20.0], [2], &Cpu)?;
/// let y = a.matmul(&a)?.add(&bias)?.relu()?;
/// assert_eq!(y.to_vec()?, vec![17.0, 30.0, 25.0, 42.0]);
/// # Ok::<(), ember_tensor::Error>(())
/// ```
#[derive(Clone)]
pub struct Tensor<B: Backend> {
    storage: B::Storage,
    shape: Shape,
    backend: B,
}

impl<B: Backend> fmt::Debug for Tensor<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tensor")
            .field("shape", &self.shape)
            .field("device", &self.backend.name())
            .finish()
    }
}

impl<B: Backend> Tensor<B> {
    /// Wraps storage that holds `shape.numel()` elements.
    pub fn from_storage(storage: B::Storage, shape: impl Into<Shape>, backend: &B) -> Result<Self> {
        let shape = shape.into();
        let got = backend.len(&storage);
        if got != shape.numel() {
            return Err(Error::DataLength {
                op: "from_storage",
                expected: shape.numel(),
                got,
                shape,
            });
        }
        Ok(Tensor {
            storage,
            shape,
            backend: backend.clone(),
        })
    }

    /// Uploads host data (row-major) as a tensor of `shape`.
    pub fn from_slice(data: &[f32], shape: impl Into<Shape>, backend: &B) -> Result<Self> {
        let shape = checked_len("from_slice", data.len(), shape.into())?;
        Ok(Tensor {
            storage: backend.upload(data)?,
            shape,
            backend: backend.clone(),
        })
    }

    /// Uploads host data (row-major) as a tensor of `shape`; the CPU backend keeps `data`
    /// without copying it.
    pub fn from_vec(data: Vec<f32>, shape: impl Into<Shape>, backend: &B) -> Result<Self> {
        let shape = checked_len("from_vec", data.len(), shape.into())?;
        Ok(Tensor {
            storage: backend.upload_vec(data)?,
            shape,
            backend: backend.clone(),
        })
    }

    /// A scalar tensor (rank 0).
    pub fn scalar(value: f32, backend: &B) -> Result<Self> {
        Self::from_slice(&[value], Shape::scalar(), backend)
    }

    /// A tensor of `shape` filled with `value`.
    pub fn full(shape: impl Into<Shape>, value: f32, backend: &B) -> Result<Self> {
        let shape = shape.into();
        let storage = backend.fill(shape.numel(), value)?;
        Ok(Tensor {
            storage,
            shape,
            backend: backend.clone(),
        })
    }

    /// Zeros.
    pub fn zeros(shape: impl Into<Shape>, backend: &B) -> Result<Self> {
        Self::full(shape, 0.0, backend)
    }

    /// Ones.
    pub fn ones(shape: impl Into<Shape>, backend: &B) -> Result<Self> {
        Self::full(shape, 1.0, backend)
    }

    /// Samples of N(`mean`, `std`²) drawn on the host from `rng` and uploaded, so every backend
    /// starts from the same values for the same seed.
    pub fn randn<R: Rng + ?Sized>(
        shape: impl Into<Shape>,
        mean: f32,
        std: f32,
        rng: &mut R,
        backend: &B,
    ) -> Result<Self> {
        let shape = shape.into();
        // rand_distr accepts a negative std (it mirrors the samples); PyTorch rejects it.
        if std < 0.0 {
            return Err(Error::InvalidArgument {
                op: "randn",
                message: format!("N({mean}, {std}²) is not a distribution: std must be >= 0"),
            });
        }
        let normal = Normal::new(mean, std).map_err(|e| Error::InvalidArgument {
            op: "randn",
            message: format!("N({mean}, {std}²) is not a distribution: {e}"),
        })?;
        let data = Array1::random_using(shape.numel(), normal, rng);
        Self::from_slice(data.as_slice().unwrap_or(&data.to_vec()), shape, backend)
    }

    /// Samples of U(`low`, `high`) drawn on the host from `rng` and uploaded.
    pub fn rand_uniform<R: Rng + ?Sized>(
        shape: impl Into<Shape>,
        low: f32,
        high: f32,
        rng: &mut R,
        backend: &B,
    ) -> Result<Self> {
        let shape = shape.into();
        if low == high {
            return Self::full(shape, low, backend);
        }
        let uniform = Uniform::new(low, high).map_err(|e| Error::InvalidArgument {
            op: "rand_uniform",
            message: format!("U({low}, {high}) is not a distribution: {e}"),
        })?;
        let data = Array1::random_using(shape.numel(), uniform, rng);
        Self::from_slice(data.as_slice().unwrap_or(&data.to_vec()), shape, backend)
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.numel()
    }

    /// The backend this tensor lives on.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The backend's storage (for backend-level code such as optimizers).
    pub fn storage(&self) -> &B::Storage {
        &self.storage
    }

    /// Mutable access to the storage, for in-place updates such as optimizer steps.
    pub fn storage_mut(&mut self) -> &mut B::Storage {
        &mut self.storage
    }

    /// Splits the tensor into its storage and shape.
    pub fn into_parts(self) -> (B::Storage, Shape) {
        (self.storage, self.shape)
    }

    /// Downloads the values (row-major) to the host.
    pub fn to_vec(&self) -> Result<Vec<f32>> {
        self.backend.download(&self.storage)
    }

    /// The single value of a one-element tensor.
    pub fn to_scalar(&self) -> Result<f32> {
        if self.numel() != 1 {
            return Err(Error::WrongRank {
                op: "to_scalar",
                expected: "a tensor with exactly one element",
                shape: self.shape.clone(),
            });
        }
        Ok(self.to_vec()?[0])
    }

    /// The same data seen with another shape of as many elements.
    pub fn reshape(&self, shape: impl Into<Shape>) -> Result<Self> {
        let shape = shape.into();
        if shape.numel() != self.numel() {
            return Err(Error::Reshape {
                from: self.shape.clone(),
                from_numel: self.numel(),
                to_numel: shape.numel(),
                to: shape,
            });
        }
        Ok(self.with(self.storage.clone(), shape))
    }

    fn with(&self, storage: B::Storage, shape: Shape) -> Self {
        Tensor {
            storage,
            shape,
            backend: self.backend.clone(),
        }
    }

    /// Applies an element-wise function.
    pub fn unary(&self, op: UnaryOp) -> Result<Self> {
        let storage = self.backend.unary(op, &self.storage)?;
        Ok(self.with(storage, self.shape.clone()))
    }

    /// `grad * op'(self)`, where `output = op(self)`: the backward step of an activation.
    pub fn unary_backward(&self, op: UnaryOp, output: &Self, grad: &Self) -> Result<Self> {
        self.same_shape("unary_backward", output)?;
        self.same_shape("unary_backward", grad)?;
        let storage =
            self.backend
                .unary_backward(op, &self.storage, &output.storage, &grad.storage)?;
        Ok(self.with(storage, self.shape.clone()))
    }

    fn same_shape(&self, op: &'static str, other: &Self) -> Result<()> {
        if self.shape != other.shape {
            return Err(Error::ShapeMismatch {
                op,
                lhs: self.shape.clone(),
                rhs: other.shape.clone(),
            });
        }
        Ok(())
    }

    /// `-x`
    pub fn neg(&self) -> Result<Self> {
        self.unary(UnaryOp::Neg)
    }
    /// `e^x`
    pub fn exp(&self) -> Result<Self> {
        self.unary(UnaryOp::Exp)
    }
    /// `ln x`
    pub fn log(&self) -> Result<Self> {
        self.unary(UnaryOp::Log)
    }
    /// `max(x, 0)`
    pub fn relu(&self) -> Result<Self> {
        self.unary(UnaryOp::Relu)
    }
    /// The logistic function.
    pub fn sigmoid(&self) -> Result<Self> {
        self.unary(UnaryOp::Sigmoid)
    }
    /// Hyperbolic tangent.
    pub fn tanh(&self) -> Result<Self> {
        self.unary(UnaryOp::Tanh)
    }
    /// Square root.
    pub fn sqrt(&self) -> Result<Self> {
        self.unary(UnaryOp::Sqrt)
    }
    /// `x²`
    pub fn square(&self) -> Result<Self> {
        self.unary(UnaryOp::Square)
    }

    /// Applies an element-wise function of `self` and a scalar.
    pub fn scalar_op(&self, op: ScalarOp, s: f32) -> Result<Self> {
        let storage = self.backend.scalar(op, &self.storage, s)?;
        Ok(self.with(storage, self.shape.clone()))
    }
    /// `x + s`
    pub fn add_scalar(&self, s: f32) -> Result<Self> {
        self.scalar_op(ScalarOp::Add, s)
    }
    /// `x * s`
    pub fn mul_scalar(&self, s: f32) -> Result<Self> {
        self.scalar_op(ScalarOp::Mul, s)
    }
    /// `x ^ s`
    pub fn pow_scalar(&self, s: f32) -> Result<Self> {
        self.scalar_op(ScalarOp::Pow, s)
    }

    /// Applies an element-wise function of two tensors, broadcasting as PyTorch does.
    pub fn binary(&self, op: BinaryOp, other: &Self) -> Result<Self> {
        let out =
            Shape::broadcast(&self.shape, &other.shape).ok_or_else(|| Error::NotBroadcastable {
                op: op.name(),
                lhs: self.shape.clone(),
                rhs: other.shape.clone(),
            })?;
        let storage = self.backend.binary(
            op,
            &self.storage,
            &self.shape,
            &other.storage,
            &other.shape,
            &out,
        )?;
        Ok(self.with(storage, out))
    }
    /// `a + b` (broadcasting)
    pub fn add(&self, other: &Self) -> Result<Self> {
        self.binary(BinaryOp::Add, other)
    }
    /// `a - b` (broadcasting)
    pub fn sub(&self, other: &Self) -> Result<Self> {
        self.binary(BinaryOp::Sub, other)
    }
    /// `a * b` (broadcasting)
    pub fn mul(&self, other: &Self) -> Result<Self> {
        self.binary(BinaryOp::Mul, other)
    }
    /// `a / b` (broadcasting)
    pub fn div(&self, other: &Self) -> Result<Self> {
        self.binary(BinaryOp::Div, other)
    }

    /// Matrix product of two 2-D tensors.
    pub fn matmul(&self, other: &Self) -> Result<Self> {
        self.matmul_t(other, false, false)
    }

    /// `op(self) · op(other)` where `op` transposes a 2-D operand when its flag is set, without
    /// materialising the transpose.
    pub fn matmul_t(&self, other: &Self, trans_a: bool, trans_b: bool) -> Result<Self> {
        let (a_rows, a_cols) = self.matrix_dims("matmul")?;
        let (b_rows, b_cols) = other.matrix_dims("matmul")?;
        let (m, k_lhs) = if trans_a {
            (a_cols, a_rows)
        } else {
            (a_rows, a_cols)
        };
        let (k_rhs, n) = if trans_b {
            (b_cols, b_rows)
        } else {
            (b_rows, b_cols)
        };
        if k_lhs != k_rhs {
            return Err(Error::MatmulMismatch {
                op: "matmul",
                lhs: self.shape.clone(),
                rhs: other.shape.clone(),
                m,
                k_lhs,
                k_rhs,
                n,
            });
        }
        let dims = MatmulDims {
            m,
            k: k_lhs,
            n,
            trans_a,
            trans_b,
        };
        let storage = self.backend.matmul(&self.storage, &other.storage, dims)?;
        Ok(self.with(storage, Shape::new([m, n])))
    }

    fn matrix_dims(&self, op: &'static str) -> Result<(usize, usize)> {
        match self.dims() {
            &[r, c] => Ok((r, c)),
            _ => Err(Error::WrongRank {
                op,
                expected: "a 2-D tensor",
                shape: self.shape.clone(),
            }),
        }
    }

    pub(crate) fn check_axis(&self, op: &'static str, axis: usize) -> Result<()> {
        if axis >= self.shape.rank() {
            return Err(Error::InvalidAxis {
                op,
                axis,
                shape: self.shape.clone(),
            });
        }
        Ok(())
    }

    /// Reduces along `axis`; `keepdim` keeps it as a dimension of size 1.
    pub fn reduce(&self, op: ReduceOp, axis: usize, keepdim: bool) -> Result<Self> {
        self.check_axis(op.name(), axis)?;
        if op == ReduceOp::Max && self.shape.dims()[axis] == 0 {
            return Err(Error::InvalidArgument {
                op: "max",
                message: format!(
                    "cannot take the maximum over empty axis {axis} of {}",
                    self.shape
                ),
            });
        }
        let storage = self.backend.reduce(op, &self.storage, &self.shape, axis)?;
        Ok(self.with(storage, self.shape.reduced(axis, keepdim)))
    }
    /// Sum along `axis`.
    pub fn sum_axis(&self, axis: usize, keepdim: bool) -> Result<Self> {
        self.reduce(ReduceOp::Sum, axis, keepdim)
    }
    /// Mean along `axis`.
    pub fn mean_axis(&self, axis: usize, keepdim: bool) -> Result<Self> {
        self.reduce(ReduceOp::Mean, axis, keepdim)
    }
    /// Maximum along `axis`.
    pub fn max_axis(&self, axis: usize, keepdim: bool) -> Result<Self> {
        self.reduce(ReduceOp::Max, axis, keepdim)
    }

    /// Sum of all elements, as a scalar tensor.
    pub fn sum_all(&self) -> Result<Self> {
        self.reshape([self.numel()])?.sum_axis(0, false)
    }

    /// `Σ x²` over all elements, as a scalar tensor (a squared L2 norm), in one pass where the
    /// backend can.
    pub fn sum_squares(&self) -> Result<Self> {
        let storage = self.backend.sum_squares(&self.storage)?;
        Ok(self.with(storage, Shape::scalar()))
    }

    /// Mean of all elements, as a scalar tensor.
    pub fn mean_all(&self) -> Result<Self> {
        self.reshape([self.numel()])?.mean_axis(0, false)
    }

    /// Sums a broadcast result back to `target` (a shape that broadcasts to this one): the
    /// gradient of a broadcast operand.
    pub fn sum_to_shape(&self, target: &Shape) -> Result<Self> {
        if &self.shape == target {
            return Ok(self.clone());
        }
        if Shape::broadcast(target, &self.shape).as_ref() != Some(&self.shape) {
            return Err(Error::NotBroadcastable {
                op: "sum_to_shape",
                lhs: self.shape.clone(),
                rhs: target.clone(),
            });
        }
        let mut out = self.clone();
        // Sum from the last axis down so earlier indices stay valid.
        for axis in target.broadcast_axes(&self.shape).into_iter().rev() {
            out = out.sum_axis(axis, true)?;
        }
        out.reshape(target.clone())
    }

    fn rows(&self, op: &'static str) -> Result<(usize, usize)> {
        if self.shape.rank() == 0 {
            return Err(Error::WrongRank {
                op,
                expected: "a tensor of rank >= 1 (rows along the last axis)",
                shape: self.shape.clone(),
            });
        }
        Ok(self.shape.as_rows())
    }

    fn check_labels(&self, op: &'static str, labels: &Self, rows: usize) -> Result<()> {
        if labels.numel() != rows || labels.shape.rank() > 1 {
            return Err(Error::ShapeMismatch {
                op,
                lhs: self.shape.clone(),
                rhs: labels.shape.clone(),
            });
        }
        Ok(())
    }

    /// Log-softmax along the last axis.
    pub fn log_softmax(&self) -> Result<Self> {
        let (rows, cols) = self.rows("log_softmax")?;
        let storage = self.backend.log_softmax(&self.storage, rows, cols)?;
        Ok(self.with(storage, self.shape.clone()))
    }

    /// Softmax along the last axis.
    pub fn softmax(&self) -> Result<Self> {
        self.log_softmax()?.exp()
    }

    /// Per-row softmax cross-entropy of logits `[N, C]` against class indices `labels` `[N]`
    /// (stored as `f32`): returns the `[N]` losses. Stable for logits of any magnitude.
    pub fn softmax_cross_entropy(&self, labels: &Self) -> Result<Self> {
        let (rows, cols) = self.logits_dims("softmax_cross_entropy")?;
        self.check_labels("softmax_cross_entropy", labels, rows)?;
        let storage =
            self.backend
                .softmax_cross_entropy(&self.storage, &labels.storage, rows, cols)?;
        Ok(self.with(storage, Shape::new([rows])))
    }

    /// Gradient of [`Tensor::softmax_cross_entropy`] with respect to the logits, given the
    /// gradient of each row's loss (`[N]`).
    pub fn softmax_cross_entropy_backward(&self, labels: &Self, grad: &Self) -> Result<Self> {
        let (rows, cols) = self.logits_dims("softmax_cross_entropy_backward")?;
        self.check_labels("softmax_cross_entropy_backward", labels, rows)?;
        self.check_labels("softmax_cross_entropy_backward", grad, rows)?;
        let storage = self.backend.softmax_cross_entropy_backward(
            &self.storage,
            &labels.storage,
            &grad.storage,
            rows,
            cols,
        )?;
        Ok(self.with(storage, self.shape.clone()))
    }

    fn logits_dims(&self, op: &'static str) -> Result<(usize, usize)> {
        match self.dims() {
            &[rows, cols] if cols > 0 => Ok((rows, cols)),
            _ => Err(Error::WrongRank {
                op,
                expected: "logits of shape [N, C] with C >= 1",
                shape: self.shape.clone(),
            }),
        }
    }

    /// Index of the largest value along the last axis (first on ties), as `f32`.
    pub fn argmax(&self) -> Result<Self> {
        let (rows, cols) = self.rows("argmax")?;
        if cols == 0 {
            return Err(Error::InvalidArgument {
                op: "argmax",
                message: format!(
                    "cannot take argmax over an empty last axis of {}",
                    self.shape
                ),
            });
        }
        let storage = self.backend.argmax(&self.storage, rows, cols)?;
        Ok(self.with(storage, self.shape.reduced(self.shape.rank() - 1, false)))
    }

    /// `self[i, indices[i]]` for each row of a 2-D tensor (indices stored as `f32`).
    pub fn gather(&self, indices: &Self) -> Result<Self> {
        let (rows, cols) = self.logits_dims("gather")?;
        self.check_labels("gather", indices, rows)?;
        let storage = self
            .backend
            .gather(&self.storage, &indices.storage, rows, cols)?;
        Ok(self.with(storage, Shape::new([rows])))
    }
}

/// `shape`, if `len` host values fill it exactly.
fn checked_len(op: &'static str, len: usize, shape: Shape) -> Result<Shape> {
    if len == shape.numel() {
        Ok(shape)
    } else {
        Err(Error::DataLength {
            op,
            expected: shape.numel(),
            got: len,
            shape,
        })
    }
}
