//! # ember-optim
//!
//! The [`Optimizer`] trait and torch.optim's family — [`Sgd`] (momentum, Nesterov), [`Adam`],
//! [`AdamW`], [`RmsProp`], [`Adagrad`], [`Adadelta`], [`Adamax`], [`NAdam`], [`RAdam`], each
//! with `maximize` — following the algorithm torch.optim documents step for step. A step is one
//! fused backend update per parameter tensor ([`ember_tensor::ops::OptimizerUpdate`]), so it
//! runs on whichever device the parameters live on. Parameters come in groups with their own
//! options ([`Fused::with_groups`], [`GroupOptions`]), which the learning-rate schedulers
//! ([`LrScheduler`]: StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR,
//! OneCycleLR, ReduceLROnPlateau) change at run time. State (step count and buffers, the
//! scheduler's position) can be saved and restored for resuming.
//!
//! **In the stack:** above `ember-nn` (parameters by name, state dicts) and `ember-autodiff`
//! (gradients); `ember-train` picks one by name ([`AnyOptimizer`]).
//!
//! The seed's loop:
//!
//! ```
//! use ember_autodiff::Var;
//! use ember_nn::{CrossEntropyLoss, Linear, Module};
//! use ember_optim::{Adam, AdamConfig, Optimizer};
//! use ember_cpu::Cpu;
//! use ember_tensor::{Tensor, seeded_rng};
//!
//! let mut rng = seeded_rng(777);
//! let model = Linear::new(4, 3, &mut rng, &Cpu)?;
//! let mut optimizer = Adam::new(model.named_parameters(), AdamConfig::default())?;
//! let x = Var::constant(Tensor::randn([8, 4], 0.0, 1.0, &mut rng, &Cpu)?);
//! let y = Tensor::from_vec(vec![0., 1., 2., 0., 1., 2., 0., 1.], [8], &Cpu)?;
//! let mut costs = Vec::new();
//! for _ in 0..100 {
//!     optimizer.zero_grad();
//!     let cost = CrossEntropyLoss::default().forward(&model.forward(&x)?, &y)?;
//!     cost.backward()?;
//!     optimizer.step()?;
//!     costs.push(cost.value().to_scalar()?);
//! }
//! assert!(costs[99] < costs[0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod algorithms;
mod any;
mod error;
mod optimizer;
mod scheduler;
mod scheduler_spec;

pub use algorithms::{
    Adadelta, AdadeltaConfig, Adagrad, AdagradConfig, Adam, AdamConfig, AdamW, AdamWConfig, Adamax,
    AdamaxConfig, AnyOptimizer, NAdam, NAdamConfig, RAdam, RAdamConfig, RmsProp, RmsPropConfig,
    Sgd, SgdConfig,
};
pub use any::{OPTIMIZER_NAMES, ParamGroup};
pub use error::{Error, Result};
pub use optimizer::{Fused, GroupOptions, NamedParameters, Optimizer, SavedState, UpdateRule};
pub use scheduler::{LrScheduler, SCHEDULER_NAMES, SchedulerKind};
