//! Adamax: Adam with the infinity norm in place of the second moment.

use ember_tensor::ops::OptimizerUpdate;

use crate::Result;
use crate::algorithms::validate_adam;
use crate::optimizer::{Fused, GroupOptions, UpdateRule};

/// Adamax (Kingma & Ba, 2014, section 7), as torch.optim.Adamax.
pub type Adamax<B> = Fused<B, AdamaxConfig>;

/// Hyperparameters of [`Adamax`] (PyTorch's defaults: lr 2e-3).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamaxConfig {
    /// Learning rate.
    pub lr: f32,
    /// Decay of the first moment and of the infinity norm.
    pub betas: (f32, f32),
    /// Added to the gradient's magnitude.
    pub eps: f32,
    /// L2 penalty.
    pub weight_decay: f32,
    /// Ascend the objective instead of descending it.
    pub maximize: bool,
}

impl Default for AdamaxConfig {
    fn default() -> Self {
        AdamaxConfig {
            lr: 2e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            maximize: false,
        }
    }
}

impl UpdateRule for AdamaxConfig {
    const NAME: &'static str = "Adamax";
    fn buffer_names(&self) -> Vec<&'static str> {
        vec!["exp_avg", "exp_inf"]
    }
    fn update(&self, step: u64) -> OptimizerUpdate {
        OptimizerUpdate::Adamax {
            lr: self.lr,
            beta1: self.betas.0,
            beta2: self.betas.1,
            eps: self.eps,
            weight_decay: self.weight_decay,
            step,
            maximize: self.maximize,
        }
    }
    fn validate(&self) -> Result<()> {
        validate_adam(Self::NAME, self.lr, self.betas, self.eps, self.weight_decay)
    }
    adam_family_options!();
}
