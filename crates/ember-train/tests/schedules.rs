//! Optimizers and learning-rate schedules in training runs: every optimizer trains, the lr of
//! each epoch in metrics.csv, resuming mid-schedule with the same bits as an uninterrupted run,
//! and bad input.

mod common;

use std::path::Path;

use ember_cpu::Cpu;
use ember_train::{Error, OutputOptions, Resume, Summary, TrainConfig, train_on};

const QUIET: OutputOptions = OutputOptions {
    quiet: true,
    json: false,
};

fn config(data: &Path, out: &Path, epochs: usize, scheduler: Option<&str>) -> TrainConfig {
    TrainConfig {
        train_limit: Some(500),
        test_limit: Some(100),
        scheduler: scheduler.map(str::to_string),
        ..common::quick_config(data, out, epochs)
    }
}

fn lrs(summary: &Summary) -> Vec<f64> {
    summary.epochs.iter().map(|m| m.lr).collect()
}

#[test]
fn a_run_resumed_mid_schedule_ends_with_the_bits_of_an_uninterrupted_one() {
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 500, 100);
    for (optimizer, scheduler) in [
        ("nadam", "onecycle:max_lr=0.01"),
        ("momentum", "plateau:factor=0.5,patience=0"),
        ("radam", "step:step_size=1,gamma=0.5"),
    ] {
        let whole = tempfile::tempdir().unwrap();
        let full = train_on(
            &Cpu,
            TrainConfig {
                optimizer: optimizer.into(),
                ..config(data.path(), whole.path(), 4, Some(scheduler))
            },
            None,
            QUIET,
        )
        .unwrap();

        let parts = tempfile::tempdir().unwrap();
        let first = TrainConfig {
            optimizer: optimizer.into(),
            ..config(data.path(), parts.path(), 2, Some(scheduler))
        };
        // OneCycleLR's length must be the whole run's: 4 epochs × 5 batches.
        let first = match scheduler.starts_with("onecycle") {
            true => TrainConfig {
                scheduler: Some(format!("{scheduler},total_steps=20")),
                ..first
            },
            false => first,
        };
        train_on(&Cpu, first, None, QUIET).unwrap();
        let resume = Resume::new(parts.path());
        let resumed = train_on(
            &Cpu,
            TrainConfig {
                epochs: 4,
                ..resume.saved_config().unwrap()
            },
            Some(&resume),
            QUIET,
        )
        .unwrap();

        let a = std::fs::read(whole.path().join("model.safetensors")).unwrap();
        let b = std::fs::read(parts.path().join("model.safetensors")).unwrap();
        // `assert!`, not `assert_eq!`: a failure should not print megabytes.
        assert!(a == b, "{optimizer} {scheduler}: final parameters differ");
        // Epochs 3 and 4 were computed after the resume (1 and 2 come back from the
        // checkpoint's JSON history, whose float parsing may differ in the last bit).
        assert_eq!(
            lrs(&full)[2..],
            lrs(&resumed)[2..],
            "{optimizer} {scheduler}"
        );
        let costs = |s: &Summary| s.epochs.iter().map(|m| m.cost).collect::<Vec<_>>();
        assert_eq!(
            costs(&full)[2..],
            costs(&resumed)[2..],
            "{optimizer} {scheduler}"
        );
    }
}

#[test]
fn the_lr_of_each_epoch_is_a_column_of_metrics_csv() {
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 500, 100);
    let run = tempfile::tempdir().unwrap();
    let summary = train_on(
        &Cpu,
        TrainConfig {
            lr: 0.004,
            ..config(
                data.path(),
                run.path(),
                3,
                Some("step:step_size=1,gamma=0.5"),
            )
        },
        None,
        QUIET,
    )
    .unwrap();
    let csv = std::fs::read_to_string(run.path().join("metrics.csv")).unwrap();
    let column: Vec<f64> = csv
        .lines()
        .skip(1)
        .map(|l| f64::from(l.split(',').nth(4).unwrap().parse::<f32>().unwrap()))
        .collect();
    assert!(
        csv.starts_with("epoch,cost,test_accuracy,seconds,lr,"),
        "{csv}"
    );
    let want = [0.004f32, 0.002, 0.001].map(f64::from);
    assert_eq!(column, want);
    assert_eq!(lrs(&summary), want);
}

#[test]
fn every_optimizer_name_trains_and_lowers_the_cost() {
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 500, 100);
    for (optimizer, lr) in [
        ("sgd", 0.1),
        ("momentum", 0.01),
        ("nesterov", 0.01),
        ("adagrad", 0.01),
        ("rmsprop", 0.001),
        ("adadelta", 1.0),
        ("adam", 0.001),
        ("adamw", 0.001),
        ("adamax", 0.002),
        ("nadam", 0.002),
        ("radam", 0.001),
    ] {
        let run = tempfile::tempdir().unwrap();
        let summary = train_on(
            &Cpu,
            TrainConfig {
                optimizer: optimizer.into(),
                lr,
                weight_decay: Some(1e-4),
                ..config(data.path(), run.path(), 2, None)
            },
            None,
            QUIET,
        )
        .unwrap();
        let (first, last) = (summary.epochs[0].cost, summary.epochs[1].cost);
        assert!(last < first, "{optimizer}: cost {first} then {last}");
    }
}

#[test]
fn bad_schedules_and_a_changed_optimizer_are_typed_errors() {
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 500, 100);
    let dir = tempfile::tempdir().unwrap();
    let err = train_on(
        &Cpu,
        config(data.path(), dir.path(), 1, Some("warmup:steps=3")),
        None,
        QUIET,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("unknown scheduler `warmup`"),
        "{err}"
    );
    let err = train_on(
        &Cpu,
        config(data.path(), dir.path(), 1, Some("cosine:t_max=3,period=2")),
        None,
        QUIET,
    )
    .unwrap_err();
    assert!(err.to_string().contains("period=2"), "{err}");
    let err = train_on(
        &Cpu,
        TrainConfig {
            weight_decay: Some(-1.0),
            ..config(data.path(), dir.path(), 1, None)
        },
        None,
        QUIET,
    )
    .unwrap_err();
    assert!(err.to_string().contains("--weight-decay"), "{err}");

    // A 1-epoch OneCycleLR run resumed for a second epoch steps past its total.
    let run = tempfile::tempdir().unwrap();
    train_on(
        &Cpu,
        config(data.path(), run.path(), 1, Some("onecycle:max_lr=0.01")),
        None,
        QUIET,
    )
    .unwrap();
    let resume = Resume::new(run.path());
    let saved = resume.saved_config().unwrap();
    assert_eq!(
        saved.scheduler.as_deref(),
        Some("onecycle:max_lr=0.01,total_steps=5")
    );
    let err = train_on(
        &Cpu,
        TrainConfig {
            epochs: 2,
            ..saved.clone()
        },
        Some(&resume),
        QUIET,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("tried to step 6 times, but total_steps is 5"),
        "{err}"
    );
    // Resuming with another optimizer than the checkpoint's.
    let err = train_on(
        &Cpu,
        TrainConfig {
            optimizer: "radam".into(),
            ..saved
        },
        Some(&resume),
        QUIET,
    )
    .unwrap_err();
    assert!(matches!(err, Error::ResumeConflicts { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("--optimizer radam (the run used adam)"),
        "{err}"
    );
}
