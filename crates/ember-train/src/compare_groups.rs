//! The README's comparisons as named groups (`cargo xtask compare init`): which experiments a
//! group trains, the chart it draws and the Markdown table it writes. Every group's runs
//! measure train accuracy as well as test accuracy.
//!
//! A group names its experiments as on the command line, so a group whose experiment is not
//! built into this binary fails with the list of those that are.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::charts::{Axes, Series, line_chart};
use crate::metrics::Summary;
use crate::{Error, Experiment, Result};

/// What a group's chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupChart {
    /// The training cost per epoch (log scale).
    Cost,
    /// Train and test accuracy per epoch: the generalisation gap.
    TrainAndTestAccuracy,
}

/// A named comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompareGroup {
    /// The name on the command line, and of its files (`<name>.png`, `<name>.md`).
    pub name: &'static str,
    /// What it shows, the chart's title.
    pub title: &'static str,
    /// The experiments it trains, in order.
    pub experiments: &'static [&'static str],
    /// Its chart.
    pub chart: GroupChart,
}

/// Every group.
pub const GROUPS: [CompareGroup; 3] = [
    CompareGroup {
        name: "init",
        title: "initialisation: training cost per epoch",
        experiments: &["softmax-normal", "softmax", "mlp", "mlp-xavier"],
        chart: GroupChart::Cost,
    },
    CompareGroup {
        name: "depth-dropout",
        title: "depth and dropout: train and test accuracy per epoch",
        experiments: &["mlp-xavier", "deep-xavier", "deep-dropout"],
        chart: GroupChart::TrainAndTestAccuracy,
    },
    CompareGroup {
        name: "batchnorm",
        title: "batch normalisation: training cost per epoch",
        experiments: &["mlp", "mlp-batchnorm"],
        chart: GroupChart::Cost,
    },
];

impl CompareGroup {
    /// The group called `name`; an unknown one is [`Error::UnknownChoice`] listing them.
    pub fn find(name: &str) -> Result<&'static CompareGroup> {
        GROUPS
            .iter()
            .find(|g| g.name == name)
            .ok_or_else(|| Error::UnknownChoice {
                option: "compare group",
                value: name.to_string(),
                known: GROUPS.map(|g| g.name).join(", "),
            })
    }

    /// Its experiments, parsed: an error names one this binary does not have.
    pub fn parse_experiments(&self) -> Result<Vec<Experiment>> {
        self.experiments
            .iter()
            .map(|name| Experiment::parse(name))
            .collect()
    }

    /// The chart's file name in the comparison's directory.
    pub fn chart_file(&self) -> String {
        format!("{}.png", self.name)
    }

    /// The table's file name in the comparison's directory.
    pub fn table_file(&self) -> String {
        format!("{}.md", self.name)
    }

    /// Writes the group's chart and table into `dir`; returns their paths.
    pub fn write(&self, dir: &Path, summaries: &[Summary]) -> Result<Vec<PathBuf>> {
        let chart = dir.join(self.chart_file());
        self.draw(&chart, summaries)?;
        let table = dir.join(self.table_file());
        ember_nn::state_dict::write_atomic(&table, self.table(summaries).as_bytes())?;
        Ok(vec![chart, table])
    }

    /// Draws the group's chart into `path`.
    pub fn draw(&self, path: &Path, summaries: &[Summary]) -> Result<()> {
        let per_epoch =
            |s: &Summary, label: String, value: fn(&crate::EpochMetrics) -> f64| Series {
                label,
                points: s
                    .epochs
                    .iter()
                    .map(|m| (m.epoch as f64, value(m)))
                    .filter(|(_, v)| v.is_finite())
                    .collect(),
            };
        match self.chart {
            GroupChart::Cost => {
                let series: Vec<Series> = summaries
                    .iter()
                    .map(|s| per_epoch(s, s.experiment.clone(), |m| m.cost))
                    .collect();
                let axes = Axes {
                    x: "epoch",
                    y: "cost (log scale)",
                };
                line_chart(path, self.title, axes, &series, true)
            }
            GroupChart::TrainAndTestAccuracy => {
                let series: Vec<Series> = summaries
                    .iter()
                    .flat_map(|s| {
                        [
                            per_epoch(s, format!("{} train", s.experiment), |m| {
                                m.train_accuracy.unwrap_or(f64::NAN)
                            }),
                            per_epoch(s, format!("{} test", s.experiment), |m| m.test_accuracy),
                        ]
                    })
                    .collect();
                let axes = Axes {
                    x: "epoch",
                    y: "accuracy",
                };
                line_chart(path, self.title, axes, &series, false)
            }
        }
    }

    /// The Markdown table: each run's first and last cost, its last train and test accuracy,
    /// the gap between them in points, and its seconds per epoch.
    pub fn table(&self, summaries: &[Summary]) -> String {
        let epochs = summaries.iter().map(|s| s.epochs.len()).max().unwrap_or(0);
        let mut out = format!(
            "| experiment | epoch-1 cost | epoch-{epochs} cost | train accuracy | test accuracy \
             | train − test (points) | s/epoch |\n|---|---|---|---|---|---|---|\n"
        );
        for s in summaries {
            let cost = |m: Option<&crate::EpochMetrics>| m.map_or(f64::NAN, |m| m.cost);
            let last = s.epochs.last();
            let train = last.and_then(|m| m.train_accuracy).unwrap_or(f64::NAN);
            let test = last.map_or(f64::NAN, |m| m.test_accuracy);
            let seconds =
                s.epochs.iter().map(|m| m.seconds).sum::<f64>() / s.epochs.len().max(1) as f64;
            let _ = writeln!(
                out,
                "| `{}` | {:.4} | {:.4} | {:.4} | {:.4} | {:.1} | {:.1} |",
                s.experiment,
                cost(s.epochs.first()),
                cost(last),
                train,
                test,
                100.0 * (train - test),
                seconds,
            );
        }
        out
    }
}
