//! [`Cpu`]: the `Backend` trait on `ndarray` vectors, each op handed to its family's file.

use ndarray::ArcArray1;

use ember_tensor::ops::{
    AvgPool2dOp, BinaryOp, MatmulDims, OptimizerUpdate, ReduceOp, ScalarOp, StridedView, UnaryOp,
    Window2d,
};
use ember_tensor::{Backend, Result, Shape};

use crate::profile::{Category, timed};
use crate::{elementwise, layout, matmul, optimizer, reduce, rows};

/// The CPU backend. Storage is a reference-counted `ndarray` vector; GEMM runs on
/// [`crate::gemm`]'s kernel for this CPU, hot loops on its best instruction set
/// (`simd.rs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Cpu;

/// Storage of the CPU backend.
pub type CpuStorage = ArcArray1<f32>;

impl Backend for Cpu {
    type Storage = CpuStorage;

    fn name(&self) -> String {
        "cpu".to_string()
    }

    fn len(&self, x: &CpuStorage) -> usize {
        x.len()
    }

    fn upload(&self, data: &[f32]) -> Result<CpuStorage> {
        Ok(ArcArray1::from(data.to_vec()))
    }

    fn upload_vec(&self, data: Vec<f32>) -> Result<CpuStorage> {
        Ok(ArcArray1::from(data))
    }

    fn download(&self, x: &CpuStorage) -> Result<Vec<f32>> {
        Ok(x.to_vec())
    }

    fn fill(&self, len: usize, value: f32) -> Result<CpuStorage> {
        Ok(ArcArray1::from_elem(len, value))
    }

    fn unary(&self, op: UnaryOp, x: &CpuStorage) -> Result<CpuStorage> {
        Ok(timed(Category::Elementwise, || elementwise::unary(op, x)))
    }

    fn unary_backward(
        &self,
        op: UnaryOp,
        x: &CpuStorage,
        y: &CpuStorage,
        grad: &CpuStorage,
    ) -> Result<CpuStorage> {
        Ok(timed(Category::Elementwise, || {
            elementwise::unary_backward(op, x, y, grad)
        }))
    }

    fn scalar(&self, op: ScalarOp, x: &CpuStorage, s: f32) -> Result<CpuStorage> {
        Ok(timed(Category::Elementwise, || {
            elementwise::scalar(op, x, s)
        }))
    }

    fn binary(
        &self,
        op: BinaryOp,
        a: &CpuStorage,
        a_shape: &Shape,
        b: &CpuStorage,
        b_shape: &Shape,
        out: &Shape,
    ) -> Result<CpuStorage> {
        timed(Category::Elementwise, || {
            elementwise::binary(op, a, a_shape, b, b_shape, out)
        })
    }

    fn sum_squares(&self, x: &CpuStorage) -> Result<CpuStorage> {
        Ok(timed(Category::Reduction, || {
            ArcArray1::from(vec![reduce::sum_squares(x)])
        }))
    }

    fn matmul(&self, a: &CpuStorage, b: &CpuStorage, dims: MatmulDims) -> Result<CpuStorage> {
        timed(Category::Gemm, || matmul::matmul(a, b, dims))
    }

    fn reduce(
        &self,
        op: ReduceOp,
        x: &CpuStorage,
        shape: &Shape,
        axis: usize,
    ) -> Result<CpuStorage> {
        timed(Category::Reduction, || reduce::reduce(op, x, shape, axis))
    }

    fn log_softmax(&self, x: &CpuStorage, rows: usize, cols: usize) -> Result<CpuStorage> {
        Ok(timed(Category::Reduction, || {
            rows::log_softmax(x, rows, cols)
        }))
    }

    fn softmax_cross_entropy(
        &self,
        logits: &CpuStorage,
        labels: &CpuStorage,
        rows: usize,
        cols: usize,
    ) -> Result<CpuStorage> {
        timed(Category::Reduction, || {
            rows::softmax_cross_entropy(logits, labels, rows, cols)
        })
    }

    fn softmax_cross_entropy_backward(
        &self,
        logits: &CpuStorage,
        labels: &CpuStorage,
        grad: &CpuStorage,
        rows: usize,
        cols: usize,
    ) -> Result<CpuStorage> {
        timed(Category::Reduction, || {
            rows::softmax_cross_entropy_backward(logits, labels, grad, rows, cols)
        })
    }

    fn argmax(&self, x: &CpuStorage, rows: usize, cols: usize) -> Result<CpuStorage> {
        Ok(timed(Category::Reduction, || rows::argmax(x, rows, cols)))
    }

    fn gather(
        &self,
        x: &CpuStorage,
        indices: &CpuStorage,
        rows: usize,
        cols: usize,
    ) -> Result<CpuStorage> {
        timed(Category::Layout, || rows::gather(x, indices, rows, cols))
    }

    fn optimizer_update(
        &self,
        update: &OptimizerUpdate,
        param: &mut CpuStorage,
        grad: &CpuStorage,
        state: &mut [CpuStorage],
    ) -> Result<()> {
        timed(Category::Optimizer, || {
            optimizer::update(update, param, grad, state)
        })
    }

    fn strided_copy(&self, x: &CpuStorage, view: &StridedView) -> Result<CpuStorage> {
        timed(Category::Layout, || layout::strided_copy(x, view))
    }

    fn unfold2d(&self, x: &CpuStorage, window: &Window2d, pad_value: f32) -> Result<CpuStorage> {
        timed(Category::Unfold, || layout::unfold2d(x, window, pad_value))
    }

    fn fold2d(&self, cols: &CpuStorage, window: &Window2d) -> Result<CpuStorage> {
        timed(Category::Fold, || layout::fold2d(cols, window))
    }

    fn scatter(
        &self,
        values: &CpuStorage,
        indices: &CpuStorage,
        rows: usize,
        cols: usize,
    ) -> Result<CpuStorage> {
        timed(Category::Layout, || {
            layout::scatter(values, indices, rows, cols)
        })
    }
}

// Average pooling: the default body (unfold + mean). Convolution (`conv.rs`: the bias fused
// into the output copy) and max pooling (`pool.rs`: one direct pass) override theirs.
impl AvgPool2dOp<Cpu> for Cpu {}
