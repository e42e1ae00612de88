//! Parsing a scheduler from text: `NAME[:key=value,...]` (the trainer's `--scheduler`).

use std::collections::BTreeMap;

use crate::scheduler::SchedulerKind;
use crate::{Error, Result};

/// The scheduler names [`SchedulerKind::parse`] accepts (PyTorch's class names are accepted
/// too, case-insensitively: `StepLR`, `ReduceLROnPlateau`, ...).
pub const SCHEDULER_NAMES: [&str; 7] = [
    "step",
    "multistep",
    "exponential",
    "cosine",
    "linear",
    "onecycle",
    "plateau",
];

/// The options given, consumed one by one; what is left at the end is unknown.
struct Options<'a> {
    scheduler: &'static str,
    values: BTreeMap<String, &'a str>,
}

impl Options<'_> {
    fn invalid(&self, key: &str, value: &str, expected: &str) -> Error {
        Error::InvalidSchedulerOption {
            scheduler: self.scheduler,
            key: key.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }

    fn take<T: std::str::FromStr>(&mut self, key: &str, default: T, what: &str) -> Result<T> {
        match self.values.remove(&key.to_ascii_lowercase()) {
            None => Ok(default),
            Some(text) => text
                .trim()
                .parse()
                .map_err(|_| self.invalid(key, text, what)),
        }
    }

    fn number(&mut self, key: &str, default: f64) -> Result<f64> {
        self.take(key, default, "must be a number")
    }

    fn count(&mut self, key: &str, default: u64) -> Result<u64> {
        self.take(key, default, "must be a whole number >= 0")
    }

    fn required_number(&mut self, key: &str) -> Result<f64> {
        if !self.values.contains_key(key) {
            return Err(self.invalid(key, "missing", "must be given"));
        }
        self.number(key, 0.0)
    }

    fn choice(
        &mut self,
        key: &str,
        default: &'static str,
        allowed: &[&'static str],
    ) -> Result<&'static str> {
        match self.values.remove(key) {
            None => Ok(default),
            Some(text) => allowed
                .iter()
                .copied()
                .find(|a| a.eq_ignore_ascii_case(text.trim()))
                .ok_or_else(|| {
                    self.invalid(key, text, &format!("must be one of {}", allowed.join(", ")))
                }),
        }
    }

    fn finish(self) -> Result<()> {
        match self.values.into_iter().next() {
            None => Ok(()),
            Some((key, value)) => Err(Error::InvalidSchedulerOption {
                scheduler: self.scheduler,
                key,
                value: value.to_string(),
                expected: "is not an option of this scheduler".to_string(),
            }),
        }
    }
}

impl SchedulerKind {
    /// Parses `NAME[:key=value,...]`, e.g. `step:step_size=5,gamma=0.5`,
    /// `multistep:milestones=5;12;20`, `cosine:t_max=15`, `onecycle:max_lr=0.01`,
    /// `plateau:factor=0.5,patience=2`. Options take PyTorch's names and defaults; an unknown
    /// name or key, or a value out of range, is a typed error naming it.
    pub fn parse(spec: &str) -> Result<Self> {
        let (name, rest) = spec.split_once(':').unwrap_or((spec, ""));
        let scheduler = match name.trim().to_ascii_lowercase().as_str() {
            "step" | "steplr" => "StepLR",
            "multistep" | "multisteplr" => "MultiStepLR",
            "exponential" | "exponentiallr" => "ExponentialLR",
            "cosine" | "cosineannealinglr" => "CosineAnnealingLR",
            "linear" | "linearlr" => "LinearLR",
            "onecycle" | "onecyclelr" => "OneCycleLR",
            "plateau" | "reducelronplateau" => "ReduceLROnPlateau",
            _ => {
                return Err(Error::UnknownScheduler {
                    name: name.to_string(),
                });
            }
        };
        let mut values = BTreeMap::new();
        for pair in rest.split(',').filter(|p| !p.trim().is_empty()) {
            let (key, value) =
                pair.split_once('=')
                    .ok_or_else(|| Error::InvalidSchedulerOption {
                        scheduler,
                        key: pair.to_string(),
                        value: String::new(),
                        expected: "options are written key=value, separated by commas".to_string(),
                    })?;
            values.insert(key.trim().to_ascii_lowercase(), value);
        }
        let mut o = Options { scheduler, values };
        let kind = match scheduler {
            "StepLR" => SchedulerKind::StepLr {
                step_size: o.count("step_size", 1)?,
                gamma: o.number("gamma", 0.1)?,
            },
            "MultiStepLR" => {
                let milestones = match o.values.remove("milestones") {
                    None => Vec::new(),
                    Some(text) => text
                        .split(';')
                        .map(|m| m.trim().parse::<u64>())
                        .collect::<std::result::Result<Vec<_>, _>>()
                        .map_err(|_| {
                            o.invalid(
                                "milestones",
                                text,
                                "must be epochs separated by `;`, e.g. 5;12;20",
                            )
                        })?,
                };
                SchedulerKind::MultiStepLr {
                    milestones,
                    gamma: o.number("gamma", 0.1)?,
                }
            }
            "ExponentialLR" => SchedulerKind::ExponentialLr {
                gamma: o.required_number("gamma")?,
            },
            "CosineAnnealingLR" => SchedulerKind::CosineAnnealingLr {
                t_max: match o.values.contains_key("t_max") {
                    true => o.count("t_max", 1)?,
                    false => {
                        return Err(o.invalid(
                            "t_max",
                            "missing",
                            "must be given (epochs of a half period)",
                        ));
                    }
                },
                eta_min: o.number("eta_min", 0.0)?,
            },
            "LinearLR" => SchedulerKind::LinearLr {
                start_factor: o.number("start_factor", 1.0 / 3.0)?,
                end_factor: o.number("end_factor", 1.0)?,
                total_iters: o.count("total_iters", 5)?,
            },
            "OneCycleLR" => SchedulerKind::OneCycleLr {
                max_lr: o.required_number("max_lr")?,
                total_steps: match o.values.contains_key("total_steps") {
                    true => Some(o.count("total_steps", 0)?),
                    false => None,
                },
                pct_start: o.number("pct_start", 0.3)?,
                anneal_cos: o.choice("anneal_strategy", "cos", &["cos", "linear"])? == "cos",
                div_factor: o.number("div_factor", 25.0)?,
                final_div_factor: o.number("final_div_factor", 1e4)?,
                cycle_momentum: o.take("cycle_momentum", true, "must be true or false")?,
                base_momentum: o.number("base_momentum", 0.85)?,
                max_momentum: o.number("max_momentum", 0.95)?,
            },
            _ => SchedulerKind::ReduceLrOnPlateau {
                minimize: o.choice("mode", "min", &["min", "max"])? == "min",
                factor: o.number("factor", 0.1)?,
                patience: o.count("patience", 10)?,
                threshold: o.number("threshold", 1e-4)?,
                threshold_relative: o.choice("threshold_mode", "rel", &["rel", "abs"])? == "rel",
                cooldown: o.count("cooldown", 0)?,
                min_lr: o.number("min_lr", 0.0)?,
                eps: o.number("eps", 1e-8)?,
            },
        };
        o.finish()?;
        kind.validate()?;
        Ok(kind)
    }

    /// `OneCycleLR` without `total_steps` gets `total_steps`; other schedules are unchanged.
    pub fn with_default_total_steps(mut self, total_steps: u64) -> Self {
        if let SchedulerKind::OneCycleLr {
            total_steps: total @ None,
            ..
        } = &mut self
        {
            *total = Some(total_steps);
        }
        self
    }
}
