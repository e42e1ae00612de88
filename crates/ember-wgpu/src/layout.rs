//! Layout primitives on the GPU: strided copy (`layout.wgsl`), unfold and fold
//! (`window.wgsl`), and scatter (`rows.wgsl`). One dispatch each, one invocation per output
//! element. Convolution, pooling and the two fused use the default bodies of their op
//! families, built from these and the other primitives.

use ember_tensor::ops::{
    AvgPool2dOp, Conv2dMaxPool2dOp, Conv2dOp, MaxPool2dOp, StridedView, Window2d,
};

use crate::Wgpu;
use crate::error::{Error, Result};
use crate::kernels::{Kernel, RowOp};
use crate::params::{MAX_STRIDED_RANK, RowsParams, StridedParams, WindowParams};
use crate::pool::WgpuStorage;

impl Conv2dOp<Wgpu> for Wgpu {}
impl MaxPool2dOp<Wgpu> for Wgpu {}
impl Conv2dMaxPool2dOp<Wgpu> for Wgpu {}
impl AvgPool2dOp<Wgpu> for Wgpu {}

/// `value` as a kernel's `u32`, or an error naming the op.
fn to_u32(op: &'static str, what: &str, value: usize) -> Result<u32> {
    u32::try_from(value).map_err(|_| Error::DispatchTooLarge {
        op,
        message: format!("{what} {value} does not fit the kernel's 32-bit indices"),
    })
}

impl Wgpu {
    pub(crate) fn strided_copy_impl(
        &self,
        x: &WgpuStorage,
        view: &StridedView,
    ) -> Result<WgpuStorage> {
        const OP: &str = "strided_copy";
        let len = view.len();
        let out = self.context.allocate(OP, len)?;
        if len == 0 {
            return Ok(out);
        }
        if view.dims.len() > MAX_STRIDED_RANK {
            return Err(Error::DispatchTooLarge {
                op: OP,
                message: format!(
                    "a view of rank {} after merging dimensions; at most {MAX_STRIDED_RANK}",
                    view.dims.len()
                ),
            });
        }
        let mut dims = [[0u32; 4]; MAX_STRIDED_RANK];
        for (slot, (&size, &stride)) in dims.iter_mut().zip(view.dims.iter().zip(&view.strides)) {
            *slot = [
                to_u32(OP, "size", size)?,
                to_u32(OP, "stride", stride)?,
                0,
                0,
            ];
        }
        let params = StridedParams {
            len: to_u32(OP, "length", len)?,
            rank: view.dims.len() as u32,
            offset: to_u32(OP, "offset", view.offset)?,
            _padding: 0,
            dims,
        };
        let groups = self.groups_for(OP, len)?;
        self.launch(
            OP,
            Kernel::StridedCopy,
            bytemuck::bytes_of(&params),
            &[(1, x)],
            (2, &out),
            groups,
        )?;
        Ok(out)
    }

    /// Unfold (`fold = false`) or fold of `x` over `window`.
    pub(crate) fn window_impl(
        &self,
        x: &WgpuStorage,
        window: &Window2d,
        pad_value: f32,
        fold: bool,
    ) -> Result<WgpuStorage> {
        let (op, kernel, len) = if fold {
            ("fold2d", Kernel::Fold2d, window.input_len())
        } else {
            (
                "unfold2d",
                Kernel::Unfold2d,
                window.patch_len() * window.positions(),
            )
        };
        let out = self.context.allocate(op, len)?;
        if len == 0 {
            return Ok(out);
        }
        let o = &window.options;
        let u = |what: &str, value: usize| to_u32(op, what, value);
        let params = WindowParams {
            batch: u("batch", window.batch)?,
            channels: u("channels", window.channels)?,
            height: u("height", window.input[0])?,
            width: u("width", window.input[1])?,
            kernel_h: u("kernel", o.kernel[0])?,
            kernel_w: u("kernel", o.kernel[1])?,
            stride_h: u("stride", o.stride[0])?,
            stride_w: u("stride", o.stride[1])?,
            pad_h: u("padding", o.padding[0])?,
            pad_w: u("padding", o.padding[1])?,
            dilation_h: u("dilation", o.dilation[0])?,
            dilation_w: u("dilation", o.dilation[1])?,
            out_h: u("output height", window.output[0])?,
            out_w: u("output width", window.output[1])?,
            pad_value,
            len: u("length", len)?,
        };
        let groups = self.groups_for(op, len)?;
        self.launch(
            op,
            kernel,
            bytemuck::bytes_of(&params),
            &[(1, x)],
            (2, &out),
            groups,
        )?;
        Ok(out)
    }

    pub(crate) fn scatter_impl(
        &self,
        values: &WgpuStorage,
        indices: &WgpuStorage,
        rows: usize,
        cols: usize,
    ) -> Result<WgpuStorage> {
        const OP: &str = "scatter";
        let len = rows * cols;
        let out = self.context.allocate(OP, len)?;
        if len == 0 {
            return Ok(out);
        }
        let params = RowsParams {
            rows: to_u32(OP, "rows", rows)?,
            cols: to_u32(OP, "columns", cols)?,
            invalid: f32::NAN,
            _padding: 0,
        };
        to_u32(OP, "length", len)?;
        let groups = self.groups_for(OP, len)?;
        self.launch(
            OP,
            Kernel::Rows {
                op: RowOp::Scatter,
                per_workgroup: false,
            },
            bytemuck::bytes_of(&params),
            &[(1, values), (2, indices)],
            (4, &out),
            groups,
        )?;
        Ok(out)
    }
}
