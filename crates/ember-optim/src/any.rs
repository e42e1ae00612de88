//! Choosing an optimizer by name at run time.

use ember_autodiff::Var;
use ember_nn::state_dict::StateDict;
use ember_tensor::Backend;

use crate::algorithms::*;
use crate::optimizer::{Fused, GroupOptions, SavedState, UpdateRule};
use crate::{Error, Optimizer, Result};

/// The optimizer names [`AnyOptimizer::by_name`] accepts: torch.optim's family, with
/// `momentum` (SGD, momentum 0.9) and `nesterov` (SGD, Nesterov momentum 0.9) as names of
/// their own.
pub const OPTIMIZER_NAMES: [&str; 11] = [
    "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "adamw", "adamax",
    "nadam", "radam",
];

/// One parameter group for [`AnyOptimizer::with_groups`]: its parameters, learning rate and
/// weight decay (`None`: the algorithm's default, e.g. 0.01 for AdamW).
#[derive(Debug, Clone)]
pub struct ParamGroup<B: Backend> {
    /// Named parameters (names unique across groups).
    pub params: Vec<(String, Var<B>)>,
    /// Learning rate.
    pub lr: f32,
    /// Weight decay; `None` keeps the algorithm's default.
    pub weight_decay: Option<f32>,
}

/// `base` with each group's lr and weight decay.
fn build<B: Backend, R: UpdateRule>(base: R, groups: Vec<ParamGroup<B>>) -> Result<Fused<B, R>> {
    let groups = groups
        .into_iter()
        .map(|group| {
            let mut rule = base.clone();
            let options = rule.options();
            rule.set_options(GroupOptions {
                lr: group.lr,
                weight_decay: group.weight_decay.unwrap_or(options.weight_decay),
                ..options
            })?;
            Ok((group.params, rule))
        })
        .collect::<Result<Vec<_>>>()?;
    Fused::with_groups(groups)
}

impl<B: Backend> AnyOptimizer<B> {
    /// The optimizer `name` (one of [`OPTIMIZER_NAMES`]) with PyTorch's default
    /// hyperparameters and learning rate `lr`.
    pub fn by_name(name: &str, params: Vec<(String, Var<B>)>, lr: f32) -> Result<Self> {
        Self::with_groups(
            name,
            vec![ParamGroup {
                params,
                lr,
                weight_decay: None,
            }],
        )
    }

    /// The optimizer `name` over parameter groups with their own lr and weight decay (e.g.
    /// biases without weight decay).
    pub fn with_groups(name: &str, groups: Vec<ParamGroup<B>>) -> Result<Self> {
        let sgd_momentum = |nesterov| SgdConfig {
            momentum: 0.9,
            nesterov,
            ..Default::default()
        };
        Ok(match name.to_ascii_lowercase().as_str() {
            "sgd" => Self::Sgd(build(SgdConfig::default(), groups)?),
            "momentum" => Self::Sgd(build(sgd_momentum(false), groups)?),
            "nesterov" => Self::Sgd(build(sgd_momentum(true), groups)?),
            "adam" => Self::Adam(build(AdamConfig::default(), groups)?),
            "adamw" => Self::AdamW(build(AdamWConfig::default(), groups)?),
            "rmsprop" => Self::RmsProp(build(RmsPropConfig::default(), groups)?),
            "adagrad" => Self::Adagrad(build(AdagradConfig::default(), groups)?),
            "adadelta" => Self::Adadelta(build(AdadeltaConfig::default(), groups)?),
            "adamax" => Self::Adamax(build(AdamaxConfig::default(), groups)?),
            "nadam" => Self::NAdam(build(NAdamConfig::default(), groups)?),
            "radam" => Self::RAdam(build(RAdamConfig::default(), groups)?),
            other => {
                return Err(Error::UnknownOptimizer {
                    name: other.to_string(),
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
            Self::Adadelta(o) => o,
            Self::Adamax(o) => o,
            Self::NAdam(o) => o,
            Self::RAdam(o) => o,
        }
    }

    fn inner_mut(&mut self) -> &mut dyn Optimizer<B> {
        match self {
            Self::Sgd(o) => o,
            Self::Adam(o) => o,
            Self::AdamW(o) => o,
            Self::RmsProp(o) => o,
            Self::Adagrad(o) => o,
            Self::Adadelta(o) => o,
            Self::Adamax(o) => o,
            Self::NAdam(o) => o,
            Self::RAdam(o) => o,
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
    fn groups(&self) -> usize {
        self.inner().groups()
    }
    fn group_options(&self, group: usize) -> Option<GroupOptions> {
        self.inner().group_options(group)
    }
    fn set_group_options(&mut self, group: usize, options: GroupOptions) -> Result<()> {
        self.inner_mut().set_group_options(group, options)
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
