//! Learning-rate schedulers with torch.optim.lr_scheduler's semantics.
//!
//! A [`LrScheduler`] sets each parameter group's lr (and, for `OneCycleLR`, its momentum or β1)
//! through [`Optimizer::set_group_options`]. Like PyTorch's, it sets the first value when it is
//! created and a new one on every [`LrScheduler::step`]: once per epoch, except `OneCycleLR`
//! ([`LrScheduler::steps_per_batch`]), which steps after every optimizer step. Schedules are
//! computed in f64 from the step count (PyTorch's closed forms), so a restored scheduler
//! continues with exactly the values of an uninterrupted one.
//!
//! ```
//! use ember_autodiff::Var;
//! use ember_optim::{LrScheduler, Optimizer, SchedulerKind, Sgd, SgdConfig};
//! use ember_cpu::Cpu;
//! use ember_tensor::Tensor;
//!
//! let w = Var::parameter(Tensor::from_vec(vec![1.0], [1], &Cpu)?);
//! let mut opt = Sgd::new(vec![("w".into(), w)], SgdConfig { lr: 0.1, ..Default::default() })?;
//! let mut scheduler = LrScheduler::new(SchedulerKind::parse("step:step_size=2,gamma=0.5")?, &mut opt)?;
//! let mut lrs = Vec::new();
//! for _epoch in 0..5 {
//!     lrs.push(opt.lr());
//!     scheduler.step(&mut opt, None)?;
//! }
//! assert_eq!(lrs, [0.1, 0.1, 0.05, 0.05, 0.025]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::f64::consts::PI;

use ember_tensor::Backend;

pub use crate::scheduler_spec::SCHEDULER_NAMES;
use crate::{Error, GroupOptions, Optimizer, Result};

/// A schedule and its hyperparameters (PyTorch's names and defaults).
#[derive(Debug, Clone, PartialEq)]
pub enum SchedulerKind {
    /// `StepLR`: `lr = base · γ^⌊epoch / step_size⌋`.
    StepLr {
        /// Epochs between decays.
        step_size: u64,
        /// Decay factor.
        gamma: f64,
    },
    /// `MultiStepLR`: `lr = base · γ^(milestones passed)`.
    MultiStepLr {
        /// Epochs at which the lr decays, increasing.
        milestones: Vec<u64>,
        /// Decay factor.
        gamma: f64,
    },
    /// `ExponentialLR`: `lr = base · γ^epoch`.
    ExponentialLr {
        /// Decay factor per epoch.
        gamma: f64,
    },
    /// `CosineAnnealingLR`: `lr = η_min + (base - η_min)·(1 + cos(π·epoch / T_max)) / 2`.
    CosineAnnealingLr {
        /// Half period, in epochs.
        t_max: u64,
        /// Minimum lr.
        eta_min: f64,
    },
    /// `LinearLR`: the factor moves linearly from `start_factor` to `end_factor` over
    /// `total_iters` epochs.
    LinearLr {
        /// Factor of the first epoch.
        start_factor: f64,
        /// Factor from `total_iters` on.
        end_factor: f64,
        /// Epochs of the ramp.
        total_iters: u64,
    },
    /// `OneCycleLR`: per batch, lr up from `max_lr / div_factor` to `max_lr` over `pct_start`
    /// of the steps, then down to `max_lr / div_factor / final_div_factor`; momentum (or β1)
    /// the opposite way between `max_momentum` and `base_momentum`.
    OneCycleLr {
        /// Peak lr.
        max_lr: f64,
        /// Steps in the cycle (`None`: the trainer fills in epochs × batches per epoch).
        total_steps: Option<u64>,
        /// Share of the cycle spent increasing the lr.
        pct_start: f64,
        /// Cosine (`true`, the default) or linear annealing.
        anneal_cos: bool,
        /// `initial_lr = max_lr / div_factor`.
        div_factor: f64,
        /// `min_lr = initial_lr / final_div_factor`.
        final_div_factor: f64,
        /// Cycle momentum (or β1) inversely to the lr.
        cycle_momentum: bool,
        /// Momentum at the lr's peak.
        base_momentum: f64,
        /// Momentum at the start and end.
        max_momentum: f64,
    },
    /// `ReduceLROnPlateau`: the lr is multiplied by `factor` once the metric (the epoch's cost)
    /// has not improved for more than `patience` epochs.
    ReduceLrOnPlateau {
        /// Minimise (`true`, the default) or maximise the metric.
        minimize: bool,
        /// Factor applied on a plateau (< 1).
        factor: f64,
        /// Epochs without improvement tolerated.
        patience: u64,
        /// Least improvement that counts.
        threshold: f64,
        /// Threshold relative to the best value (`true`, the default) or absolute.
        threshold_relative: bool,
        /// Epochs to wait after a reduction before counting again.
        cooldown: u64,
        /// Lower bound of the lr.
        min_lr: f64,
        /// Reductions smaller than this are skipped.
        eps: f64,
    },
}

impl SchedulerKind {
    /// PyTorch's class name.
    pub fn name(&self) -> &'static str {
        match self {
            SchedulerKind::StepLr { .. } => "StepLR",
            SchedulerKind::MultiStepLr { .. } => "MultiStepLR",
            SchedulerKind::ExponentialLr { .. } => "ExponentialLR",
            SchedulerKind::CosineAnnealingLr { .. } => "CosineAnnealingLR",
            SchedulerKind::LinearLr { .. } => "LinearLR",
            SchedulerKind::OneCycleLr { .. } => "OneCycleLR",
            SchedulerKind::ReduceLrOnPlateau { .. } => "ReduceLROnPlateau",
        }
    }

    /// The factor (or lr) of a closed-form schedule at `epoch`.
    fn lr_at(&self, base: f64, epoch: u64) -> f64 {
        let powi = |gamma: f64, n: u64| gamma.powi(n.min(i32::MAX as u64) as i32);
        match self {
            SchedulerKind::StepLr { step_size, gamma } => base * powi(*gamma, epoch / step_size),
            SchedulerKind::MultiStepLr { milestones, gamma } => {
                let passed = milestones.iter().filter(|&&m| m <= epoch).count() as u64;
                base * powi(*gamma, passed)
            }
            SchedulerKind::ExponentialLr { gamma } => base * powi(*gamma, epoch),
            SchedulerKind::CosineAnnealingLr { t_max, eta_min } => {
                eta_min + (base - eta_min) * (1.0 + (PI * epoch as f64 / *t_max as f64).cos()) / 2.0
            }
            SchedulerKind::LinearLr {
                start_factor,
                end_factor,
                total_iters,
            } => {
                let progress = epoch.min(*total_iters) as f64 / *total_iters as f64;
                base * (start_factor + (end_factor - start_factor) * progress)
            }
            SchedulerKind::OneCycleLr { .. } => self.one_cycle_at(epoch).0,
            SchedulerKind::ReduceLrOnPlateau { .. } => base,
        }
    }

    /// `OneCycleLR`'s (lr, momentum) at `step` (two phases, PyTorch's default).
    fn one_cycle_at(&self, step: u64) -> (f64, f64) {
        let SchedulerKind::OneCycleLr {
            max_lr,
            total_steps,
            pct_start,
            anneal_cos,
            div_factor,
            final_div_factor,
            base_momentum,
            max_momentum,
            ..
        } = *self
        else {
            return (0.0, 0.0);
        };
        let total = total_steps.unwrap_or(1) as f64;
        let initial_lr = max_lr / div_factor;
        let min_lr = initial_lr / final_div_factor;
        let anneal = |start: f64, end: f64, pct: f64| {
            if anneal_cos {
                end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0)
            } else {
                (end - start) * pct + start
            }
        };
        let warm_end = pct_start * total - 1.0;
        let step = step as f64;
        if step <= warm_end {
            let pct = step / warm_end;
            (
                anneal(initial_lr, max_lr, pct),
                anneal(max_momentum, base_momentum, pct),
            )
        } else {
            let pct = (step - warm_end) / (total - 1.0 - warm_end);
            (
                anneal(max_lr, min_lr, pct),
                anneal(base_momentum, max_momentum, pct),
            )
        }
    }

    fn invalid(&self, key: &str, value: impl ToString, expected: &str) -> Error {
        Error::InvalidSchedulerOption {
            scheduler: self.name(),
            key: key.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }

    /// Checks the hyperparameters (PyTorch's checks, plus finiteness).
    pub fn validate(&self) -> Result<()> {
        let positive = |key: &str, v: f64| {
            if v > 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(self.invalid(key, v, "must be a finite number > 0"))
            }
        };
        let at_least_one = |key: &str, v: u64| {
            if v >= 1 {
                Ok(())
            } else {
                Err(self.invalid(key, v, "must be >= 1"))
            }
        };
        match self {
            SchedulerKind::StepLr { step_size, gamma } => {
                at_least_one("step_size", *step_size)?;
                positive("gamma", *gamma)
            }
            SchedulerKind::MultiStepLr { milestones, gamma } => {
                if milestones.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(self.invalid(
                        "milestones",
                        format!("{milestones:?}"),
                        "must be strictly increasing epochs, e.g. milestones=5;12;20",
                    ));
                }
                positive("gamma", *gamma)
            }
            SchedulerKind::ExponentialLr { gamma } => positive("gamma", *gamma),
            SchedulerKind::CosineAnnealingLr { t_max, eta_min } => {
                at_least_one("T_max", *t_max)?;
                if *eta_min >= 0.0 && eta_min.is_finite() {
                    Ok(())
                } else {
                    Err(self.invalid("eta_min", eta_min, "must be a finite number >= 0"))
                }
            }
            SchedulerKind::LinearLr {
                start_factor,
                end_factor,
                total_iters,
            } => {
                if !(*start_factor > 0.0 && *start_factor <= 1.0) {
                    return Err(self.invalid("start_factor", start_factor, "must be in (0, 1]"));
                }
                if !(0.0..=1.0).contains(end_factor) {
                    return Err(self.invalid("end_factor", end_factor, "must be in [0, 1]"));
                }
                at_least_one("total_iters", *total_iters)
            }
            SchedulerKind::OneCycleLr {
                max_lr,
                total_steps,
                pct_start,
                div_factor,
                final_div_factor,
                base_momentum,
                max_momentum,
                ..
            } => {
                positive("max_lr", *max_lr)?;
                if let Some(total) = total_steps {
                    at_least_one("total_steps", *total)?;
                }
                if !(0.0..=1.0).contains(pct_start) {
                    return Err(self.invalid("pct_start", pct_start, "must be in [0, 1]"));
                }
                positive("div_factor", *div_factor)?;
                positive("final_div_factor", *final_div_factor)?;
                for (key, m) in [
                    ("base_momentum", base_momentum),
                    ("max_momentum", max_momentum),
                ] {
                    if !(0.0..1.0).contains(m) {
                        return Err(self.invalid(key, m, "must be in [0, 1)"));
                    }
                }
                Ok(())
            }
            SchedulerKind::ReduceLrOnPlateau {
                factor,
                threshold,
                min_lr,
                eps,
                ..
            } => {
                if !(*factor > 0.0 && *factor < 1.0) {
                    return Err(self.invalid("factor", factor, "must be in (0, 1)"));
                }
                for (key, v) in [("threshold", threshold), ("min_lr", min_lr), ("eps", eps)] {
                    if !(*v >= 0.0 && v.is_finite()) {
                        return Err(self.invalid(key, v, "must be a finite number >= 0"));
                    }
                }
                Ok(())
            }
        }
    }
}

/// `ReduceLROnPlateau`'s bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Plateau {
    best: f64,
    bad_epochs: u64,
    cooldown_left: u64,
}

/// A schedule applied to an optimizer's parameter groups.
#[derive(Debug, Clone, PartialEq)]
pub struct LrScheduler {
    kind: SchedulerKind,
    /// Per group: the lr the schedule scales (torch's `initial_lr`).
    base_lrs: Vec<f64>,
    /// Per group: the lr set last.
    lrs: Vec<f64>,
    /// Steps taken (torch's `last_epoch`).
    steps: u64,
    plateau: Plateau,
}

impl LrScheduler {
    /// A scheduler over `optimizer`'s groups (their current lrs are the base lrs); sets the
    /// first lr (and momentum) as PyTorch's constructors do.
    pub fn new<B: Backend>(kind: SchedulerKind, optimizer: &mut dyn Optimizer<B>) -> Result<Self> {
        kind.validate()?;
        if let SchedulerKind::OneCycleLr {
            total_steps: None, ..
        } = kind
        {
            return Err(kind.invalid(
                "total_steps",
                "none",
                "must be given (or epochs and steps per epoch, which the trainer fills in)",
            ));
        }
        let groups = optimizer.groups();
        let mut base_lrs = Vec::with_capacity(groups);
        for group in 0..groups {
            let options = options_of(optimizer, group)?;
            if let SchedulerKind::OneCycleLr {
                cycle_momentum: true,
                ..
            } = kind
                && options.momentum.is_none()
            {
                return Err(kind.invalid(
                    "cycle_momentum",
                    "true",
                    "needs an optimizer with a momentum or β1 (not Adagrad or Adadelta); pass \
                     cycle_momentum=false",
                ));
            }
            base_lrs.push(match kind {
                SchedulerKind::OneCycleLr {
                    max_lr, div_factor, ..
                } => max_lr / div_factor,
                _ => f64::from(options.lr),
            });
        }
        let mut scheduler = LrScheduler {
            lrs: base_lrs.clone(),
            base_lrs,
            kind,
            steps: 0,
            plateau: Plateau {
                best: f64::INFINITY,
                bad_epochs: 0,
                cooldown_left: 0,
            },
        };
        scheduler.plateau.best = scheduler.worst_metric();
        scheduler.apply(optimizer)?;
        Ok(scheduler)
    }

    /// The schedule.
    pub fn kind(&self) -> &SchedulerKind {
        &self.kind
    }

    /// Whether it steps after every optimizer step (`OneCycleLR`) rather than every epoch.
    pub fn steps_per_batch(&self) -> bool {
        matches!(self.kind, SchedulerKind::OneCycleLr { .. })
    }

    /// The lr of each group as set last.
    pub fn last_lrs(&self) -> &[f64] {
        &self.lrs
    }

    /// Steps taken.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    fn worst_metric(&self) -> f64 {
        match self.kind {
            SchedulerKind::ReduceLrOnPlateau {
                minimize: false, ..
            } => f64::NEG_INFINITY,
            _ => f64::INFINITY,
        }
    }

    /// Advances the schedule by one step and sets the new lrs. `metric` (the epoch's cost) is
    /// required by `ReduceLROnPlateau` and ignored by the others. `OneCycleLR` stepped past
    /// `total_steps` is [`Error::SteppedPastEnd`], as PyTorch raises.
    pub fn step<B: Backend>(
        &mut self,
        optimizer: &mut dyn Optimizer<B>,
        metric: Option<f64>,
    ) -> Result<()> {
        let next = self.steps + 1;
        if let SchedulerKind::OneCycleLr {
            total_steps: Some(total),
            ..
        } = self.kind
            && next > total
        {
            return Err(Error::SteppedPastEnd {
                scheduler: self.kind.name(),
                step: next,
                total_steps: total,
            });
        }
        if let SchedulerKind::ReduceLrOnPlateau { .. } = self.kind {
            let Some(metric) = metric else {
                return Err(self.kind.invalid(
                    "metric",
                    "none",
                    "ReduceLROnPlateau is stepped with the epoch's metric",
                ));
            };
            self.plateau_step(metric);
        }
        self.steps = next;
        self.apply(optimizer)
    }

    fn plateau_step(&mut self, metric: f64) {
        let SchedulerKind::ReduceLrOnPlateau {
            minimize,
            factor,
            patience,
            threshold,
            threshold_relative,
            cooldown,
            min_lr,
            eps,
        } = self.kind
        else {
            return;
        };
        let best = self.plateau.best;
        let better = match (minimize, threshold_relative) {
            (true, true) => metric < best * (1.0 - threshold),
            (true, false) => metric < best - threshold,
            (false, true) => metric > best * (threshold + 1.0),
            (false, false) => metric > best + threshold,
        };
        if better {
            self.plateau.best = metric;
            self.plateau.bad_epochs = 0;
        } else {
            self.plateau.bad_epochs += 1;
        }
        if self.plateau.cooldown_left > 0 {
            self.plateau.cooldown_left -= 1;
            self.plateau.bad_epochs = 0;
        }
        if self.plateau.bad_epochs > patience {
            for lr in &mut self.lrs {
                let reduced = (*lr * factor).max(min_lr);
                if *lr - reduced > eps {
                    *lr = reduced;
                }
            }
            self.plateau.cooldown_left = cooldown;
            self.plateau.bad_epochs = 0;
        }
    }

    /// Computes the current lrs (closed forms) and sets them, with OneCycleLR's momentum.
    fn apply<B: Backend>(&mut self, optimizer: &mut dyn Optimizer<B>) -> Result<()> {
        if !matches!(self.kind, SchedulerKind::ReduceLrOnPlateau { .. }) {
            for (lr, &base) in self.lrs.iter_mut().zip(&self.base_lrs) {
                *lr = self.kind.lr_at(base, self.steps);
            }
        }
        let momentum = match self.kind {
            SchedulerKind::OneCycleLr {
                cycle_momentum: true,
                ..
            } => Some(self.kind.one_cycle_at(self.steps).1 as f32),
            _ => None,
        };
        for (group, &lr) in self.lrs.iter().enumerate() {
            let options = options_of(optimizer, group)?;
            optimizer.set_group_options(
                group,
                GroupOptions {
                    lr: lr as f32,
                    momentum: momentum.or(options.momentum),
                    ..options
                },
            )?;
        }
        Ok(())
    }

    /// The state to save in a checkpoint (as metadata strings; f64 values round-trip exactly).
    pub fn state(&self) -> BTreeMap<String, String> {
        let list = |values: &[f64]| {
            values
                .iter()
                .map(|v| format!("{v:?}"))
                .collect::<Vec<_>>()
                .join(";")
        };
        BTreeMap::from([
            ("scheduler".into(), self.kind.name().into()),
            ("scheduler_steps".into(), self.steps.to_string()),
            ("scheduler_base_lrs".into(), list(&self.base_lrs)),
            ("scheduler_lrs".into(), list(&self.lrs)),
            ("scheduler_best".into(), format!("{:?}", self.plateau.best)),
            (
                "scheduler_bad_epochs".into(),
                self.plateau.bad_epochs.to_string(),
            ),
            (
                "scheduler_cooldown_left".into(),
                self.plateau.cooldown_left.to_string(),
            ),
        ])
    }

    /// Restores a state written by [`LrScheduler::state`] and sets its lrs on `optimizer`.
    pub fn load_state<B: Backend>(
        &mut self,
        state: &BTreeMap<String, String>,
        optimizer: &mut dyn Optimizer<B>,
    ) -> Result<()> {
        let name = self.kind.name();
        let bad = |message: String| Error::IncompatibleSchedulerState {
            scheduler: name,
            message,
        };
        let get = |key: &str| {
            state
                .get(key)
                .ok_or_else(|| bad(format!("the state has no `{key}`")))
        };
        let saved = get("scheduler")?;
        if saved != name {
            return Err(bad(format!(
                "the state was saved by the scheduler `{saved}`, not `{name}`"
            )));
        }
        let number = |key: &str| -> Result<f64> {
            let text = get(key)?;
            text.parse()
                .map_err(|_| bad(format!("`{key}` is `{text}`, not a number")))
        };
        let count = |key: &str| -> Result<u64> {
            let text = get(key)?;
            text.parse()
                .map_err(|_| bad(format!("`{key}` is `{text}`, not a count")))
        };
        let list = |key: &str| -> Result<Vec<f64>> {
            let text = get(key)?;
            let values = text
                .split(';')
                .map(str::parse)
                .collect::<std::result::Result<Vec<f64>, _>>()
                .map_err(|_| bad(format!("`{key}` is `{text}`, not a list of numbers")))?;
            if values.len() == self.base_lrs.len() {
                Ok(values)
            } else {
                Err(bad(format!(
                    "`{key}` has {} values for {} parameter groups",
                    values.len(),
                    self.base_lrs.len()
                )))
            }
        };
        let restored = LrScheduler {
            kind: self.kind.clone(),
            base_lrs: list("scheduler_base_lrs")?,
            lrs: list("scheduler_lrs")?,
            steps: count("scheduler_steps")?,
            plateau: Plateau {
                best: number("scheduler_best")?,
                bad_epochs: count("scheduler_bad_epochs")?,
                cooldown_left: count("scheduler_cooldown_left")?,
            },
        };
        *self = restored;
        self.apply(optimizer)
    }
}

fn options_of<B: Backend>(optimizer: &dyn Optimizer<B>, group: usize) -> Result<GroupOptions> {
    optimizer.group_options(group).ok_or(Error::NoSuchGroup {
        optimizer: "optimizer",
        group,
        groups: optimizer.groups(),
    })
}
