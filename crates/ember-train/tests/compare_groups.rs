//! `compare GROUP`: each README comparison trains its experiments with train accuracy on and
//! writes its chart and table; `--train-accuracy` measures the training set in evaluation
//! mode.

mod common;

use std::process::Command;

use ember_cpu::Cpu;
use ember_nn::Module;
use ember_nn::evaluate;
use ember_nn::state_dict::{load_module, load_safetensors};
use ember_train::compare_groups::{CompareGroup, GROUPS};
use ember_train::{Error, Experiment, OutputOptions, TrainConfig, train_on};

#[test]
fn groups_name_their_experiments_and_unknown_ones_are_listed() {
    let names: Vec<&str> = GROUPS.iter().map(|g| g.name).collect();
    assert_eq!(names, ["init", "depth-dropout", "batchnorm"]);
    let init = CompareGroup::find("init").unwrap();
    assert_eq!(
        init.parse_experiments().unwrap(),
        [
            Experiment::SoftmaxNormal,
            Experiment::Softmax,
            Experiment::Mlp,
            Experiment::MlpXavier
        ]
    );
    let err = CompareGroup::find("optimisers").unwrap_err();
    assert!(matches!(err, Error::UnknownChoice { .. }));
    assert!(err.to_string().contains("depth-dropout"), "{err}");
    // A group may name an experiment this binary lacks: the error lists those it has.
    for group in GROUPS {
        if let Err(e) = group.parse_experiments() {
            assert!(e.to_string().contains("deep-dropout"), "{e}");
        }
    }
}

#[test]
fn a_group_run_writes_its_chart_and_a_table_with_train_and_test_accuracy() {
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 300, 100);
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ember-train"))
        .args([
            "compare",
            "depth-dropout",
            "--epochs",
            "2",
            "--train-limit",
            "200",
        ])
        .args(["--quiet", "--data-dir"])
        .arg(data.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let png = std::fs::read(out.path().join("depth-dropout.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    let table = std::fs::read_to_string(out.path().join("depth-dropout.md")).unwrap();
    assert!(table.starts_with("| experiment | epoch-1 cost | epoch-2 cost | train accuracy"));
    let rows: Vec<&str> = table.lines().skip(2).collect();
    assert_eq!(rows.len(), 3, "{table}");
    for (row, name) in rows
        .iter()
        .zip(["mlp-xavier", "deep-xavier", "deep-dropout"])
    {
        assert!(row.starts_with(&format!("| `{name}` |")), "{row}");
        assert!(!row.contains("NaN"), "{row}");
    }
    assert!(stdout.contains(&table), "{stdout}");
    let csv = std::fs::read_to_string(out.path().join("deep-dropout/metrics.csv")).unwrap();
    assert!(
        csv.starts_with("epoch,cost,test_accuracy,seconds,lr,train_accuracy,grad_norm_0.weight"),
        "{csv}"
    );
}

#[test]
fn train_accuracy_is_measured_in_evaluation_mode_and_only_when_asked() {
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 300, 100);
    let quiet = OutputOptions {
        quiet: true,
        json: false,
    };
    let config = |out: &std::path::Path, train_accuracy| TrainConfig {
        experiment: Experiment::DeepDropout,
        train_limit: Some(200),
        train_accuracy,
        ..common::quick_config(data.path(), out, 1)
    };
    let plain = tempfile::tempdir().unwrap();
    let summary = train_on(&Cpu, config(plain.path(), false), None, quiet).unwrap();
    assert_eq!(summary.epochs[0].train_accuracy, None);
    let csv = std::fs::read_to_string(plain.path().join("metrics.csv")).unwrap();
    assert!(!csv.contains("train_accuracy"), "{csv}");

    let measured = tempfile::tempdir().unwrap();
    let summary = train_on(&Cpu, config(measured.path(), true), None, quiet).unwrap();
    let train_accuracy = summary.epochs[0].train_accuracy.unwrap();
    // The saved model in evaluation mode over the same 200 samples gives the same figure.
    let mut model = Experiment::DeepDropout
        .build(ember_train::InitScheme::Default, 777, &Cpu)
        .unwrap();
    let dict = load_safetensors(measured.path().join("model.safetensors")).unwrap();
    load_module(&model, &dict).unwrap();
    model.set_training(false);
    let train = ember_data::load_train_test(
        ember_data::DatasetKind::FashionMnist,
        data.path(),
        Some(200),
        None,
    )
    .unwrap()
    .train;
    assert_eq!(
        evaluate(&mut model, &train, &[784], &Cpu).unwrap(),
        train_accuracy
    );
}
