//! The optimizer race and the optimizer paths on the Rosenbrock function: computed by the real
//! optimizers, rendered, and checked pixel by pixel as the other charts are.

mod common;

use std::process::Command;

use ember_train::optimizer_paths::{
    MINIMUM, PATH_RUNNERS, START, optimizer_path, render_paths, rosenbrock,
};

#[test]
fn the_optimizers_descend_the_rosenbrock_valley_and_their_paths_are_drawn() {
    let start = rosenbrock(f64::from(START[0]), f64::from(START[1]));
    let mut paths = Vec::new();
    for (label, name, lr) in PATH_RUNNERS {
        let path = optimizer_path(name, lr, 400).unwrap();
        assert_eq!(path.len(), 401);
        let (x, y) = *path.last().unwrap();
        // Every runner makes progress from the start.
        assert!(
            rosenbrock(x, y) < start,
            "{label}: f = {} from {start}",
            rosenbrock(x, y)
        );
        paths.push((label.to_string(), path));
    }
    // The adaptive methods reach the valley floor near the minimum's basin.
    let adam = &paths.iter().find(|(l, _)| l == "Adam").unwrap().1;
    let (x, y) = *adam.last().unwrap();
    assert!(rosenbrock(x, y) < 1.0, "Adam ends at ({x}, {y})");
    assert!((x - MINIMUM.0).abs() < 2.0);

    let chart = render_paths(&paths).unwrap();
    let (inside, outside) = common::coloured_pixels(&chart);
    // Ten coloured paths of hundreds of steps each, over grey contours.
    assert!(
        inside >= 2000,
        "only {inside} path pixels over the contours"
    );
    assert!(outside >= 100, "no legend ({outside} pixels)");
    // Without paths, the plot holds no colour at all: the contours are grey.
    let empty = render_paths(&[]).unwrap();
    assert_eq!(common::coloured_pixels(&empty).0, 0);
}

#[test]
fn compare_optimizers_writes_a_table_and_a_chart_and_paths_a_picture() {
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 300, 100);
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ember-train"))
        .args([
            "compare-optimizers",
            "--optimizers",
            "sgd,nadam",
            "--epochs",
            "2",
        ])
        .args(["--quiet", "--data-dir"])
        .arg(data.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("run ember-train");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let table = std::fs::read_to_string(out.path().join("optimizers.md")).unwrap();
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 4, "{table}");
    assert_eq!(
        rows[0],
        "| optimizer | lr | final cost | test accuracy | seconds |"
    );
    assert!(rows[2].starts_with("| SGD | 0.1 | "), "{table}");
    assert!(rows[3].starts_with("| NAdam | 0.002 | "), "{table}");
    assert!(out.path().join("optimizers_loss.png").exists());
    assert!(out.path().join("nadam/metrics.csv").exists());

    // --lr would be silently replaced, so it is refused.
    let refused = Command::new(env!("CARGO_BIN_EXE_ember-train"))
        .args(["compare-optimizers", "--lr", "0.5", "--out"])
        .arg(out.path())
        .output()
        .expect("run ember-train");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--lr"));

    let picture = out.path().join("paths.png");
    let output = Command::new(env!("CARGO_BIN_EXE_ember-train"))
        .args(["optimizer-paths", "--steps", "20", "--out"])
        .arg(&picture)
        .output()
        .expect("run ember-train");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(std::fs::read(&picture).unwrap().starts_with(b"\x89PNG"));
}
