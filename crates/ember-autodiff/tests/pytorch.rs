//! Gradients against values PyTorch computed (`tests/fixtures/pytorch/`).

use std::path::PathBuf;

use ember_autodiff::Var;
use ember_cpu::Cpu;
use ember_tensor::Tensor;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/pytorch")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read PyTorch fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn flat(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(flat).collect(),
        Value::Number(n) => vec![n.as_f64().expect("number")],
        other => panic!("not a number or array: {other}"),
    }
}

fn dims(v: &Value) -> Vec<usize> {
    match v {
        Value::Array(items) => {
            let mut d = vec![items.len()];
            if let Some(first) = items.first() {
                d.extend(dims(first));
            }
            d
        }
        _ => vec![],
    }
}

fn tensor(v: &Value) -> Tensor<Cpu> {
    let data = flat(v).into_iter().map(|x| x as f32).collect();
    Tensor::from_vec(data, dims(v), &Cpu).expect("fixture tensor")
}

/// `|ours - theirs| <= 1e-5 · max(|theirs|, 1e-2)`: 1e-5 relative, with a floor so values near
/// zero are compared in absolute terms (f32 against f64 references).
fn assert_close(what: &str, ours: &[f32], theirs: &[f64]) {
    assert_eq!(ours.len(), theirs.len(), "{what}: length");
    for (i, (&a, &b)) in ours.iter().zip(theirs).enumerate() {
        let tol = 1e-5 * b.abs().max(1e-2);
        assert!(
            (a as f64 - b).abs() <= tol,
            "{what}[{i}]: ember {a} vs pytorch {b} (|diff| {} > {tol})",
            (a as f64 - b).abs()
        );
    }
}

#[test]
fn mlp_logits_loss_and_every_gradient_match_pytorch() {
    let f = fixture("mlp_forward_backward.json");
    let labels: Vec<f32> = flat(&f["labels"]).into_iter().map(|x| x as f32).collect();
    let labels = Tensor::from_vec(labels.clone(), [labels.len()], &Cpu).unwrap();
    for act in ["relu", "sigmoid", "tanh"] {
        let case = &f["cases"][act];
        let x = Var::parameter(tensor(&f["input"]));
        let params: Vec<(&str, Var<Cpu>)> = ["0.weight", "0.bias", "2.weight", "2.bias"]
            .into_iter()
            .map(|name| (name, Var::parameter(tensor(&f["params"][name]))))
            .collect();
        let h = x
            .matmul_t(&params[0].1, false, true)
            .unwrap()
            .add(&params[1].1)
            .unwrap();
        let h = match act {
            "relu" => h.relu(),
            "sigmoid" => h.sigmoid(),
            _ => h.tanh(),
        }
        .unwrap();
        let logits = h
            .matmul_t(&params[2].1, false, true)
            .unwrap()
            .add(&params[3].1)
            .unwrap();
        let loss = logits
            .softmax_cross_entropy(&labels)
            .unwrap()
            .mean_all()
            .unwrap();
        loss.backward().unwrap();

        assert_close(
            &format!("{act} logits"),
            &logits.value().to_vec().unwrap(),
            &flat(&case["logits"]),
        );
        assert_close(
            &format!("{act} loss"),
            &[loss.value().to_scalar().unwrap()],
            &[case["loss"].as_f64().unwrap()],
        );
        for (name, p) in &params {
            assert_close(
                &format!("{act} grad {name}"),
                &p.grad().unwrap().to_vec().unwrap(),
                &flat(&case["grads"][*name]),
            );
        }
        assert_close(
            &format!("{act} grad input"),
            &x.grad().unwrap().to_vec().unwrap(),
            &flat(&case["grad_input"]),
        );
    }
}

#[test]
fn activation_values_and_derivatives_match_pytorch() {
    let f = fixture("activations.json");
    let inputs: Vec<f32> = flat(&f["inputs"]).into_iter().map(|x| x as f32).collect();
    for act in ["relu", "sigmoid", "tanh"] {
        let x = Var::parameter(Tensor::from_vec(inputs.clone(), [inputs.len()], &Cpu).unwrap());
        let y = match act {
            "relu" => x.relu(),
            "sigmoid" => x.sigmoid(),
            _ => x.tanh(),
        }
        .unwrap();
        y.sum_all().unwrap().backward().unwrap();
        let expected = &f["functions"][act];
        assert_close(
            &format!("{act} value"),
            &y.value().to_vec().unwrap(),
            &flat(&expected["value"]),
        );
        assert_close(
            &format!("{act} derivative"),
            &x.grad().unwrap().to_vec().unwrap(),
            &flat(&expected["derivative"]),
        );
    }
    let rows = &f["functions"]["log_softmax_rows"];
    let x = Var::constant(tensor(&rows["input"]));
    assert_close(
        "log_softmax",
        &x.log_softmax().unwrap().value().to_vec().unwrap(),
        &flat(&rows["value"]),
    );
}
