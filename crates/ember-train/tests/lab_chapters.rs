//! The lab's initialisation, depth and dropout chapters and its deeper CNN: the models'
//! layouts and names, initialisation by name, train/eval modes, and dropout masks that a
//! resumed run draws exactly as an uninterrupted one.

mod common;

use ember_autodiff::Var;
use ember_cpu::Cpu;
use ember_nn::state_dict::{load_module, load_safetensors};
use ember_nn::{Module, evaluate};
use ember_tensor::Tensor;
use ember_train::{Error, Experiment, InitScheme, OutputOptions, Resume, TrainConfig, train_on};

const QUIET: OutputOptions = OutputOptions {
    quiet: true,
    json: false,
};

fn names(model: &impl Module<Cpu>) -> Vec<String> {
    model
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect()
}

fn weight(model: &impl Module<Cpu>, name: &str) -> Vec<f32> {
    let (_, p) = model
        .named_parameters()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no parameter {name}"));
    p.value().to_vec().unwrap()
}

/// Whether every value lies within Xavier-uniform's bound for `fan_in + fan_out`, and some lie
/// beyond PyTorch's default bound `1/√fan_in` (so it is not the default init).
fn is_xavier_uniform(values: &[f32], fan_in: usize, fan_out: usize) -> bool {
    let bound = (6.0 / (fan_in + fan_out) as f32).sqrt();
    values.iter().all(|v| v.abs() <= bound)
        && values
            .iter()
            .any(|v| v.abs() > 1.0 / (fan_in as f32).sqrt())
}

#[test]
fn the_deep_models_have_the_labs_layout_names_and_initialisation() {
    let mlp = Experiment::MlpXavier
        .build(InitScheme::Default, 777, &Cpu)
        .unwrap();
    assert_eq!(
        names(&mlp),
        [
            "0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"
        ]
    );
    assert!(is_xavier_uniform(&weight(&mlp, "0.weight"), 784, 256));
    assert!(is_xavier_uniform(&weight(&mlp, "4.weight"), 256, 10));

    let deep = Experiment::DeepXavier
        .build(InitScheme::Default, 777, &Cpu)
        .unwrap();
    assert_eq!(
        deep.num_parameters(),
        784 * 512 + 512 + 3 * (512 * 512 + 512) + 5130
    );
    assert!(is_xavier_uniform(&weight(&deep, "6.weight"), 512, 512));

    // Dropout after each ReLU: PyTorch's positions 0, 3, 6, 9, 12, and the same weights as
    // deep-xavier (dropout has no parameters and draws nothing at build time).
    let dropout = Experiment::DeepDropout
        .build(InitScheme::Default, 777, &Cpu)
        .unwrap();
    let weights: Vec<String> = names(&dropout)
        .into_iter()
        .filter(|n| n.ends_with("weight"))
        .collect();
    assert_eq!(
        weights,
        ["0.weight", "3.weight", "6.weight", "9.weight", "12.weight"]
    );
    assert_eq!(weight(&dropout, "12.weight"), weight(&deep, "8.weight"));
    let mut streams = Vec::new();
    dropout.visit_random_streams("", &mut |name, s| streams.push((name.to_string(), s.key())));
    assert_eq!(
        streams.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["2", "5", "8", "11"]
    );
    assert!(streams.windows(2).all(|w| w[0].1 != w[1].1), "{streams:?}");

    let cnn = Experiment::DeepCnn
        .build(InitScheme::Default, 777, &Cpu)
        .unwrap();
    assert_eq!(
        names(&cnn),
        [
            "layer1.0.weight",
            "layer1.0.bias",
            "layer2.0.weight",
            "layer2.0.bias",
            "layer3.0.weight",
            "layer3.0.bias",
            "fc1.weight",
            "fc1.bias",
            "fc2.weight",
            "fc2.bias"
        ]
    );
    let shapes: Vec<Vec<usize>> = cnn
        .named_parameters()
        .iter()
        .map(|(_, p)| p.shape().dims().to_vec())
        .collect();
    assert_eq!(shapes[4], [128, 64, 3, 3]);
    assert_eq!(shapes[6], [625, 2048]);
    assert_eq!(shapes[8], [10, 625]);
    assert!(is_xavier_uniform(&weight(&cnn, "fc1.weight"), 2048, 625));
    assert!(is_xavier_uniform(&weight(&cnn, "fc2.weight"), 625, 10));
    // The convolutions keep PyTorch's default: U(±1/√fan_in).
    let bound = 1.0 / (64.0f32 * 9.0).sqrt();
    assert!(
        weight(&cnn, "layer3.0.weight")
            .iter()
            .all(|v| v.abs() <= bound)
    );
    let x = Var::constant(Tensor::zeros([3, 784], &Cpu).unwrap());
    assert_eq!(cnn.forward(&x).unwrap().shape().dims(), &[3, 10]);
}

#[test]
fn init_names_follow_pytorch_in_either_spelling() {
    for (name, scheme) in [
        ("xavier_uniform", InitScheme::XavierUniform),
        ("xavier-uniform", InitScheme::XavierUniform),
        ("xavier_normal", InitScheme::XavierNormal),
        ("xavier-normal", InitScheme::XavierNormal),
        ("kaiming_uniform", InitScheme::KaimingUniform),
        ("kaiming_normal", InitScheme::KaimingNormal),
        ("normal", InitScheme::Normal),
        ("default", InitScheme::Default),
    ] {
        assert_eq!(InitScheme::parse(name).unwrap(), scheme, "{name}");
    }
    let err = InitScheme::parse("orthogonal").unwrap_err();
    assert!(matches!(err, Error::UnknownChoice { .. }), "{err:?}");
    let message = err.to_string();
    for name in [
        "default",
        "normal",
        "xavier-uniform",
        "xavier-normal",
        "kaiming-uniform",
        "kaiming-normal",
    ] {
        assert!(message.contains(name), "{message}");
    }

    // The first weight's spread (784 → 256) under each normal scheme, against PyTorch's
    // formula: Xavier √(2 / (fan_in + fan_out)), Kaiming for ReLU √2 / √fan_in.
    for (scheme, expected) in [
        (InitScheme::XavierNormal, (2.0f32 / 1040.0).sqrt()),
        (InitScheme::KaimingNormal, (2.0f32 / 784.0).sqrt()),
        (InitScheme::Normal, 1.0),
    ] {
        let model = Experiment::Mlp.build(scheme, 1, &Cpu).unwrap();
        let w = weight(&model, "0.weight");
        let std = (w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32).sqrt();
        assert!(
            (std - expected).abs() < 0.01 * expected,
            "{scheme:?}: std {std}"
        );
    }
}

#[test]
fn a_resumed_deep_dropout_run_draws_the_masks_of_an_uninterrupted_one() {
    let data = tempfile::tempdir().unwrap();
    common::write_synthetic(data.path(), 600, 100);
    let config = |out: &std::path::Path, epochs| TrainConfig {
        experiment: Experiment::DeepDropout,
        train_limit: Some(600),
        ..common::quick_config(data.path(), out, epochs)
    };
    let whole = tempfile::tempdir().unwrap();
    let full = train_on(&Cpu, config(whole.path(), 3), None, QUIET).unwrap();

    let parts = tempfile::tempdir().unwrap();
    train_on(&Cpu, config(parts.path(), 1), None, QUIET).unwrap();
    let resume = Resume::new(parts.path());
    let resumed_config = TrainConfig {
        epochs: 3,
        ..resume.saved_config().unwrap()
    };
    let resumed = train_on(&Cpu, resumed_config, Some(&resume), QUIET).unwrap();

    let a = std::fs::read(whole.path().join("model.safetensors")).unwrap();
    let b = std::fs::read(parts.path().join("model.safetensors")).unwrap();
    assert_eq!(a, b, "final parameters differ");
    let costs = |s: &ember_train::Summary| s.epochs.iter().map(|m| m.cost).collect::<Vec<_>>();
    assert_eq!(costs(&full), costs(&resumed));

    // The test accuracy was measured in evaluation mode: the saved model, in evaluation mode,
    // gives it again, while training mode's dropout changes the predictions.
    let mut model = Experiment::DeepDropout
        .build(InitScheme::Default, 777, &Cpu)
        .unwrap();
    load_module(
        &model,
        &load_safetensors(whole.path().join("model.safetensors")).unwrap(),
    )
    .unwrap();
    let test = ember_data::load_train_test(
        ember_data::DatasetKind::FashionMnist,
        data.path(),
        None,
        None,
    )
    .unwrap()
    .test;
    model.set_training(false);
    assert_eq!(
        evaluate(&mut model, &test, &[784], &Cpu).unwrap(),
        full.test_accuracy
    );
    model.set_training(true);
    let x = Var::constant(Tensor::ones([4, 784], &Cpu).unwrap());
    let first = model.forward(&x).unwrap().value().to_vec().unwrap();
    let second = model.forward(&x).unwrap().value().to_vec().unwrap();
    assert_ne!(
        first, second,
        "training mode draws a new mask each forward pass"
    );
}
