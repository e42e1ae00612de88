//! PNG charts: the loss curve, and per-layer gradient norms (the vanishing gradient made
//! visible).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::*;

use crate::{Error, Result};

/// Fonts tried for chart text, in order. Without one, charts are drawn without text.
const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Registers a system font with plotters once; false when none is installed.
fn font_available() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        for path in FONT_PATHS {
            if let Ok(bytes) = std::fs::read(path) {
                let leaked: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, leaked).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend label.
    pub label: String,
    /// (epoch, value) points.
    pub points: Vec<(f64, f64)>,
}

fn chart_error(path: &Path) -> impl Fn(String) -> Error + '_ {
    move |message| Error::Chart {
        path: path.to_path_buf(),
        message,
    }
}

/// A tick label: three significant decimals, or scientific notation for tiny values.
fn tick(v: &f64) -> String {
    if *v == 0.0 || v.abs() >= 0.01 {
        let s = format!("{v:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        format!("{v:.1e}")
    }
}

/// Axis titles of a chart.
#[derive(Debug, Clone, Copy)]
pub struct Axes<'a> {
    /// The x axis.
    pub x: &'a str,
    /// The y axis.
    pub y: &'a str,
}

/// Draws `series` into a PNG at `path`; `log_y` uses a logarithmic y axis.
pub fn line_chart(
    path: &Path,
    title: &str,
    axes: Axes<'_>,
    series: &[Series],
    log_y: bool,
) -> Result<()> {
    let err = chart_error(path);
    let text = font_available();
    let points = series.iter().flat_map(|s| s.points.iter());
    let (mut x_max, mut y_min, mut y_max) = (1.0f64, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in points {
        if y.is_finite() && (!log_y || y > 0.0) {
            x_max = x_max.max(x);
            y_min = y_min.min(y);
            y_max = y_max.max(y);
        }
    }
    if !y_min.is_finite() {
        (y_min, y_max) = (if log_y { 1e-3 } else { 0.0 }, 1.0);
    }
    if y_max <= y_min {
        y_max = y_min + 1.0;
    }
    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let mut builder = ChartBuilder::on(&root);
    builder.margin(16);
    if text {
        builder
            .caption(title, ("sans-serif", 24))
            .x_label_area_size(44)
            .y_label_area_size(72);
    }
    let x_range = 1.0..x_max.max(2.0);
    let palette = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            if text {
                chart
                    .configure_mesh()
                    .x_desc(axes.x)
                    .y_desc(axes.y)
                    .x_label_formatter(&tick)
                    .y_label_formatter(&tick)
                    .draw()
                    .map_err(|e| err(e.to_string()))?;
            } else {
                chart
                    .configure_mesh()
                    .disable_x_mesh()
                    .disable_y_mesh()
                    .x_labels(0)
                    .y_labels(0)
                    .draw()
                    .map_err(|e| err(e.to_string()))?;
            }
            for (i, s) in series.iter().enumerate() {
                let color = palette[i % palette.len()];
                let pts: Vec<(f64, f64)> = s
                    .points
                    .iter()
                    .copied()
                    .filter(|&(_, y)| y.is_finite() && (!log_y || y > 0.0))
                    .collect();
                let drawn = chart
                    .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                    .map_err(|e| err(e.to_string()))?;
                if text {
                    drawn.label(s.label.clone()).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                    });
                }
            }
            if text {
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK)
                    .position(SeriesLabelPosition::UpperRight)
                    .draw()
                    .map_err(|e| err(e.to_string()))?;
            }
        }};
    }
    if log_y {
        let y_range = (y_min * 0.8)..(y_max * 1.25);
        draw!(
            builder
                .build_cartesian_2d(x_range, y_range.log_scale())
                .map_err(|e| err(e.to_string()))?
        );
    } else {
        let pad = (y_max - y_min) * 0.05;
        draw!(
            builder
                .build_cartesian_2d(x_range, (y_min - pad)..(y_max + pad))
                .map_err(|e| err(e.to_string()))?
        );
    }
    root.present().map_err(|e| err(e.to_string()))?;
    Ok(())
}

/// `loss.png` and `grad_norms.png` of one run.
pub fn draw_run(dir: &Path, summary: &crate::Summary) -> Result<Vec<PathBuf>> {
    let loss = dir.join("loss.png");
    let cost = Series {
        label: format!("{} training cost", summary.experiment),
        points: summary
            .epochs
            .iter()
            .map(|m| (m.epoch as f64, m.cost))
            .collect(),
    };
    line_chart(
        &loss,
        &format!("{}: training cost per epoch", summary.experiment),
        Axes {
            x: "epoch",
            y: "cost",
        },
        &[cost],
        false,
    )?;
    let norms = dir.join("grad_norms.png");
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
    line_chart(
        &norms,
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
    )?;
    Ok(vec![loss, norms])
}
