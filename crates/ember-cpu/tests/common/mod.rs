//! Helpers shared by the integration tests of `ember-cpu` (the Tensor API on the CPU).
#![allow(dead_code)]

use ember_cpu::Cpu;
use ember_tensor::Tensor;

/// A CPU tensor from literal data.
#[track_caller]
pub fn t(data: &[f32], shape: &[usize]) -> Tensor<Cpu> {
    Tensor::from_slice(data, shape, &Cpu).expect("test tensor")
}

/// A scalar (rank-0) CPU tensor.
#[track_caller]
pub fn scalar(value: f32) -> Tensor<Cpu> {
    Tensor::scalar(value, &Cpu).expect("scalar tensor")
}

/// The tensor's values on the host.
#[track_caller]
pub fn vals(x: &Tensor<Cpu>) -> Vec<f32> {
    x.to_vec().expect("download")
}

/// Asserts element-wise agreement with expected values written in f64:
/// `|got - expected| <= tol * max(1, |expected|)`; NaN must meet NaN and ±inf the same inf.
#[track_caller]
pub fn assert_close(got: &[f32], expected: &[f64], tol: f64) {
    assert_eq!(
        got.len(),
        expected.len(),
        "length differs: got {got:?}, expected {expected:?}"
    );
    for (i, (&g, &e)) in got.iter().zip(expected).enumerate() {
        let g = f64::from(g);
        let ok = if e.is_nan() {
            g.is_nan()
        } else if e.is_infinite() {
            g == e
        } else {
            g.is_finite() && (g - e).abs() <= tol * e.abs().max(1.0)
        };
        assert!(
            ok,
            "element {i}: got {g}, expected {e}\n got {got:?}\n expected {expected:?}"
        );
    }
}

/// Asserts the tensor has `dims` and values close to `expected`.
#[track_caller]
pub fn assert_tensor(x: &Tensor<Cpu>, dims: &[usize], expected: &[f64], tol: f64) {
    assert_eq!(x.dims(), dims, "shape");
    assert_close(&vals(x), expected, tol);
}

/// Tight tolerance for single f32 operations compared with f64 references.
pub const TIGHT: f64 = 1e-6;
