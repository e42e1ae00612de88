//! Behaviour of the tape: accumulation, no_grad, detach, zeroing, freeing.

use ember_autodiff::{Error, Var, no_grad};
use ember_cpu::Cpu;
use ember_tensor::Tensor;

fn t(data: &[f32]) -> Tensor<Cpu> {
    Tensor::from_vec(data.to_vec(), [data.len()], &Cpu).expect("tensor")
}

#[test]
fn a_value_used_twice_accumulates_both_contributions() {
    let x = Var::parameter(t(&[1.0, -2.0, 3.0]));
    // f = sum(x*x + 3x) → df/dx = 2x + 3
    let y = x.mul(&x).unwrap().add(&x.mul_scalar(3.0).unwrap()).unwrap();
    y.sum_all().unwrap().backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), vec![5.0, -1.0, 9.0]);
}

#[test]
fn gradients_accumulate_across_backward_calls_until_zeroed() {
    let x = Var::parameter(t(&[1.0, 2.0]));
    for _ in 0..2 {
        x.mul_scalar(2.0)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
    }
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), vec![4.0, 4.0]);
    x.zero_grad();
    assert!(x.grad().is_none());
}

#[test]
fn no_grad_records_nothing() {
    let x = Var::parameter(t(&[1.0, 2.0]));
    let y = no_grad(|| x.mul(&x)).unwrap();
    assert!(!y.requires_grad());
    assert!(y.is_leaf());
    // Recording is back on afterwards.
    assert!(x.mul(&x).unwrap().requires_grad());
}

#[test]
fn detach_stops_the_gradient() {
    let x = Var::parameter(t(&[3.0]));
    let y = x.mul(&x.detach()).unwrap().sum_all().unwrap();
    y.backward().unwrap();
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), vec![3.0]);
}

#[test]
fn backward_needs_a_scalar() {
    let x = Var::parameter(t(&[1.0, 2.0]));
    let err = x.mul_scalar(2.0).unwrap().backward().unwrap_err();
    assert!(matches!(err, Error::NotScalar { .. }), "{err}");
    assert!(err.to_string().contains("[2]"));
}

#[test]
fn the_graph_is_freed_after_backward() {
    let x = Var::parameter(t(&[1.0, 2.0]));
    let y = x.exp().unwrap().sum_all().unwrap();
    y.backward().unwrap();
    let err = y.backward().unwrap_err();
    assert!(matches!(err, Error::GraphFreed { .. }), "{err}");
}

#[test]
fn constants_get_no_gradient() {
    let x = Var::parameter(t(&[1.0, 2.0]));
    let c = Var::constant(t(&[5.0, 6.0]));
    x.mul(&c).unwrap().sum_all().unwrap().backward().unwrap();
    assert!(c.grad().is_none());
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), vec![5.0, 6.0]);
}

#[test]
fn retain_grad_keeps_an_intermediate_gradient() {
    let x = Var::parameter(t(&[1.0, 2.0]));
    let h = x.mul_scalar(3.0).unwrap();
    h.retain_grad();
    h.square().unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(h.grad().unwrap().to_vec().unwrap(), vec![6.0, 12.0]);
    assert_eq!(x.grad().unwrap().to_vec().unwrap(), vec![18.0, 36.0]);
}
