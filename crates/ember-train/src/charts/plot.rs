//! Drawing with plotters (the `charts` feature): each chart drawn into memory and encoded to
//! PNG.

use std::sync::OnceLock;

use plotters::coord::combinators::BindKeyPoints;
use plotters::prelude::*;

use super::{Axes, RenderedChart, Series, drawable};

/// Size of every chart, in pixels.
const SIZE: (u32, u32) = (960, 560);
/// Width of the legend column to the right of the plot.
const LEGEND_WIDTH: u32 = 220;
/// At most this many labelled ticks on the x axis.
const MAX_X_TICKS: usize = 15;

/// Series colours (matplotlib's `tab10`).
pub(crate) const PALETTE: [RGBColor; 10] = [
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

/// Fonts tried for chart text, in order. Without one, charts are drawn without text.
const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Registers a system font with plotters once; false when none is installed.
pub(crate) fn font_available() -> bool {
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

/// A tick label: three significant decimals, or scientific notation for tiny or huge values.
fn tick(v: &f64) -> String {
    if *v == 0.0 || (0.01..1e5).contains(&v.abs()) {
        let s = format!("{v:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        format!("{v:.0e}")
    }
}

/// An integer tick label (the x axis: epochs, layers).
fn integer_tick(v: &f64) -> String {
    format!("{}", v.round() as i64)
}

/// Integer positions from `lo` to `hi` (inclusive), at most [`MAX_X_TICKS`] of them (their
/// count is what the x axis asks plotters for).
fn integer_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (lo, hi) = (lo.round() as i64, hi.round() as i64);
    let count = (hi - lo + 1).max(1) as usize;
    let step = count.div_ceil(MAX_X_TICKS) as i64;
    (lo..=hi).step_by(step as usize).map(|v| v as f64).collect()
}

/// Ticks of a log axis over `lo..hi`: 1-2-5 in every decade, all nine digits when that gives
/// fewer than four, only powers of ten when the range spans many decades.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let in_range = |mantissas: &[f64], every: i32| {
        let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
        let mut ticks = Vec::new();
        for e in (first..=last).filter(|e| (e - first) % every == 0) {
            for m in mantissas {
                let v = m * 10f64.powi(e);
                if v >= lo && v <= hi {
                    ticks.push(v);
                }
            }
        }
        ticks
    };
    let decades = (hi / lo).log10();
    if decades > 6.0 {
        return in_range(&[1.0], (decades / 8.0).ceil() as i32);
    }
    let ticks = in_range(&[1.0, 2.0, 5.0], 1);
    if ticks.len() >= 4 {
        return ticks;
    }
    in_range(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0], 1)
}

/// Draws `series` in memory; errors are the drawing library's messages.
pub fn render_chart(
    title: &str,
    axes: Axes<'_>,
    series: &[Series],
    log_y: bool,
) -> std::result::Result<RenderedChart, String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let text = font_available();
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| drawable(&s.points, log_y))
        .collect();
    let (mut x_min, mut x_max) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut y_min, mut y_max) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in &all {
        (x_min, x_max) = (x_min.min(x), x_max.max(x));
        (y_min, y_max) = (y_min.min(y), y_max.max(y));
    }
    if all.is_empty() {
        // Nothing finite to show: an empty frame over epoch 1 and a note.
        (x_min, x_max) = (1.0, 1.0);
        (y_min, y_max) = if log_y { (0.1, 1.0) } else { (0.0, 1.0) };
    }
    // Integer x positions sit half a step inside the frame, so a single point is not on an edge.
    let x_range = (x_min - 0.5)..(x_max + 0.5);
    // Plotters picks x ticks from 1-2-5 steps; asking for no more labels than there are
    // integers makes every step a whole number.
    let x_labels = integer_ticks(x_min, x_max).len();

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
                .caption(title, ("sans-serif", 22))
                .x_label_area_size(48)
                .y_label_area_size(84);
        }
        macro_rules! draw {
            ($chart:expr) => {{
                let mut chart = $chart;
                let mut mesh = chart.configure_mesh();
                mesh.x_labels(x_labels)
                    .x_label_formatter(&integer_tick)
                    .y_label_formatter(&tick)
                    .light_line_style(WHITE);
                if text {
                    mesh.x_desc(axes.x)
                        .y_desc(axes.y)
                        .label_style(("sans-serif", 15));
                } else {
                    mesh.x_labels(0).y_labels(0);
                }
                mesh.draw().map_err(|e| err(&e))?;
                for (i, s) in series.iter().enumerate() {
                    let color = PALETTE[i % PALETTE.len()];
                    let points = drawable(&s.points, log_y);
                    chart
                        .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                        .map_err(|e| err(&e))?;
                    chart
                        .draw_series(
                            points
                                .into_iter()
                                .map(|p| Circle::new(p, 4, color.filled())),
                        )
                        .map_err(|e| err(&e))?;
                }
                if all.is_empty() && text {
                    let area = chart.plotting_area();
                    let (xs, ys) = area.get_pixel_range();
                    area.strip_coord_spec()
                        .draw(&Text::new(
                            "no finite values to draw",
                            ((xs.end - xs.start) / 3, (ys.end - ys.start) / 2),
                            ("sans-serif", 18),
                        ))
                        .map_err(|e| err(&e))?;
                }
                chart.plotting_area().get_pixel_range()
            }};
        }
        plot_area = if log_y {
            let y_range = (y_min / 1.25)..(y_max * 1.25);
            let y_ticks = log_ticks(y_range.start, y_range.end);
            draw!(
                builder
                    .build_cartesian_2d(x_range, y_range.log_scale().with_key_points(y_ticks),)
                    .map_err(|e| err(&e))?
            )
        } else {
            let pad = ((y_max - y_min) * 0.05).max(y_max.abs() * 0.05).max(1e-3);
            draw!(
                builder
                    .build_cartesian_2d(x_range, (y_min - pad)..(y_max + pad))
                    .map_err(|e| err(&e))?
            )
        };
        if text {
            draw_legend(&legend, series)?;
        }
        root.present().map_err(|e| err(&e))?;
    }
    Ok(RenderedChart {
        png: encode_png(&pixels, SIZE)?,
        size: SIZE,
        plot_area,
    })
}

/// The legend, in its own column beside the plot: a line with a marker, then the label.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    series: &[Series],
) -> std::result::Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let y = 60 + 24 * i as i32;
        area.draw(&PathElement::new(
            vec![(8, y), (36, y)],
            color.stroke_width(2),
        ))
        .map_err(|e| err(&e))?;
        area.draw(&Circle::new((22, y), 4, color.filled()))
            .map_err(|e| err(&e))?;
        area.draw(&Text::new(s.label.clone(), (44, y - 8), ("sans-serif", 15)))
            .map_err(|e| err(&e))?;
    }
    Ok(())
}

/// RGB pixels to PNG bytes.
pub(crate) fn encode_png(
    pixels: &[u8],
    (width, height): (u32, u32),
) -> std::result::Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(pixels).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x_ticks_are_whole_numbers_and_few() {
        assert_eq!(integer_ticks(1.0, 1.0), vec![1.0]);
        assert_eq!(integer_ticks(1.0, 3.0), vec![1.0, 2.0, 3.0]);
        let many = integer_ticks(1.0, 100.0);
        assert!(many.len() <= MAX_X_TICKS, "{many:?}");
        assert!(many.iter().all(|t| t.fract() == 0.0));
    }

    #[test]
    fn log_ticks_label_every_range() {
        // Within one decade: more than the single power of ten plotters would label.
        let narrow = log_ticks(0.15, 0.6);
        assert!(narrow.len() >= 4, "{narrow:?}");
        let usual = log_ticks(0.08, 2.0);
        assert_eq!(usual, vec![0.1, 0.2, 0.5, 1.0, 2.0]);
        let wide = log_ticks(1e-3, 1e24);
        assert!(wide.len() >= 3 && wide.len() <= 12, "{wide:?}");
    }
}
