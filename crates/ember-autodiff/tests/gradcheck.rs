//! Every differentiable op passes the finite-difference gradient check on random shapes.

use ember_autodiff::gradcheck::{GradCheck, check_gradients};
use ember_autodiff::{Result, Var};
use ember_tensor::ops::{BinaryOp, ScalarOp, UnaryOp};
use ember_tensor::{Cpu, Shape, Tensor, rand::Rng, seeded_rng};

type Op = fn(&[Var<Cpu>]) -> Result<Var<Cpu>>;

/// Random shapes: a mix of edge sizes (1) and sizes that are multiples of nothing.
fn random_shapes(seed: u64, count: usize) -> Vec<[usize; 2]> {
    let mut rng = seeded_rng(seed);
    let mut shapes = vec![[1, 1], [1, 5], [4, 1]];
    shapes.extend((0..count).map(|_| [rng.random_range(1..6), rng.random_range(1..7)]));
    shapes
}

/// Random values away from 0 by at least `margin` (for relu's kink, log and sqrt).
fn values(shape: impl Into<Shape>, seed: u64, positive: bool, margin: f32) -> Tensor<Cpu> {
    let shape = shape.into();
    let mut rng = seeded_rng(seed);
    let data: Vec<f32> = (0..shape.numel())
        .map(|_| {
            let magnitude = rng.random_range(margin..1.5);
            if positive || rng.random_bool(0.5) {
                magnitude
            } else {
                -magnitude
            }
        })
        .collect();
    Tensor::from_vec(data, shape, &Cpu).expect("values")
}

fn check(name: &str, inputs: &[Tensor<Cpu>], f: Op) {
    let report =
        check_gradients(name, inputs, f, &GradCheck::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.checked > 0, "{name}: nothing was checked");
}

#[test]
fn every_unary_op_passes() {
    for &op in UnaryOp::ALL {
        let positive = matches!(op, UnaryOp::Log | UnaryOp::Sqrt);
        for (i, shape) in random_shapes(1, 3).into_iter().enumerate() {
            let x = values(shape, i as u64, positive, 0.1);
            let report = check_gradients(
                op.name(),
                &[x],
                |v| v[0].unary(op)?.mul(&v[0])?.sum_all(),
                &GradCheck::default(),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(report.checked, shape[0] * shape[1]);
        }
    }
}

#[test]
fn every_scalar_op_passes() {
    for &op in ScalarOp::ALL {
        for (i, shape) in random_shapes(2, 3).into_iter().enumerate() {
            let x = values(shape, 10 + i as u64, op == ScalarOp::Pow, 0.2);
            check_gradients(
                op.name(),
                &[x],
                |v| v[0].scalar_op(op, 2.5)?.square()?.sum_all(),
                &GradCheck::default(),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

#[test]
fn every_binary_op_passes_with_broadcasting() {
    let pairs: &[(&[usize], &[usize])] = &[
        (&[3, 4], &[3, 4]),
        (&[3, 4], &[4]),
        (&[3, 4], &[1, 4]),
        (&[3, 1], &[1, 4]),
        (&[2, 3, 4], &[3, 1]),
        (&[5], &[]),
        (&[], &[2, 2]),
    ];
    for &op in BinaryOp::ALL {
        for (i, (a, b)) in pairs.iter().enumerate() {
            let a = values(*a, 20 + i as u64, false, 0.3);
            // Keep divisors away from 0.
            let b = values(*b, 40 + i as u64, op == BinaryOp::Div, 0.5);
            check_gradients(
                op.name(),
                &[a, b],
                |v| v[0].binary(op, &v[1])?.square()?.sum_all(),
                &GradCheck::default(),
            )
            .unwrap_or_else(|e| panic!("{} {e}", op.name()));
        }
    }
}

#[test]
fn matmul_passes_with_every_transpose_flag() {
    for (i, [m, k]) in random_shapes(3, 4).into_iter().enumerate() {
        let n = 1 + i % 4;
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a_shape = if ta { [k, m] } else { [m, k] };
            let b_shape = if tb { [n, k] } else { [k, n] };
            let a = values(a_shape, 60 + i as u64, false, 0.1);
            let b = values(b_shape, 80 + i as u64, false, 0.1);
            check_gradients(
                "matmul",
                &[a, b],
                move |v| v[0].matmul_t(&v[1], ta, tb)?.square()?.sum_all(),
                &GradCheck::default(),
            )
            .unwrap_or_else(|e| panic!("ta={ta} tb={tb}: {e}"));
        }
    }
}

#[test]
fn reductions_pass_on_every_axis() {
    let x = values([3, 4, 2], 5, false, 0.1);
    for axis in 0..3 {
        for keepdim in [false, true] {
            check_gradients(
                "sum_axis",
                std::slice::from_ref(&x),
                move |v| v[0].sum_axis(axis, keepdim)?.square()?.sum_all(),
                &GradCheck::default(),
            )
            .unwrap_or_else(|e| panic!("sum axis {axis}: {e}"));
            check_gradients(
                "mean_axis",
                std::slice::from_ref(&x),
                move |v| v[0].mean_axis(axis, keepdim)?.square()?.sum_all(),
                &GradCheck::default(),
            )
            .unwrap_or_else(|e| panic!("mean axis {axis}: {e}"));
        }
    }
    check("mean_all", std::slice::from_ref(&x), |v| {
        v[0].square()?.mean_all()
    });
    check("reshape", &[x], |v| {
        v[0].reshape([4, 6])?
            .sum_axis(1, false)?
            .square()?
            .sum_all()
    });
}

#[test]
fn log_softmax_and_cross_entropy_pass() {
    for (i, [rows, cols]) in random_shapes(4, 3).into_iter().enumerate() {
        let x = values([rows, cols], 100 + i as u64, false, 0.0);
        let weights = values([rows, cols], 200 + i as u64, false, 0.0);
        let w = weights.clone();
        check_gradients(
            "log_softmax",
            std::slice::from_ref(&x),
            move |v| {
                v[0].log_softmax()?
                    .mul(&Var::constant(w.clone()))?
                    .sum_all()
            },
            &GradCheck::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let labels: Vec<f32> = (0..rows).map(|r| ((r * 7 + i) % cols) as f32).collect();
        let labels = Tensor::from_vec(labels, [rows], &Cpu).expect("labels");
        check_gradients(
            "softmax_cross_entropy",
            &[x],
            move |v| v[0].softmax_cross_entropy(&labels)?.mean_all(),
            &GradCheck::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn a_gradient_check_detects_a_wrong_gradient() {
    // `neg` applied twice where the function only uses it once: the check must object.
    let x = values([2, 3], 9, false, 0.1);
    let wrong = check_gradients(
        "deliberately wrong",
        &[x],
        |v| {
            let detached = v[0].detach();
            // f = sum(x * stop_grad(x)): true gradient 2x, backward sees only x.
            v[0].mul(&detached)?.sum_all()
        },
        &GradCheck::default(),
    );
    assert!(
        matches!(wrong, Err(ember_autodiff::Error::GradientMismatch { .. })),
        "{wrong:?}"
    );
}
