//! PyTorch-saved weights load into Ember and give PyTorch's logits; Ember's state dicts have
//! PyTorch's names, dtypes and shapes.

use std::path::PathBuf;

use ember_autodiff::Var;
use ember_cpu::Cpu;
use ember_nn::state_dict::{load_module, load_safetensors, save_module};
use ember_nn::{Linear, Module, ReLU, Sequential};
use ember_tensor::{Tensor, seeded_rng};
use safetensors::SafeTensors;
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pytorch")
}

fn seed_mlp(seed: u64) -> Sequential<Cpu> {
    let mut rng = seeded_rng(seed);
    Sequential::new()
        .append(Linear::new(784, 256, &mut rng, &Cpu).unwrap())
        .append(ReLU)
        .append(Linear::new(256, 256, &mut rng, &Cpu).unwrap())
        .append(ReLU)
        .append(Linear::new(256, 10, &mut rng, &Cpu).unwrap())
}

#[test]
fn pytorch_weights_give_pytorchs_logits() {
    let model = seed_mlp(0);
    let dict = load_safetensors(fixtures().join("seed_mlp.safetensors")).unwrap();
    load_module(&model, &dict).unwrap();

    let text = std::fs::read_to_string(fixtures().join("seed_mlp_expected.json")).unwrap();
    let expected: Value = serde_json::from_str(&text).unwrap();
    let inputs: Vec<f32> = expected["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
        })
        .collect();
    let n = inputs.len() / 784;
    let x = Var::constant(Tensor::from_vec(inputs, [n, 784], &Cpu).unwrap());
    let logits = model.forward(&x).unwrap().value();
    let got = logits.to_vec().unwrap();
    let want: Vec<f64> = expected["logits"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()))
        .collect();
    assert_eq!(got.len(), want.len());
    for (i, (&a, &b)) in got.iter().zip(&want).enumerate() {
        assert!(
            (a as f64 - b).abs() <= 1e-4,
            "logit {i}: ember {a} vs pytorch {b}"
        );
    }
    let argmax: Vec<u64> = logits
        .argmax()
        .unwrap()
        .to_vec()
        .unwrap()
        .iter()
        .map(|&v| v as u64)
        .collect();
    let want_argmax: Vec<u64> = expected["argmax"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(argmax, want_argmax);
}

#[test]
fn saved_state_dicts_have_pytorch_names_dtypes_and_shapes() {
    let model = seed_mlp(777);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    save_module(&model, &path).unwrap();

    let bytes = std::fs::read(&path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = file.names().into_iter().map(String::from).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "0.bias", "0.weight", "2.bias", "2.weight", "4.bias", "4.weight"
        ]
    );
    let shapes = [
        ("0.weight", vec![256, 784]),
        ("0.bias", vec![256]),
        ("2.weight", vec![256, 256]),
        ("2.bias", vec![256]),
        ("4.weight", vec![10, 256]),
        ("4.bias", vec![10]),
    ];
    for (name, shape) in shapes {
        let t = file.tensor(name).unwrap();
        assert_eq!(t.dtype(), safetensors::Dtype::F32, "{name}");
        assert_eq!(t.shape(), shape.as_slice(), "{name}");
    }
    // PyTorch's own file has the same layout.
    let theirs_bytes = std::fs::read(fixtures().join("seed_mlp.safetensors")).unwrap();
    let theirs = SafeTensors::deserialize(&theirs_bytes).unwrap();
    for (name, shape) in [("0.weight", [256usize, 784]), ("4.weight", [10, 256])] {
        assert_eq!(theirs.tensor(name).unwrap().shape(), shape.as_slice());
    }

    // And it round-trips into a fresh model.
    let other = seed_mlp(1);
    load_module(&other, &load_safetensors(&path).unwrap()).unwrap();
    for ((_, a), (_, b)) in model.state_dict().iter().zip(other.state_dict().iter()) {
        assert_eq!(a.to_stored().unwrap(), b.to_stored().unwrap());
    }
}
