//! The classic optimizer picture, computed: the paths of Ember's optimizers on the Rosenbrock
//! function `f(x, y) = (1 - x)² + 100·(y - x²)²` from one start, drawn over its contours
//! (`ember-train optimizer-paths`, `cargo xtask compare optimizer-paths`). Each path is a real
//! optimizer stepping a 2-element parameter with gradients from autodiff.

use std::path::Path;

use ember_autodiff::Var;
use ember_cpu::Cpu;
use ember_optim::{AnyOptimizer, Optimizer};
use ember_tensor::Tensor;
#[cfg(feature = "charts")]
use plotters::prelude::*;

use crate::charts::RenderedChart;
#[cfg(feature = "charts")]
use crate::charts::{PALETTE, encode_png, font_available};
use crate::{Error, Result};

/// File name of the picture.
pub const PATHS_CHART: &str = "optimizer_paths.png";

/// Where every path starts.
pub const START: [f32; 2] = [-1.5, 2.0];
/// The minimum of the surface.
pub const MINIMUM: (f64, f64) = (1.0, 1.0);
#[cfg(feature = "charts")]
/// The plotted region: x, then y.
const REGION: ((f64, f64), (f64, f64)) = ((-2.0, 2.0), (-1.0, 3.0));
#[cfg(feature = "charts")]
/// Size of the picture, in pixels.
const SIZE: (u32, u32) = (1040, 760);
#[cfg(feature = "charts")]
/// Width of the legend column.
const LEGEND_WIDTH: u32 = 300;
#[cfg(feature = "charts")]
/// Contour cells along each axis.
const CELLS: (usize, usize) = (180, 150);

/// The optimizers drawn, each with a learning rate that makes progress on this surface in 400
/// steps without leaving the picture (its gradients reach the hundreds, so the plain methods
/// need rates far below their MLP ones; RAdam's first steps, before its rectification applies,
/// are plain momentum steps at the full rate).
pub const PATH_RUNNERS: [(&str, &str, f32); 10] = [
    ("SGD", "sgd", 1.5e-3),
    ("Momentum", "momentum", 5e-4),
    ("Nesterov", "nesterov", 5e-4),
    ("Adagrad", "adagrad", 1.0),
    ("RMSprop", "rmsprop", 0.01),
    ("Adadelta", "adadelta", 10.0),
    ("Adam", "adam", 0.1),
    ("AdamW", "adamw", 0.1),
    ("NAdam", "nadam", 0.05),
    ("RAdam", "radam", 0.01),
];

/// The Rosenbrock function in f64 (for the contours).
pub fn rosenbrock(x: f64, y: f64) -> f64 {
    (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
}

/// The Rosenbrock function of a `[2]` parameter, recorded for autodiff: `x` and `y` are picked
/// out by products with unit vectors.
fn rosenbrock_var(p: &Var<Cpu>) -> Result<Var<Cpu>> {
    let row = p.view([1, 2])?;
    let pick = |unit: [f32; 2]| -> Result<Var<Cpu>> {
        let e = Var::constant(Tensor::from_vec(unit.to_vec(), [2, 1], &Cpu)?);
        Ok(row.matmul(&e)?)
    };
    let (x, y) = (pick([1.0, 0.0])?, pick([0.0, 1.0])?);
    let valley = x.neg()?.add_scalar(1.0)?.square()?;
    let ridge = y.sub(&x.square()?)?.square()?.mul_scalar(100.0)?;
    Ok(valley.add(&ridge)?.sum_all()?)
}

/// The points visited by optimizer `name` at `lr` in `steps` steps from [`START`] (the start
/// included).
pub fn optimizer_path(name: &str, lr: f32, steps: usize) -> Result<Vec<(f64, f64)>> {
    let p = Var::parameter(Tensor::from_vec(START.to_vec(), [2], &Cpu)?);
    let mut optimizer = AnyOptimizer::by_name(name, vec![("xy".into(), p.clone())], lr)?;
    let mut path = Vec::with_capacity(steps + 1);
    path.push((f64::from(START[0]), f64::from(START[1])));
    for _ in 0..steps {
        optimizer.zero_grad();
        rosenbrock_var(&p)?.backward()?;
        optimizer.step()?;
        let v = p.value().to_vec()?;
        path.push((f64::from(v[0]), f64::from(v[1])));
    }
    Ok(path)
}

#[cfg(feature = "charts")]
/// Whether a point lies in the plotted region.
fn inside((x, y): (f64, f64)) -> bool {
    let ((x0, x1), (y0, y1)) = REGION;
    (x0..=x1).contains(&x) && (y0..=y1).contains(&y)
}

#[cfg(feature = "charts")]
/// The grey of a contour band: `log10(1 + f)` in half-decade bands, lighter near the minimum.
fn band_grey(f: f64) -> RGBColor {
    let band = (2.0 * (1.0 + f).log10()).floor().clamp(0.0, 9.0) as u8;
    let level = 250 - 11 * band;
    RGBColor(level, level, level)
}

#[cfg(feature = "charts")]
/// Draws the paths over the contours in memory. A path is drawn up to where it leaves the
/// region (a diverging optimizer shows as a line running off the picture).
pub fn render_paths(
    paths: &[(String, Vec<(f64, f64)>)],
) -> std::result::Result<RenderedChart, String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let text = font_available();
    let ((x0, x1), (y0, y1)) = REGION;
    let mut pixels = vec![0u8; (SIZE.0 * SIZE.1 * 3) as usize];
    let plot_area;
    {
        let root = BitMapBackend::with_buffer(&mut pixels, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let (plot, legend) = root.split_horizontally(SIZE.0 - LEGEND_WIDTH);
        let mut builder = ChartBuilder::on(&plot);
        builder.margin(16);
        if text {
            builder
                .caption(
                    "Rosenbrock: optimizer paths from (-1.5, 2)",
                    ("sans-serif", 22),
                )
                .x_label_area_size(40)
                .y_label_area_size(50);
        }
        let mut chart = builder
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| err(&e))?;
        let mut mesh = chart.configure_mesh();
        mesh.disable_mesh();
        if text {
            mesh.x_desc("x").y_desc("y").label_style(("sans-serif", 15));
        } else {
            mesh.x_labels(0).y_labels(0);
        }
        mesh.draw().map_err(|e| err(&e))?;
        let (dx, dy) = ((x1 - x0) / CELLS.0 as f64, (y1 - y0) / CELLS.1 as f64);
        chart
            .draw_series((0..CELLS.0).flat_map(|i| {
                (0..CELLS.1).map(move |j| {
                    let (cx, cy) = (x0 + i as f64 * dx, y0 + j as f64 * dy);
                    let grey = band_grey(rosenbrock(cx + dx / 2.0, cy + dy / 2.0));
                    Rectangle::new([(cx, cy), (cx + dx, cy + dy)], grey.filled())
                })
            }))
            .map_err(|e| err(&e))?;
        chart
            .draw_series(std::iter::once(Cross::new(
                MINIMUM,
                8,
                BLACK.stroke_width(3),
            )))
            .map_err(|e| err(&e))?;
        for (i, (_, path)) in paths.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let visible: Vec<(f64, f64)> =
                path.iter().copied().take_while(|&p| inside(p)).collect();
            chart
                .draw_series(LineSeries::new(visible.clone(), color.stroke_width(2)))
                .map_err(|e| err(&e))?;
            if let Some(&end) = visible.last() {
                chart
                    .draw_series(std::iter::once(Circle::new(end, 5, color.filled())))
                    .map_err(|e| err(&e))?;
            }
        }
        plot_area = chart.plotting_area().get_pixel_range();
        if text {
            for (i, (label, _)) in paths.iter().enumerate() {
                let color = PALETTE[i % PALETTE.len()];
                let y = 60 + 24 * i as i32;
                legend
                    .draw(&PathElement::new(
                        vec![(8, y), (36, y)],
                        color.stroke_width(3),
                    ))
                    .map_err(|e| err(&e))?;
                legend
                    .draw(&Text::new(label.clone(), (44, y - 8), ("sans-serif", 15)))
                    .map_err(|e| err(&e))?;
            }
        }
        root.present().map_err(|e| err(&e))?;
    }
    Ok(RenderedChart {
        png: encode_png(&pixels, SIZE)?,
        size: SIZE,
        plot_area,
    })
}

/// Without the `charts` feature there is no drawing library: the picture is an error.
#[cfg(not(feature = "charts"))]
pub fn render_paths(
    _paths: &[(String, Vec<(f64, f64)>)],
) -> std::result::Result<RenderedChart, String> {
    Err(crate::charts::NO_CHARTS.to_string())
}

/// Computes every runner's path (`steps` steps) and writes the picture to `path`.
pub fn draw_paths(path: &Path, steps: usize) -> Result<()> {
    let mut paths = Vec::with_capacity(PATH_RUNNERS.len());
    for (label, name, lr) in PATH_RUNNERS {
        let points = optimizer_path(name, lr, steps)?;
        let (x, y) = points.last().copied().unwrap_or_default();
        let label = if x.is_finite() && y.is_finite() {
            format!("{label} (lr {lr}): f = {:.1e}", rosenbrock(x, y))
        } else {
            format!("{label} (lr {lr}): diverged")
        };
        paths.push((label, points));
    }
    let chart = render_paths(&paths).map_err(|message| Error::Chart {
        path: path.to_path_buf(),
        message,
    })?;
    ember_nn::state_dict::write_atomic(path, &chart.png)?;
    Ok(())
}
