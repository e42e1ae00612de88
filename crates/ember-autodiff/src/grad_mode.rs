//! `no_grad`: evaluation without recording.

use std::cell::Cell;

thread_local! {
    static DISABLED_DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Whether ops on this thread are recorded for backward.
pub fn is_grad_enabled() -> bool {
    DISABLED_DEPTH.with(|d| d.get() == 0)
}

/// While alive, ops on this thread are not recorded (as `torch.no_grad()`).
#[derive(Debug)]
pub struct NoGradGuard {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl NoGradGuard {
    /// Disables recording until the guard is dropped.
    pub fn new() -> Self {
        DISABLED_DEPTH.with(|d| d.set(d.get() + 1));
        NoGradGuard {
            _not_send: std::marker::PhantomData,
        }
    }
}

impl Default for NoGradGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        DISABLED_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Runs `f` without recording ops (evaluation).
///
/// ```
/// use ember_autodiff::{Var, no_grad};
/// use ember_cpu::Cpu;
/// use ember_tensor::Tensor;
///
/// let w = Var::parameter(Tensor::ones([2], &Cpu)?);
/// let y = no_grad(|| w.mul(&w))?;
/// assert!(!y.requires_grad());
/// # Ok::<(), ember_autodiff::Error>(())
/// ```
pub fn no_grad<T>(f: impl FnOnce() -> T) -> T {
    let _guard = NoGradGuard::new();
    f()
}
