//! The `Optimizer` trait and the shared machinery: one fused backend update per parameter
//! tensor per step, with state buffers kept on the parameter's device.

use std::collections::BTreeMap;

use ember_autodiff::Var;
use ember_nn::state_dict::StateDict;
use ember_tensor::ops::OptimizerUpdate;
use ember_tensor::{Backend, Tensor};

use crate::{Error, Result};

/// An optimizer's saved state: buffers named `<parameter>.<buffer>`, and metadata (the
/// algorithm's name and the step count).
pub type SavedState<B> = (Vec<(String, Tensor<B>)>, BTreeMap<String, String>);

/// Updates parameters from their accumulated gradients, as `torch.optim.Optimizer`.
///
/// ```
/// use ember_autodiff::Var;
/// use ember_optim::{Optimizer, Sgd, SgdConfig};
/// use ember_tensor::{Cpu, Tensor};
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

    /// The learning rate.
    fn lr(&self) -> f32;

    /// Changes the learning rate (for schedules).
    fn set_lr(&mut self, lr: f32);

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
    /// The learning rate.
    fn lr(&self) -> f32;
    /// Sets the learning rate.
    fn set_lr(&mut self, lr: f32);
}

/// An optimizer running `R`'s fused update over a list of named parameters.
#[derive(Debug)]
pub struct Fused<B: Backend, R: UpdateRule> {
    params: Vec<(String, Var<B>)>,
    /// Per parameter: its state buffers, created on the first step that sees its gradient.
    state: Vec<Option<Vec<B::Storage>>>,
    rule: R,
    steps: u64,
}

impl<B: Backend, R: UpdateRule> Fused<B, R> {
    /// An optimizer over `params` (e.g. `model.named_parameters()`).
    pub fn new(params: Vec<(String, Var<B>)>, rule: R) -> Result<Self> {
        rule.validate()?;
        let state = params.iter().map(|_| None).collect();
        Ok(Fused {
            params,
            state,
            rule,
            steps: 0,
        })
    }

    /// The hyperparameters.
    pub fn config(&self) -> &R {
        &self.rule
    }

    fn fresh_state(&self, param: &Var<B>) -> Result<Vec<B::Storage>> {
        let backend = param.backend();
        let len = param.shape().numel();
        self.rule
            .buffer_names()
            .into_iter()
            .map(|b| Ok(backend.fill(len, self.rule.buffer_init(b))?))
            .collect()
    }
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
        let update = self.rule.update(self.steps);
        for i in 0..self.params.len() {
            let param = self.params[i].1.clone();
            let Some(grad) = param.grad() else {
                continue;
            };
            if self.state[i].is_none() {
                self.state[i] = Some(self.fresh_state(&param)?);
            }
            let buffers = self.state[i].as_mut().expect("state was just created");
            let backend = param.backend();
            param.update_value(|value| {
                backend.optimizer_update(&update, value.storage_mut(), grad.storage(), buffers)
            })?;
        }
        Ok(())
    }

    fn zero_grad(&self) {
        for (_, p) in &self.params {
            p.zero_grad();
        }
    }

    fn lr(&self) -> f32 {
        self.rule.lr()
    }

    fn set_lr(&mut self, lr: f32) {
        self.rule.set_lr(lr);
    }

    fn steps(&self) -> u64 {
        self.steps
    }

    fn state_tensors(&self) -> SavedState<B> {
        let mut tensors = Vec::new();
        for ((name, param), state) in self.params.iter().zip(&self.state) {
            let Some(buffers) = state else { continue };
            for (buffer, storage) in self.rule.buffer_names().into_iter().zip(buffers) {
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
        let names = self.rule.buffer_names();
        let mut restored = Vec::with_capacity(self.params.len());
        let mut expected_names = Vec::new();
        for (name, param) in &self.params {
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
