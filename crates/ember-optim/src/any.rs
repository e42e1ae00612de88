//! Choosing an optimizer by name at run time.

use ember_autodiff::Var;
use ember_nn::state_dict::StateDict;
use ember_tensor::Backend;

use crate::algorithms::*;
use crate::optimizer::SavedState;
use crate::{Error, Optimizer, Result};

/// The optimizer names [`AnyOptimizer::by_name`] accepts.
pub const OPTIMIZER_NAMES: [&str; 5] = ["sgd", "adam", "adamw", "rmsprop", "adagrad"];

impl<B: Backend> AnyOptimizer<B> {
    /// The optimizer `name` (one of [`OPTIMIZER_NAMES`]) with PyTorch's default
    /// hyperparameters and learning rate `lr`.
    pub fn by_name(name: &str, params: Vec<(String, Var<B>)>, lr: f32) -> Result<Self> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "sgd" => Self::Sgd(Sgd::new(
                params,
                SgdConfig {
                    lr,
                    ..Default::default()
                },
            )?),
            "adam" => Self::Adam(Adam::new(
                params,
                AdamConfig {
                    lr,
                    ..Default::default()
                },
            )?),
            "adamw" => Self::AdamW(AdamW::new(
                params,
                AdamWConfig {
                    lr,
                    ..Default::default()
                },
            )?),
            "rmsprop" => Self::RmsProp(RmsProp::new(
                params,
                RmsPropConfig {
                    lr,
                    ..Default::default()
                },
            )?),
            "adagrad" => Self::Adagrad(Adagrad::new(
                params,
                AdagradConfig {
                    lr,
                    ..Default::default()
                },
            )?),
            other => {
                return Err(Error::IncompatibleState {
                    optimizer: "optimizer",
                    message: format!(
                        "unknown optimizer `{other}`; choose one of {}",
                        OPTIMIZER_NAMES.join(", ")
                    ),
                });
            }
        })
    }

    fn inner(&self) -> &dyn Optimizer<B> {
        match self {
            Self::Sgd(o) => o,
            Self::Adam(o) => o,
            Self::AdamW(o) => o,
            Self::RmsProp(o) => o,
            Self::Adagrad(o) => o,
        }
    }

    fn inner_mut(&mut self) -> &mut dyn Optimizer<B> {
        match self {
            Self::Sgd(o) => o,
            Self::Adam(o) => o,
            Self::AdamW(o) => o,
            Self::RmsProp(o) => o,
            Self::Adagrad(o) => o,
        }
    }
}

impl<B: Backend> Optimizer<B> for AnyOptimizer<B> {
    fn step(&mut self) -> Result<()> {
        self.inner_mut().step()
    }
    fn zero_grad(&self) {
        self.inner().zero_grad()
    }
    fn lr(&self) -> f32 {
        self.inner().lr()
    }
    fn set_lr(&mut self, lr: f32) {
        self.inner_mut().set_lr(lr)
    }
    fn steps(&self) -> u64 {
        self.inner().steps()
    }
    fn state_tensors(&self) -> SavedState<B> {
        self.inner().state_tensors()
    }
    fn load_state(&mut self, state: &StateDict) -> Result<()> {
        self.inner_mut().load_state(state)
    }
}
