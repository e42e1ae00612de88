//! The `cnn` experiment is the lab's CNN: PyTorch's saved state dict
//! (`tests/fixtures/pytorch/lab_cnn.safetensors`) loads into it under the same names and gives
//! PyTorch's logits; Ember's own save has PyTorch's names and shapes.

use std::path::PathBuf;

use ember_autodiff::Var;
use ember_cpu::Cpu;
use ember_nn::Module;
use ember_nn::state_dict::{load_module, load_safetensors, save_module};
use ember_tensor::Tensor;
use ember_train::{Experiment, InitScheme};
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pytorch")
}

fn flatten(value: &Value) -> Vec<f32> {
    match value {
        Value::Array(items) => items.iter().flat_map(flatten).collect(),
        v => vec![v.as_f64().expect("a number") as f32],
    }
}

#[test]
fn pytorch_weights_give_pytorchs_logits() {
    let model = Experiment::Cnn.build(InitScheme::Default, 1, &Cpu).unwrap();
    let names: Vec<String> = model
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let text = std::fs::read_to_string(fixtures().join("lab_cnn_expected.json")).unwrap();
    let expected: Value = serde_json::from_str(&text).unwrap();
    let pytorch_names: Vec<&str> = expected["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(names, pytorch_names);

    let dict = load_safetensors(fixtures().join("lab_cnn.safetensors")).unwrap();
    load_module(&model, &dict).unwrap();
    let inputs = flatten(&expected["inputs"]);
    let count = inputs.len() / 784;
    let x = Var::constant(Tensor::from_vec(inputs, [count, 784], &Cpu).unwrap());
    let logits = model.forward(&x).unwrap().value();
    let want = flatten(&expected["logits"]);
    for (i, (&g, &w)) in logits.to_vec().unwrap().iter().zip(&want).enumerate() {
        assert!((g - w).abs() <= 1e-4, "logit {i}: Ember {g}, PyTorch {w}");
    }
    let argmax: Vec<f32> = flatten(&expected["argmax"]);
    assert_eq!(logits.argmax().unwrap().to_vec().unwrap(), argmax);
}

#[test]
fn embers_save_has_pytorchs_names_and_shapes() {
    let model = Experiment::Cnn.build(InitScheme::Default, 7, &Cpu).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cnn.safetensors");
    save_module(&model, &path).unwrap();
    let saved = std::fs::read(&path).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&saved).unwrap();
    let shapes: Vec<(String, Vec<usize>)> = [
        "layer1.0.weight",
        "layer1.0.bias",
        "layer2.0.weight",
        "layer2.0.bias",
        "fc.weight",
        "fc.bias",
    ]
    .iter()
    .map(|n| (n.to_string(), tensors.tensor(n).unwrap().shape().to_vec()))
    .collect();
    assert_eq!(
        shapes.iter().map(|(_, s)| s.clone()).collect::<Vec<_>>(),
        vec![
            vec![32, 1, 3, 3],
            vec![32],
            vec![64, 32, 3, 3],
            vec![64],
            vec![10, 3136],
            vec![10]
        ]
    );
    // The fc weight is Xavier-uniform: U(±√(6 / (3136 + 10))).
    let bound = (6.0f32 / 3146.0).sqrt();
    let fc = model
        .named_parameters()
        .into_iter()
        .find(|(n, _)| n == "fc.weight")
        .unwrap()
        .1;
    let values = fc.value().to_vec().unwrap();
    assert!(values.iter().all(|v| v.abs() <= bound));
    assert!(
        values.iter().any(|v| v.abs() > 1.0 / 3136f32.sqrt()),
        "wider than the default init"
    );
}
