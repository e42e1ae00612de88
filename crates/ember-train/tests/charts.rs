//! Charts are readable and never half-written: rendered for one-epoch, fifteen-epoch and
//! divergent runs, decoded, and their plot areas checked for drawn data.

mod common;

use std::io::Write;
use std::path::Path;

use common::coloured_pixels;
use ember_train::charts;
use ember_train::{EpochMetrics, Error, Summary, TrainConfig};

fn summary(costs: &[f64], norms: &[[f64; 3]], run_dir: &Path) -> Summary {
    Summary {
        experiment: "mlp".into(),
        dataset: "fashion-mnist".into(),
        device: "cpu".into(),
        config: TrainConfig::default(),
        parameters: 0,
        layers: vec!["0.weight".into(), "2.weight".into(), "4.weight".into()],
        epochs: costs
            .iter()
            .zip(norms)
            .enumerate()
            .map(|(i, (&cost, n))| EpochMetrics {
                epoch: i + 1,
                cost,
                test_accuracy: 0.5,
                train_accuracy: None,
                seconds: 1.0,
                grad_norms: n.to_vec(),
                lr: 1e-3,
            })
            .collect(),
        test_accuracy: 0.5,
        run_dir: run_dir.display().to_string(),
        peak_rss_mib: 0.0,
    }
}

#[test]
fn one_epoch_fifteen_epoch_and_divergent_runs_draw_visible_data() {
    let dir = tempfile::tempdir().unwrap();
    let norms = |n: usize| -> Vec<[f64; 3]> {
        (0..n)
            .map(|i| [0.5 / (i + 1) as f64, 1.0, 1.5 * (i + 1) as f64])
            .collect()
    };
    let fifteen: Vec<f64> = (0..15).map(|i| 0.54 - 0.025 * i as f64).collect();
    let runs = [
        ("one epoch", summary(&[0.539], &norms(1), dir.path())),
        ("fifteen epochs", summary(&fifteen, &norms(15), dir.path())),
        (
            "divergent",
            summary(
                &[2.3, 4.1e11, 1e24, f64::INFINITY],
                &[
                    [0.5, 1.0, 1.5],
                    [3e8, 1e12, 5e15],
                    [f64::INFINITY, f64::NAN, 1e30],
                    [f64::NAN, f64::NAN, f64::NAN],
                ],
                dir.path(),
            ),
        ),
    ];
    for (what, run) in &runs {
        let charts = charts::render_run(run).unwrap();
        assert_eq!(charts.len(), 2);
        for (name, chart) in &charts {
            let (inside, outside) = coloured_pixels(chart);
            // One filled marker of radius 4 alone covers about 50 pixels per series.
            assert!(inside >= 40, "{what} {name}: only {inside} data pixels");
            // The legend, in its own column to the right of the plot, is outside the data.
            assert!(outside >= 40, "{what} {name}: no legend ({outside} pixels)");
            assert!(
                chart.plot_area.0.end <= chart.size.0 as i32 - 200,
                "{what} {name}"
            );
        }
    }
    // Written charts for looking at them (kept only on failure-free runs in the temp dir).
    for (_, run) in &runs {
        charts::draw_run(dir.path(), run).unwrap();
        assert!(dir.path().join("loss.png").exists());
    }
}

#[test]
fn a_full_disk_while_writing_a_chart_leaves_no_partial_png() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("loss.png"), b"the previous, whole chart").unwrap();
    let run = summary(&[0.5, 0.4], &[[0.5, 1.0, 1.5], [0.4, 0.9, 1.4]], dir.path());
    // The disk fills up half-way through the first image.
    let full_disk = |path: &Path, bytes: &[u8]| {
        ember_nn::state_dict::write_atomic_with(path, |file| {
            file.write_all(&bytes[..bytes.len() / 2])?;
            Err(std::io::Error::from(std::io::ErrorKind::StorageFull))
        })
        .map_err(Error::from)
    };
    let err = charts::draw_run_with(dir.path(), &run, &full_disk).unwrap_err();
    assert!(err.to_string().contains("loss.png"), "{err}");
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["loss.png"]);
    assert_eq!(
        std::fs::read(dir.path().join("loss.png")).unwrap(),
        b"the previous, whole chart"
    );
}
