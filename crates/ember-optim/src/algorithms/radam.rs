//! RAdam: Adam whose adaptive step is rectified while the second moment's variance is large.

use ember_tensor::ops::OptimizerUpdate;

use crate::Result;
use crate::algorithms::validate_adam;
use crate::optimizer::{Fused, GroupOptions, UpdateRule};

/// RAdam (Liu et al., 2019), as torch.optim.RAdam.
pub type RAdam<B> = Fused<B, RAdamConfig>;

/// Hyperparameters of [`RAdam`] (PyTorch's defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RAdamConfig {
    /// Learning rate.
    pub lr: f32,
    /// Coefficients of the running averages.
    pub betas: (f32, f32),
    /// Added to the denominator.
    pub eps: f32,
    /// Weight decay: L2 added to the gradient, or decoupled with `decoupled_weight_decay`.
    pub weight_decay: f32,
    /// AdamW-style weight decay (`p ← p·(1 - lr·wd)`).
    pub decoupled_weight_decay: bool,
    /// Ascend the objective instead of descending it.
    pub maximize: bool,
}

impl Default for RAdamConfig {
    fn default() -> Self {
        RAdamConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            maximize: false,
        }
    }
}

impl UpdateRule for RAdamConfig {
    const NAME: &'static str = "RAdam";
    fn buffer_names(&self) -> Vec<&'static str> {
        vec!["exp_avg", "exp_avg_sq"]
    }
    fn update(&self, step: u64) -> OptimizerUpdate {
        OptimizerUpdate::RAdam {
            lr: self.lr,
            beta1: self.betas.0,
            beta2: self.betas.1,
            eps: self.eps,
            weight_decay: self.weight_decay,
            decoupled: self.decoupled_weight_decay,
            step,
            maximize: self.maximize,
        }
    }
    fn validate(&self) -> Result<()> {
        validate_adam(Self::NAME, self.lr, self.betas, self.eps, self.weight_decay)
    }
    adam_family_options!();
}
