//! Gradient checking: backward's gradients against central finite differences, on any backend
//! (the CPU, the reference, in Ember's own tests).
//!
//! Use it for every new op:
//!
//! ```
//! use ember_autodiff::gradcheck::{GradCheck, check_gradients};
//! use ember_cpu::Cpu;
//! use ember_tensor::{Tensor, seeded_rng};
//!
//! let mut rng = seeded_rng(0);
//! let x = Tensor::randn([3, 4], 0.0, 1.0, &mut rng, &Cpu)?;
//! let report = check_gradients("tanh", &[x], |v| v[0].tanh()?.sum_all(), &GradCheck::default())?;
//! assert!(report.max_abs_error < 1e-2);
//! # Ok::<(), ember_autodiff::Error>(())
//! ```

use ember_tensor::{Backend, Tensor};

use crate::{Error, Result, Var, no_grad};

/// Step and tolerances of a gradient check. The function is evaluated in `f32`, so the numeric
/// estimate carries an error of roughly `ε_f32 · |f| / eps`; the defaults suit outputs of order 1.
#[derive(Debug, Clone, Copy)]
pub struct GradCheck {
    /// Finite-difference step.
    pub eps: f32,
    /// Absolute tolerance.
    pub abs_tol: f32,
    /// Relative tolerance.
    pub rel_tol: f32,
}

impl Default for GradCheck {
    fn default() -> Self {
        GradCheck {
            eps: 1e-2,
            abs_tol: 5e-3,
            rel_tol: 1e-2,
        }
    }
}

/// What a passing gradient check measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradCheckReport {
    /// Elements compared.
    pub checked: usize,
    /// Largest `|analytic - numeric|`.
    pub max_abs_error: f32,
    /// Largest `|analytic - numeric| / max(|analytic|, |numeric|)`.
    pub max_rel_error: f32,
}

/// Compares the gradients backward computes for `f` (which must return a scalar) at `inputs`
/// with central differences `(f(x + eps) - f(x - eps)) / 2·eps`, element by element.
pub fn check_gradients<B: Backend>(
    name: &str,
    inputs: &[Tensor<B>],
    f: impl Fn(&[Var<B>]) -> Result<Var<B>>,
    config: &GradCheck,
) -> Result<GradCheckReport> {
    let vars: Vec<Var<B>> = inputs.iter().cloned().map(Var::parameter).collect();
    f(&vars)?.backward()?;
    let mut report = GradCheckReport {
        checked: 0,
        max_abs_error: 0.0,
        max_rel_error: 0.0,
    };
    for (i, input) in inputs.iter().enumerate() {
        let analytic = match vars[i].grad() {
            Some(g) => g.to_vec()?,
            None => vec![0.0; input.numel()],
        };
        let base = input.to_vec()?;
        for (j, &analytic) in analytic.iter().enumerate() {
            let eval = |delta: f32| -> Result<f32> {
                let mut data = base.clone();
                data[j] += delta;
                let mut args: Vec<Var<B>> =
                    inputs.iter().map(|t| Var::constant(t.clone())).collect();
                let moved = Tensor::from_vec(data, input.shape().clone(), input.backend())?;
                args[i] = Var::constant(moved);
                Ok(no_grad(|| f(&args))?.value().to_scalar()?)
            };
            let numeric = (eval(config.eps)? - eval(-config.eps)?) / (2.0 * config.eps);
            let abs = (analytic - numeric).abs();
            let scale = analytic.abs().max(numeric.abs());
            let rel = if scale > 0.0 { abs / scale } else { 0.0 };
            if !(abs <= config.abs_tol || rel <= config.rel_tol) {
                return Err(Error::GradientMismatch {
                    name: name.to_string(),
                    input: i,
                    index: j,
                    analytic,
                    numeric,
                });
            }
            report.checked += 1;
            report.max_abs_error = report.max_abs_error.max(abs);
            report.max_rel_error = report.max_rel_error.max(rel);
        }
    }
    Ok(report)
}
