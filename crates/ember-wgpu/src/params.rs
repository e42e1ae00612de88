//! Uniform parameter blocks of the kernels, laid out exactly as the WGSL structs of the same
//! names (std140-compatible: only 4-byte scalars and 16-byte vectors).

use bytemuck::{Pod, Zeroable};

/// Maximum rank of a broadcast after merging dimensions (`MAX_RANK` in `elementwise.wgsl`).
pub(crate) const MAX_BROADCAST_RANK: usize = 8;

/// `ElementwiseParams` of `elementwise.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub(crate) struct ElementwiseParams {
    pub len: u32,
    pub rank: u32,
    pub scalar: f32,
    pub _padding: u32,
    /// Per output dimension: size, lhs stride, rhs stride, unused.
    pub dims: [[u32; 4]; MAX_BROADCAST_RANK],
}

/// `FillParams` of `fill.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub(crate) struct FillParams {
    pub len: u32,
    pub value: f32,
    pub _padding: [u32; 2],
}

/// `MatmulParams` of `matmul.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub(crate) struct MatmulParams {
    pub m: u32,
    pub k: u32,
    pub n: u32,
    pub trans_a: u32,
    pub trans_b: u32,
    pub lhs_row_stride: u32,
    pub lhs_k_stride: u32,
    pub rhs_k_stride: u32,
    pub rhs_col_stride: u32,
    pub k_begin: u32,
    pub k_end: u32,
    pub out_offset: u32,
}

/// `ReduceParams` of `reduce.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub(crate) struct ReduceParams {
    pub outer: u32,
    pub len: u32,
    pub inner: u32,
    pub interleaved: u32,
    pub first: u32,
    pub count: u32,
    /// Non-zero: the final sum is divided by it (a mean).
    pub divisor: f32,
    pub flags: u32,
}

/// `ReduceParams.flags` of `reduce.wgsl`.
pub(crate) mod reduce_flags {
    pub const CONTINUE_FROM_CARRY: u32 = 1;
    pub const FINISH: u32 = 2;
}

/// `RowsParams` of `rows.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub(crate) struct RowsParams {
    pub rows: u32,
    pub cols: u32,
    pub invalid: f32,
    pub _padding: u32,
}

/// `OptimizerParams` of `optimizer.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub(crate) struct OptimizerParams {
    pub len: u32,
    pub algorithm: u32,
    pub variant: u32,
    pub first_step_or_amsgrad: u32,
    pub lr: f32,
    pub weight_decay: f32,
    pub momentum: f32,
    pub one_minus_decay: f32,
    pub beta2_or_alpha: f32,
    pub one_minus_beta2: f32,
    pub eps: f32,
    pub bias2_sqrt: f32,
    pub step_size: f32,
    pub decay_factor: f32,
    pub extra: f32,
    pub maximize: u32,
}

/// Algorithm codes of `optimizer.wgsl`.
pub(crate) mod algorithm {
    pub const SGD: u32 = 0;
    pub const ADAM: u32 = 1;
    pub const RMSPROP: u32 = 2;
    pub const ADAGRAD: u32 = 3;
    pub const ADADELTA: u32 = 4;
    pub const ADAMAX: u32 = 5;
    pub const NADAM: u32 = 6;
    pub const RADAM: u32 = 7;
}

/// Maximum rank of a strided copy after merging dimensions (`MAX_RANK` in `layout.wgsl`).
pub(crate) const MAX_STRIDED_RANK: usize = 8;

/// `StridedParams` of `layout.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub(crate) struct StridedParams {
    pub len: u32,
    pub rank: u32,
    pub offset: u32,
    pub _padding: u32,
    /// Per output dimension: size, source stride, unused, unused.
    pub dims: [[u32; 4]; MAX_STRIDED_RANK],
}

/// `WindowParams` of `window.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub(crate) struct WindowParams {
    pub batch: u32,
    pub channels: u32,
    pub height: u32,
    pub width: u32,
    pub kernel_h: u32,
    pub kernel_w: u32,
    pub stride_h: u32,
    pub stride_w: u32,
    pub pad_h: u32,
    pub pad_w: u32,
    pub dilation_h: u32,
    pub dilation_w: u32,
    pub out_h: u32,
    pub out_w: u32,
    pub pad_value: f32,
    pub len: u32,
}

/// `DropoutParams` of `dropout.wgsl`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable)]
pub(crate) struct DropoutParams {
    pub len: u32,
    pub threshold: u32,
    pub scale: f32,
    pub _padding: u32,
    /// Philox's key, low word first.
    pub key: [u32; 2],
    /// The step: the counter's two high words, low first.
    pub step: [u32; 2],
}
