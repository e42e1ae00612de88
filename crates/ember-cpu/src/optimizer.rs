//! Fused optimizer updates: one pass over a parameter, its gradient and its state, with the
//! variant's constants hoisted out of a loop the compiler can vectorise. Each step's element
//! function is the one `ember_tensor::ops` defines for every backend; large parameters are
//! split across the two threads.

use super::CpuStorage;
use super::simd::multiversion;
use ember_tensor::ops::{
    AdadeltaStep, AdagradStep, AdamStep, AdamaxStep, NAdamStep, OptimizerUpdate, RAdamStep,
    RmsPropStep, SgdStep,
};
use ember_tensor::{Error, Result};

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
    let slots: Vec<&mut [f32]> = state
        .iter_mut()
        .map(|s| s.as_slice_mut().unwrap_or(&mut []))
        .collect();
    apply_split(update, param, grad, slots);
    Ok(())
}

/// Parameters at least this long are updated half on each thread (element-wise, so the result
/// is the same bits either way).
const PARALLEL_MIN_LEN: usize = 1 << 15;

fn apply_split(
    update: &OptimizerUpdate,
    param: &mut [f32],
    grad: &[f32],
    mut slots: Vec<&mut [f32]>,
) {
    if param.len() < PARALLEL_MIN_LEN {
        apply(update, param, grad, &mut slots);
        return;
    }
    // Split on a cache-line boundary so the threads never share a line.
    let mid = (param.len() / 2).next_multiple_of(16);
    let (param_lo, param_hi) = param.split_at_mut(mid);
    let (grad_lo, grad_hi) = grad.split_at(mid);
    let (mut slots_lo, mut slots_hi): (Vec<_>, Vec<_>) =
        slots.into_iter().map(|s| s.split_at_mut(mid)).unzip();
    crate::parallel::join(
        || apply(update, param_lo, grad_lo, &mut slots_lo),
        || apply(update, param_hi, grad_hi, &mut slots_hi),
    );
}

multiversion! {
    /// The update of one parameter (or half of one), compiled per instruction set.
    pub(super) fn apply(update: &OptimizerUpdate, param: &mut [f32], grad: &[f32], slots: &mut [&mut [f32]]) {
        match *update {
            OptimizerUpdate::Sgd { .. } => {
                let k = SgdStep::new(update);
                match slots {
                    [buf] => zip2(param, grad, buf, |p, g, b| k.apply(p, g, Some(b))),
                    _ => param
                        .iter_mut()
                        .zip(grad)
                        .for_each(|(p, &g)| k.apply(p, g, None)),
                }
            }
            OptimizerUpdate::Adam { .. } => {
                let k = AdamStep::new(update);
                match slots {
                    [m, v] => zip3(param, grad, m, v, |p, g, m, v| k.apply(p, g, m, v, None)),
                    [m, v, vmax] => {
                        for ((((p, &g), m), v), vmax) in param
                            .iter_mut()
                            .zip(grad)
                            .zip(m.iter_mut())
                            .zip(v.iter_mut())
                            .zip(vmax.iter_mut())
                        {
                            k.apply(p, g, m, v, Some(vmax));
                        }
                    }
                    _ => {}
                }
            }
            OptimizerUpdate::RmsProp {
                momentum, centered, ..
            } => {
                let k = RmsPropStep::new(update);
                match (slots, momentum != 0.0, centered) {
                    ([sq], _, _) => zip2(param, grad, sq, |p, g, s| k.apply(p, g, s, None, None)),
                    ([sq, buf], true, false) => zip3(param, grad, sq, buf, |p, g, s, b| {
                        k.apply(p, g, s, Some(b), None)
                    }),
                    ([sq, avg], false, true) => zip3(param, grad, sq, avg, |p, g, s, a| {
                        k.apply(p, g, s, None, Some(a))
                    }),
                    ([sq, buf, avg], _, _) => {
                        for ((((p, &g), s), b), a) in param
                            .iter_mut()
                            .zip(grad)
                            .zip(sq.iter_mut())
                            .zip(buf.iter_mut())
                            .zip(avg.iter_mut())
                        {
                            k.apply(p, g, s, Some(b), Some(a));
                        }
                    }
                    _ => {}
                }
            }
            OptimizerUpdate::Adagrad { .. } => {
                let k = AdagradStep::new(update);
                if let [sum] = slots {
                    zip2(param, grad, sum, |p, g, s| k.apply(p, g, s));
                }
            }
            OptimizerUpdate::Adadelta { .. } => {
                let k = AdadeltaStep::new(update);
                if let [square_avg, acc_delta] = slots {
                    zip3(param, grad, square_avg, acc_delta, |p, g, s, a| k.apply(p, g, s, a));
                }
            }
            OptimizerUpdate::Adamax { .. } => {
                let k = AdamaxStep::new(update);
                if let [m, u] = slots {
                    zip3(param, grad, m, u, |p, g, m, u| k.apply(p, g, m, u));
                }
            }
            OptimizerUpdate::NAdam { .. } => {
                let k = NAdamStep::new(update);
                if let [m, v] = slots {
                    zip3(param, grad, m, v, |p, g, m, v| k.apply(p, g, m, v));
                }
            }
            OptimizerUpdate::RAdam { .. } => {
                let k = RAdamStep::new(update);
                if let [m, v] = slots {
                    zip3(param, grad, m, v, |p, g, m, v| k.apply(p, g, m, v));
                }
            }
        }
    }
}

#[inline(always)]
fn zip2(param: &mut [f32], grad: &[f32], a: &mut [f32], f: impl Fn(&mut f32, f32, &mut f32)) {
    for ((p, &g), a) in param.iter_mut().zip(grad).zip(a.iter_mut()) {
        f(p, g, a);
    }
}

#[inline(always)]
fn zip3(
    param: &mut [f32],
    grad: &[f32],
    a: &mut [f32],
    b: &mut [f32],
    f: impl Fn(&mut f32, f32, &mut f32, &mut f32),
) {
    for (((p, &g), a), b) in param
        .iter_mut()
        .zip(grad)
        .zip(a.iter_mut())
        .zip(b.iter_mut())
    {
        f(p, g, a, b);
    }
}
