//! PNG charts: the loss curve, and per-layer gradient norms (the vanishing gradient made
//! visible).
//!
//! A chart is drawn into memory, encoded to PNG and written with the atomic writer, so a full
//! disk never leaves a half image. Every point has a marker (a one-epoch run is one dot), the x
//! axis (epochs, layers) has integer ticks, a log axis has labels in every decade, and the
//! legend sits beside the plot, never over the data. The drawing (`plot.rs`, plotters) is the
//! `charts` feature; without it every chart is an [`Error::Chart`] saying so, and a training
//! run writes everything else.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

#[cfg(feature = "charts")]
mod plot;
#[cfg(feature = "charts")]
pub use plot::render_chart;
#[cfg(feature = "charts")]
pub(crate) use plot::{PALETTE, encode_png, font_available};

/// File name of a run's loss chart.
pub const LOSS_CHART: &str = "loss.png";
/// File name of a run's per-layer gradient-norm chart.
pub const GRAD_NORMS_CHART: &str = "grad_norms.png";
/// A cost chart switches to a log axis when its values span more than this factor.
const LOG_COST_SPAN: f64 = 1e3;

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// (x, y) points; x is an integer (an epoch or a layer).
    pub points: Vec<(f64, f64)>,
}

/// Axis titles of a chart.
#[derive(Debug, Clone, Copy)]
pub struct Axes<'a> {
    /// The x axis.
    pub x: &'a str,
    /// The y axis.
    pub y: &'a str,
}

/// A chart drawn in memory.
#[derive(Debug, Clone)]
pub struct RenderedChart {
    /// The PNG file's bytes.
    pub png: Vec<u8>,
    /// Width and height in pixels.
    pub size: (u32, u32),
    /// The plot area (where the data is drawn), as pixel ranges `(x0..x1, y0..y1)`.
    pub plot_area: (std::ops::Range<i32>, std::ops::Range<i32>),
}

/// The finite points of a series that an axis can show.
pub(crate) fn drawable(points: &[(f64, f64)], log_y: bool) -> Vec<(f64, f64)> {
    points
        .iter()
        .copied()
        .filter(|&(x, y)| x.is_finite() && y.is_finite() && (!log_y || y > 0.0))
        .collect()
}

/// Draws `series` into a PNG at `path` (atomically); `log_y` uses a logarithmic y axis.
pub fn line_chart(
    path: &Path,
    title: &str,
    axes: Axes<'_>,
    series: &[Series],
    log_y: bool,
) -> Result<()> {
    let chart = render_chart(title, axes, series, log_y).map_err(|message| Error::Chart {
        path: path.to_path_buf(),
        message,
    })?;
    ember_nn::state_dict::write_atomic(path, &chart.png)?;
    Ok(())
}

/// Why a chart is not drawn in a build without the `charts` feature.
#[cfg(not(feature = "charts"))]
pub(crate) const NO_CHARTS: &str =
    "this build of ember-train draws no charts (its `charts` feature is off)";

/// Without the `charts` feature there is no drawing library: every chart is an error.
#[cfg(not(feature = "charts"))]
pub fn render_chart(
    _title: &str,
    _axes: Axes<'_>,
    _series: &[Series],
    _log_y: bool,
) -> std::result::Result<RenderedChart, String> {
    Err(NO_CHARTS.to_string())
}

/// The two charts of a run, drawn in memory: `(file name, chart)`.
pub fn render_run(summary: &crate::Summary) -> Result<Vec<(&'static str, RenderedChart)>> {
    let failed = |name: &str| {
        let path = PathBuf::from(&summary.run_dir).join(name);
        move |message| Error::Chart { path, message }
    };
    let costs: Vec<f64> = summary.epochs.iter().map(|m| m.cost).collect();
    let finite = drawable(&costs.iter().map(|&c| (1.0, c)).collect::<Vec<_>>(), true);
    let (lo, hi) = finite
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), &(_, c)| {
            (lo.min(c), hi.max(c))
        });
    // A diverging cost spans many decades: only a log axis shows both ends.
    let log_cost = hi / lo > LOG_COST_SPAN;
    let cost = Series {
        label: format!("{} training cost", summary.experiment),
        points: summary
            .epochs
            .iter()
            .map(|m| (m.epoch as f64, m.cost))
            .collect(),
    };
    let loss = render_chart(
        &format!("{}: training cost per epoch", summary.experiment),
        Axes {
            x: "epoch",
            y: if log_cost { "cost (log scale)" } else { "cost" },
        },
        &[cost],
        log_cost,
    )
    .map_err(failed(LOSS_CHART))?;
    let series: Vec<Series> = summary
        .layers
        .iter()
        .enumerate()
        .map(|(i, layer)| Series {
            label: layer.clone(),
            points: summary
                .epochs
                .iter()
                .filter_map(|m| m.grad_norms.get(i).map(|&g| (m.epoch as f64, g)))
                .collect(),
        })
        .collect();
    let norms = render_chart(
        &format!(
            "{}: mean weight-gradient norm per layer",
            summary.experiment
        ),
        Axes {
            x: "epoch",
            y: "mean ||dL/dW|| (log scale)",
        },
        &series,
        true,
    )
    .map_err(failed(GRAD_NORMS_CHART))?;
    Ok(vec![(LOSS_CHART, loss), (GRAD_NORMS_CHART, norms)])
}

/// `loss.png` and `grad_norms.png` of one run, written atomically into `dir`.
pub fn draw_run(dir: &Path, summary: &crate::Summary) -> Result<Vec<PathBuf>> {
    draw_run_with(dir, summary, &|path, bytes| {
        ember_nn::state_dict::write_atomic(path, bytes).map_err(Error::from)
    })
}

/// [`draw_run`] with the files written by `write` (tests inject a failing writer).
pub fn draw_run_with(
    dir: &Path,
    summary: &crate::Summary,
    write: &dyn Fn(&Path, &[u8]) -> Result<()>,
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (name, chart) in render_run(summary)? {
        let path = dir.join(name);
        write(&path, &chart.png)?;
        written.push(path);
    }
    Ok(written)
}
