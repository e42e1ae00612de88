//! Every differentiable op passes the finite-difference gradient check on random shapes.

use ember_autodiff::gradcheck::{GradCheck, check_gradients};
use ember_autodiff::{Result, Var};
use ember_cpu::Cpu;
use ember_tensor::conformance::OpKind;
use ember_tensor::ops::{BinaryOp, DropoutMask, ScalarOp, UnaryOp, WindowOptions};
use ember_tensor::{Shape, Tensor, rand::Rng, seeded_rng};

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

/// Distinct values at least 0.1 apart in a seeded order, so no finite-difference step moves a
/// window's maximum.
fn distinct_values(shape: impl Into<Shape>, seed: u64) -> Tensor<Cpu> {
    use ember_tensor::rand::seq::SliceRandom;
    let shape = shape.into();
    let mut data: Vec<f32> = (0..shape.numel()).map(|i| i as f32 * 0.1 - 1.0).collect();
    data.shuffle(&mut seeded_rng(seed));
    Tensor::from_vec(data, shape, &Cpu).expect("values")
}

fn conv_configurations() -> Vec<([usize; 4], [usize; 4], WindowOptions, bool)> {
    vec![
        (
            [2, 2, 5, 4],
            [3, 2, 3, 3],
            WindowOptions::new([3, 3]).padding([1, 1]),
            true,
        ),
        (
            [1, 3, 6, 5],
            [2, 3, 3, 2],
            WindowOptions::new([3, 2]).stride([2, 2]),
            true,
        ),
        (
            [2, 1, 7, 6],
            [2, 1, 2, 3],
            WindowOptions::new([2, 3])
                .stride([2, 1])
                .padding([1, 0])
                .dilation([2, 1]),
            false,
        ),
    ]
}

#[test]
fn conv2d_passes_for_input_weight_and_bias() {
    for (i, (input, weight, options, bias)) in conv_configurations().into_iter().enumerate() {
        let x = values(input, 500 + i as u64, false, 0.1);
        let w = values(weight, 510 + i as u64, false, 0.1);
        let out = Tensor::<Cpu>::zeros(input, &Cpu)
            .and_then(|x| x.conv2d(&Tensor::zeros(weight, &Cpu)?, None, options))
            .expect("shape");
        // A random weighting of the output: the function stays linear in each input, so
        // central differences are exact up to rounding.
        let r = values(out.shape().clone(), 115 + i as u64, false, 0.1);
        let mut inputs = vec![x, w, r];
        if bias {
            inputs.push(values([weight[0]], 120 + i as u64, false, 0.1));
        }
        check_gradients(
            "conv2d",
            &inputs,
            move |v| v[0].conv2d(&v[1], v.get(3), options)?.mul(&v[2])?.sum_all(),
            &GradCheck::default(),
        )
        .unwrap_or_else(|e| panic!("configuration {i}: {e}"));
    }
}

/// Whether no window's maximum changes place when any one input of `x, w, b` moves by
/// `±eps`: where it would, a central difference straddles the kink and means nothing.
fn maxima_stay_put(
    inputs: &[Tensor<Cpu>; 3],
    (conv, pool): (WindowOptions, WindowOptions),
    eps: f32,
) -> bool {
    let indices = |v: &[Tensor<Cpu>]| {
        v[0].conv2d_max_pool2d(&v[1], Some(&v[2]), conv, pool)
            .and_then(|(_, indices)| indices.to_vec())
            .expect("shapes")
    };
    let unmoved = indices(inputs);
    (0..3).all(|which| {
        let data = inputs[which].to_vec().expect("values");
        (0..data.len()).all(|at| {
            [eps, -eps].into_iter().all(|step| {
                let mut moved = data.clone();
                moved[at] += step;
                let mut v = inputs.to_vec();
                v[which] =
                    Tensor::from_vec(moved, inputs[which].shape().clone(), &Cpu).expect("values");
                indices(&v) == unmoved
            })
        })
    })
}

#[test]
fn conv2d_max_pool2d_passes_for_input_weight_and_bias() {
    let lab_pool = WindowOptions::new([2, 2]).stride([2, 2]);
    let configurations = [
        (
            [2, 9, 6, 6],
            [3, 9, 3, 3],
            WindowOptions::new([3, 3]).padding([1, 1]),
            lab_pool,
        ),
        (
            [1, 2, 7, 5],
            [3, 2, 3, 3],
            WindowOptions::new([3, 3]).padding([1, 1]),
            WindowOptions::new([3, 3]).stride([2, 2]).padding([1, 1]),
        ),
        (
            [1, 2, 9, 9],
            [2, 2, 3, 3],
            WindowOptions::new([3, 3]).stride([2, 2]),
            lab_pool,
        ),
    ];
    let tolerances = GradCheck::default();
    for (i, (input, weight, conv, pool)) in configurations.into_iter().enumerate() {
        // The first seed whose windows keep their maxima within the step.
        let inputs = (0..50u64)
            .map(|seed| {
                let seed = 1000 + 10 * seed + i as u64;
                [
                    values(input, seed, false, 0.1),
                    values(weight, seed + 1, false, 0.1),
                    values([weight[0]], seed + 2, false, 0.1),
                ]
            })
            .find(|inputs| maxima_stay_put(inputs, (conv, pool), tolerances.eps))
            .unwrap_or_else(|| panic!("configuration {i}: no seed keeps the maxima in place"));
        let out = inputs[0]
            .conv2d_max_pool2d(&inputs[1], Some(&inputs[2]), conv, pool)
            .expect("shapes")
            .0;
        let r = values(out.shape().clone(), 1300 + i as u64, false, 0.1);
        let [x, w, b] = inputs;
        let report = check_gradients(
            "conv2d_max_pool2d",
            &[x, w, b, r],
            move |v| {
                v[0].conv2d_max_pool2d(&v[1], Some(&v[2]), conv, pool)?
                    .mul(&v[3])?
                    .sum_all()
            },
            &tolerances,
        )
        .unwrap_or_else(|e| panic!("configuration {i}: {e}"));
        assert!(report.checked > 0, "configuration {i}: nothing was checked");
    }
}

#[test]
fn max_pool2d_passes_with_overlapping_and_padded_windows() {
    let cases = [
        ([2, 2, 4, 6], WindowOptions::new([2, 2]).stride([2, 2])),
        (
            [1, 2, 7, 5],
            WindowOptions::new([3, 3]).stride([2, 2]).padding([1, 1]),
        ),
        ([1, 1, 5, 7], WindowOptions::new([2, 3]).stride([1, 2])),
    ];
    for (i, (input, options)) in cases.into_iter().enumerate() {
        let x = distinct_values(input, 130 + i as u64);
        check_gradients(
            "max_pool2d",
            &[x],
            move |v| v[0].max_pool2d(options)?.square()?.sum_all(),
            &GradCheck::default(),
        )
        .unwrap_or_else(|e| panic!("configuration {i}: {e}"));
    }
}

#[test]
fn avg_pool2d_passes_with_overlapping_and_padded_windows() {
    let cases = [
        ([2, 2, 4, 6], WindowOptions::new([2, 2]).stride([2, 2])),
        (
            [1, 2, 7, 5],
            WindowOptions::new([3, 3]).stride([2, 2]).padding([1, 1]),
        ),
    ];
    for (i, (input, options)) in cases.into_iter().enumerate() {
        let x = values(input, 540 + i as u64, false, 0.1);
        check_gradients(
            "avg_pool2d",
            &[x],
            move |v| v[0].avg_pool2d(options)?.square()?.sum_all(),
            &GradCheck::default(),
        )
        .unwrap_or_else(|e| panic!("configuration {i}: {e}"));
    }
}

/// Batch normalisation's shapes: `[N, C]` (BatchNorm1d), `[N, C, L]`, `[N, C, H, W]`
/// (BatchNorm2d), each with weight and bias, without, and with only a weight.
#[test]
fn batch_norm_passes_with_batch_and_given_statistics() {
    use ember_autodiff::BatchNormStatistics;
    let cases: [(&[usize], bool, bool); 5] = [
        (&[5, 3], true, true),
        (&[4, 2, 3], true, false),
        (&[2, 3, 3, 2], true, true),
        (&[3, 2, 2, 2], false, false),
        (&[6, 1], false, true),
    ];
    for (i, &(input, weight, bias)) in cases.iter().enumerate() {
        let c = input[1];
        let x = values(input, 560 + i as u64, false, 0.1);
        // A random weighting of the output: with batch statistics the sum of the output is
        // constant in x, so an unweighted sum would test nothing.
        let r = values(input, 165 + i as u64, false, 0.1);
        let mut inputs = vec![x, r];
        if weight {
            inputs.push(values([c], 170 + i as u64, false, 0.3));
        }
        if bias {
            inputs.push(values([c], 175 + i as u64, false, 0.1));
        }
        let mean = values([c], 180 + i as u64, false, 0.1);
        let var = values([c], 185 + i as u64, true, 0.2);
        for given in [false, true] {
            let (mean, var) = (mean.clone(), var.clone());
            check_gradients(
                "batch_norm",
                &inputs,
                move |v| {
                    let statistics = if given {
                        BatchNormStatistics::Given {
                            mean: &mean,
                            var: &var,
                        }
                    } else {
                        BatchNormStatistics::Batch
                    };
                    let w = weight.then(|| &v[2]);
                    let b = bias.then(|| &v[if weight { 3 } else { 2 }]);
                    v[0].batch_norm(statistics, w, b, 1e-5)?
                        .output
                        .mul(&v[1])?
                        .sum_all()
                },
                &GradCheck::default(),
            )
            .unwrap_or_else(|e| panic!("case {i} {input:?}, given statistics {given}: {e}"));
        }
    }
}

#[test]
fn batch_norm_of_a_vector_or_with_statistics_of_another_size_is_an_error() {
    use ember_autodiff::{BatchNormStatistics, Error};
    let vector = Var::constant(values([4], 190, false, 0.1));
    let err = vector
        .batch_norm(BatchNormStatistics::Batch, None, None, 1e-5)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Tensor(ember_tensor::Error::WrongRank {
                op: "batch_norm",
                ..
            })
        ),
        "{err}"
    );
    let x = Var::constant(values([4, 3], 191, false, 0.1));
    let two = values([2], 192, true, 0.1);
    let given = BatchNormStatistics::Given {
        mean: &two,
        var: &two,
    };
    assert!(x.batch_norm(given, None, None, 1e-5).is_err());
    let weight = Var::parameter(two.clone());
    assert!(
        x.batch_norm(BatchNormStatistics::Batch, Some(&weight), None, 1e-5)
            .is_err()
    );
}

#[test]
fn dropout_passes_with_its_mask_fixed() {
    // A fixed key and step: the function is x ↦ x · mask, smooth in x.
    for (i, p) in [0.0f32, 0.3, 0.5].into_iter().enumerate() {
        let mask = DropoutMask::new(p, 777 + i as u64, 11).unwrap();
        let x = values([5, 7], 160 + i as u64, false, 0.1);
        check_gradients(
            "dropout",
            &[x],
            move |v| v[0].dropout(&mask)?.square()?.sum_all(),
            &GradCheck::default(),
        )
        .unwrap_or_else(|e| panic!("p {p}: {e}"));
    }
    // The gradient is the forward's mask: zero exactly where the output was dropped.
    let mask = DropoutMask::new(0.5, 3, 4).unwrap();
    let x = Var::parameter(values([64], 170, false, 0.1));
    let y = x.dropout(&mask).unwrap();
    y.sum_all().unwrap().backward().unwrap();
    let (y, g) = (
        y.value().to_vec().unwrap(),
        x.grad().unwrap().to_vec().unwrap(),
    );
    assert!(g.contains(&0.0) && g.contains(&2.0));
    for (y, g) in y.iter().zip(&g) {
        assert_eq!(*y == 0.0, *g == 0.0);
    }
}

#[test]
fn layout_ops_pass() {
    let x = values([2, 3, 4], 150, false, 0.1);
    let weights = values([4, 2, 3], 151, false, 0.1);
    check_gradients(
        "permute",
        &[x.clone(), weights],
        |v| v[0].permute(&[2, 0, 1])?.mul(&v[1])?.square()?.sum_all(),
        &GradCheck::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    check_gradients(
        "transpose + flatten + view",
        &[x],
        |v| {
            v[0].transpose(0, 2)?
                .flatten_from(1)?
                .view([24])?
                .square()?
                .sum_all()
        },
        &GradCheck::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

/// The gradient check that covers each op kind with declared conformance cases. An exhaustive
/// match: a new kind does not compile until it names its check (and that check exists above).
fn gradient_check_of(kind: OpKind) -> &'static str {
    match kind {
        OpKind::StridedCopy => "layout_ops_pass",
        OpKind::Unfold2d | OpKind::Fold2d | OpKind::Conv2d | OpKind::Conv2dBackward => {
            "conv2d_passes_for_input_weight_and_bias"
        }
        OpKind::ScatterRows | OpKind::MaxPool2d | OpKind::MaxPool2dBackward => {
            "max_pool2d_passes_with_overlapping_and_padded_windows"
        }
        OpKind::Conv2dMaxPool2d | OpKind::Conv2dMaxPool2dBackward => {
            "conv2d_max_pool2d_passes_for_input_weight_and_bias"
        }
        OpKind::AvgPool2d | OpKind::AvgPool2dBackward => {
            "avg_pool2d_passes_with_overlapping_and_padded_windows"
        }
        OpKind::Dropout => "dropout_passes_with_its_mask_fixed",
    }
}

#[test]
fn every_declared_op_kind_has_a_gradient_check() {
    let source = include_str!("gradcheck.rs");
    for &kind in ember_tensor::conformance::kinds() {
        let check = gradient_check_of(kind);
        assert!(
            source.contains(&format!("fn {check}()")),
            "{kind:?}: no test named {check}"
        );
    }
}
