//! Run directories and resuming: a run never overwrites, mixes or silently misreads another
//! run's results, and says what it refuses.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ember_cpu::Cpu;
use ember_nn::StateTensor;
use ember_nn::state_dict::{StoredData, load_safetensors, save_safetensors};
use ember_tensor::Tensor;
use ember_train::{Error, Experiment, OutputOptions, Resume, TrainConfig, train_on};

const QUIET: OutputOptions = OutputOptions {
    quiet: true,
    json: false,
};

/// Small and fast: 200 training samples, 2 steps of 100 per epoch, 50 test samples.
fn tiny(data: &Path, out: &Path, epochs: usize) -> TrainConfig {
    TrainConfig {
        train_limit: Some(200),
        test_limit: Some(50),
        ..common::quick_config(data, out, epochs)
    }
}

fn synthetic() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 200, 50);
    data
}

fn ember_train(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ember-train"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run ember-train")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

fn saved_experiment(run: &Path) -> String {
    let summary = std::fs::read_to_string(run.join("summary.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&summary).unwrap();
    json["experiment"].as_str().unwrap().to_string()
}

#[test]
fn three_runs_started_together_get_three_directories() {
    let data = synthetic();
    let cwd = tempfile::tempdir().unwrap();
    let children: Vec<_> = ["1", "2", "3"]
        .into_iter()
        .map(|seed| {
            Command::new(env!("CARGO_BIN_EXE_ember-train"))
                .current_dir(cwd.path())
                .args([
                    "softmax",
                    "--epochs",
                    "1",
                    "--quiet",
                    "--train-limit",
                    "200",
                ])
                .args(["--test-limit", "50", "--seed", seed, "--data-dir"])
                .arg(data.path())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut printed = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        // Each run says where its files went.
        let line = stderr(&output)
            .lines()
            .find_map(|l| l.strip_prefix("run directory: ").map(PathBuf::from))
            .expect("the run directory is printed");
        printed.push(cwd.path().join(line));
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cwd.path().join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), 3, "{dirs:?}");
    let mut seeds: Vec<u64> = dirs
        .iter()
        .map(|d| {
            let s = std::fs::read_to_string(d.join("summary.json")).unwrap();
            let json: serde_json::Value = serde_json::from_str(&s).unwrap();
            json["config"]["seed"].as_u64().unwrap()
        })
        .collect();
    seeds.sort();
    assert_eq!(seeds, [1, 2, 3]);
    printed.sort();
    assert_eq!(printed, dirs);
}

#[test]
fn out_on_an_existing_run_is_refused_and_an_overwrite_clears_it_first() {
    let data = synthetic();
    let run = tempfile::tempdir().unwrap();
    train_on(&Cpu, tiny(data.path(), run.path(), 1), None, QUIET).unwrap();
    let model = std::fs::read(run.path().join("model.safetensors")).unwrap();

    let softmax = |overwrite: bool, lr: f32| TrainConfig {
        experiment: Experiment::Softmax,
        overwrite,
        lr,
        ..tiny(data.path(), run.path(), 1)
    };
    let err = train_on(&Cpu, softmax(false, 0.001), None, QUIET).unwrap_err();
    assert!(matches!(err, Error::RunExists { .. }), "{err}");
    assert!(err.to_string().contains("--overwrite"), "{err}");
    assert_eq!(
        std::fs::read(run.path().join("model.safetensors")).unwrap(),
        model
    );
    assert_eq!(saved_experiment(run.path()), "mlp");

    // An overwrite that dies in its first epoch leaves no file of the old run behind.
    let err = train_on(&Cpu, softmax(true, 1e30), None, QUIET).unwrap_err();
    assert!(matches!(err, Error::Diverged { .. }), "{err}");
    let left: Vec<_> = std::fs::read_dir(run.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");

    train_on(&Cpu, softmax(true, 0.001), None, QUIET).unwrap();
    assert_eq!(saved_experiment(run.path()), "softmax");

    // The command line says the same.
    let output = ember_train(
        run.path(),
        &["mlp", "--epochs", "1", "--out", path_arg(run.path())],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("already holds a run"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn resume_with_a_conflicting_experiment_or_option_fails_and_lists_the_conflicts() {
    let data = synthetic();
    let run = tempfile::tempdir().unwrap();
    train_on(&Cpu, tiny(data.path(), run.path(), 1), None, QUIET).unwrap();
    let checkpoint = std::fs::read(run.path().join("checkpoint.safetensors")).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();

    let output = ember_train(
        run.path(),
        &[
            "softmax",
            "--resume",
            path_arg(run.path()),
            "--optimizer",
            "sgd",
            "--seed",
            "5",
            "--batch-size",
            "50",
            "--out",
            path_arg(elsewhere.path()),
        ],
    );
    assert!(!output.status.success());
    let err = stderr(&output);
    for conflict in [
        "experiment softmax (the run used mlp)",
        "--optimizer sgd (the run used adam)",
        "--seed 5 (the run used 777)",
        "--batch-size 50 (the run used 100)",
        "--out ",
        "--epochs, --lr, --device, --data-dir, --quiet and --json",
    ] {
        assert!(err.contains(conflict), "{conflict} missing in: {err}");
    }
    assert_eq!(
        std::fs::read(run.path().join("checkpoint.safetensors")).unwrap(),
        checkpoint
    );
    assert!(
        std::fs::read_dir(elsewhere.path())
            .unwrap()
            .next()
            .is_none()
    );

    // What may change on resume does; the same values as the run's are no conflict.
    let output = ember_train(
        run.path(),
        &[
            "mlp",
            "--resume",
            path_arg(run.path()),
            "--seed",
            "777",
            "--epochs",
            "2",
            "--lr",
            "0.0005",
            "--quiet",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.path().join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["epochs"].as_array().unwrap().len(), 2);
    assert_eq!(summary["config"]["lr"].as_f64().unwrap() as f32, 0.0005);

    // The options that may change are listed in --help.
    let help = ember_train(run.path(), &["--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--epochs, --lr, --device, --data-dir, --quiet and --json"),
        "{help}"
    );
}

#[test]
fn resume_from_another_working_directory_works_and_data_dir_overrides() {
    let first = tempfile::tempdir().unwrap();
    std::fs::create_dir(first.path().join("data")).unwrap();
    common::write_synthetic(&first.path().join("data"), 200, 50);
    let output = ember_train(
        first.path(),
        &[
            "--epochs",
            "1",
            "--quiet",
            "--data-dir",
            "data",
            "--out",
            "run",
            "--train-limit",
            "200",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let run = first.path().join("run");

    let other = tempfile::tempdir().unwrap();
    let output = ember_train(
        other.path(),
        &["--resume", path_arg(&run), "--epochs", "2", "--quiet"],
    );
    assert!(output.status.success(), "{}", stderr(&output));

    // The data moved: the error says so, and --data-dir points at the new place.
    let moved = first.path().join("moved");
    std::fs::rename(first.path().join("data"), &moved).unwrap();
    let output = ember_train(
        other.path(),
        &["--resume", path_arg(&run), "--epochs", "3", "--quiet"],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("--data-dir"),
        "{}",
        stderr(&output)
    );
    let output = ember_train(
        other.path(),
        &[
            "--resume",
            path_arg(&run),
            "--epochs",
            "3",
            "--quiet",
            "--data-dir",
            path_arg(&moved),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let saved = Resume::new(&run).saved_config().unwrap();
    assert_eq!(saved.data_dir.as_deref(), Some(moved.as_path()));
}

#[test]
fn fewer_epochs_than_done_is_an_error() {
    let data = synthetic();
    let run = tempfile::tempdir().unwrap();
    train_on(&Cpu, tiny(data.path(), run.path(), 2), None, QUIET).unwrap();
    let resume = Resume::new(run.path());
    let config = TrainConfig {
        epochs: 1,
        ..resume.saved_config().unwrap()
    };
    let err = train_on(&Cpu, config, Some(&resume), QUIET).unwrap_err();
    assert!(
        err.to_string()
            .contains("--epochs: 1 is fewer than the 2 epochs"),
        "{err}"
    );
}

#[test]
fn zero_step_configurations_and_empty_test_sets_fail_saying_why() {
    let data = synthetic();
    let cases = [
        (
            TrainConfig {
                batch_size: 500,
                ..TrainConfig::default()
            },
            "batch 500 > 200 samples with drop_last",
        ),
        (
            TrainConfig {
                train_limit: Some(0),
                ..TrainConfig::default()
            },
            "--train-limit",
        ),
        (
            TrainConfig {
                test_limit: Some(0),
                ..TrainConfig::default()
            },
            "--test-limit",
        ),
    ];
    for (config, expected) in cases {
        let run = tempfile::tempdir().unwrap();
        let config = TrainConfig {
            data_dir: Some(data.path().to_path_buf()),
            out: Some(run.path().to_path_buf()),
            epochs: 1,
            ..config
        };
        let err = train_on(&Cpu, config, None, QUIET).unwrap_err().to_string();
        assert!(err.contains(expected), "{expected} missing in: {err}");
        assert!(!run.path().join("model.safetensors").exists());
    }

    // Data files that hold no sample at all.
    let empty = tempfile::tempdir().unwrap();
    common::write_synthetic(empty.path(), 0, 0);
    let run = tempfile::tempdir().unwrap();
    let err = train_on(
        &Cpu,
        common::quick_config(empty.path(), run.path(), 1),
        None,
        QUIET,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("empty") || err.contains("0"), "{err}");
    assert!(!run.path().join("model.safetensors").exists());

    // An empty test set: training would work, measuring would not.
    let no_test = tempfile::tempdir().unwrap();
    common::write_synthetic(no_test.path(), 200, 0);
    let err = train_on(
        &Cpu,
        common::quick_config(no_test.path(), run.path(), 1),
        None,
        QUIET,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("test set is empty"), "{err}");
}

#[test]
fn a_loss_that_explodes_without_nan_stops_the_run() {
    let data = synthetic();
    let run = tempfile::tempdir().unwrap();
    // Before the guard this ended with a cost of 2.2e19 and "Learning finished".
    let config = TrainConfig {
        experiment: Experiment::DeepRelu,
        optimizer: "sgd".into(),
        lr: 50.0,
        ..tiny(data.path(), run.path(), 2)
    };
    let err = train_on(&Cpu, config, None, QUIET).unwrap_err();
    let Error::Diverged {
        quantity,
        epoch,
        step,
        value,
        ..
    } = &err
    else {
        panic!("expected a divergence error, got {err}");
    };
    assert_eq!((*quantity, *epoch, *step), ("loss", 2, 1), "{err}");
    assert!(value.is_finite() && *value > 1e6, "{err}");
    assert!(err.to_string().contains("checkpoint.safetensors"), "{err}");

    // In the first epoch there is no checkpoint yet, and the message says so plainly.
    let fresh = tempfile::tempdir().unwrap();
    let config = TrainConfig {
        lr: 1e30,
        ..tiny(data.path(), fresh.path(), 1)
    };
    let err = train_on(&Cpu, config, None, QUIET).unwrap_err().to_string();
    assert!(err.contains("no checkpoint to resume from"), "{err}");
    assert!(!err.contains("is none"), "{err}");
    assert!(!fresh.path().join("model.safetensors").exists());
}

#[test]
fn an_infinite_gradient_norm_stops_the_run_while_the_loss_looks_fine() {
    let data = synthetic();
    let run = tempfile::tempdir().unwrap();
    train_on(&Cpu, tiny(data.path(), run.path(), 1), None, QUIET).unwrap();
    // Hidden unit 0 of the first layer outputs 1e30, and the second layer ignores it: the
    // forward pass and the loss are unchanged, but that unit's weight gradient overflows.
    edit_tensors(run.path(), |name, data| match name {
        "model.0.bias" => data[0] = 1e30,
        "model.2.weight" => data.iter_mut().step_by(256).for_each(|w| *w = 0.0),
        _ => {}
    });
    let resume = Resume::new(run.path());
    let config = TrainConfig {
        epochs: 2,
        ..resume.saved_config().unwrap()
    };
    let err = train_on(&Cpu, config, Some(&resume), QUIET).unwrap_err();
    let Error::Diverged {
        quantity,
        epoch,
        step,
        ..
    } = &err
    else {
        panic!("expected a divergence error, got {err}");
    };
    assert_eq!((*quantity, *epoch, *step), ("gradient norm", 2, 1), "{err}");
}

/// Rewrites the checkpoint of `run` with `metadata` applied to its metadata and `tensor` to
/// each F32 tensor's values.
fn rewrite_checkpoint(
    run: &Path,
    metadata: impl FnOnce(&mut BTreeMap<String, String>),
    mut tensor: impl FnMut(&str, &mut Vec<f32>),
) {
    let path = run.join("checkpoint.safetensors");
    let mut dict = load_safetensors(&path).unwrap();
    metadata(&mut dict.metadata);
    let tensors: Vec<(String, StateTensor<Cpu>)> = dict
        .tensors
        .iter()
        .map(|(name, t)| {
            let value = match &t.data {
                StoredData::F32(data) => {
                    let mut data = data.clone();
                    tensor(name, &mut data);
                    Tensor::from_vec(data, t.shape.clone(), &Cpu)
                        .unwrap()
                        .into()
                }
                StoredData::I64(_) => t.upload(&Cpu).unwrap(),
            };
            (name.clone(), value)
        })
        .collect();
    save_safetensors(&path, &tensors, &dict.metadata).unwrap();
}

fn edit_checkpoint(run: &Path, edit: impl FnOnce(&mut BTreeMap<String, String>)) {
    rewrite_checkpoint(run, edit, |_, _| {});
}

fn edit_tensors(run: &Path, edit: impl FnMut(&str, &mut Vec<f32>)) {
    rewrite_checkpoint(run, |_| {}, edit);
}

type MetadataEdit = fn(&mut BTreeMap<String, String>);

#[test]
fn checkpoint_metadata_is_cross_checked() {
    let data = synthetic();
    let good = tempfile::tempdir().unwrap();
    train_on(&Cpu, tiny(data.path(), good.path(), 2), None, QUIET).unwrap();
    let cases: [(&str, MetadataEdit, &str); 5] = [
        (
            "format",
            |m| {
                m.insert("format".into(), "ember-checkpoint-9".into());
            },
            "`ember-checkpoint-9`",
        ),
        (
            "epoch ahead",
            |m| {
                m.insert("epoch".into(), "9".into());
            },
            "`epoch` is 9 but the history holds 2 epochs",
        ),
        (
            "epoch 0",
            |m| {
                m.insert("epoch".into(), "0".into());
            },
            "`epoch` is 0",
        ),
        (
            "optimizer state",
            |m| {
                m.insert("optimizer.optimizer".into(), "Sgdd".into());
            },
            "`Sgdd`",
        ),
        (
            "optimizer name",
            |m| {
                let config = m["config"].replace("\"adam\"", "\"sgdd\"");
                m.insert("config".into(), config);
            },
            "`sgdd`",
        ),
    ];
    for (what, edit, expected) in cases {
        let run = tempfile::tempdir().unwrap();
        for f in ["checkpoint.safetensors", "summary.json", "metrics.csv"] {
            std::fs::copy(good.path().join(f), run.path().join(f)).unwrap();
        }
        edit_checkpoint(run.path(), edit);
        let resume = Resume::new(run.path());
        let err = match resume.saved_config() {
            Err(e) => e,
            Ok(config) => {
                let config = TrainConfig {
                    epochs: 3,
                    ..config
                };
                train_on(&Cpu, config, Some(&resume), QUIET).unwrap_err()
            }
        }
        .to_string();
        assert!(
            err.contains(expected),
            "{what}: {expected} missing in: {err}"
        );
        assert!(!err.contains("Some("), "{what}: {err}");
    }
}

#[test]
fn a_resume_removes_stale_temporaries_and_survives_a_chart_it_cannot_write() {
    let data = synthetic();
    let run = tempfile::tempdir().unwrap();
    train_on(&Cpu, tiny(data.path(), run.path(), 1), None, QUIET).unwrap();
    // A run killed while writing its checkpoint: the temporary file of a process that is gone.
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = run
        .path()
        .join(format!(".checkpoint.safetensors.tmp-{dead}"));
    std::fs::write(&stale, b"half a checkpoint").unwrap();
    // A chart that cannot be replaced (a directory is in its way).
    let loss = run.path().join("loss.png");
    std::fs::remove_file(&loss).unwrap();
    std::fs::create_dir_all(loss.join("in-the-way")).unwrap();

    let resume = Resume::new(run.path());
    let config = TrainConfig {
        epochs: 2,
        ..resume.saved_config().unwrap()
    };
    let summary = train_on(&Cpu, config, Some(&resume), QUIET).unwrap();
    assert_eq!(summary.epochs.len(), 2);
    assert!(!stale.exists(), "the stale temporary file is still there");
    assert!(run.path().join("model.safetensors").exists());
    assert!(run.path().join("grad_norms.png").exists());
    let temporaries: Vec<_> = std::fs::read_dir(run.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(temporaries.is_empty(), "{temporaries:?}");
}
