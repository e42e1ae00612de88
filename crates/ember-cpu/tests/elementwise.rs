//! Unary, scalar and binary element-wise ops against hand-computed values, including PyTorch
//! broadcasting and the backward step of every activation.

mod common;

use common::{TIGHT, assert_close, assert_tensor, scalar, t, vals};
use std::f64::consts::{E, LN_2, LN_10, SQRT_2};

use ember_cpu::Cpu;
use ember_tensor::ops::{BinaryOp, ScalarOp, UnaryOp};
use ember_tensor::{Error, Shape, Tensor};

/// Inputs valid for every function defined on the whole real line.
const X: [f32; 6] = [-2.0, -0.5, 0.0, 0.5, 1.0, 3.0];
/// Positive inputs for log and sqrt.
const P: [f32; 6] = [0.25, 1.0, 2.0, 4.0, 10.0, 0.01];
/// Incoming gradients for the backward steps.
const G: [f32; 6] = [1.0, 2.0, -1.0, 0.5, 3.0, -2.0];

fn input_for(op: UnaryOp) -> &'static [f32; 6] {
    match op {
        UnaryOp::Log | UnaryOp::Sqrt => &P,
        _ => &X,
    }
}

/// `op(input_for(op))`, computed by hand.
fn forward_expected(op: UnaryOp) -> [f64; 6] {
    match op {
        UnaryOp::Neg => [2.0, 0.5, -0.0, -0.5, -1.0, -3.0],
        UnaryOp::Exp => [
            0.1353352832366127,
            0.6065306597126334,
            1.0,
            1.6487212707001282,
            E,
            20.085536923187668,
        ],
        UnaryOp::Log => [
            -1.3862943611198906,
            0.0,
            LN_2,
            1.3862943611198906,
            LN_10,
            -4.605170185988091,
        ],
        UnaryOp::Relu => [0.0, 0.0, 0.0, 0.5, 1.0, 3.0],
        UnaryOp::Sigmoid => [
            0.11920292202211755,
            0.3775406687981454,
            0.5,
            0.6224593312018546,
            0.7310585786300049,
            0.9525741268224334,
        ],
        UnaryOp::Tanh => [
            -0.9640275800758169,
            -0.46211715726000974,
            0.0,
            0.46211715726000974,
            0.7615941559557649,
            0.9950547536867305,
        ],
        UnaryOp::Sqrt => [0.5, 1.0, SQRT_2, 2.0, 3.1622776601683795, 0.1],
        UnaryOp::Square => [4.0, 0.25, 0.0, 0.25, 1.0, 9.0],
    }
}

/// `G * op'(input_for(op))`, computed by hand.
fn backward_expected(op: UnaryOp) -> [f64; 6] {
    match op {
        UnaryOp::Neg => [-1.0, -2.0, 1.0, -0.5, -3.0, 2.0],
        UnaryOp::Exp => [
            0.1353352832366127,
            1.2130613194252668,
            -1.0,
            0.8243606353500641,
            8.154845485377136,
            -40.171073846375336,
        ],
        UnaryOp::Log => [4.0, 2.0, -0.5, 0.125, 0.3, -200.0],
        // The derivative at 0 (third element) is 0, as in PyTorch.
        UnaryOp::Relu => [0.0, 0.0, 0.0, 0.5, 3.0, -2.0],
        UnaryOp::Sigmoid => [
            0.1049935854035065,
            0.470007424403189,
            -0.25,
            0.11750185610079725,
            0.5898357997244456,
            -0.090353319461824,
        ],
        UnaryOp::Tanh => [
            0.07065082485316443,
            1.5728954659318548,
            -1.0,
            0.3932238664829637,
            1.2599230248420783,
            -0.019732074330880423,
        ],
        UnaryOp::Sqrt => [
            1.0,
            1.0,
            -0.35355339059327373,
            0.125,
            0.4743416490252569,
            -10.0,
        ],
        UnaryOp::Square => [-4.0, -2.0, 0.0, 0.5, 6.0, -12.0],
    }
}

#[test]
fn every_unary_op_matches_hand_values_and_keeps_shape() {
    for &op in UnaryOp::ALL {
        let x = t(input_for(op), &[2, 3]);
        let y = x.unary(op).unwrap();
        assert_eq!(y.dims(), &[2, 3], "{}", op.name());
        assert_close(&vals(&y), &forward_expected(op), TIGHT);
        // The input is not modified.
        assert_eq!(vals(&x), input_for(op).to_vec());
    }
}

#[test]
fn named_unary_methods_dispatch_to_their_op() {
    type Method = fn(&Tensor<Cpu>) -> ember_tensor::Result<Tensor<Cpu>>;
    let methods: [(UnaryOp, Method); 8] = [
        (UnaryOp::Neg, Tensor::neg),
        (UnaryOp::Exp, Tensor::exp),
        (UnaryOp::Log, Tensor::log),
        (UnaryOp::Relu, Tensor::relu),
        (UnaryOp::Sigmoid, Tensor::sigmoid),
        (UnaryOp::Tanh, Tensor::tanh),
        (UnaryOp::Sqrt, Tensor::sqrt),
        (UnaryOp::Square, Tensor::square),
    ];
    for (op, method) in methods {
        let x = t(input_for(op), &[6]);
        assert_close(&vals(&method(&x).unwrap()), &forward_expected(op), TIGHT);
    }
}

#[test]
fn unary_special_values() {
    let x = t(&[0.0, -1.0, f32::INFINITY], &[3]);
    assert_close(
        &vals(&x.log().unwrap()),
        &[f64::NEG_INFINITY, f64::NAN, f64::INFINITY],
        0.0,
    );
    assert_close(
        &vals(&x.sqrt().unwrap()),
        &[0.0, f64::NAN, f64::INFINITY],
        0.0,
    );
    // Sigmoid and tanh saturate without NaN; exp overflows to inf.
    let big = t(&[1000.0, -1000.0, 100.0, -100.0], &[4]);
    let s = vals(&big.sigmoid().unwrap());
    assert_eq!(&s[..3], &[1.0, 0.0, 1.0]);
    // sigmoid(-100) = 3.72e-44 is subnormal in f32 but must not flush to 0 or become NaN.
    assert!(
        (f64::from(s[3]) / 3.720075976020836e-44 - 1.0).abs() < 0.05,
        "{}",
        s[3]
    );
    assert_close(&vals(&big.tanh().unwrap()), &[1.0, -1.0, 1.0, -1.0], 0.0);
    let e = vals(&big.exp().unwrap());
    assert_eq!(&e[..3], &[f32::INFINITY, 0.0, f32::INFINITY]);
    assert!(
        (f64::from(e[3]) / 3.720075976020836e-44 - 1.0).abs() < 0.05,
        "{}",
        e[3]
    );
    // relu(-0) is 0 and tiny positive values pass through.
    let r = vals(&t(&[-0.0, 1e-30, -1e-30], &[3]).relu().unwrap());
    assert_eq!(r, vec![0.0, 1e-30, 0.0]);
}

#[test]
fn every_unary_backward_matches_hand_derivatives() {
    for &op in UnaryOp::ALL {
        let x = t(input_for(op), &[3, 2]);
        let y = x.unary(op).unwrap();
        let grad = t(&G, &[3, 2]);
        let dx = x.unary_backward(op, &y, &grad).unwrap();
        assert_eq!(dx.dims(), &[3, 2], "{}", op.name());
        assert_close(&vals(&dx), &backward_expected(op), 1e-5);
    }
}

#[test]
fn relu_derivative_is_zero_at_zero_and_negative() {
    let x = t(&[-1.0, 0.0, -0.0, 2.0, 1e-20], &[5]);
    let y = x.relu().unwrap();
    let grad = t(&[5.0; 5], &[5]);
    let dx = vals(&x.unary_backward(UnaryOp::Relu, &y, &grad).unwrap());
    assert_eq!(dx, vec![0.0, 0.0, 0.0, 5.0, 5.0]);
}

#[test]
fn unary_on_edge_shapes() {
    // Scalar, 1×1, empty.
    let s = scalar(-3.0).square().unwrap();
    assert_eq!(s.dims(), &[] as &[usize]);
    assert_eq!(s.to_scalar().unwrap(), 9.0);
    let one = t(&[4.0], &[1, 1]).sqrt().unwrap();
    assert_tensor(&one, &[1, 1], &[2.0], 0.0);
    let empty = Tensor::<Cpu>::zeros([0, 3], &Cpu).unwrap().exp().unwrap();
    assert_eq!(empty.dims(), &[0, 3]);
    assert!(vals(&empty).is_empty());
    let grad_empty = empty.unary_backward(UnaryOp::Exp, &empty, &empty).unwrap();
    assert_eq!(grad_empty.dims(), &[0, 3]);
}

#[test]
fn every_scalar_op_matches_hand_values() {
    let x = t(&X, &[2, 3]);
    let cases: [(ScalarOp, f32, [f64; 6]); 4] = [
        (ScalarOp::Add, 2.5, [0.5, 2.0, 2.5, 3.0, 3.5, 5.5]),
        (ScalarOp::Mul, -3.0, [6.0, 1.5, -0.0, -1.5, -3.0, -9.0]),
        (ScalarOp::Pow, 2.0, [4.0, 0.25, 0.0, 0.25, 1.0, 9.0]),
        (ScalarOp::Pow, 3.0, [-8.0, -0.125, 0.0, 0.125, 1.0, 27.0]),
    ];
    for (op, s, expected) in cases {
        let y = x.scalar_op(op, s).unwrap();
        assert_eq!(y.dims(), &[2, 3]);
        assert_close(&vals(&y), &expected, TIGHT);
    }
    let p = t(&P, &[6]);
    assert_close(
        &vals(&p.pow_scalar(0.5).unwrap()),
        &[0.5, 1.0, SQRT_2, 2.0, 3.1622776601683795, 0.1],
        TIGHT,
    );
    assert_close(
        &vals(&p.pow_scalar(-1.0).unwrap()),
        &[4.0, 1.0, 0.5, 0.25, 0.1, 100.0],
        TIGHT,
    );
    assert_close(
        &vals(&p.pow_scalar(1.5).unwrap()),
        &[
            0.125,
            1.0,
            2.8284271247461903,
            8.0,
            31.622776601683793,
            0.001,
        ],
        TIGHT,
    );
    // Named methods.
    assert_close(
        &vals(&x.add_scalar(-1.0).unwrap()),
        &[-3.0, -1.5, -1.0, -0.5, 0.0, 2.0],
        0.0,
    );
    assert_close(
        &vals(&x.mul_scalar(0.5).unwrap()),
        &[-1.0, -0.25, 0.0, 0.25, 0.5, 1.5],
        0.0,
    );
    assert_close(&vals(&x.pow_scalar(0.0).unwrap()), &[1.0; 6], 0.0);
    // A negative base with a fractional exponent is NaN, as in PyTorch.
    assert!(vals(&t(&[-8.0], &[1]).pow_scalar(1.0 / 3.0).unwrap())[0].is_nan());
    // Scalars and empty tensors keep their shape.
    assert_eq!(
        scalar(2.0).pow_scalar(10.0).unwrap().to_scalar().unwrap(),
        1024.0
    );
    assert_eq!(
        Tensor::<Cpu>::ones([2, 0], &Cpu)
            .unwrap()
            .add_scalar(1.0)
            .unwrap()
            .dims(),
        &[2, 0]
    );
}

#[test]
fn every_binary_op_on_equal_shapes() {
    let a = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let b = t(&[0.5, -1.0, 2.0, 4.0, 0.25, -3.0], &[2, 3]);
    let cases: [(BinaryOp, [f64; 6]); 4] = [
        (BinaryOp::Add, [1.5, 1.0, 5.0, 8.0, 5.25, 3.0]),
        (BinaryOp::Sub, [0.5, 3.0, 1.0, 0.0, 4.75, 9.0]),
        (BinaryOp::Mul, [0.5, -2.0, 6.0, 16.0, 1.25, -18.0]),
        (BinaryOp::Div, [2.0, -2.0, 1.5, 1.0, 20.0, -2.0]),
    ];
    for (op, expected) in cases {
        let y = a.binary(op, &b).unwrap();
        assert_tensor(&y, &[2, 3], &expected, TIGHT);
    }
    assert_close(&vals(&a.add(&b).unwrap()), &cases[0].1, 0.0);
    assert_close(&vals(&a.sub(&b).unwrap()), &cases[1].1, 0.0);
    assert_close(&vals(&a.mul(&b).unwrap()), &cases[2].1, 0.0);
    assert_close(&vals(&a.div(&b).unwrap()), &cases[3].1, 0.0);
    // Order matters for sub and div.
    assert_close(
        &vals(&b.sub(&a).unwrap()),
        &[-0.5, -3.0, -1.0, 0.0, -4.75, -9.0],
        0.0,
    );
    assert_close(
        &vals(&b.div(&a).unwrap()),
        &[0.5, -0.5, 2.0 / 3.0, 1.0, 0.05, -0.5],
        TIGHT,
    );
    // Division by zero follows IEEE-754.
    let z = t(&[1.0, -1.0, 0.0], &[3])
        .div(&t(&[0.0, 0.0, 0.0], &[3]))
        .unwrap();
    assert_close(
        &vals(&z),
        &[f64::INFINITY, f64::NEG_INFINITY, f64::NAN],
        0.0,
    );
}

const A12: [f32; 12] = [
    1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0,
];
const ROW4: [f32; 4] = [10.0, 20.0, 30.0, 40.0];

#[test]
fn broadcast_matrix_with_trailing_vector() {
    let a = t(&A12, &[3, 4]);
    let b = t(&ROW4, &[4]);
    assert_tensor(
        &a.add(&b).unwrap(),
        &[3, 4],
        &[
            11.0, 22.0, 33.0, 44.0, 15.0, 26.0, 37.0, 48.0, 19.0, 30.0, 41.0, 52.0,
        ],
        0.0,
    );
    assert_tensor(
        &a.sub(&b).unwrap(),
        &[3, 4],
        &[
            -9.0, -18.0, -27.0, -36.0, -5.0, -14.0, -23.0, -32.0, -1.0, -10.0, -19.0, -28.0,
        ],
        0.0,
    );
    assert_tensor(
        &a.mul(&b).unwrap(),
        &[3, 4],
        &[
            10.0, 40.0, 90.0, 160.0, 50.0, 120.0, 210.0, 320.0, 90.0, 200.0, 330.0, 480.0,
        ],
        0.0,
    );
    assert_tensor(
        &a.div(&b).unwrap(),
        &[3, 4],
        &[
            0.1,
            0.1,
            0.1,
            0.1,
            0.5,
            0.3,
            0.23333333333333334,
            0.2,
            0.9,
            0.5,
            0.36666666666666664,
            0.3,
        ],
        TIGHT,
    );
    // The vector on the left: order of operands is kept.
    assert_tensor(
        &b.sub(&a).unwrap(),
        &[3, 4],
        &[
            9.0, 18.0, 27.0, 36.0, 5.0, 14.0, 23.0, 32.0, 1.0, 10.0, 19.0, 28.0,
        ],
        0.0,
    );
    assert_tensor(
        &b.div(&a).unwrap(),
        &[3, 4],
        &[
            10.0,
            10.0,
            10.0,
            10.0,
            2.0,
            3.3333333333333335,
            4.285714285714286,
            5.0,
            1.1111111111111112,
            2.0,
            2.727272727272727,
            3.3333333333333335,
        ],
        TIGHT,
    );
}

#[test]
fn broadcast_column_with_row() {
    let col = t(&[1.0, 2.0, 3.0], &[3, 1]);
    let row = t(&ROW4, &[1, 4]);
    assert_tensor(
        &col.add(&row).unwrap(),
        &[3, 4],
        &[
            11.0, 21.0, 31.0, 41.0, 12.0, 22.0, 32.0, 42.0, 13.0, 23.0, 33.0, 43.0,
        ],
        0.0,
    );
    assert_tensor(
        &col.sub(&row).unwrap(),
        &[3, 4],
        &[
            -9.0, -19.0, -29.0, -39.0, -8.0, -18.0, -28.0, -38.0, -7.0, -17.0, -27.0, -37.0,
        ],
        0.0,
    );
    assert_tensor(
        &row.sub(&col).unwrap(),
        &[3, 4],
        &[
            9.0, 19.0, 29.0, 39.0, 8.0, 18.0, 28.0, 38.0, 7.0, 17.0, 27.0, 37.0,
        ],
        0.0,
    );
    // [4, 1] - [4]: a column against a vector whose length equals the column's.
    let col4 = t(&[1.0, 2.0, 3.0, 4.0], &[4, 1]);
    assert_tensor(
        &col4.sub(&t(&ROW4, &[4])).unwrap(),
        &[4, 4],
        &[
            -9.0, -19.0, -29.0, -39.0, -8.0, -18.0, -28.0, -38.0, -7.0, -17.0, -27.0, -37.0, -6.0,
            -16.0, -26.0, -36.0,
        ],
        0.0,
    );
    // [3] - [3, 1]: the vector is a row, the column repeats across it.
    let v = t(&[1.0, 2.0, 3.0], &[3]);
    let c = t(&[10.0, 20.0, 30.0], &[3, 1]);
    assert_tensor(
        &v.sub(&c).unwrap(),
        &[3, 3],
        &[-9.0, -8.0, -7.0, -19.0, -18.0, -17.0, -29.0, -28.0, -27.0],
        0.0,
    );
}

#[test]
fn broadcast_rank3_with_rank2() {
    let a = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], &[2, 1, 4]);
    let b = t(&[100.0, 200.0, 300.0], &[3, 1]);
    assert_tensor(
        &a.add(&b).unwrap(),
        &[2, 3, 4],
        &[
            101.0, 102.0, 103.0, 104.0, 201.0, 202.0, 203.0, 204.0, 301.0, 302.0, 303.0, 304.0,
            105.0, 106.0, 107.0, 108.0, 205.0, 206.0, 207.0, 208.0, 305.0, 306.0, 307.0, 308.0,
        ],
        0.0,
    );
    assert_tensor(
        &b.sub(&a).unwrap(),
        &[2, 3, 4],
        &[
            99.0, 98.0, 97.0, 96.0, 199.0, 198.0, 197.0, 196.0, 299.0, 298.0, 297.0, 296.0, 95.0,
            94.0, 93.0, 92.0, 195.0, 194.0, 193.0, 192.0, 295.0, 294.0, 293.0, 292.0,
        ],
        0.0,
    );
    let d = t(&[2.0, 4.0, 8.0], &[3, 1]);
    assert_tensor(
        &a.div(&d).unwrap(),
        &[2, 3, 4],
        &[
            0.5, 1.0, 1.5, 2.0, 0.25, 0.5, 0.75, 1.0, 0.125, 0.25, 0.375, 0.5, 2.5, 3.0, 3.5, 4.0,
            1.25, 1.5, 1.75, 2.0, 0.625, 0.75, 0.875, 1.0,
        ],
        0.0,
    );
    // A leading 1 in the smaller-numel operand is kept in the result's rank.
    let r = t(&[1.0, 2.0, 3.0], &[1, 1, 3]);
    let m = t(&[2.0, 4.0, 8.0, -1.0, -2.0, -4.0], &[2, 3]);
    assert_tensor(
        &r.div(&m).unwrap(),
        &[1, 2, 3],
        &[0.5, 0.5, 0.375, -1.0, -1.0, -0.75],
        0.0,
    );
}

#[test]
fn broadcast_scalars_both_directions() {
    const D: [f32; 6] = [1.0, 2.0, 4.0, -8.0, 0.5, 5.0];
    let x = t(&D, &[2, 3]);
    let two = scalar(2.0);
    assert_tensor(
        &two.add(&x).unwrap(),
        &[2, 3],
        &[3.0, 4.0, 6.0, -6.0, 2.5, 7.0],
        0.0,
    );
    assert_tensor(
        &x.add(&two).unwrap(),
        &[2, 3],
        &[3.0, 4.0, 6.0, -6.0, 2.5, 7.0],
        0.0,
    );
    assert_tensor(
        &two.sub(&x).unwrap(),
        &[2, 3],
        &[1.0, 0.0, -2.0, 10.0, 1.5, -3.0],
        0.0,
    );
    assert_tensor(
        &x.sub(&two).unwrap(),
        &[2, 3],
        &[-1.0, 0.0, 2.0, -10.0, -1.5, 3.0],
        0.0,
    );
    assert_tensor(
        &two.div(&x).unwrap(),
        &[2, 3],
        &[2.0, 1.0, 0.5, -0.25, 4.0, 0.4],
        TIGHT,
    );
    assert_tensor(
        &x.div(&two).unwrap(),
        &[2, 3],
        &[0.5, 1.0, 2.0, -4.0, 0.25, 2.5],
        0.0,
    );
    assert_tensor(
        &x.mul(&two).unwrap(),
        &[2, 3],
        &[2.0, 4.0, 8.0, -16.0, 1.0, 10.0],
        0.0,
    );
    // A one-element vector broadcasts like a scalar but keeps rank 1 where it is the larger.
    let one = t(&[3.0], &[1]);
    assert_tensor(
        &one.sub(&t(&[1.0, 2.0, 3.0], &[3])).unwrap(),
        &[3],
        &[2.0, 1.0, 0.0],
        0.0,
    );
    assert_tensor(&one.sub(&scalar(1.0)).unwrap(), &[1], &[2.0], 0.0);
    assert_tensor(
        &scalar(1.0).sub(&t(&[3.0], &[1, 1])).unwrap(),
        &[1, 1],
        &[-2.0],
        0.0,
    );
    // Scalar with scalar stays rank 0.
    let s = scalar(7.0).div(&scalar(2.0)).unwrap();
    assert_eq!(s.dims(), &[] as &[usize]);
    assert_eq!(s.to_scalar().unwrap(), 3.5);
}

#[test]
fn broadcast_with_empty_dimensions() {
    let empty = Tensor::<Cpu>::zeros([0, 4], &Cpu).unwrap();
    let y = empty.add(&t(&ROW4, &[4])).unwrap();
    assert_eq!(y.dims(), &[0, 4]);
    assert!(vals(&y).is_empty());
    let y = t(&ROW4, &[1, 4]).sub(&empty).unwrap();
    assert_eq!(y.dims(), &[0, 4]);
    let y = Tensor::<Cpu>::zeros([0], &Cpu)
        .unwrap()
        .mul(&scalar(3.0))
        .unwrap();
    assert_eq!(y.dims(), &[0]);
    let y = Tensor::<Cpu>::zeros([3, 0], &Cpu)
        .unwrap()
        .add(&Tensor::zeros([0], &Cpu).unwrap())
        .unwrap();
    assert_eq!(y.dims(), &[3, 0]);
    let y = empty.add(&t(&[1.0, 2.0], &[2, 1, 1])).unwrap();
    assert_eq!(y.dims(), &[2, 0, 4]);
    // 0 against a size other than 1 does not broadcast.
    assert!(matches!(
        empty.add(&t(&[1.0, 2.0], &[2, 1])),
        Err(Error::NotBroadcastable { .. })
    ));
}

#[test]
fn incompatible_shapes_are_not_broadcast() {
    let cases: [(&[usize], &[usize]); 5] = [
        (&[3, 4], &[3]),
        (&[2, 3], &[3, 2]),
        (&[2, 1, 4], &[3, 2]),
        (&[4], &[5]),
        (&[2, 3, 4], &[2, 4, 1]),
    ];
    for (sa, sb) in cases {
        let a = Tensor::<Cpu>::ones(sa, &Cpu).unwrap();
        let b = Tensor::<Cpu>::ones(sb, &Cpu).unwrap();
        for &op in BinaryOp::ALL {
            let err = a.binary(op, &b).unwrap_err();
            assert_eq!(
                err,
                Error::NotBroadcastable {
                    op: op.name(),
                    lhs: Shape::from(sa),
                    rhs: Shape::from(sb),
                }
            );
            let text = err.to_string();
            assert!(text.contains(op.name()), "{text}");
            assert!(text.contains(&Shape::from(sa).to_string()), "{text}");
        }
    }
}

/// Per-channel operands (`[1, C, 1]` against `[N, C, S]`, BatchNorm's shapes) and their
/// relatives, on either side: every element equals `op` of the two values its index selects,
/// bit for bit.
#[test]
fn broadcast_per_channel_values_on_either_side() {
    let cases: [(&[usize], &[usize]); 7] = [
        (&[2, 3, 4], &[1, 3, 1]),
        (&[2, 3, 4], &[3, 1]),
        (&[2, 3, 4, 5], &[3, 1, 1]),
        (&[2, 3, 4], &[2, 3, 1]),
        (&[2, 3, 4], &[3, 4]),
        (&[2, 1, 3, 2], &[1, 1, 3, 1]),
        (&[3, 2, 0], &[1, 2, 1]),
    ];
    for (full_shape, small_shape) in cases {
        let full_shape = Shape::from(full_shape);
        let small_shape = Shape::from(small_shape);
        let full: Vec<f32> = (0..full_shape.numel())
            .map(|i| i as f32 * 0.37 - 2.0)
            .collect();
        let small: Vec<f32> = (0..small_shape.numel())
            .map(|i| i as f32 * 1.3 + 0.5)
            .collect();
        // The index into `small` of each output element, from the broadcasting rule.
        let out = full_shape.dims();
        let offset = out.len() - small_shape.dims().len();
        let small_index = |mut flat: usize| {
            let mut index = 0;
            let mut stride = 1;
            for axis in (0..out.len()).rev() {
                let coordinate = flat % out[axis];
                flat /= out[axis];
                if axis >= offset {
                    let d = small_shape.dims()[axis - offset];
                    if d > 1 {
                        index += coordinate * stride;
                    }
                    stride *= d;
                }
            }
            index
        };
        let a = t(&full, full_shape.dims());
        let b = t(&small, small_shape.dims());
        for &op in BinaryOp::ALL {
            let right = vals(&a.binary(op, &b).unwrap());
            let left = vals(&b.binary(op, &a).unwrap());
            for (i, &x) in full.iter().enumerate() {
                let c = small[small_index(i)];
                let what = format!("{} {full_shape} with {small_shape} at {i}", op.name());
                assert_eq!(right[i].to_bits(), op.apply(x, c).to_bits(), "{what}");
                assert_eq!(left[i].to_bits(), op.apply(c, x).to_bits(), "{what}");
            }
            assert_eq!(right.len(), full.len());
        }
    }
}

#[test]
fn long_passes_split_between_threads_give_each_elements_own_value() {
    // Long enough for the CPU backend to compute the halves on two threads; an odd length, so
    // the second half is not a whole number of cache lines.
    let len = 200_003;
    let x: Vec<f32> = (0..len).map(|i| (i % 1000) as f32 / 250.0 - 2.0).collect();
    let g: Vec<f32> = (0..len).map(|i| (i % 7) as f32 - 3.0).collect();
    let xt = Tensor::from_vec(x.clone(), [len], &Cpu).unwrap();
    let gt = Tensor::from_vec(g.clone(), [len], &Cpu).unwrap();
    for op in [UnaryOp::Relu, UnaryOp::Exp, UnaryOp::Tanh] {
        let y = xt.unary(op).unwrap();
        let expected: Vec<f32> = x.iter().map(|&v| op.apply(v)).collect();
        assert_eq!(y.to_vec().unwrap(), expected, "{op:?}");
        let dx = xt.unary_backward(op, &y, &gt).unwrap();
        let expected: Vec<f32> = (0..len)
            .map(|i| g[i] * op.derivative(x[i], op.apply(x[i])))
            .collect();
        assert_eq!(dx.to_vec().unwrap(), expected, "{op:?} backward");
    }
}
