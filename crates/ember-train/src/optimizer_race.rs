//! The optimizer race (`ember-train compare-optimizers`, `cargo xtask compare optimizers`): the
//! seed's `mlp` trained once with each optimizer of the seed's picture at its customary
//! learning rate, their loss curves on one chart and a Markdown table of final cost, test
//! accuracy and seconds.

use std::path::{Path, PathBuf};

use crate::charts::{Axes, Series, line_chart};
use crate::{Result, Summary};

/// File name of the race's table in its output directory.
pub const RACE_TABLE: &str = "optimizers.md";
/// File name of the race's loss chart in its output directory.
pub const RACE_CHART: &str = "optimizers_loss.png";

/// A runner of the race: its label, its `--optimizer` name and its customary learning rate
/// (PyTorch's default where it has one, else the usual choice for this MLP).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Runner {
    /// As the seed's picture names it.
    pub label: &'static str,
    /// The `--optimizer` name.
    pub optimizer: &'static str,
    /// Learning rate.
    pub lr: f32,
}

/// The runners: the seed's picture (SGD, Momentum, NAG, Adagrad, RMSprop, AdaDelta, Adam,
/// NAdam) plus AdamW and RAdam.
pub const RUNNERS: [Runner; 10] = [
    Runner {
        label: "SGD",
        optimizer: "sgd",
        lr: 0.1,
    },
    Runner {
        label: "Momentum",
        optimizer: "momentum",
        lr: 0.01,
    },
    Runner {
        label: "Nesterov",
        optimizer: "nesterov",
        lr: 0.01,
    },
    Runner {
        label: "Adagrad",
        optimizer: "adagrad",
        lr: 0.01,
    },
    Runner {
        label: "RMSprop",
        optimizer: "rmsprop",
        lr: 0.001,
    },
    Runner {
        label: "Adadelta",
        optimizer: "adadelta",
        lr: 1.0,
    },
    Runner {
        label: "Adam",
        optimizer: "adam",
        lr: 0.001,
    },
    Runner {
        label: "AdamW",
        optimizer: "adamw",
        lr: 0.001,
    },
    Runner {
        label: "NAdam",
        optimizer: "nadam",
        lr: 0.002,
    },
    Runner {
        label: "RAdam",
        optimizer: "radam",
        lr: 0.001,
    },
];

/// The runners named in `only` (all of them when empty); an unknown name is an error listing
/// the runners.
pub fn select(only: &[String]) -> Result<Vec<Runner>> {
    if only.is_empty() {
        return Ok(RUNNERS.to_vec());
    }
    only.iter()
        .map(|name| {
            let name = name.trim().to_ascii_lowercase();
            RUNNERS
                .iter()
                .find(|r| r.optimizer == name)
                .copied()
                .ok_or_else(|| crate::Error::UnknownChoice {
                    option: "--optimizers",
                    value: name,
                    known: RUNNERS
                        .iter()
                        .map(|r| r.optimizer)
                        .collect::<Vec<_>>()
                        .join(", "),
                })
        })
        .collect()
}

/// Total training seconds of a run (the sum of its epochs', without evaluation).
fn training_seconds(summary: &Summary) -> f64 {
    summary.epochs.iter().map(|m| m.seconds).sum()
}

/// The race's Markdown table: one row per runner.
pub fn race_table(results: &[(Runner, Summary)]) -> String {
    let mut out = String::from(
        "| optimizer | lr | final cost | test accuracy | seconds |\n|---|---|---|---|---|\n",
    );
    for (runner, summary) in results {
        out.push_str(&format!(
            "| {} | {} | {:.4} | {:.4} | {:.1} |\n",
            runner.label,
            runner.lr,
            summary.epochs.last().map_or(f64::NAN, |m| m.cost),
            summary.test_accuracy,
            training_seconds(summary),
        ));
    }
    out
}

/// Writes the table and the loss chart into `dir`; returns their paths.
pub fn write_race(dir: &Path, results: &[(Runner, Summary)]) -> Result<Vec<PathBuf>> {
    let table = dir.join(RACE_TABLE);
    ember_nn::state_dict::write_atomic(&table, race_table(results).as_bytes())?;
    let chart = dir.join(RACE_CHART);
    let series: Vec<Series> = results
        .iter()
        .map(|(runner, summary)| Series {
            label: format!("{} (lr {})", runner.label, runner.lr),
            points: summary
                .epochs
                .iter()
                .map(|m| (m.epoch as f64, m.cost))
                .collect(),
        })
        .collect();
    line_chart(
        &chart,
        "the seed's mlp: training cost per epoch by optimizer",
        Axes {
            x: "epoch",
            y: "cost (log scale)",
        },
        &series,
        true,
    )?;
    Ok(vec![table, chart])
}
