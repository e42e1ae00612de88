//! Dropout on the GPU (`dropout.wgsl`): one invocation per Philox block of four elements. Per
//! step only the parameter uniform (key, step, threshold, scale) is written; the mask is drawn
//! on the device.

use ember_tensor::ops::{DropoutMask, DropoutOp};

use crate::Wgpu;
use crate::error::{Error, Result};
use crate::kernels::Kernel;
use crate::params::DropoutParams;
use crate::pool::WgpuStorage;

impl DropoutOp<Wgpu> for Wgpu {
    fn dropout(
        backend: &Wgpu,
        x: &WgpuStorage,
        mask: &DropoutMask,
    ) -> ember_tensor::Result<WgpuStorage> {
        Ok(backend.dropout_impl(x, mask)?)
    }
}

impl Wgpu {
    fn dropout_impl(&self, x: &WgpuStorage, mask: &DropoutMask) -> Result<WgpuStorage> {
        const OP: &str = "dropout";
        let len = x.len();
        let out = self.context.allocate(OP, len)?;
        if len == 0 {
            return Ok(out);
        }
        let len = u32::try_from(len).map_err(|_| Error::DispatchTooLarge {
            op: OP,
            message: format!("{len} elements do not fit the kernel's 32-bit indices"),
        })?;
        let params = DropoutParams {
            len,
            threshold: mask.threshold,
            scale: mask.scale(),
            _padding: 0,
            key: mask.key_words(),
            step: mask.step_words(),
        };
        let blocks = (len as usize).div_ceil(4);
        let groups = self.groups_for(OP, blocks)?;
        self.launch(
            OP,
            Kernel::Dropout,
            bytemuck::bytes_of(&params),
            &[(1, x)],
            (2, &out),
            groups,
        )?;
        Ok(out)
    }
}
