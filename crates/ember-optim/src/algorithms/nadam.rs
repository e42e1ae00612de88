//! NAdam: Adam with Nesterov momentum and a warming momentum schedule.

use ember_tensor::ops::OptimizerUpdate;

use crate::Result;
use crate::algorithms::validate_adam;
use crate::optimizer::{Fused, GroupOptions, UpdateRule, check_non_negative};

/// NAdam (Dozat, 2016), as torch.optim.NAdam.
pub type NAdam<B> = Fused<B, NAdamConfig>;

/// Hyperparameters of [`NAdam`] (PyTorch's defaults: lr 2e-3, momentum_decay 4e-3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NAdamConfig {
    /// Learning rate.
    pub lr: f32,
    /// Coefficients of the running averages.
    pub betas: (f32, f32),
    /// Added to the denominator.
    pub eps: f32,
    /// Weight decay: L2 added to the gradient, or decoupled with `decoupled_weight_decay`.
    pub weight_decay: f32,
    /// The momentum schedule's ψ.
    pub momentum_decay: f32,
    /// AdamW-style weight decay (`p ← p·(1 - lr·wd)`), PyTorch's NAdamW.
    pub decoupled_weight_decay: bool,
    /// Ascend the objective instead of descending it.
    pub maximize: bool,
}

impl Default for NAdamConfig {
    fn default() -> Self {
        NAdamConfig {
            lr: 2e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            momentum_decay: 4e-3,
            decoupled_weight_decay: false,
            maximize: false,
        }
    }
}

impl UpdateRule for NAdamConfig {
    const NAME: &'static str = "NAdam";
    fn buffer_names(&self) -> Vec<&'static str> {
        vec!["exp_avg", "exp_avg_sq"]
    }
    fn update(&self, step: u64) -> OptimizerUpdate {
        OptimizerUpdate::NAdam {
            lr: self.lr,
            beta1: self.betas.0,
            beta2: self.betas.1,
            eps: self.eps,
            weight_decay: self.weight_decay,
            decoupled: self.decoupled_weight_decay,
            momentum_decay: self.momentum_decay,
            step,
            maximize: self.maximize,
        }
    }
    fn validate(&self) -> Result<()> {
        validate_adam(Self::NAME, self.lr, self.betas, self.eps, self.weight_decay)?;
        check_non_negative(Self::NAME, "momentum_decay", self.momentum_decay)
    }
    adam_family_options!();
}
