//! Helpers shared by the tests that compare with PyTorch's fixtures.
#![allow(dead_code)]

use std::path::PathBuf;

use ember_autodiff::Var;
use ember_nn::Module;
use ember_tensor::{Backend, Tensor};
use serde_json::Value;

/// The vendored PyTorch fixtures.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pytorch")
}

/// A fixture JSON file, parsed.
pub fn json(file: &str) -> Value {
    let path = fixtures().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("valid JSON")
}

/// A nested JSON array as its dimensions and row-major values.
pub fn array(value: &Value) -> (Vec<usize>, Vec<f64>) {
    match value {
        Value::Array(items) => {
            let parts: Vec<(Vec<usize>, Vec<f64>)> = items.iter().map(array).collect();
            let mut dims = vec![items.len()];
            dims.extend(parts.first().map(|(d, _)| d.clone()).unwrap_or_default());
            (dims, parts.into_iter().flat_map(|(_, v)| v).collect())
        }
        other => (vec![], vec![other.as_f64().expect("a number")]),
    }
}

/// A nested JSON array as an f32 tensor on `backend`.
pub fn tensor<B: Backend>(value: &Value, backend: &B) -> Tensor<B> {
    let (dims, values) = array(value);
    Tensor::from_vec(values.iter().map(|&v| v as f32).collect(), dims, backend).expect("tensor")
}

/// Asserts `got` has the shape and, within `abs` or `rel` (whichever is larger), the values of
/// the fixture's `want`.
pub fn assert_close<B: Backend>(what: &str, got: &Tensor<B>, want: &Value, abs: f64, rel: f64) {
    let (dims, want) = array(want);
    assert_eq!(got.dims(), dims.as_slice(), "{what}: shape");
    for (i, (&g, &w)) in got.to_vec().unwrap().iter().zip(&want).enumerate() {
        let err = (g as f64 - w).abs();
        assert!(
            err <= abs.max(rel * w.abs()),
            "{what}[{i}]: Ember {g}, PyTorch {w} (error {err:e})"
        );
    }
}

/// Runs `layer` on the case's `input`, backpropagates its `upstream_grad`, and compares the
/// output, the input's gradient and every parameter's gradient (`param_grads`).
pub fn check_forward_backward<B: Backend, M: Module<B> + ?Sized>(
    name: &str,
    case: &Value,
    layer: &M,
    backend: &B,
    abs: f64,
    rel: f64,
) {
    let x = Var::parameter(tensor(&case["input"], backend));
    let y = layer.forward(&x).unwrap();
    assert_close(
        &format!("{name} output"),
        &y.value(),
        &case["output"],
        abs,
        rel,
    );
    let upstream = Var::constant(tensor(&case["upstream_grad"], backend));
    y.mul(&upstream)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let grad = x.grad().unwrap();
    assert_close(
        &format!("{name} grad input"),
        &grad,
        &case["grad_input"],
        abs,
        rel,
    );
    for (param, var) in layer.named_parameters() {
        let grad = var.grad().unwrap();
        let want = &case["param_grads"][&param];
        assert_close(&format!("{name} grad {param}"), &grad, want, abs, rel);
    }
}
