//! Dropout on the CPU: the reference draw of [`DropoutMask::apply`], one Philox block per four
//! elements.

use super::{Cpu, CpuStorage};
use crate::ops::{DropoutMask, DropoutOp};
use crate::{Error, Result};

impl DropoutOp<Cpu> for Cpu {
    fn dropout(_backend: &Cpu, x: &CpuStorage, mask: &DropoutMask) -> Result<CpuStorage> {
        let x = x.as_slice().ok_or_else(|| Error::Device {
            op: "dropout",
            message: "input is not contiguous".to_string(),
        })?;
        Ok(CpuStorage::from(mask.apply(x)))
    }
}
