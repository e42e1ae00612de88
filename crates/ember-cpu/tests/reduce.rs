//! Reductions along every axis, with and without `keepdim`; whole-tensor sums and means; and
//! `sum_to_shape`, the gradient of broadcasting.

mod common;

use common::{TIGHT, assert_close, assert_tensor, scalar, t, vals};
use ember_cpu::Cpu;
use ember_tensor::ops::ReduceOp;
use ember_tensor::{Error, Shape, Tensor};

/// `x[i] = (7i mod 24) - 10` as a [2, 3, 4] tensor: no axis is sorted, so each maximum sits at
/// a different position.
fn cube() -> Tensor<Cpu> {
    let data: Vec<f32> = (0..24).map(|i| ((7 * i) % 24) as f32 - 10.0).collect();
    t(&data, &[2, 3, 4])
}

/// (axis, shape without it, sum, mean, max) of [`cube`], computed by hand.
#[allow(clippy::type_complexity)]
const CUBE_REDUCTIONS: [(usize, &[usize], &[f64], &[f64], &[f64]); 3] = [
    (
        0,
        &[3, 4],
        &[
            -8.0, 6.0, -4.0, 10.0, 0.0, 14.0, 4.0, -6.0, 8.0, -2.0, 12.0, 2.0,
        ],
        &[
            -4.0, 3.0, -2.0, 5.0, 0.0, 7.0, 2.0, -3.0, 4.0, -1.0, 6.0, 1.0,
        ],
        &[
            2.0, 9.0, 4.0, 11.0, 6.0, 13.0, 8.0, 3.0, 10.0, 5.0, 12.0, 7.0,
        ],
    ),
    (
        1,
        &[2, 4],
        &[-18.0, 3.0, 24.0, -3.0, 18.0, 15.0, -12.0, 9.0],
        &[-6.0, 1.0, 8.0, -1.0, 6.0, 5.0, -4.0, 3.0],
        &[-2.0, 5.0, 12.0, 11.0, 10.0, 13.0, 0.0, 7.0],
    ),
    (
        2,
        &[2, 3],
        &[2.0, -6.0, 10.0, 2.0, 18.0, 10.0],
        &[0.5, -1.5, 2.5, 0.5, 4.5, 2.5],
        &[11.0, 8.0, 12.0, 9.0, 13.0, 10.0],
    ),
];

#[test]
fn every_reduce_op_on_every_axis_with_and_without_keepdim() {
    let x = cube();
    for (axis, dims, sum, mean, max) in CUBE_REDUCTIONS {
        let mut kept = x.dims().to_vec();
        kept[axis] = 1;
        for (op, expected) in [
            (ReduceOp::Sum, sum),
            (ReduceOp::Mean, mean),
            (ReduceOp::Max, max),
        ] {
            let y = x.reduce(op, axis, false).unwrap();
            assert_tensor(&y, dims, expected, TIGHT);
            let y = x.reduce(op, axis, true).unwrap();
            assert_tensor(&y, &kept, expected, TIGHT);
        }
        assert_tensor(&x.sum_axis(axis, false).unwrap(), dims, sum, TIGHT);
        assert_tensor(&x.mean_axis(axis, true).unwrap(), &kept, mean, TIGHT);
        assert_tensor(&x.max_axis(axis, false).unwrap(), dims, max, TIGHT);
    }
}

#[test]
fn reductions_of_a_matrix_with_inexact_means() {
    let x = t(&[1.0, 1.0, 2.0, -4.0, 0.5, 10.0], &[2, 3]);
    assert_tensor(
        &x.sum_axis(0, false).unwrap(),
        &[3],
        &[-3.0, 1.5, 12.0],
        TIGHT,
    );
    assert_tensor(&x.sum_axis(1, true).unwrap(), &[2, 1], &[4.0, 6.5], TIGHT);
    assert_tensor(
        &x.mean_axis(0, true).unwrap(),
        &[1, 3],
        &[-1.5, 0.75, 6.0],
        TIGHT,
    );
    assert_tensor(
        &x.mean_axis(1, false).unwrap(),
        &[2],
        &[4.0 / 3.0, 6.5 / 3.0],
        TIGHT,
    );
    assert_tensor(&x.max_axis(0, false).unwrap(), &[3], &[1.0, 1.0, 10.0], 0.0);
    assert_tensor(&x.max_axis(1, true).unwrap(), &[2, 1], &[2.0, 10.0], 0.0);
    // All-negative lanes: the maximum is not clamped at 0.
    let neg = t(&[-3.0, -1.0, -2.0], &[3]);
    assert_eq!(neg.max_axis(0, false).unwrap().to_scalar().unwrap(), -1.0);
}

#[test]
fn reductions_on_edge_shapes() {
    // A vector reduces to a scalar, or to [1] with keepdim.
    let v = t(&[1.0, 2.0, 3.0, 4.5], &[4]);
    let s = v.sum_axis(0, false).unwrap();
    assert_eq!(s.dims(), &[] as &[usize]);
    assert_eq!(s.to_scalar().unwrap(), 10.5);
    assert_tensor(&v.mean_axis(0, true).unwrap(), &[1], &[2.625], TIGHT);
    assert_tensor(&v.max_axis(0, false).unwrap(), &[], &[4.5], 0.0);
    // 1×N and N×1.
    let row = t(&[3.0, -1.0, 7.0], &[1, 3]);
    assert_tensor(
        &row.sum_axis(0, false).unwrap(),
        &[3],
        &[3.0, -1.0, 7.0],
        0.0,
    );
    assert_tensor(&row.max_axis(1, false).unwrap(), &[1], &[7.0], 0.0);
    let col = t(&[3.0, -1.0, 7.0], &[3, 1]);
    assert_tensor(&col.mean_axis(0, false).unwrap(), &[1], &[3.0], TIGHT);
    assert_tensor(
        &col.sum_axis(1, true).unwrap(),
        &[3, 1],
        &[3.0, -1.0, 7.0],
        0.0,
    );
    // An empty axis: sum 0, mean NaN (0/0, as in PyTorch).
    let empty = Tensor::<Cpu>::zeros([0, 3], &Cpu).unwrap();
    assert_tensor(&empty.sum_axis(0, false).unwrap(), &[3], &[0.0; 3], 0.0);
    assert_tensor(
        &empty.mean_axis(0, true).unwrap(),
        &[1, 3],
        &[f64::NAN; 3],
        0.0,
    );
    // Reducing a non-empty axis of an empty tensor gives an empty result.
    assert_tensor(&empty.max_axis(1, false).unwrap(), &[0], &[], 0.0);
    assert_tensor(&empty.sum_axis(1, true).unwrap(), &[0, 1], &[], 0.0);
}

#[test]
fn max_propagates_nan() {
    let x = t(&[1.0, f32::NAN, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    assert_close(&vals(&x.max_axis(1, false).unwrap()), &[f64::NAN, 6.0], 0.0);
    assert_close(
        &vals(&x.max_axis(0, false).unwrap()),
        &[4.0, f64::NAN, 6.0],
        0.0,
    );
}

#[test]
fn sum_all_and_mean_all() {
    let x = cube();
    let s = x.sum_all().unwrap();
    assert_eq!(s.dims(), &[] as &[usize]);
    assert_eq!(s.to_scalar().unwrap(), 36.0);
    let m = x.mean_all().unwrap();
    assert_eq!(m.dims(), &[] as &[usize]);
    assert_eq!(m.to_scalar().unwrap(), 1.5);
    let y = t(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], &[7, 1]);
    assert_close(&[y.sum_all().unwrap().to_scalar().unwrap()], &[2.8], TIGHT);
    assert_close(&[y.mean_all().unwrap().to_scalar().unwrap()], &[0.4], TIGHT);
    // A scalar is its own sum and mean.
    assert_eq!(scalar(-2.5).sum_all().unwrap().to_scalar().unwrap(), -2.5);
    assert_eq!(scalar(-2.5).mean_all().unwrap().to_scalar().unwrap(), -2.5);
    // Empty: the sum is 0 and the mean NaN.
    let empty = Tensor::<Cpu>::zeros([2, 0], &Cpu).unwrap();
    assert_eq!(empty.sum_all().unwrap().to_scalar().unwrap(), 0.0);
    assert!(empty.mean_all().unwrap().to_scalar().unwrap().is_nan());
}

#[test]
fn sum_to_shape_sums_broadcast_axes() {
    let x = cube();
    let cases: [(&[usize], &[f64]); 7] = [
        (&[3, 1], &[4.0, 12.0, 20.0]),
        (&[4], &[0.0, 18.0, 12.0, 6.0]),
        (&[1, 4], &[0.0, 18.0, 12.0, 6.0]),
        (&[2, 1, 1], &[6.0, 30.0]),
        (&[1, 3, 1], &[4.0, 12.0, 20.0]),
        (
            &[3, 4],
            &[
                -8.0, 6.0, -4.0, 10.0, 0.0, 14.0, 4.0, -6.0, 8.0, -2.0, 12.0, 2.0,
            ],
        ),
        (&[], &[36.0]),
    ];
    for (target, expected) in cases {
        let y = x.sum_to_shape(&Shape::from(target)).unwrap();
        assert_tensor(&y, target, expected, TIGHT);
    }
    // The identity leaves values unchanged.
    let same = x.sum_to_shape(x.shape()).unwrap();
    assert_eq!(vals(&same), vals(&x));
    // From a broadcast scalar-like [1, 1].
    let y = t(&[1.0, 2.0, 3.0, 4.0], &[2, 2])
        .sum_to_shape(&Shape::from([1, 1]))
        .unwrap();
    assert_tensor(&y, &[1, 1], &[10.0], 0.0);
    // Empty rows sum to zeros.
    let y = Tensor::<Cpu>::ones([0, 3], &Cpu)
        .unwrap()
        .sum_to_shape(&Shape::from([3]))
        .unwrap();
    assert_tensor(&y, &[3], &[0.0; 3], 0.0);
}

#[test]
fn sum_to_shape_rejects_targets_that_do_not_broadcast_to_self() {
    let x = cube();
    for target in [&[3][..], &[2, 3], &[5, 2, 3, 4], &[1, 2, 3, 4], &[2, 4, 1]] {
        let err = x.sum_to_shape(&Shape::from(target)).unwrap_err();
        assert_eq!(
            err,
            Error::NotBroadcastable {
                op: "sum_to_shape",
                lhs: Shape::from([2, 3, 4]),
                rhs: Shape::from(target),
            }
        );
    }
}

#[test]
fn sum_squares_is_the_squared_norm() {
    // 37 elements: two 16-lane chunks and a tail of 5.
    let values: Vec<f32> = (0..37).map(|i| (i as f32 - 18.0) * 0.25).collect();
    let x = Tensor::from_vec(values.clone(), [37], &Cpu).expect("tensor");
    let expected: f32 = values.iter().map(|v| v * v).sum();
    let fused = x.sum_squares().expect("sum_squares");
    assert_eq!(fused.shape().dims(), &[] as &[usize]);
    let got = fused.to_scalar().expect("scalar");
    assert!(
        (got - expected).abs() <= 1e-5 * expected,
        "{got} vs {expected}"
    );
    let two_pass = x.square().expect("square").sum_all().expect("sum");
    let two_pass = two_pass.to_scalar().expect("scalar");
    assert!((got - two_pass).abs() <= 1e-5 * expected);
    let empty = Tensor::from_vec(Vec::new(), [0], &Cpu).expect("empty");
    assert_eq!(
        empty
            .sum_squares()
            .expect("sum")
            .to_scalar()
            .expect("scalar"),
        0.0
    );
}

#[test]
fn a_long_sum_over_the_innermost_axis_has_the_bits_of_short_ones() {
    // 40 × 32 lanes of 784 (a bias gradient's pixels) split between the threads, against each
    // image's 32 lanes summed alone (short enough to stay on one thread).
    let (images, lanes, len) = (40, 32, 784);
    let data: Vec<f32> = (0..images * lanes * len)
        .map(|i| ((i * 7919) % 1000) as f32 / 997.0 - 0.5)
        .collect();
    let whole = t(&data, &[images, lanes, len])
        .reduce(ReduceOp::Sum, 2, false)
        .unwrap()
        .to_vec()
        .unwrap();
    for n in 0..images {
        let image = t(&data[n * lanes * len..][..lanes * len], &[1, lanes, len]);
        let alone = image
            .reduce(ReduceOp::Sum, 2, false)
            .unwrap()
            .to_vec()
            .unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(&whole[n * lanes..][..lanes]),
            bits(&alone),
            "image {n}"
        );
    }
}
