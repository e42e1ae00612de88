//! The `mlp-batchnorm` experiment: lab 10-6's layout under PyTorch's names, training on a small
//! limit, checkpoints that carry BatchNorm's buffers (so a resumed run is bit-exact), and typed
//! errors for a checkpoint whose buffer has the wrong dtype or shape.

mod common;

use ember_cpu::Cpu;
use ember_nn::state_dict::{StoredData, load_safetensors, save_safetensors};
use ember_nn::{Dtype, Module, StateTensor};
use ember_tensor::Tensor;
use ember_train::{Error, Experiment, InitScheme, OutputOptions, Resume, TrainConfig, train_on};

const QUIET: OutputOptions = OutputOptions {
    quiet: true,
    json: false,
};

fn config(data: &std::path::Path, out: &std::path::Path, epochs: usize) -> TrainConfig {
    TrainConfig {
        experiment: Experiment::MlpBatchnorm,
        train_limit: Some(1000),
        ..common::quick_config(data, out, epochs)
    }
}

#[test]
fn mlp_batchnorm_has_lab_10_6s_layout_names_dtypes_and_shapes() {
    let model = Experiment::MlpBatchnorm
        .build(InitScheme::Default, 777, &Cpu)
        .unwrap();
    let state: Vec<(String, Dtype, Vec<usize>)> = model
        .state_dict()
        .into_iter()
        .map(|(n, t)| (n, t.dtype(), t.shape().dims().to_vec()))
        .collect();
    let f32 = |n: &str, s: &[usize]| (n.to_string(), Dtype::F32, s.to_vec());
    assert_eq!(
        state,
        [
            f32("0.weight", &[256, 784]),
            f32("0.bias", &[256]),
            f32("1.weight", &[256]),
            f32("1.bias", &[256]),
            f32("3.weight", &[256, 256]),
            f32("3.bias", &[256]),
            f32("4.weight", &[256]),
            f32("4.bias", &[256]),
            f32("6.weight", &[10, 256]),
            f32("6.bias", &[10]),
            f32("1.running_mean", &[256]),
            f32("1.running_var", &[256]),
            ("1.num_batches_tracked".into(), Dtype::I64, vec![]),
            f32("4.running_mean", &[256]),
            f32("4.running_var", &[256]),
            ("4.num_batches_tracked".into(), Dtype::I64, vec![]),
        ]
    );
    // Another initialisation scheme replaces the Linear weights, never BatchNorm's scale.
    let normal = Experiment::MlpBatchnorm
        .build(InitScheme::Normal, 777, &Cpu)
        .unwrap();
    let scale = &normal.named_parameters()[2];
    assert_eq!(scale.0, "1.weight");
    assert!(scale.1.value().to_vec().unwrap().iter().all(|&v| v == 1.0));
}

#[test]
fn mlp_batchnorm_trains_and_its_checkpoint_carries_the_buffers() {
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 1000, 200);
    let out = tempfile::tempdir().unwrap();
    let summary = train_on(&Cpu, config(data.path(), out.path(), 2), None, QUIET).unwrap();
    let costs: Vec<f64> = summary.epochs.iter().map(|m| m.cost).collect();
    assert!(costs[1] < costs[0], "{costs:?}");
    assert!(summary.test_accuracy > 0.5, "{}", summary.test_accuracy);

    let checkpoint = load_safetensors(out.path().join("checkpoint.safetensors")).unwrap();
    for layer in ["1", "4"] {
        let counter = &checkpoint.tensors[&format!("model.{layer}.num_batches_tracked")];
        assert_eq!(counter.shape.dims(), &[] as &[usize]);
        // At least the 2 × 10 training batches.
        assert!(
            matches!(&counter.data, StoredData::I64(v) if v[0] >= 20),
            "{counter:?}"
        );
        let var = &checkpoint.tensors[&format!("model.{layer}.running_var")];
        assert!(
            matches!(&var.data, StoredData::F32(v) if v.iter().any(|&x| x != 1.0)),
            "running_var never moved"
        );
    }
    let model = load_safetensors(out.path().join("model.safetensors")).unwrap();
    assert!(model.tensors.contains_key("4.num_batches_tracked"));
}

#[test]
fn a_resumed_mlp_batchnorm_run_ends_with_exactly_the_state_of_an_uninterrupted_one() {
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 1000, 200);
    let whole = tempfile::tempdir().unwrap();
    let full = train_on(&Cpu, config(data.path(), whole.path(), 3), None, QUIET).unwrap();
    let parts = tempfile::tempdir().unwrap();
    train_on(&Cpu, config(data.path(), parts.path(), 1), None, QUIET).unwrap();
    let resume = Resume::new(parts.path());
    let resumed_config = TrainConfig {
        epochs: 3,
        ..resume.saved_config().unwrap()
    };
    let resumed = train_on(&Cpu, resumed_config, Some(&resume), QUIET).unwrap();
    // The saved model holds the running statistics and counters: equal bytes mean they were
    // restored, not restarted from their initial values.
    let a = std::fs::read(whole.path().join("model.safetensors")).unwrap();
    let b = std::fs::read(parts.path().join("model.safetensors")).unwrap();
    assert!(a == b, "final state differs");
    let results = |s: &ember_train::Summary| {
        s.epochs
            .iter()
            .map(|m| (m.cost, m.test_accuracy))
            .collect::<Vec<_>>()
    };
    assert_eq!(results(&full), results(&resumed));
}

/// Rewrites `name` in the checkpoint of `run`.
fn replace_in_checkpoint(run: &std::path::Path, name: &str, value: StateTensor<Cpu>) {
    let path = run.join("checkpoint.safetensors");
    let dict = load_safetensors(&path).unwrap();
    let tensors: Vec<(String, StateTensor<Cpu>)> = dict
        .tensors
        .iter()
        .map(|(n, t)| {
            let value = if n == name {
                value.clone()
            } else {
                t.upload(&Cpu).unwrap()
            };
            (n.clone(), value)
        })
        .collect();
    save_safetensors(&path, &tensors, &dict.metadata).unwrap();
}

#[test]
fn a_checkpoint_buffer_of_the_wrong_dtype_or_shape_stops_the_resume() {
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 300, 100);
    let cases: [(&str, StateTensor<Cpu>, &str); 2] = [
        (
            "model.1.num_batches_tracked",
            Tensor::zeros(Vec::<usize>::new(), &Cpu).unwrap().into(),
            "has dtype F32, expected I64",
        ),
        (
            "model.4.running_mean",
            Tensor::zeros([255], &Cpu).unwrap().into(),
            "has shape [255], expected [256]",
        ),
    ];
    for (name, value, message) in cases {
        let run = tempfile::tempdir().unwrap();
        let first = TrainConfig {
            train_limit: Some(300),
            ..config(data.path(), run.path(), 1)
        };
        train_on(&Cpu, first, None, QUIET).unwrap();
        replace_in_checkpoint(run.path(), name, value);
        let resume = Resume::new(run.path());
        let config = TrainConfig {
            epochs: 2,
            ..resume.saved_config().unwrap()
        };
        let err = train_on(&Cpu, config, Some(&resume), QUIET).unwrap_err();
        assert!(matches!(err, Error::Nn(_)), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains(name.trim_start_matches("model.")) && text.contains(message),
            "{text}"
        );
    }
}

#[test]
fn mlp_batchnorm_learns_fashion_mnist_in_one_short_epoch() {
    let Some(data) = common::real_fashion_mnist() else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let config = TrainConfig {
        experiment: Experiment::MlpBatchnorm,
        epochs: 1,
        train_limit: Some(6000),
        test_limit: Some(1000),
        data_dir: Some(data),
        out: Some(out.path().to_path_buf()),
        ..TrainConfig::default()
    };
    let summary = train_on(&Cpu, config, None, QUIET).unwrap();
    eprintln!(
        "mlp-batchnorm, 6000 samples, 1 epoch: cost {}, accuracy {}",
        summary.epochs[0].cost, summary.test_accuracy
    );
    assert!(summary.test_accuracy >= 0.75, "{}", summary.test_accuracy);
}
