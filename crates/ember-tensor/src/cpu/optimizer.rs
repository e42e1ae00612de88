//! Fused optimizer updates: one pass over a parameter, its gradient and its state.

use super::CpuStorage;
use crate::ops::OptimizerUpdate;
use crate::{Error, Result};

pub(super) fn update(
    update: &OptimizerUpdate,
    param: &mut CpuStorage,
    grad: &CpuStorage,
    state: &mut [CpuStorage],
) -> Result<()> {
    let len = param.len();
    if grad.len() != len {
        return Err(Error::OptimizerState {
            op: update.name(),
            message: format!("gradient has {} elements, parameter {len}", grad.len()),
        });
    }
    if state.len() != update.state_len() || state.iter().any(|s| s.len() != len) {
        return Err(Error::OptimizerState {
            op: update.name(),
            message: format!(
                "expected {} state buffers of {len} elements, got {:?}",
                update.state_len(),
                state.iter().map(|s| s.len()).collect::<Vec<_>>()
            ),
        });
    }
    let grad = grad.as_slice().unwrap_or(&[]);
    let param = param.as_slice_mut().unwrap_or(&mut []);
    let mut slots: Vec<&mut [f32]> = state
        .iter_mut()
        .map(|s| s.as_slice_mut().unwrap_or(&mut []))
        .collect();
    let mut scratch = [0.0f32; 3];
    for i in 0..len {
        let k = slots.len();
        for (slot, value) in slots.iter().zip(scratch.iter_mut()) {
            *value = slot[i];
        }
        update.apply(&mut param[i], grad[i], &mut scratch[..k]);
        for (slot, value) in slots.iter_mut().zip(scratch.iter()) {
            slot[i] = *value;
        }
    }
    Ok(())
}
