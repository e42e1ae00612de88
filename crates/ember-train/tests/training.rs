//! End-to-end training: reproducibility, resume, the NaN guard and bad input, on a small
//! synthetic data set in MNIST's format.

mod common;

use std::process::Command;

use ember_cpu::Cpu;
use ember_train::{Error, OutputOptions, Resume, TrainConfig, train_on};

const QUIET: OutputOptions = OutputOptions {
    quiet: true,
    json: false,
};

fn small(config: TrainConfig) -> TrainConfig {
    TrainConfig {
        train_limit: Some(1000),
        ..config
    }
}

#[test]
fn the_same_command_twice_prints_byte_identical_output() {
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 1200, 300);
    let run = |out: &std::path::Path| {
        let output = Command::new(env!("CARGO_BIN_EXE_ember-train"))
            .args(["mlp", "--epochs", "2", "--data-dir"])
            .arg(data.path())
            .arg("--out")
            .arg(out)
            .output()
            .expect("run ember-train");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = run(a.path());
    let second = run(b.path());
    assert_eq!(first, second);
    let text = String::from_utf8(first).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("Epoch: 0001 cost = "), "{text}");
    assert!(lines[1].starts_with("Epoch: 0002 cost = "), "{text}");
    assert_eq!(lines[2], "Learning finished");
    assert!(lines[3].starts_with("Accuracy: "), "{text}");
    // The seed's number format: nine decimals.
    assert_eq!(
        lines[0]
            .split(" = ")
            .nth(1)
            .unwrap()
            .split('.')
            .nth(1)
            .unwrap()
            .len(),
        9
    );
    // And the run directory holds what it should.
    for file in [
        "metrics.csv",
        "summary.json",
        "loss.png",
        "grad_norms.png",
        "checkpoint.safetensors",
        "model.safetensors",
    ] {
        assert!(a.path().join(file).exists(), "{file} missing");
    }
    let csv = std::fs::read_to_string(a.path().join("metrics.csv")).unwrap();
    assert!(csv.starts_with("epoch,cost,test_accuracy,seconds,lr,grad_norm_0.weight,grad_norm_2.weight,grad_norm_4.weight\n"), "{csv}");
    assert_eq!(csv.lines().count(), 3);
}

#[test]
fn a_resumed_run_ends_with_exactly_the_parameters_of_an_uninterrupted_one() {
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 1000, 200);
    let whole = tempfile::tempdir().unwrap();
    let full = train_on(
        &Cpu,
        small(common::quick_config(data.path(), whole.path(), 4)),
        None,
        QUIET,
    )
    .unwrap();

    let parts = tempfile::tempdir().unwrap();
    train_on(
        &Cpu,
        small(common::quick_config(data.path(), parts.path(), 2)),
        None,
        QUIET,
    )
    .unwrap();
    let resume = Resume::new(parts.path());
    let config = TrainConfig {
        epochs: 4,
        ..resume.saved_config().unwrap()
    };
    let resumed = train_on(&Cpu, config, Some(&resume), QUIET).unwrap();

    let a = std::fs::read(whole.path().join("model.safetensors")).unwrap();
    let b = std::fs::read(parts.path().join("model.safetensors")).unwrap();
    assert_eq!(a, b, "final parameters differ");
    let costs = |s: &ember_train::Summary| s.epochs.iter().map(|m| m.cost).collect::<Vec<_>>();
    assert_eq!(costs(&full), costs(&resumed));
    assert_eq!(resumed.epochs.len(), 4);
}

#[test]
fn a_nan_loss_stops_with_epoch_and_step_and_keeps_the_last_good_checkpoint() {
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 1000, 200);
    let run = tempfile::tempdir().unwrap();
    train_on(
        &Cpu,
        small(common::quick_config(data.path(), run.path(), 1)),
        None,
        QUIET,
    )
    .unwrap();
    let checkpoint = run.path().join("checkpoint.safetensors");
    let good = std::fs::read(&checkpoint).unwrap();
    let metrics = std::fs::read(run.path().join("metrics.csv")).unwrap();

    let resume = Resume::new(run.path());
    let config = TrainConfig {
        epochs: 3,
        lr: 1e30,
        ..resume.saved_config().unwrap()
    };
    let err = train_on(&Cpu, config, Some(&resume), QUIET).unwrap_err();
    let Error::Diverged { epoch, step, .. } = &err else {
        panic!("expected a divergence error, got {err}");
    };
    assert_eq!(*epoch, 2);
    assert!(*step >= 1 && *step <= 10, "{err}");
    assert!(err.to_string().contains("checkpoint.safetensors"), "{err}");
    assert_eq!(
        std::fs::read(&checkpoint).unwrap(),
        good,
        "the good checkpoint was overwritten"
    );
    assert_eq!(
        std::fs::read(run.path().join("metrics.csv")).unwrap(),
        metrics
    );
}

#[test]
fn unknown_names_list_what_exists() {
    let err = ember_train::Experiment::parse("resnet")
        .unwrap_err()
        .to_string();
    for name in [
        "mlp",
        "softmax",
        "softmax-normal",
        "mlp-sigmoid",
        "deep-relu",
        "deep-sigmoid",
        "cnn",
        "mlp-batchnorm",
        "mlp-xavier",
        "deep-xavier",
        "deep-dropout",
        "deep-cnn",
    ] {
        assert!(err.contains(name), "{err}");
    }
    let bad = TrainConfig {
        optimizer: "lion".into(),
        ..TrainConfig::default()
    };
    assert!(bad.validate().unwrap_err().to_string().contains("adamw"));
    let bad = TrainConfig {
        dataset: "cifar".into(),
        ..TrainConfig::default()
    };
    assert!(
        bad.validate()
            .unwrap_err()
            .to_string()
            .contains("fashion-mnist")
    );
    assert!(
        ember_train::DeviceChoice::parse("tpu")
            .unwrap_err()
            .to_string()
            .contains("wgpu")
    );

    let output = Command::new(env!("CARGO_BIN_EXE_ember-train"))
        .args(["--frobnicate"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--frobnicate"));
    let output = Command::new(env!("CARGO_BIN_EXE_ember-train"))
        .args(["resnet"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("deep-sigmoid"));
}

#[test]
fn missing_data_explains_how_to_provide_it() {
    let empty = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let err = train_on(
        &Cpu,
        common::quick_config(empty.path(), out.path(), 1),
        None,
        QUIET,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("train-images-idx3-ubyte"), "{err}");
    assert!(
        err.contains("download") || err.contains("--data-dir"),
        "{err}"
    );
}

#[test]
fn every_experiment_builds_and_trains_a_step() {
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 200, 100);
    for experiment in ember_train::Experiment::ALL {
        let out = tempfile::tempdir().unwrap();
        let config = TrainConfig {
            experiment,
            train_limit: Some(200),
            ..common::quick_config(data.path(), out.path(), 1)
        };
        let summary = train_on(&Cpu, config, None, QUIET).unwrap();
        // One weight per Linear layer, plus the convolutions of `cnn` and `deep-cnn` (not
        // BatchNorm's per-channel scales).
        let convolutions = match experiment {
            ember_train::Experiment::Cnn => 2,
            ember_train::Experiment::DeepCnn => 3,
            _ => 0,
        };
        assert_eq!(
            summary.layers.len(),
            experiment.widths().len() - 1 + convolutions
        );
        assert!(summary.epochs[0].cost.is_finite());
    }
}
