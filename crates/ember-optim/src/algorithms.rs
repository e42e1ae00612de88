//! The algorithms, each exactly as torch.optim documents it. The arithmetic itself is
//! [`OptimizerUpdate::apply`], which every backend implements as one fused kernel.

use ember_tensor::Backend;
use ember_tensor::ops::OptimizerUpdate;

use crate::Result;
use crate::optimizer::{
    Fused, GroupOptions, UpdateRule, check_non_negative, check_range, set_momentum,
};

/// `options` and `set_options` of an Adam-family configuration (fields `lr`, `weight_decay`,
/// `betas`): β1 is the momentum a schedule cycles, as PyTorch's `OneCycleLR` does.
macro_rules! adam_family_options {
    () => {
        fn options(&self) -> GroupOptions {
            crate::algorithms::adam_options(self.lr, self.weight_decay, self.betas)
        }
        fn set_options(&mut self, options: GroupOptions) -> Result<()> {
            crate::algorithms::set_adam_options(
                options,
                &mut self.lr,
                &mut self.weight_decay,
                &mut self.betas,
            );
            Ok(())
        }
    };
}

mod adadelta;
mod adamax;
mod nadam;
mod radam;

pub use adadelta::{Adadelta, AdadeltaConfig};
pub use adamax::{Adamax, AdamaxConfig};
pub use nadam::{NAdam, NAdamConfig};
pub use radam::{RAdam, RAdamConfig};

/// Stochastic gradient descent with momentum, dampening, Nesterov and weight decay.
pub type Sgd<B> = Fused<B, SgdConfig>;
/// Adam with L2 weight decay and AMSGrad.
pub type Adam<B> = Fused<B, AdamConfig>;
/// Adam with decoupled weight decay.
pub type AdamW<B> = Fused<B, AdamWConfig>;
/// RMSprop with momentum and the centered variant.
pub type RmsProp<B> = Fused<B, RmsPropConfig>;
/// Adagrad with learning-rate decay.
pub type Adagrad<B> = Fused<B, AdagradConfig>;

/// Hyperparameters of [`Sgd`] (PyTorch's defaults, with `lr = 0.01`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Learning rate.
    pub lr: f32,
    /// Momentum factor.
    pub momentum: f32,
    /// Dampening for momentum.
    pub dampening: f32,
    /// L2 penalty.
    pub weight_decay: f32,
    /// Nesterov momentum (needs momentum > 0 and dampening 0).
    pub nesterov: bool,
    /// Ascend the objective instead of descending it.
    pub maximize: bool,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            lr: 0.01,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
        }
    }
}

impl UpdateRule for SgdConfig {
    const NAME: &'static str = "SGD";
    fn buffer_names(&self) -> Vec<&'static str> {
        if self.momentum != 0.0 {
            vec!["momentum_buffer"]
        } else {
            vec![]
        }
    }
    fn update(&self, step: u64) -> OptimizerUpdate {
        OptimizerUpdate::Sgd {
            lr: self.lr,
            momentum: self.momentum,
            dampening: self.dampening,
            weight_decay: self.weight_decay,
            nesterov: self.nesterov,
            first_step: step == 1,
            maximize: self.maximize,
        }
    }
    fn validate(&self) -> Result<()> {
        check_non_negative("SGD", "lr", self.lr)?;
        check_non_negative("SGD", "momentum", self.momentum)?;
        check_non_negative("SGD", "weight_decay", self.weight_decay)?;
        check_range(
            "SGD",
            "dampening",
            self.dampening,
            !self.nesterov || (self.momentum > 0.0 && self.dampening == 0.0),
            "Nesterov momentum requires a momentum and zero dampening",
        )
    }
    fn options(&self) -> GroupOptions {
        GroupOptions {
            lr: self.lr,
            weight_decay: self.weight_decay,
            momentum: Some(self.momentum),
        }
    }
    fn set_options(&mut self, options: GroupOptions) -> Result<()> {
        set_momentum("SGD", &mut self.momentum, options.momentum)?;
        self.lr = options.lr;
        self.weight_decay = options.weight_decay;
        Ok(())
    }
}

/// Hyperparameters of [`Adam`] (PyTorch's defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f32,
    /// Coefficients of the running averages of the gradient and its square.
    pub betas: (f32, f32),
    /// Added to the denominator.
    pub eps: f32,
    /// L2 penalty added to the gradient.
    pub weight_decay: f32,
    /// Use the running maximum of the second moment.
    pub amsgrad: bool,
    /// Ascend the objective instead of descending it.
    pub maximize: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            maximize: false,
        }
    }
}

/// The schedulable options of an Adam-family configuration (β1 as the momentum, as PyTorch's
/// `OneCycleLR` treats `betas[0]`).
pub(crate) fn adam_options(lr: f32, weight_decay: f32, betas: (f32, f32)) -> GroupOptions {
    GroupOptions {
        lr,
        weight_decay,
        momentum: Some(betas.0),
    }
}

/// Applies [`GroupOptions`] to an Adam-family configuration.
pub(crate) fn set_adam_options(
    options: GroupOptions,
    lr: &mut f32,
    weight_decay: &mut f32,
    betas: &mut (f32, f32),
) {
    *lr = options.lr;
    *weight_decay = options.weight_decay;
    if let Some(beta1) = options.momentum {
        betas.0 = beta1;
    }
}

pub(crate) fn validate_adam(
    name: &'static str,
    lr: f32,
    betas: (f32, f32),
    eps: f32,
    wd: f32,
) -> Result<()> {
    check_non_negative(name, "lr", lr)?;
    check_non_negative(name, "eps", eps)?;
    check_range(
        name,
        "beta1",
        betas.0,
        (0.0..1.0).contains(&betas.0),
        "must be in [0, 1)",
    )?;
    check_range(
        name,
        "beta2",
        betas.1,
        (0.0..1.0).contains(&betas.1),
        "must be in [0, 1)",
    )?;
    check_non_negative(name, "weight_decay", wd)
}

/// Hyperparameters of [`AdamW`] (PyTorch's defaults: weight decay 0.01).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWConfig {
    /// Learning rate.
    pub lr: f32,
    /// Coefficients of the running averages.
    pub betas: (f32, f32),
    /// Added to the denominator.
    pub eps: f32,
    /// Decoupled weight decay: `p ← p·(1 - lr·wd)` before the Adam step.
    pub weight_decay: f32,
    /// Use the running maximum of the second moment.
    pub amsgrad: bool,
    /// Ascend the objective instead of descending it.
    pub maximize: bool,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        AdamWConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 1e-2,
            amsgrad: false,
            maximize: false,
        }
    }
}

/// `UpdateRule` of an Adam-family configuration (fields `lr`, `betas`, `eps`, `weight_decay`,
/// `amsgrad`); `decoupled` selects AdamW's weight decay.
macro_rules! adam_update_rule {
    ($config:ty, $name:literal, decoupled = $decoupled:expr) => {
        impl UpdateRule for $config {
            const NAME: &'static str = $name;
            fn buffer_names(&self) -> Vec<&'static str> {
                let mut names = vec!["exp_avg", "exp_avg_sq"];
                if self.amsgrad {
                    names.push("max_exp_avg_sq");
                }
                names
            }
            fn update(&self, step: u64) -> OptimizerUpdate {
                OptimizerUpdate::Adam {
                    lr: self.lr,
                    beta1: self.betas.0,
                    beta2: self.betas.1,
                    eps: self.eps,
                    weight_decay: self.weight_decay,
                    decoupled: $decoupled,
                    amsgrad: self.amsgrad,
                    step,
                    maximize: self.maximize,
                }
            }
            fn validate(&self) -> Result<()> {
                validate_adam($name, self.lr, self.betas, self.eps, self.weight_decay)
            }
            adam_family_options!();
        }
    };
}

adam_update_rule!(AdamConfig, "Adam", decoupled = false);
adam_update_rule!(AdamWConfig, "AdamW", decoupled = true);

/// Hyperparameters of [`RmsProp`] (PyTorch's defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmsPropConfig {
    /// Learning rate.
    pub lr: f32,
    /// Smoothing constant.
    pub alpha: f32,
    /// Added to the denominator.
    pub eps: f32,
    /// L2 penalty.
    pub weight_decay: f32,
    /// Momentum factor.
    pub momentum: f32,
    /// Normalise by an estimate of the variance.
    pub centered: bool,
    /// Ascend the objective instead of descending it.
    pub maximize: bool,
}

impl Default for RmsPropConfig {
    fn default() -> Self {
        RmsPropConfig {
            lr: 1e-2,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
            maximize: false,
        }
    }
}

impl UpdateRule for RmsPropConfig {
    const NAME: &'static str = "RMSprop";
    fn buffer_names(&self) -> Vec<&'static str> {
        let mut names = vec!["square_avg"];
        if self.momentum != 0.0 {
            names.push("momentum_buffer");
        }
        if self.centered {
            names.push("grad_avg");
        }
        names
    }
    fn update(&self, _step: u64) -> OptimizerUpdate {
        OptimizerUpdate::RmsProp {
            lr: self.lr,
            alpha: self.alpha,
            eps: self.eps,
            weight_decay: self.weight_decay,
            momentum: self.momentum,
            centered: self.centered,
            maximize: self.maximize,
        }
    }
    fn validate(&self) -> Result<()> {
        check_non_negative("RMSprop", "lr", self.lr)?;
        check_non_negative("RMSprop", "alpha", self.alpha)?;
        check_non_negative("RMSprop", "eps", self.eps)?;
        check_non_negative("RMSprop", "momentum", self.momentum)?;
        check_non_negative("RMSprop", "weight_decay", self.weight_decay)
    }
    fn options(&self) -> GroupOptions {
        GroupOptions {
            lr: self.lr,
            weight_decay: self.weight_decay,
            momentum: Some(self.momentum),
        }
    }
    fn set_options(&mut self, options: GroupOptions) -> Result<()> {
        set_momentum("RMSprop", &mut self.momentum, options.momentum)?;
        self.lr = options.lr;
        self.weight_decay = options.weight_decay;
        Ok(())
    }
}

/// Hyperparameters of [`Adagrad`] (PyTorch's defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdagradConfig {
    /// Learning rate.
    pub lr: f32,
    /// Learning-rate decay per step.
    pub lr_decay: f32,
    /// L2 penalty.
    pub weight_decay: f32,
    /// Initial value of the sum of squares.
    pub initial_accumulator_value: f32,
    /// Added to the denominator.
    pub eps: f32,
    /// Ascend the objective instead of descending it.
    pub maximize: bool,
}

impl Default for AdagradConfig {
    fn default() -> Self {
        AdagradConfig {
            lr: 1e-2,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
            maximize: false,
        }
    }
}

impl UpdateRule for AdagradConfig {
    const NAME: &'static str = "Adagrad";
    fn buffer_names(&self) -> Vec<&'static str> {
        vec!["sum"]
    }
    fn buffer_init(&self, _buffer: &str) -> f32 {
        self.initial_accumulator_value
    }
    fn update(&self, step: u64) -> OptimizerUpdate {
        OptimizerUpdate::Adagrad {
            lr: self.lr,
            lr_decay: self.lr_decay,
            weight_decay: self.weight_decay,
            eps: self.eps,
            step,
            maximize: self.maximize,
        }
    }
    fn validate(&self) -> Result<()> {
        check_non_negative("Adagrad", "lr", self.lr)?;
        check_non_negative("Adagrad", "lr_decay", self.lr_decay)?;
        check_non_negative("Adagrad", "eps", self.eps)?;
        check_non_negative(
            "Adagrad",
            "initial_accumulator_value",
            self.initial_accumulator_value,
        )?;
        check_non_negative("Adagrad", "weight_decay", self.weight_decay)
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

/// Any of the optimizers, chosen at run time (e.g. from a command line).
pub enum AnyOptimizer<B: Backend> {
    /// SGD
    Sgd(Sgd<B>),
    /// Adam
    Adam(Adam<B>),
    /// AdamW
    AdamW(AdamW<B>),
    /// RMSprop
    RmsProp(RmsProp<B>),
    /// Adagrad
    Adagrad(Adagrad<B>),
    /// Adadelta
    Adadelta(Adadelta<B>),
    /// Adamax
    Adamax(Adamax<B>),
    /// NAdam
    NAdam(NAdam<B>),
    /// RAdam
    RAdam(RAdam<B>),
}
