//! `Var::custom`: a differentiable op of one's own records its forward value and rule, runs on
//! any backend, and a rule that returns the wrong number or shape of gradients is a typed error
//! naming the op.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ember_autodiff::gradcheck::{GradCheck, check_gradients};
use ember_autodiff::{Error, Var, no_grad};
use ember_cpu::Cpu;
use ember_tensor::ops::UnaryOp;
use ember_tensor::{Backend, Tensor, seeded_rng};

/// `clamp(x, lo, hi) = lo + relu(x − lo) − relu(x − hi)`: the gradient passes where
/// `lo < x ≤ hi` (ReLU's derivative at the two kinks).
fn clamp<B: Backend>(x: &Var<B>, lo: f32, hi: f32) -> ember_autodiff::Result<Var<B>> {
    Var::custom(
        "clamp",
        &[x],
        |[x]| {
            let (above_lo, above_hi) = (x.add_scalar(-lo)?, x.add_scalar(-hi)?);
            let (relu_lo, relu_hi) = (above_lo.relu()?, above_hi.relu()?);
            let y = relu_lo.sub(&relu_hi)?.add_scalar(lo)?;
            Ok((y, [above_lo, relu_lo, above_hi, relu_hi]))
        },
        |grad, [above_lo, relu_lo, above_hi, relu_hi]| {
            let past_lo = above_lo.unary_backward(UnaryOp::Relu, relu_lo, grad)?;
            let past_hi = above_hi.unary_backward(UnaryOp::Relu, relu_hi, grad)?;
            Ok(vec![Some(past_lo.sub(&past_hi)?)])
        },
    )
}

/// `a · b + a`, as a two-input op: one gradient per input, in order.
fn mul_add<B: Backend>(a: &Var<B>, b: &Var<B>) -> ember_autodiff::Result<Var<B>> {
    Var::custom(
        "mul_add",
        &[a, b],
        |[a, b]| Ok((a.mul(b)?.add(a)?, (a.clone(), b.clone()))),
        |grad, (a, b)| {
            Ok(vec![
                Some(grad.mul(&b.add_scalar(1.0)?)?),
                Some(grad.mul(a)?),
            ])
        },
    )
}

fn t(data: &[f32]) -> Tensor<Cpu> {
    Tensor::from_vec(data.to_vec(), [data.len()], &Cpu).unwrap()
}

#[test]
fn a_custom_op_gives_its_values_and_gradients_and_passes_gradcheck() {
    let x = Var::parameter(t(&[-2.0, -0.5, 0.25, 3.0]));
    let y = clamp(&x, -1.0, 1.0).unwrap();
    assert_eq!(y.value().to_vec().unwrap(), vec![-1.0, -0.5, 0.25, 1.0]);
    y.sum_all().unwrap().backward().unwrap();
    assert_eq!(
        x.grad().unwrap().to_vec().unwrap(),
        vec![0.0, 1.0, 1.0, 0.0]
    );

    let mut rng = seeded_rng(3);
    let a = Tensor::randn([3, 4], 0.0, 1.0, &mut rng, &Cpu).unwrap();
    let b = Tensor::randn([3, 4], 0.0, 1.0, &mut rng, &Cpu).unwrap();
    let report = check_gradients(
        "mul_add",
        &[a, b],
        |v| mul_add(&v[0], &v[1])?.square()?.sum_all(),
        &GradCheck::default(),
    )
    .unwrap();
    assert_eq!(report.checked, 24);
}

#[test]
fn a_rule_returning_another_number_of_gradients_is_an_error_naming_the_op() {
    let (a, b) = (
        Var::parameter(t(&[1.0, 2.0])),
        Var::parameter(t(&[3.0, 4.0])),
    );
    let short = Var::custom(
        "short_rule",
        &[&a, &b],
        |[a, b]| Ok((a.mul(b)?, ())),
        |grad, ()| Ok(vec![Some(grad.clone())]),
    )
    .unwrap();
    let err = short.sum_all().unwrap().backward().unwrap_err();
    assert!(
        matches!(
            err,
            Error::GradientCount {
                op: "short_rule",
                inputs: 2,
                gradients: 1
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("short_rule"), "{err}");
    // Nothing reached the inputs.
    assert!(a.grad().is_none() && b.grad().is_none());
}

#[test]
fn a_gradient_of_another_shape_is_an_error_naming_the_op_and_both_shapes() {
    let x = Var::parameter(t(&[1.0, 2.0, 3.0]));
    let wrong = Var::custom(
        "wrong_shape",
        &[&x],
        |[x]| Ok((x.clone(), ())),
        |grad, ()| Ok(vec![Some(grad.reshape([3, 1])?)]),
    )
    .unwrap();
    let err = wrong.sum_all().unwrap().backward().unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(
            err,
            Error::GradientShape {
                op: "wrong_shape",
                input: 0,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        message.contains("[3, 1]") && message.contains("[3]"),
        "{message}"
    );
}

#[test]
fn nothing_is_recorded_without_an_input_that_needs_a_gradient() {
    let calls = Arc::new(AtomicUsize::new(0));
    let record = |x: &Var<Cpu>| {
        let calls = Arc::clone(&calls);
        Var::custom(
            "counted",
            &[x],
            |[x]| Ok((x.mul_scalar(2.0)?, ())),
            move |grad, ()| {
                calls.fetch_add(1, Ordering::Relaxed);
                Ok(vec![Some(grad.mul_scalar(2.0)?)])
            },
        )
        .unwrap()
    };
    let constant = record(&Var::constant(t(&[1.0])));
    assert!(!constant.requires_grad() && constant.is_leaf());
    let parameter = Var::parameter(t(&[1.0]));
    let unrecorded = no_grad(|| record(&parameter));
    assert!(!unrecorded.requires_grad());
    let recorded = record(&parameter);
    recorded.backward().unwrap();
    assert_eq!(calls.load(Ordering::Relaxed), 1);
    assert_eq!(parameter.grad().unwrap().to_vec().unwrap(), vec![2.0]);
}

/// The same op on the GPU backend, when one is available: the rule runs there.
#[test]
fn a_custom_op_runs_on_the_gpu_backend_too() {
    let Some(gpu) = ember_wgpu::test_device() else {
        return;
    };
    let x = Var::parameter(Tensor::from_vec(vec![-2.0, -0.5, 0.25, 3.0], [4], &gpu).unwrap());
    let y = clamp(&x, -1.0, 1.0).unwrap();
    assert_eq!(y.value().to_vec().unwrap(), vec![-1.0, -0.5, 0.25, 1.0]);
    y.sum_all().unwrap().backward().unwrap();
    assert_eq!(
        x.grad().unwrap().to_vec().unwrap(),
        vec![0.0, 1.0, 1.0, 0.0]
    );
    assert_eq!(x.grad().unwrap().backend().name(), gpu.name());
}
