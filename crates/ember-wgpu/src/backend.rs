//! `impl Backend for Wgpu`: each op checks its sizes, fills the kernel's uniform parameters and
//! records one dispatch. Nothing is read back except in `download`.

use ember_tensor::ops::{
    BinaryOp, MatmulDims, OptimizerUpdate, ReduceOp, ScalarOp, StridedView, UnaryOp, Window2d,
    adagrad_decayed_lr, adam_bias_corrections, bias_correction, nadam_coefficients,
    radam_rectification,
};
use ember_tensor::{Backend, Shape};

use crate::Wgpu;
use crate::context::{Bound, Workgroups};
use crate::error::{Error, Result};
use crate::kernels::{Kernel, MatmulKernel, OptimizerStates, RowOp};
use crate::params::{
    ElementwiseParams, FillParams, MAX_BROADCAST_RANK, MatmulParams, OptimizerParams, ReduceParams,
    RowsParams, algorithm, reduce_flags,
};
use crate::pool::WgpuStorage;

/// Invocations per workgroup of the one-dimensional kernels (`WORKGROUP_SIZE` in the WGSL).
const WORKGROUP_SIZE: u64 = 256;
/// Output block of a `matmul_tiled` workgroup (`TILE`).
const MATMUL_TILE: u64 = 64;
/// Output block of a `matmul_simple` workgroup (`SIMPLE_SIZE`).
const MATMUL_SIMPLE_TILE: u64 = 16;
/// Rows longer than this run one workgroup per row; shorter ones one invocation per row, in the
/// CPU's order. (Three passes over a row stay within llvmpipe's 65,535 loop iterations per
/// invocation.)
const ROW_PER_WORKGROUP_COLS: usize = 16_384;
/// Longest row of the one-workgroup-per-row kernels on CPU adapters: 3 passes of cols / 256
/// iterations each within 65,535.
const ROW_MAX_COLS_ON_CPU: usize = 5_000_000;

/// A storage buffer and the binding it goes to.
type Input<'a> = (u32, &'a WgpuStorage);

impl Wgpu {
    /// Workgroups for one invocation per item, spread over two dimensions when needed.
    pub(crate) fn groups_for(&self, op: &'static str, items: usize) -> Result<Workgroups> {
        self.context
            .spread(op, (items as u64).div_ceil(WORKGROUP_SIZE))
    }

    /// Records `kernel` reading `inputs` and writing `output` (bound at `output_binding`).
    /// `output` must be non-empty; empty inputs are not bound (a kernel never reads them then).
    pub(crate) fn launch(
        &self,
        op: &'static str,
        kernel: Kernel,
        params: &[u8],
        inputs: &[Input<'_>],
        output: Input<'_>,
        workgroups: Workgroups,
    ) -> Result<()> {
        let mut bound = Vec::with_capacity(inputs.len() + 1);
        for &(binding, storage) in inputs.iter().chain(std::iter::once(&output)) {
            if let Some(buffer) = self.context.buffer_of(op, storage)? {
                bound.push(Bound {
                    binding,
                    buffer,
                    bytes: storage.byte_len(),
                });
            }
        }
        self.context.dispatch(kernel, params, &bound, workgroups)
    }

    /// A new buffer of `len` copies of `value`.
    fn filled(&self, op: &'static str, len: usize, value: f32) -> Result<WgpuStorage> {
        let out = self.context.allocate(op, len)?;
        let Some(buffer) = self.context.buffer_of(op, &out)? else {
            return Ok(out);
        };
        if value.to_bits() == 0 {
            self.context.clear(buffer, out.byte_len());
            return Ok(out);
        }
        let params = FillParams {
            len: len as u32,
            value,
            _padding: [0; 2],
        };
        let groups = self.groups_for(op, len)?;
        self.launch(
            op,
            Kernel::Fill,
            bytemuck::bytes_of(&params),
            &[],
            (1, &out),
            groups,
        )?;
        Ok(out)
    }

    /// A one-invocation-per-element kernel of `elementwise.wgsl` over `len` outputs.
    fn elementwise(
        &self,
        op: &'static str,
        kernel: Kernel,
        params: &ElementwiseParams,
        inputs: &[Input<'_>],
        len: usize,
    ) -> Result<WgpuStorage> {
        let out = self.context.allocate(op, len)?;
        if len == 0 {
            return Ok(out);
        }
        let groups = self.groups_for(op, len)?;
        self.launch(
            op,
            kernel,
            bytemuck::bytes_of(params),
            inputs,
            (4, &out),
            groups,
        )?;
        Ok(out)
    }

    /// Makes `storage` the only handle to its buffer, copying the data to a new buffer if it is
    /// shared, so an in-place update changes no other tensor (copy-on-write, like the CPU's
    /// `ArcArray`).
    fn make_unique(&self, op: &'static str, storage: &mut WgpuStorage) -> Result<()> {
        if storage.is_unique() {
            return Ok(());
        }
        let copy = self.context.allocate(op, storage.len())?;
        if let (Some(source), Some(destination)) = (
            self.context.buffer_of(op, storage)?,
            self.context.buffer_of(op, &copy)?,
        ) {
            self.context.copy(source, destination, storage.byte_len());
        }
        *storage = copy;
        Ok(())
    }

    fn binary_impl(
        &self,
        op: BinaryOp,
        a: &WgpuStorage,
        a_shape: &Shape,
        b: &WgpuStorage,
        b_shape: &Shape,
        out: &Shape,
    ) -> Result<WgpuStorage> {
        let len = out.numel();
        let dims = broadcast_dims(a_shape, b_shape, out);
        if dims.len() > MAX_BROADCAST_RANK {
            return Err(Error::BroadcastRank {
                op: op.name(),
                rank: dims.len(),
                max: MAX_BROADCAST_RANK,
            });
        }
        let mut params = ElementwiseParams {
            len: len as u32,
            rank: dims.len() as u32,
            scalar: 0.0,
            _padding: 0,
            dims: [[0; 4]; MAX_BROADCAST_RANK],
        };
        params.dims[..dims.len()].copy_from_slice(&dims);
        self.elementwise(
            op.name(),
            Kernel::Binary(op),
            &params,
            &[(1, a), (2, b)],
            len,
        )
    }

    fn matmul_impl(
        &self,
        a: &WgpuStorage,
        b: &WgpuStorage,
        dims: MatmulDims,
    ) -> Result<WgpuStorage> {
        const OP: &str = "matmul";
        let MatmulDims {
            m,
            k,
            n,
            trans_a,
            trans_b,
        } = dims;
        if m * n == 0 || k == 0 {
            return self.filled(OP, m * n, 0.0);
        }
        let (lhs_row_stride, lhs_k_stride) = if trans_a { (1, m) } else { (k, 1) };
        let (rhs_k_stride, rhs_col_stride) = if trans_b { (1, k) } else { (n, 1) };
        let params = MatmulParams {
            m: m as u32,
            k: k as u32,
            n: n as u32,
            trans_a: u32::from(trans_a),
            trans_b: u32::from(trans_b),
            lhs_row_stride: lhs_row_stride as u32,
            lhs_k_stride: lhs_k_stride as u32,
            rhs_k_stride: rhs_k_stride as u32,
            rhs_col_stride: rhs_col_stride as u32,
            k_begin: 0,
            k_end: k as u32,
            out_offset: 0,
        };
        let max_columns = u64::from(self.context.limits().max_compute_workgroups_per_dimension);
        let simple_columns = (n as u64).div_ceil(MATMUL_SIMPLE_TILE);
        let (kernel, tile) = match self.context.matmul_kernel() {
            MatmulKernel::Simple if simple_columns <= max_columns => {
                (MatmulKernel::Simple, MATMUL_SIMPLE_TILE)
            }
            _ => (MatmulKernel::Tiled, MATMUL_TILE),
        };
        let groups =
            self.context
                .spread_grid(OP, (n as u64).div_ceil(tile), (m as u64).div_ceil(tile))?;
        // Long k is summed in pieces (one dispatch each, into its own [m, n] block), then the
        // blocks are added in order.
        let k_chunk = self.context.matmul_k_chunk(kernel);
        let chunks = k.div_ceil(k_chunk);
        let out = self.context.allocate(OP, chunks * m * n)?;
        for chunk in 0..chunks {
            let params = MatmulParams {
                k_begin: (chunk * k_chunk) as u32,
                k_end: (k.min((chunk + 1) * k_chunk)) as u32,
                out_offset: (chunk * m * n) as u32,
                ..params
            };
            self.launch(
                OP,
                Kernel::Matmul(kernel),
                bytemuck::bytes_of(&params),
                &[(1, a), (2, b)],
                (3, &out),
                groups,
            )?;
        }
        if chunks == 1 {
            return Ok(out);
        }
        self.reduce_axis(ReduceOp::Sum, &out, 1, chunks, m * n, false, OP)
    }

    /// Reduces a tensor viewed as `[outer, len, inner]` along its middle axis, in the CPU's
    /// order: one dispatch, or, for an axis longer than a dispatch may cover, several that carry
    /// the running sums from one to the next.
    #[allow(clippy::too_many_arguments)]
    fn reduce_axis(
        &self,
        op: ReduceOp,
        input: &WgpuStorage,
        outer: usize,
        len: usize,
        inner: usize,
        interleaved: bool,
        op_name: &'static str,
    ) -> Result<WgpuStorage> {
        let out_len = outer * inner;
        let out = self.context.allocate(op_name, out_len)?;
        let groups = self.groups_for(op_name, out_len)?;
        let chunk = self.context.reduce_chunk();
        let mut params = ReduceParams {
            outer: outer as u32,
            len: len as u32,
            inner: inner as u32,
            interleaved: u32::from(interleaved),
            first: 0,
            count: len as u32,
            divisor: if op == ReduceOp::Mean {
                len as f32
            } else {
                0.0
            },
            flags: 0,
        };
        if len <= chunk {
            self.launch(
                op_name,
                Kernel::Reduce { op, carried: false },
                bytemuck::bytes_of(&params),
                &[(1, input)],
                (2, &out),
                groups,
            )?;
            return Ok(out);
        }
        let carry = self.context.allocate(op_name, out_len * 8)?;
        let dispatches = len.div_ceil(chunk);
        for index in 0..dispatches {
            params.first = (index * chunk) as u32;
            params.count = chunk.min(len - index * chunk) as u32;
            params.flags = if index > 0 {
                reduce_flags::CONTINUE_FROM_CARRY
            } else {
                0
            } | if index + 1 == dispatches {
                reduce_flags::FINISH
            } else {
                0
            };
            self.launch(
                op_name,
                Kernel::Reduce { op, carried: true },
                bytemuck::bytes_of(&params),
                &[(1, input), (3, &carry)],
                (2, &out),
                groups,
            )?;
        }
        Ok(out)
    }

    fn reduce_impl(
        &self,
        op: ReduceOp,
        x: &WgpuStorage,
        shape: &Shape,
        axis: usize,
    ) -> Result<WgpuStorage, ember_tensor::Error> {
        let dims = shape.dims();
        let Some(&len) = dims.get(axis) else {
            return Err(ember_tensor::Error::InvalidAxis {
                op: op.name(),
                axis,
                shape: shape.clone(),
            });
        };
        let outer: usize = dims[..axis].iter().product();
        let inner: usize = dims[axis + 1..].iter().product();
        let out_len = outer * inner;
        if len == 0 || out_len == 0 {
            // An empty axis: the CPU's sum is 0, its mean 0/0 and its maximum the fold's start.
            let value = match op {
                ReduceOp::Sum => 0.0,
                ReduceOp::Mean => f32::NAN,
                ReduceOp::Max => f32::NEG_INFINITY,
            };
            return Ok(self.filled(op.name(), out_len, value)?);
        }
        // The CPU (ndarray) sums the last axis with eight interleaved partial sums.
        let interleaved = axis + 1 == dims.len();
        Ok(self.reduce_axis(op, x, outer, len, inner, interleaved, op.name())?)
    }

    /// A kernel of `rows.wgsl`, writing `out_len` values: one invocation per row, or one
    /// workgroup per row for long rows.
    #[allow(clippy::too_many_arguments)]
    fn rows_kernel(
        &self,
        op: &'static str,
        row_op: RowOp,
        inputs: &[Input<'_>],
        rows: usize,
        cols: usize,
        out_len: usize,
        empty_row_value: f32,
    ) -> Result<WgpuStorage> {
        if out_len == 0 || rows == 0 {
            return self.filled(op, out_len, 0.0);
        }
        if cols == 0 {
            return self.filled(op, out_len, empty_row_value);
        }
        let params = RowsParams {
            rows: rows as u32,
            cols: cols as u32,
            invalid: f32::NAN,
            _padding: 0,
        };
        let per_workgroup = row_op.has_per_workgroup() && cols > ROW_PER_WORKGROUP_COLS;
        if per_workgroup && cols > ROW_MAX_COLS_ON_CPU && self.context.is_cpu_adapter() {
            return Err(Error::DispatchTooLarge {
                op,
                message: format!(
                    "rows of {cols} columns exceed the {ROW_MAX_COLS_ON_CPU} this CPU adapter \
                     can process per row (it stops each invocation after 65,535 loop iterations)"
                ),
            });
        }
        let groups = if per_workgroup {
            self.context.spread(op, rows as u64)?
        } else {
            self.groups_for(op, rows)?
        };
        let out = self.context.allocate(op, out_len)?;
        self.launch(
            op,
            Kernel::Rows {
                op: row_op,
                per_workgroup,
            },
            bytemuck::bytes_of(&params),
            inputs,
            (4, &out),
            groups,
        )?;
        Ok(out)
    }

    fn optimizer_impl(
        &self,
        update: &OptimizerUpdate,
        param: &mut WgpuStorage,
        grad: &WgpuStorage,
        state: &mut [WgpuStorage],
    ) -> Result<(), ember_tensor::Error> {
        let op = update.name();
        let len = param.len();
        if grad.len() != len {
            return Err(ember_tensor::Error::OptimizerState {
                op,
                message: format!("gradient has {} elements, parameter {len}", grad.len()),
            });
        }
        let states = match OptimizerStates::from_count(state.len()) {
            Some(states)
                if state.len() == update.state_len() && state.iter().all(|s| s.len() == len) =>
            {
                states
            }
            _ => {
                return Err(ember_tensor::Error::OptimizerState {
                    op,
                    message: format!(
                        "expected {} state buffers of {len} elements, got {:?}",
                        update.state_len(),
                        state.iter().map(WgpuStorage::len).collect::<Vec<_>>()
                    ),
                });
            }
        };
        if len == 0 {
            return Ok(());
        }
        self.make_unique(op, param)?;
        for slot in state.iter_mut() {
            self.make_unique(op, slot)?;
        }
        let params = optimizer_params(update, len);
        let groups = self.groups_for(op, len)?;
        let mut inputs: Vec<Input<'_>> = vec![(2, grad)];
        inputs.extend(state.iter().enumerate().map(|(i, s)| (3 + i as u32, s)));
        self.launch(
            op,
            Kernel::Optimizer(states),
            bytemuck::bytes_of(&params),
            &inputs,
            (1, param),
            groups,
        )?;
        Ok(())
    }
}

/// The broadcast of `a_shape` and `b_shape` to `out` as (size, lhs stride, rhs stride, 0) per
/// dimension, with dimensions of size 1 dropped and neighbours that can be walked as one merged,
/// so the kernel's index arithmetic stays short. Always at least one dimension.
fn broadcast_dims(a_shape: &Shape, b_shape: &Shape, out: &Shape) -> Vec<[u32; 4]> {
    let rank = out.rank();
    let strides = |shape: &Shape| -> Vec<usize> {
        // Strides of `shape` aligned to the right of `out`; 0 where it is broadcast.
        let offset = rank - shape.rank().min(rank);
        let mut result = vec![0; rank];
        let mut stride = 1;
        for (axis, &dim) in shape.dims().iter().enumerate().rev() {
            if axis + offset < rank && dim != 1 {
                result[axis + offset] = stride;
            }
            stride *= dim;
        }
        result
    };
    let a_strides = strides(a_shape);
    let b_strides = strides(b_shape);
    let mut dims: Vec<[usize; 3]> = Vec::with_capacity(rank);
    for axis in 0..rank {
        let size = out.dims()[axis];
        if size == 1 {
            continue;
        }
        let current = [size, a_strides[axis], b_strides[axis]];
        if let Some(previous) = dims.last_mut() {
            // Row-major: the previous (outer) dimension continues this one when its stride is
            // this one's stride times its size, for both operands.
            if previous[1] == current[1] * size && previous[2] == current[2] * size {
                *previous = [previous[0] * size, current[1], current[2]];
                continue;
            }
        }
        dims.push(current);
    }
    if dims.is_empty() {
        dims.push([1, 0, 0]);
    }
    dims.iter()
        .map(|&[size, a, b]| [size as u32, a as u32, b as u32, 0])
        .collect()
}

/// The uniform parameters of one fused update, with the per-step constants computed on the host
/// exactly as [`OptimizerUpdate::apply`] computes them.
fn optimizer_params(update: &OptimizerUpdate, len: usize) -> OptimizerParams {
    let mut params = OptimizerParams {
        len: len as u32,
        algorithm: 0,
        variant: 0,
        first_step_or_amsgrad: 0,
        lr: 0.0,
        weight_decay: 0.0,
        momentum: 0.0,
        one_minus_decay: 0.0,
        beta2_or_alpha: 0.0,
        one_minus_beta2: 0.0,
        eps: 0.0,
        bias2_sqrt: 1.0,
        step_size: 0.0,
        decay_factor: 1.0,
        extra: 0.0,
        maximize: 0,
    };
    match *update {
        OptimizerUpdate::Sgd {
            lr,
            momentum,
            dampening,
            weight_decay,
            nesterov,
            first_step,
            maximize,
        } => {
            params.maximize = u32::from(maximize);
            params.algorithm = algorithm::SGD;
            params.variant = u32::from(nesterov);
            params.first_step_or_amsgrad = u32::from(first_step);
            params.lr = lr;
            params.momentum = momentum;
            params.weight_decay = weight_decay;
            params.one_minus_decay = 1.0 - dampening;
        }
        OptimizerUpdate::Adam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            decoupled,
            amsgrad,
            step,
            maximize,
        } => {
            let (bias1, bias2_sqrt) = adam_bias_corrections(beta1, beta2, step);
            params.maximize = u32::from(maximize);
            params.algorithm = algorithm::ADAM;
            params.variant = u32::from(decoupled);
            params.first_step_or_amsgrad = u32::from(amsgrad);
            params.lr = lr;
            params.weight_decay = weight_decay;
            params.one_minus_decay = 1.0 - beta1;
            params.beta2_or_alpha = beta2;
            params.one_minus_beta2 = 1.0 - beta2;
            params.eps = eps;
            params.bias2_sqrt = bias2_sqrt;
            params.step_size = -(lr / bias1);
            params.decay_factor = 1.0 - lr * weight_decay;
        }
        OptimizerUpdate::RmsProp {
            lr,
            alpha,
            eps,
            weight_decay,
            momentum,
            centered,
            maximize,
        } => {
            params.maximize = u32::from(maximize);
            params.algorithm = algorithm::RMSPROP;
            params.variant = u32::from(centered);
            params.lr = lr;
            params.weight_decay = weight_decay;
            params.momentum = momentum;
            params.beta2_or_alpha = alpha;
            params.one_minus_decay = 1.0 - alpha;
            params.eps = eps;
        }
        OptimizerUpdate::Adagrad {
            lr,
            lr_decay,
            weight_decay,
            eps,
            step,
            maximize,
        } => {
            params.maximize = u32::from(maximize);
            params.algorithm = algorithm::ADAGRAD;
            params.weight_decay = weight_decay;
            params.eps = eps;
            params.step_size = adagrad_decayed_lr(lr, lr_decay, step);
        }
        OptimizerUpdate::Adadelta {
            lr,
            rho,
            eps,
            weight_decay,
            maximize,
        } => {
            params.maximize = u32::from(maximize);
            params.algorithm = algorithm::ADADELTA;
            params.lr = lr;
            params.weight_decay = weight_decay;
            params.beta2_or_alpha = rho;
            params.one_minus_decay = 1.0 - rho;
            params.eps = eps;
        }
        OptimizerUpdate::Adamax {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            step,
            maximize,
        } => {
            params.maximize = u32::from(maximize);
            params.algorithm = algorithm::ADAMAX;
            params.weight_decay = weight_decay;
            params.one_minus_decay = 1.0 - beta1;
            params.beta2_or_alpha = beta2;
            params.eps = eps;
            params.step_size = -(lr / bias_correction(beta1, step));
        }
        OptimizerUpdate::NAdam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            decoupled,
            momentum_decay,
            step,
            maximize,
        } => {
            let coefficients = nadam_coefficients(lr, beta1, momentum_decay, step);
            params.maximize = u32::from(maximize);
            params.algorithm = algorithm::NADAM;
            params.variant = u32::from(decoupled);
            params.weight_decay = weight_decay;
            params.decay_factor = 1.0 - lr * weight_decay;
            params.one_minus_decay = 1.0 - beta1;
            params.beta2_or_alpha = beta2;
            params.one_minus_beta2 = 1.0 - beta2;
            params.eps = eps;
            params.bias2_sqrt = bias_correction(beta2, step);
            params.extra = coefficients.grad;
            params.step_size = coefficients.exp_avg;
        }
        OptimizerUpdate::RAdam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            decoupled,
            step,
            maximize,
        } => {
            let (bias1, bias2_sqrt) = adam_bias_corrections(beta1, beta2, step);
            let rectification = radam_rectification(beta2, step);
            params.maximize = u32::from(maximize);
            params.algorithm = algorithm::RADAM;
            params.variant = u32::from(decoupled);
            params.first_step_or_amsgrad = u32::from(rectification.is_some());
            params.lr = lr;
            params.weight_decay = weight_decay;
            params.decay_factor = 1.0 - lr * weight_decay;
            params.one_minus_decay = 1.0 - beta1;
            params.beta2_or_alpha = beta2;
            params.one_minus_beta2 = 1.0 - beta2;
            params.eps = eps;
            params.bias2_sqrt = bias2_sqrt;
            params.extra = bias1;
            params.step_size = rectification.unwrap_or(1.0);
        }
    }
    params
}

/// The GPU backend. Results agree with `ember-cpu`'s `Cpu` within each op's documented
/// tolerance (see `docs/CONFORMANCE.md`), with one difference: a label or index that is not a
/// class in `0..cols` gives NaN for its row (softmax-cross-entropy, its backward, gather) instead
/// of an error, since checking would need a read-back.
impl Backend for Wgpu {
    type Storage = WgpuStorage;

    fn name(&self) -> String {
        self.context.info().name.clone()
    }

    fn len(&self, x: &WgpuStorage) -> usize {
        x.len()
    }

    fn upload(&self, data: &[f32]) -> ember_tensor::Result<WgpuStorage> {
        let out = self.context.allocate("upload", data.len())?;
        if let Some(buffer) = self.context.buffer_of("upload", &out)? {
            self.context.write(buffer, data);
        }
        Ok(out)
    }

    fn download(&self, x: &WgpuStorage) -> ember_tensor::Result<Vec<f32>> {
        match self.context.buffer_of("download", x)? {
            Some(buffer) => Ok(self.context.read("download", buffer, x.len())?),
            None => Ok(Vec::new()),
        }
    }

    fn fill(&self, len: usize, value: f32) -> ember_tensor::Result<WgpuStorage> {
        Ok(self.filled("fill", len, value)?)
    }

    fn unary(&self, op: UnaryOp, x: &WgpuStorage) -> ember_tensor::Result<WgpuStorage> {
        let params = ElementwiseParams::for_len(x.len());
        Ok(self.elementwise(op.name(), Kernel::Unary(op), &params, &[(1, x)], x.len())?)
    }

    fn unary_backward(
        &self,
        op: UnaryOp,
        x: &WgpuStorage,
        y: &WgpuStorage,
        grad: &WgpuStorage,
    ) -> ember_tensor::Result<WgpuStorage> {
        let params = ElementwiseParams::for_len(x.len());
        Ok(self.elementwise(
            op.name(),
            Kernel::UnaryBackward(op),
            &params,
            &[(1, x), (2, y), (3, grad)],
            x.len(),
        )?)
    }

    fn scalar(&self, op: ScalarOp, x: &WgpuStorage, s: f32) -> ember_tensor::Result<WgpuStorage> {
        let params = ElementwiseParams {
            scalar: s,
            ..ElementwiseParams::for_len(x.len())
        };
        Ok(self.elementwise(op.name(), Kernel::Scalar(op), &params, &[(1, x)], x.len())?)
    }

    fn binary(
        &self,
        op: BinaryOp,
        a: &WgpuStorage,
        a_shape: &Shape,
        b: &WgpuStorage,
        b_shape: &Shape,
        out: &Shape,
    ) -> ember_tensor::Result<WgpuStorage> {
        Ok(self.binary_impl(op, a, a_shape, b, b_shape, out)?)
    }

    fn matmul(
        &self,
        a: &WgpuStorage,
        b: &WgpuStorage,
        dims: MatmulDims,
    ) -> ember_tensor::Result<WgpuStorage> {
        Ok(self.matmul_impl(a, b, dims)?)
    }

    fn reduce(
        &self,
        op: ReduceOp,
        x: &WgpuStorage,
        shape: &Shape,
        axis: usize,
    ) -> ember_tensor::Result<WgpuStorage> {
        self.reduce_impl(op, x, shape, axis)
    }

    fn log_softmax(
        &self,
        x: &WgpuStorage,
        rows: usize,
        cols: usize,
    ) -> ember_tensor::Result<WgpuStorage> {
        Ok(self.rows_kernel(
            "log_softmax",
            RowOp::LogSoftmax,
            &[(1, x)],
            rows,
            cols,
            rows * cols,
            0.0,
        )?)
    }

    fn softmax_cross_entropy(
        &self,
        logits: &WgpuStorage,
        labels: &WgpuStorage,
        rows: usize,
        cols: usize,
    ) -> ember_tensor::Result<WgpuStorage> {
        Ok(self.rows_kernel(
            "softmax_cross_entropy",
            RowOp::SoftmaxCrossEntropy,
            &[(1, logits), (2, labels)],
            rows,
            cols,
            rows,
            f32::NAN,
        )?)
    }

    fn softmax_cross_entropy_backward(
        &self,
        logits: &WgpuStorage,
        labels: &WgpuStorage,
        grad: &WgpuStorage,
        rows: usize,
        cols: usize,
    ) -> ember_tensor::Result<WgpuStorage> {
        Ok(self.rows_kernel(
            "softmax_cross_entropy_backward",
            RowOp::SoftmaxCrossEntropyBackward,
            &[(1, logits), (2, labels), (3, grad)],
            rows,
            cols,
            rows * cols,
            f32::NAN,
        )?)
    }

    fn argmax(
        &self,
        x: &WgpuStorage,
        rows: usize,
        cols: usize,
    ) -> ember_tensor::Result<WgpuStorage> {
        // An empty row's argmax is 0, as on the CPU.
        Ok(self.rows_kernel("argmax", RowOp::Argmax, &[(1, x)], rows, cols, rows, 0.0)?)
    }

    fn gather(
        &self,
        x: &WgpuStorage,
        indices: &WgpuStorage,
        rows: usize,
        cols: usize,
    ) -> ember_tensor::Result<WgpuStorage> {
        Ok(self.rows_kernel(
            "gather",
            RowOp::Gather,
            &[(1, x), (2, indices)],
            rows,
            cols,
            rows,
            f32::NAN,
        )?)
    }

    fn optimizer_update(
        &self,
        update: &OptimizerUpdate,
        param: &mut WgpuStorage,
        grad: &WgpuStorage,
        state: &mut [WgpuStorage],
    ) -> ember_tensor::Result<()> {
        self.optimizer_impl(update, param, grad, state)
    }

    fn strided_copy(
        &self,
        x: &WgpuStorage,
        view: &StridedView,
    ) -> ember_tensor::Result<WgpuStorage> {
        Ok(self.strided_copy_impl(x, view)?)
    }

    fn unfold2d(
        &self,
        x: &WgpuStorage,
        window: &Window2d,
        pad_value: f32,
    ) -> ember_tensor::Result<WgpuStorage> {
        Ok(self.window_impl(x, window, pad_value, false)?)
    }

    fn fold2d(&self, cols: &WgpuStorage, window: &Window2d) -> ember_tensor::Result<WgpuStorage> {
        Ok(self.window_impl(cols, window, 0.0, true)?)
    }

    fn scatter(
        &self,
        values: &WgpuStorage,
        indices: &WgpuStorage,
        rows: usize,
        cols: usize,
    ) -> ember_tensor::Result<WgpuStorage> {
        Ok(self.scatter_impl(values, indices, rows, cols)?)
    }
}

impl ElementwiseParams {
    fn for_len(len: usize) -> Self {
        ElementwiseParams {
            len: len as u32,
            rank: 1,
            scalar: 0.0,
            _padding: 0,
            dims: [[0; 4]; MAX_BROADCAST_RANK],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::broadcast_dims;
    use ember_tensor::Shape;

    fn dims(a: &[usize], b: &[usize]) -> Vec<[u32; 4]> {
        let (a, b) = (Shape::from(a), Shape::from(b));
        let out = Shape::broadcast(&a, &b).expect("broadcastable");
        broadcast_dims(&a, &b, &out)
    }

    #[test]
    fn equal_shapes_merge_into_one_dimension() {
        assert_eq!(dims(&[3, 4, 5], &[3, 4, 5]), vec![[60, 1, 1, 0]]);
    }

    #[test]
    fn a_bias_row_repeats_over_rows() {
        assert_eq!(dims(&[3, 4], &[4]), vec![[3, 4, 0, 0], [4, 1, 1, 0]]);
        assert_eq!(dims(&[4], &[3, 4]), vec![[3, 0, 4, 0], [4, 1, 1, 0]]);
    }

    #[test]
    fn a_column_and_a_scalar() {
        assert_eq!(dims(&[3, 4], &[3, 1]), vec![[3, 4, 1, 0], [4, 1, 0, 0]]);
        assert_eq!(dims(&[3, 4], &[]), vec![[12, 1, 0, 0]]);
        assert_eq!(dims(&[], &[]), vec![[1, 0, 0, 0]]);
    }

    #[test]
    fn three_dimensional_broadcasts() {
        assert_eq!(
            dims(&[2, 1, 4], &[3, 1]),
            vec![[2, 4, 0, 0], [3, 0, 1, 0], [4, 1, 0, 0]]
        );
        assert_eq!(
            dims(&[2, 3, 4], &[1, 3, 4]),
            vec![[2, 12, 0, 0], [12, 1, 1, 0]]
        );
    }
}
