//! Per-epoch metrics, `metrics.csv` and `summary.json`.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Result;

/// File name of the per-epoch table in a run directory.
pub const METRICS_FILE: &str = "metrics.csv";
/// File name of the run's summary in a run directory.
pub const SUMMARY_FILE: &str = "summary.json";

/// What one epoch measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based.
    pub epoch: usize,
    /// Mean of the epoch's batch losses (the seed's `avg_cost`).
    pub cost: f64,
    /// Accuracy on the test set after the epoch.
    pub test_accuracy: f64,
    /// Accuracy on the whole training set after the epoch, in evaluation mode (with
    /// `--train-accuracy`).
    #[serde(default)]
    pub train_accuracy: Option<f64>,
    /// Wall time of the epoch's training steps.
    pub seconds: f64,
    /// Mean over the epoch's steps of each layer's weight-gradient L2 norm, first layer first.
    pub grad_norms: Vec<f64>,
    /// Learning rate (of the first parameter group) at the epoch's first step.
    #[serde(default)]
    pub lr: f64,
}

/// The whole run, written as `summary.json` (and printed with `--json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The experiment's name.
    pub experiment: String,
    /// The data set.
    pub dataset: String,
    /// The device the run computed on.
    pub device: String,
    /// The configuration.
    pub config: crate::TrainConfig,
    /// Number of scalar parameters.
    pub parameters: usize,
    /// The layers whose gradient norms are reported.
    pub layers: Vec<String>,
    /// Every epoch so far.
    pub epochs: Vec<EpochMetrics>,
    /// Test accuracy after the last epoch.
    pub test_accuracy: f64,
    /// The run directory.
    pub run_dir: String,
    /// Peak resident set size of the process so far, in MiB (Linux; 0 elsewhere).
    #[serde(default)]
    pub peak_rss_mib: f64,
}

/// Peak resident set size of this process in MiB, from `/proc/self/status` (0 if unknown).
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// `metrics.csv`: one row per epoch; a `train_accuracy` column when the run measured it.
pub fn metrics_csv(layers: &[String], epochs: &[EpochMetrics]) -> String {
    let mut out = String::from("epoch,cost,test_accuracy,seconds,lr");
    let with_train_accuracy = epochs.iter().any(|m| m.train_accuracy.is_some());
    if with_train_accuracy {
        out.push_str(",train_accuracy");
    }
    for layer in layers {
        let _ = write!(out, ",grad_norm_{layer}");
    }
    out.push('\n');
    for m in epochs {
        let _ = write!(
            out,
            "{},{:.9},{:.4},{:.3},{}",
            m.epoch,
            m.cost,
            m.test_accuracy,
            m.seconds,
            // The optimizer's f32, printed as the shortest decimal that reads back to it.
            m.lr as f32
        );
        if with_train_accuracy {
            write_train_accuracy(&mut out, m.train_accuracy);
        }
        for g in &m.grad_norms {
            let _ = write!(out, ",{g:.6}");
        }
        out.push('\n');
    }
    out
}

/// The `train_accuracy` cell: empty for an epoch that did not measure it (a run resumed with
/// `--train-accuracy`).
fn write_train_accuracy(out: &mut String, accuracy: Option<f64>) {
    match accuracy {
        Some(a) => {
            let _ = write!(out, ",{a:.4}");
        }
        None => out.push(','),
    }
}

/// Writes `metrics.csv` and `summary.json` into `dir`, atomically.
pub fn write_files(dir: &Path, summary: &Summary) -> Result<()> {
    let csv = metrics_csv(&summary.layers, &summary.epochs);
    ember_nn::state_dict::write_atomic(&dir.join(METRICS_FILE), csv.as_bytes())?;
    let json = serde_json::to_string_pretty(summary).unwrap_or_else(|_| "{}".into());
    ember_nn::state_dict::write_atomic(&dir.join(SUMMARY_FILE), json.as_bytes())?;
    Ok(())
}
