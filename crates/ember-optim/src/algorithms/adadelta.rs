//! Adadelta: step sizes from running averages of squared gradients and squared updates.

use ember_tensor::ops::OptimizerUpdate;

use crate::Result;
use crate::optimizer::{Fused, GroupOptions, UpdateRule, check_non_negative, check_range};

/// Adadelta (Zeiler, 2012), as torch.optim.Adadelta.
pub type Adadelta<B> = Fused<B, AdadeltaConfig>;

/// Hyperparameters of [`Adadelta`] (PyTorch's defaults: lr 1.0, rho 0.9, eps 1e-6).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdadeltaConfig {
    /// Scale of the computed delta.
    pub lr: f32,
    /// Decay of the running averages.
    pub rho: f32,
    /// Added inside both square roots.
    pub eps: f32,
    /// L2 penalty.
    pub weight_decay: f32,
    /// Ascend the objective instead of descending it.
    pub maximize: bool,
}

impl Default for AdadeltaConfig {
    fn default() -> Self {
        AdadeltaConfig {
            lr: 1.0,
            rho: 0.9,
            eps: 1e-6,
            weight_decay: 0.0,
            maximize: false,
        }
    }
}

impl UpdateRule for AdadeltaConfig {
    const NAME: &'static str = "Adadelta";
    fn buffer_names(&self) -> Vec<&'static str> {
        vec!["square_avg", "acc_delta"]
    }
    fn update(&self, _step: u64) -> OptimizerUpdate {
        OptimizerUpdate::Adadelta {
            lr: self.lr,
            rho: self.rho,
            eps: self.eps,
            weight_decay: self.weight_decay,
            maximize: self.maximize,
        }
    }
    fn validate(&self) -> Result<()> {
        check_non_negative(Self::NAME, "lr", self.lr)?;
        check_range(
            Self::NAME,
            "rho",
            self.rho,
            (0.0..=1.0).contains(&self.rho),
            "must be in [0, 1]",
        )?;
        check_non_negative(Self::NAME, "eps", self.eps)?;
        check_non_negative(Self::NAME, "weight_decay", self.weight_decay)
    }
    fn options(&self) -> GroupOptions {
        GroupOptions {
            lr: self.lr,
            weight_decay: self.weight_decay,
            momentum: None,
        }
    }
    fn set_options(&mut self, options: GroupOptions) -> Result<()> {
        self.lr = options.lr;
        self.weight_decay = options.weight_decay;
        Ok(())
    }
}
