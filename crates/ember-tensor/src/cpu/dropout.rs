//! Dropout on the CPU: the reference draw of [`DropoutMask::apply`], one Philox block per four
//! elements; a large tensor is split at a block boundary over the two threads (each element's
//! factor depends only on its index, so the bits are the same).

use super::{Cpu, CpuStorage};
use crate::ops::{DropoutMask, DropoutOp};
use crate::{Error, Result, parallel};

/// Below this many elements one thread draws the whole mask (a join costs a few µs).
const SPLIT_MIN_LEN: usize = 1 << 14;

impl DropoutOp<Cpu> for Cpu {
    fn dropout(_backend: &Cpu, x: &CpuStorage, mask: &DropoutMask) -> Result<CpuStorage> {
        let x = x.as_slice().ok_or_else(|| Error::Device {
            op: "dropout",
            message: "input is not contiguous".to_string(),
        })?;
        if x.len() < SPLIT_MIN_LEN {
            return Ok(CpuStorage::from(mask.apply(x)));
        }
        let mut out = vec![0.0f32; x.len()];
        // A multiple of 4, so the second half starts at a block.
        let half = x.len() / 8 * 4;
        let (first_x, second_x) = x.split_at(half);
        let (first_out, second_out) = out.split_at_mut(half);
        let second_block = (half / 4) as u32;
        parallel::join(
            || mask.apply_from(0, first_x, first_out),
            move || mask.apply_from(second_block, second_x, second_out),
        );
        Ok(CpuStorage::from(out))
    }
}
