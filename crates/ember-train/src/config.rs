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
    /// Where the data set's files are (found or downloaded there).
    pub data_dir: Option<PathBuf>,
    /// Where the run writes its files.
    pub out: Option<PathBuf>,
    /// The device.
    pub device: DeviceChoice,
    /// Use only the first N training samples (quick runs and tests).
    pub train_limit: Option<usize>,
    /// Use only the first N test samples.
    pub test_limit: Option<usize>,
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
            device: DeviceChoice::Cpu,
            train_limit: None,
            test_limit: None,
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
        self.dataset_kind()?;
        Ok(())
    }

    /// The data set.
    pub fn dataset_kind(&self) -> Result<ember_data::DatasetKind> {
        Ok(self.dataset.parse::<ember_data::DatasetKind>()?)
    }
}
