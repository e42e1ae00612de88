//! The `Optimizer` trait and the shared machinery: one fused backend update per parameter
//! tensor per step, with state buffers kept on the parameter's device.

use std::collections::BTreeMap;

use ember_autodiff::Var;
use ember_nn::state_dict::StateDict;
use ember_tensor::ops::OptimizerUpdate;
use ember_tensor::{Backend, Tensor};

use crate::{Error, Result};

/// Parameters with their names (e.g. `Module::named_parameters`).
pub type NamedParameters<B> = Vec<(String, Var<B>)>;

/// An optimizer's saved state: buffers named `<parameter>.<buffer>`, and metadata (the
/// algorithm's name and the step count).
pub type SavedState<B> = (Vec<(String, Tensor<B>)>, BTreeMap<String, String>);

/// Updates parameters from their accumulated gradients, as `torch.optim.Optimizer`.
///
/// ```
/// use ember_autodiff::Var;
/// use ember_optim::{Optimizer, Sgd, SgdConfig};
/// use ember_cpu::Cpu;
/// use ember_tensor::Tensor;
///
/// let w = Var::parameter(Tensor::from_vec(vec![1.0, -2.0], [2], &Cpu)?);
/// let mut opt = Sgd::new(vec![("w".into(), w.clone())], SgdConfig { lr: 0.1, ..Default::default() })?;
/// opt.zero_grad();
/// w.square()?.sum_all()?.backward()?; // grad = 2w
/// opt.step()?;
/// assert_eq!(w.value().to_vec()?, vec![0.8, -1.6]);
/// # Ok::<(), ember_optim::Error>(())
/// ```
pub trait Optimizer<B: Backend> {
    /// One update of every parameter that has a gradient (parameters without one are skipped,
    /// as in PyTorch).
    fn step(&mut self) -> Result<()>;

    /// Clears the gradients of all parameters.
    fn zero_grad(&self);

    /// The learning rate (of the first parameter group).
    fn lr(&self) -> f32 {
        self.group_options(0).map_or(0.0, |o| o.lr)
    }

    /// Sets the learning rate of every parameter group (a schedule that keeps the groups'
    /// ratios uses [`Optimizer::set_group_options`] instead). A negative or non-finite `lr` is
    /// ignored; [`Optimizer::set_group_options`] reports it as an error.
    fn set_lr(&mut self, lr: f32) {
        for group in 0..self.groups() {
            if let Some(options) = self.group_options(group) {
                let _ignored_as_documented =
                    self.set_group_options(group, GroupOptions { lr, ..options });
            }
        }
    }

    /// Number of parameter groups (as torch.optim's `param_groups`).
    fn groups(&self) -> usize;

    /// The options of parameter group `group` (`None` past the last group).
    fn group_options(&self, group: usize) -> Option<GroupOptions>;

    /// Changes the options of parameter group `group` at run time (what schedulers do),
    /// validated as at construction.
    fn set_group_options(&mut self, group: usize, options: GroupOptions) -> Result<()>;

    /// Steps taken so far.
    fn steps(&self) -> u64;

    /// The state (step count, per-parameter buffers) as named tensors plus metadata, for
    /// checkpoints: buffers are named `<parameter>.<buffer>` (e.g. `0.weight.exp_avg`).
    fn state_tensors(&self) -> SavedState<B>;

    /// Restores a state written by [`Optimizer::state_tensors`] (e.g. read back from a
    /// checkpoint). Every buffer must be present with its parameter's shape.
    fn load_state(&mut self, state: &StateDict) -> Result<()>;
}

/// The parts of an algorithm that differ between optimizers: its name, its buffers and the
/// fused update for a step.
pub trait UpdateRule: Clone + std::fmt::Debug {
    /// Name as torch.optim spells it.
    const NAME: &'static str;
    /// Names of the state buffers, in the order the backend update expects them.
    fn buffer_names(&self) -> Vec<&'static str>;
    /// The fused update of step `step` (1-based).
    fn update(&self, step: u64) -> OptimizerUpdate;
    /// Initial value of each buffer.
    fn buffer_init(&self, _buffer: &str) -> f32 {
        0.0
    }
    /// Checks the hyperparameters.
    fn validate(&self) -> Result<()>;
    /// The options a schedule may read and change.
    fn options(&self) -> GroupOptions;
    /// Applies changed options (the caller validates the result).
    fn set_options(&mut self, options: GroupOptions) -> Result<()>;
}

/// The options of one parameter group that a schedule may change at run time: torch.optim's
/// `lr`, `weight_decay`, and `momentum` (SGD, RMSprop) or `betas[0]` (the Adam family).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupOptions {
    /// Learning rate.
    pub lr: f32,
    /// Weight decay (L2 or decoupled, as the algorithm applies it).
    pub weight_decay: f32,
    /// Momentum or β1, where the algorithm has one; `None` for Adagrad and Adadelta.
    pub momentum: Option<f32>,
}

/// A momentum that may change at run time as long as it stays on (or off): the state buffers
/// are created for one or the other.
pub(crate) fn set_momentum(
    optimizer: &'static str,
    current: &mut f32,
    requested: Option<f32>,
) -> Result<()> {
    let Some(value) = requested else {
        return Ok(());
    };
    if (*current == 0.0) != (value == 0.0) {
        return Err(Error::InvalidHyperparameter {
            optimizer,
            name: "momentum",
            value,
            expected: "must stay non-zero (or zero) once the optimizer exists; construct it with a momentum to schedule one",
        });
    }
    *current = value;
    Ok(())
}

/// An optimizer running `R`'s fused update over named parameters, in one or more parameter
/// groups with their own hyperparameters (torch.optim's `param_groups`).
///
/// ```
/// use ember_autodiff::Var;
/// use ember_optim::{AdamW, AdamWConfig, Optimizer};
/// use ember_cpu::Cpu;
/// use ember_tensor::Tensor;
///
/// let w = Var::parameter(Tensor::from_vec(vec![1.0, -2.0], [2], &Cpu)?);
/// let b = Var::parameter(Tensor::from_vec(vec![0.5], [1], &Cpu)?);
/// // No weight decay on the bias, as is customary.
/// let config = AdamWConfig { lr: 1e-2, weight_decay: 0.1, ..Default::default() };
/// let no_decay = AdamWConfig { weight_decay: 0.0, ..config };
/// let opt = AdamW::with_groups(vec![
///     (vec![("w".into(), w)], config),
///     (vec![("b".into(), b)], no_decay),
/// ])?;
/// assert_eq!(opt.groups(), 2);
/// assert_eq!(opt.group_options(1).unwrap().weight_decay, 0.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Fused<B: Backend, R: UpdateRule> {
    params: Vec<(String, Var<B>)>,
    /// Per parameter: the index of its group in `rules`.
    group_of: Vec<usize>,
    /// Per group: its hyperparameters.
    rules: Vec<R>,
    /// Per parameter: its state buffers, created on the first step that sees its gradient.
    state: Vec<Option<Vec<B::Storage>>>,
    steps: u64,
}

impl<B: Backend, R: UpdateRule> Fused<B, R> {
    /// An optimizer over `params` (e.g. `model.named_parameters()`), one group.
    pub fn new(params: Vec<(String, Var<B>)>, rule: R) -> Result<Self> {
        Self::with_groups(vec![(params, rule)])
    }

    /// An optimizer over parameter groups, each with its own hyperparameters. Parameter names
    /// must be unique across groups (they name the saved state).
    pub fn with_groups(groups: Vec<(NamedParameters<B>, R)>) -> Result<Self> {
        if groups.is_empty() {
            return Err(Error::IncompatibleState {
                optimizer: R::NAME,
                message: "no parameter groups were given; give at least one".into(),
            });
        }
        let mut params = Vec::new();
        let mut group_of = Vec::new();
        let mut rules = Vec::with_capacity(groups.len());
        let mut names = std::collections::BTreeSet::new();
        for (index, (group, rule)) in groups.into_iter().enumerate() {
            rule.validate()?;
            for (name, param) in group {
                if !names.insert(name.clone()) {
                    return Err(Error::IncompatibleState {
                        optimizer: R::NAME,
                        message: format!(
                            "the parameter `{name}` is in more than one parameter group; each \
                             parameter belongs to exactly one"
                        ),
                    });
                }
                params.push((name, param));
                group_of.push(index);
            }
            rules.push(rule);
        }
        let state = params.iter().map(|_| None).collect();
        Ok(Fused {
            params,
            group_of,
            rules,
            state,
            steps: 0,
        })
    }

    /// The hyperparameters (of the first group).
    pub fn config(&self) -> &R {
        &self.rules[0]
    }

    /// The hyperparameters of group `group`.
    pub fn group_config(&self, group: usize) -> Option<&R> {
        self.rules.get(group)
    }

    fn fresh_state(rule: &R, param: &Var<B>) -> Result<Vec<B::Storage>> {
        let backend = param.backend();
        let len = param.shape().numel();
        rule.buffer_names()
            .into_iter()
            .map(|b| Ok(backend.fill(len, rule.buffer_init(b))?))
            .collect()
    }
}

/// [`check_range`] for the common case: `value` must be finite and `>= 0`.
pub(crate) fn check_non_negative(
    optimizer: &'static str,
    name: &'static str,
    value: f32,
) -> Result<()> {
    check_range(optimizer, name, value, value >= 0.0, "must be >= 0")
}

pub(crate) fn check_range(
    optimizer: &'static str,
    name: &'static str,
    value: f32,
    ok: bool,
    expected: &'static str,
) -> Result<()> {
    if ok && value.is_finite() {
        Ok(())
    } else {
        Err(Error::InvalidHyperparameter {
            optimizer,
            name,
            value,
            expected,
        })
    }
}

impl<B: Backend, R: UpdateRule> Optimizer<B> for Fused<B, R> {
    fn step(&mut self) -> Result<()> {
        self.steps += 1;
        let updates: Vec<OptimizerUpdate> =
            self.rules.iter().map(|r| r.update(self.steps)).collect();
        for i in 0..self.params.len() {
            let param = self.params[i].1.clone();
            let Some(grad) = param.grad() else {
                continue;
            };
            let group = self.group_of[i];
            if self.state[i].is_none() {
                self.state[i] = Some(Self::fresh_state(&self.rules[group], &param)?);
            }
            let update = &updates[group];
            let buffers = self.state[i].as_mut().expect("state was just created");
            let backend = param.backend();
            param.update_value(|value| {
                backend.optimizer_update(update, value.storage_mut(), grad.storage(), buffers)
            })?;
        }
        Ok(())
    }

    fn zero_grad(&self) {
        for (_, p) in &self.params {
            p.zero_grad();
        }
    }

    fn groups(&self) -> usize {
        self.rules.len()
    }

    fn group_options(&self, group: usize) -> Option<GroupOptions> {
        self.rules.get(group).map(UpdateRule::options)
    }

    fn set_group_options(&mut self, group: usize, options: GroupOptions) -> Result<()> {
        let groups = self.rules.len();
        let rule = self.rules.get_mut(group).ok_or(Error::NoSuchGroup {
            optimizer: R::NAME,
            group,
            groups,
        })?;
        let mut changed = rule.clone();
        changed.set_options(options)?;
        changed.validate()?;
        *rule = changed;
        Ok(())
    }

    fn steps(&self) -> u64 {
        self.steps
    }

    fn state_tensors(&self) -> SavedState<B> {
        let mut tensors = Vec::new();
        for (((name, param), state), &group) in
            self.params.iter().zip(&self.state).zip(&self.group_of)
        {
            let Some(buffers) = state else { continue };
            for (buffer, storage) in self.rules[group].buffer_names().into_iter().zip(buffers) {
                if let Ok(t) =
                    Tensor::from_storage(storage.clone(), param.shape(), &param.backend())
                {
                    tensors.push((format!("{name}.{buffer}"), t));
                }
            }
        }
        let mut metadata = BTreeMap::new();
        metadata.insert("optimizer".to_string(), R::NAME.to_string());
        metadata.insert("step".to_string(), self.steps.to_string());
        (tensors, metadata)
    }

    fn load_state(&mut self, dict: &StateDict) -> Result<()> {
        let incompatible = |message: String| Error::IncompatibleState {
            optimizer: R::NAME,
            message,
        };
        match dict.metadata.get("optimizer") {
            Some(name) if name == R::NAME => {}
            Some(other) => {
                return Err(incompatible(format!(
                    "the state was saved by the optimizer `{other}`, not `{}`",
                    R::NAME
                )));
            }
            None => {
                return Err(incompatible(format!(
                    "the state does not name its optimizer (metadata `optimizer` is missing); expected `{}`",
                    R::NAME
                )));
            }
        }
        let steps: u64 = dict
            .metadata
            .get("step")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| incompatible("the state has no valid `step`".into()))?;
        let mut restored = Vec::with_capacity(self.params.len());
        let mut expected_names = Vec::new();
        for ((name, param), &group) in self.params.iter().zip(&self.group_of) {
            let names = self.rules[group].buffer_names();
            let keys: Vec<String> = names.iter().map(|b| format!("{name}.{b}")).collect();
            let present = keys
                .iter()
                .filter(|k| dict.tensors.contains_key(*k))
                .count();
            if present == 0 {
                restored.push(None);
                continue;
            }
            let mut buffers = Vec::with_capacity(keys.len());
            for key in &keys {
                let t = dict.tensor(key, &param.shape(), &param.backend())?;
                buffers.push(t.into_parts().0);
            }
            expected_names.extend(keys);
            restored.push(Some(buffers));
        }
        dict.reject_unexpected(expected_names.iter().map(String::as_str))?;
        self.state = restored;
        self.steps = steps;
        Ok(())
    }
}
