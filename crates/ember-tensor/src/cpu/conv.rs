//! Convolution on the CPU: the default body (unfold, then one GEMM `W · cols`), with the bias
//! added in the same pass that moves the product from `[O, N·OH·OW]` to `[N, O, OH, OW]`
//! (the default makes a copy, then a broadcast add: two passes over the output).

use super::{Cpu, CpuStorage};
use crate::ops::conv2d::weight_times_unfolded;
use crate::ops::{Conv2dOp, Window2d};
use crate::{Error, Result};

impl Conv2dOp<Cpu> for Cpu {
    fn conv2d(
        backend: &Cpu,
        x: &CpuStorage,
        weight: &CpuStorage,
        bias: Option<&CpuStorage>,
        window: &Window2d,
        out_channels: usize,
    ) -> Result<CpuStorage> {
        let y = weight_times_unfolded(backend, x, weight, window, out_channels)?;
        let y = y.as_slice().ok_or_else(|| Error::Device {
            op: "conv2d",
            message: "product is not contiguous".to_string(),
        })?;
        let pixels = window.output[0] * window.output[1];
        let mut out = Vec::with_capacity(y.len());
        for n in 0..window.batch {
            for o in 0..out_channels {
                let run = &y[(o * window.batch + n) * pixels..][..pixels];
                match bias {
                    Some(b) => out.extend(run.iter().map(|&v| v + b[o])),
                    None => out.extend_from_slice(run),
                }
            }
        }
        Ok(CpuStorage::from(out))
    }
}
