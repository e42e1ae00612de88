//! The `Backend` trait: the one seam between Ember and a device.

use std::fmt::Debug;

use crate::ops::avg_pool2d::AvgPool2dOp;
use crate::ops::conv2d::Conv2dOp;
use crate::ops::conv2d_max_pool2d::Conv2dMaxPool2dOp;
use crate::ops::dropout::DropoutOp;
use crate::ops::layout::StridedView;
use crate::ops::max_pool2d::MaxPool2dOp;
use crate::ops::window::Window2d;
use crate::ops::{BinaryOp, MatmulDims, OptimizerUpdate, ReduceOp, ScalarOp, UnaryOp};
use crate::{Result, Shape};

/// A device that stores `f32` tensors and runs the operations training needs.
///
/// Storage is opaque and flat: shapes are kept by [`Tensor`](crate::Tensor), which checks them
/// before it calls the backend, so an implementation may assume its arguments are consistent.
/// Nothing here hands out host memory of device data except [`Backend::download`], so a GPU
/// backend keeps its data on the device between operations.
///
/// The CPU backend, `ember-cpu`'s `Cpu`, is the reference every other backend is compared
/// against.
///
/// The methods here are the *primitives* a backend implements. Larger ops come in families
/// whose methods have default bodies built from these primitives — [`Conv2dOp`],
/// [`MaxPool2dOp`], [`Conv2dMaxPool2dOp`], [`AvgPool2dOp`] — so a backend states
/// `impl Conv2dOp<Self> for Self {}` and gets a working convolution; it overrides a method only where a benchmark says the default is
/// too slow. [`DropoutOp`] is the exception: its counter-based draw has no default body.
///
/// ```
/// use ember_cpu::Cpu;
/// use ember_tensor::{Backend, ops::UnaryOp};
///
/// let cpu = Cpu;
/// let x = cpu.upload(&[-1.0, 0.0, 2.0])?;
/// let y = cpu.unary(UnaryOp::Relu, &x)?;
/// assert_eq!(cpu.download(&y)?, vec![0.0, 0.0, 2.0]);
/// # Ok::<(), ember_tensor::Error>(())
/// ```
pub trait Backend:
    Clone
    + Debug
    + Send
    + Sync
    + 'static
    + Conv2dOp<Self>
    + MaxPool2dOp<Self>
    + Conv2dMaxPool2dOp<Self>
    + AvgPool2dOp<Self>
    + DropoutOp<Self>
{
    /// A flat buffer of `f32` on the device. Cloning it is cheap (a reference count), and a
    /// backend never mutates a buffer that might be shared except through
    /// [`Backend::optimizer_update`], which takes it by `&mut`.
    type Storage: Clone + Debug + Send + Sync;

    /// A human-readable device name (e.g. `cpu` or the GPU adapter's name).
    fn name(&self) -> String;

    /// Number of `f32` elements in a buffer.
    fn len(&self, x: &Self::Storage) -> usize;

    /// Copies host data to a new device buffer.
    fn upload(&self, data: &[f32]) -> Result<Self::Storage>;

    /// Moves host data into a device buffer: [`Backend::upload`] by default; a host backend
    /// keeps the vector itself instead of copying it (a training batch every step).
    fn upload_vec(&self, data: Vec<f32>) -> Result<Self::Storage> {
        self.upload(&data)
    }

    /// Copies a device buffer to the host. The only way device data reaches the host.
    fn download(&self, x: &Self::Storage) -> Result<Vec<f32>>;

    /// A buffer of `len` elements, all `value`.
    fn fill(&self, len: usize, value: f32) -> Result<Self::Storage>;

    /// `op(x)` element-wise.
    fn unary(&self, op: UnaryOp, x: &Self::Storage) -> Result<Self::Storage>;

    /// `grad * op'(x)` element-wise, given `x`, `y = op(x)` and the incoming gradient, all of the
    /// same length: one fused pass for the backward step of an activation.
    fn unary_backward(
        &self,
        op: UnaryOp,
        x: &Self::Storage,
        y: &Self::Storage,
        grad: &Self::Storage,
    ) -> Result<Self::Storage>;

    /// `op(x, s)` element-wise with a scalar.
    fn scalar(&self, op: ScalarOp, x: &Self::Storage, s: f32) -> Result<Self::Storage>;

    /// `op(a, b)` with PyTorch broadcasting; `out` is the broadcast shape of `a_shape` and
    /// `b_shape`.
    fn binary(
        &self,
        op: BinaryOp,
        a: &Self::Storage,
        a_shape: &Shape,
        b: &Self::Storage,
        b_shape: &Shape,
        out: &Shape,
    ) -> Result<Self::Storage>;

    /// `op(A) · op(B)` as described by `dims`; the result is `[m, n]` row-major.
    fn matmul(
        &self,
        a: &Self::Storage,
        b: &Self::Storage,
        dims: MatmulDims,
    ) -> Result<Self::Storage>;

    /// Reduces `x` (of `shape`) along `axis`; the result has `shape` without that axis.
    fn reduce(
        &self,
        op: ReduceOp,
        x: &Self::Storage,
        shape: &Shape,
        axis: usize,
    ) -> Result<Self::Storage>;

    /// `Σ x²` over all of `x`, as one value: a squared L2 norm (the trainer's gradient norms).
    /// The default squares, then sums; a backend may override it with a single pass.
    fn sum_squares(&self, x: &Self::Storage) -> Result<Self::Storage> {
        let squared = self.unary(UnaryOp::Square, x)?;
        let len = self.len(&squared);
        self.reduce(ReduceOp::Sum, &squared, &Shape::new([len]), 0)
    }

    /// Log-softmax of each of `rows` rows of `cols` values, computed stably (max subtracted).
    fn log_softmax(&self, x: &Self::Storage, rows: usize, cols: usize) -> Result<Self::Storage>;

    /// Fused softmax + cross-entropy: for each row of `logits` (`rows × cols`) and its class
    /// index in `labels` (stored as `f32`), `logsumexp(row) - row[label]`. Returns `rows` losses.
    fn softmax_cross_entropy(
        &self,
        logits: &Self::Storage,
        labels: &Self::Storage,
        rows: usize,
        cols: usize,
    ) -> Result<Self::Storage>;

    /// Gradient of [`Backend::softmax_cross_entropy`] with respect to the logits:
    /// `(softmax(row) - onehot(label)) * grad[row]`, given the gradient of each row's loss.
    fn softmax_cross_entropy_backward(
        &self,
        logits: &Self::Storage,
        labels: &Self::Storage,
        grad: &Self::Storage,
        rows: usize,
        cols: usize,
    ) -> Result<Self::Storage>;

    /// Index of the largest value of each row (the first one on ties), as `f32`.
    fn argmax(&self, x: &Self::Storage, rows: usize, cols: usize) -> Result<Self::Storage>;

    /// `x[row, indices[row]]` for each row (indices stored as `f32`).
    fn gather(
        &self,
        x: &Self::Storage,
        indices: &Self::Storage,
        rows: usize,
        cols: usize,
    ) -> Result<Self::Storage>;

    /// One fused optimizer step of one parameter tensor, in place: `param`, its `grad` and the
    /// state buffers listed on the [`OptimizerUpdate`] variant are read once and written once.
    fn optimizer_update(
        &self,
        update: &OptimizerUpdate,
        param: &mut Self::Storage,
        grad: &Self::Storage,
        state: &mut [Self::Storage],
    ) -> Result<()>;

    /// A dense copy of the elements `view` reads from `x` (see [`StridedView`]): the one
    /// kernel behind permute, transpose, narrow and expand. The view is in bounds and
    /// simplified (merged dimensions) when a backend sees it.
    fn strided_copy(&self, x: &Self::Storage, view: &StridedView) -> Result<Self::Storage>;

    /// The windows of `x` (`[N, C, H, W]`, described by `window`) as the rows of an
    /// `[N·OH·OW, C·kh·kw]` matrix (im2col); taps in the padding read `pad_value`. See
    /// [`crate::ops::unfold`] for the order.
    fn unfold2d(
        &self,
        x: &Self::Storage,
        window: &Window2d,
        pad_value: f32,
    ) -> Result<Self::Storage>;

    /// The adjoint of [`Backend::unfold2d`] (col2im): every entry of `cols` added to the input
    /// position it was read from, in row order; padding taps are dropped.
    fn fold2d(&self, cols: &Self::Storage, window: &Window2d) -> Result<Self::Storage>;

    /// The adjoint of [`Backend::gather`]: a `rows × cols` buffer of zeros with `values[r]` at
    /// `[r, indices[r]]` (indices stored as `f32`).
    fn scatter(
        &self,
        values: &Self::Storage,
        indices: &Self::Storage,
        rows: usize,
        cols: usize,
    ) -> Result<Self::Storage>;
}
