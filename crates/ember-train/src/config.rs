//! A run's configuration: the seed's defaults, everything overridable.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::experiment::{Experiment, InitScheme};
use crate::{Error, Result};

/// Where the run computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceChoice {
    /// The ndarray CPU backend.
    Cpu,
    /// The wgpu backend; an error if no adapter is found.
    Wgpu,
    /// The wgpu backend if an adapter is found, else the CPU with a one-line notice.
    Auto,
}

impl DeviceChoice {
    /// Parses `cpu`, `wgpu` or `auto`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "cpu" => Ok(Self::Cpu),
            "wgpu" | "gpu" => Ok(Self::Wgpu),
            "auto" => Ok(Self::Auto),
            other => Err(Error::UnknownChoice {
                option: "--device",
                value: other.to_string(),
                known: "cpu, wgpu, auto".into(),
            }),
        }
    }
}

impl DeviceChoice {
    /// The option's value that selects this device.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Wgpu => "wgpu",
            Self::Auto => "auto",
        }
    }
}

/// Everything that determines a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The model.
    pub experiment: Experiment,
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples per step.
    pub batch_size: usize,
    /// Learning rate.
    pub lr: f32,
    /// Optimizer name (see `ember_optim::OPTIMIZER_NAMES`).
    pub optimizer: String,
    /// Weight initialisation.
    pub init: InitScheme,
    /// Seed of the initialisation and of the shuffling.
    pub seed: u64,
    /// `mnist` or `fashion-mnist`.
    pub dataset: String,
    /// Where the data set's files are (found or downloaded there). A run stores the directory
    /// it used, made absolute, so it can be resumed from anywhere.
    pub data_dir: Option<PathBuf>,
    /// Where the run writes its files (default: a new `runs/<experiment>-<time>`).
    pub out: Option<PathBuf>,
    /// Delete the files of a run already in `out` instead of refusing to start (never stored).
    #[serde(skip)]
    pub overwrite: bool,
    /// The device.
    pub device: DeviceChoice,
    /// Use only the first N training samples (quick runs and tests).
    pub train_limit: Option<usize>,
    /// Use only the first N test samples.
    pub test_limit: Option<usize>,
    /// Also measure the accuracy over the whole training set after each epoch, in evaluation
    /// mode (an extra pass; the compare groups switch it on). May change on resume.
    #[serde(default)]
    pub train_accuracy: bool,
    /// Learning-rate scheduler, `NAME[:key=value,...]` (see `ember_optim::SchedulerKind::parse`).
    #[serde(default)]
    pub scheduler: Option<String>,
    /// Weight decay of the weights (biases get none); `None`: the optimizer's default for all.
    #[serde(default)]
    pub weight_decay: Option<f32>,
}

impl Default for TrainConfig {
    /// The seed's settings: Adam, lr 0.001, 15 epochs, batch 100, seed 777.
    fn default() -> Self {
        TrainConfig {
            experiment: Experiment::Mlp,
            epochs: 15,
            batch_size: 100,
            lr: 0.001,
            optimizer: "adam".into(),
            init: InitScheme::Default,
            seed: 777,
            dataset: "fashion-mnist".into(),
            data_dir: None,
            out: None,
            overwrite: false,
            device: DeviceChoice::Cpu,
            train_limit: None,
            test_limit: None,
            train_accuracy: false,
            scheduler: None,
            weight_decay: None,
        }
    }
}

impl TrainConfig {
    /// Checks ranges and names.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(Error::InvalidOption {
                option: "--epochs",
                message: "must be at least 1".into(),
            });
        }
        if self.batch_size == 0 {
            return Err(Error::InvalidOption {
                option: "--batch-size",
                message: "must be at least 1".into(),
            });
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::InvalidOption {
                option: "--lr",
                message: format!("{} is not a positive number", self.lr),
            });
        }
        if !ember_optim::OPTIMIZER_NAMES.contains(&self.optimizer.as_str()) {
            return Err(Error::UnknownChoice {
                option: "--optimizer",
                value: self.optimizer.clone(),
                known: ember_optim::OPTIMIZER_NAMES.join(", "),
            });
        }
        for (option, limit) in [
            ("--train-limit", self.train_limit),
            ("--test-limit", self.test_limit),
        ] {
            if limit == Some(0) {
                return Err(Error::InvalidOption {
                    option,
                    message: "0 samples leave nothing to train or measure; give at least 1".into(),
                });
            }
        }
        self.dataset_kind()?;
        self.validate_schedule()
    }

    /// Checks `--scheduler` and `--weight-decay`.
    fn validate_schedule(&self) -> Result<()> {
        if let Some(spec) = &self.scheduler {
            ember_optim::SchedulerKind::parse(spec)?;
        }
        if let Some(decay) = self.weight_decay
            && !(decay.is_finite() && decay >= 0.0)
        {
            return Err(Error::InvalidOption {
                option: "--weight-decay",
                message: format!("{decay} is not a number >= 0"),
            });
        }
        Ok(())
    }

    /// The options of `requested` that disagree with this, a saved run's configuration, each as
    /// `--option asked (the run used saved)`. What may change on resume is not compared:
    /// epochs, learning rate, device, data directory and `train_accuracy`. `run_dir` is where
    /// the run is; an `out` elsewhere, or `overwrite`, is a conflict.
    pub fn resume_conflicts(
        &self,
        requested: &TrainConfig,
        run_dir: &std::path::Path,
    ) -> Vec<String> {
        fn limit(v: Option<usize>) -> String {
            v.map_or("none".into(), |n| n.to_string())
        }
        let mut conflicts = Vec::new();
        let mut check = |option: &str, asked: String, saved: String| {
            if asked != saved {
                conflicts.push(format!("{option} {asked} (the run used {saved})"));
            }
        };
        check(
            "experiment",
            requested.experiment.name().into(),
            self.experiment.name().into(),
        );
        check(
            "--batch-size",
            requested.batch_size.to_string(),
            self.batch_size.to_string(),
        );
        check(
            "--optimizer",
            requested.optimizer.clone(),
            self.optimizer.clone(),
        );
        check(
            "--init",
            requested.init.name().into(),
            self.init.name().into(),
        );
        check("--seed", requested.seed.to_string(), self.seed.to_string());
        check("--dataset", requested.dataset.clone(), self.dataset.clone());
        check(
            "--train-limit",
            limit(requested.train_limit),
            limit(self.train_limit),
        );
        check(
            "--test-limit",
            limit(requested.test_limit),
            limit(self.test_limit),
        );
        let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
        check(
            "--scheduler",
            or_none(&requested.scheduler),
            or_none(&self.scheduler),
        );
        check(
            "--weight-decay",
            or_none(&requested.weight_decay.map(|d| d.to_string())),
            or_none(&self.weight_decay.map(|d| d.to_string())),
        );
        if let Some(out) = &requested.out
            && !same_dir(out, run_dir)
        {
            conflicts.push(format!(
                "--out {} (a resumed run continues in its own directory, {})",
                out.display(),
                run_dir.display()
            ));
        }
        if requested.overwrite {
            conflicts.push("--overwrite (a resumed run keeps its files)".into());
        }
        conflicts
    }

    /// The data set.
    pub fn dataset_kind(&self) -> Result<ember_data::DatasetKind> {
        Ok(self.dataset.parse::<ember_data::DatasetKind>()?)
    }
}

/// Whether `a` and `b` name the same directory.
fn same_dir(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => std::path::absolute(a).ok() == std::path::absolute(b).ok(),
    }
}
