//! Matrix products with every combination of transpose flags, on shapes that are not multiples
//! of any block size, and on edge shapes.

mod common;

use common::{assert_tensor, t, vals};
use ember_cpu::Cpu;
use ember_tensor::{Error, Shape, Tensor};

/// Row-major transpose of a `rows × cols` matrix, on the host.
fn transpose(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; data.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = data[r * cols + c];
        }
    }
    out
}

const A23: [f32; 6] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
const B32: [f32; 6] = [7.0, 8.0, 9.0, 10.0, 11.0, 12.0];

#[test]
fn small_product_with_all_four_transpose_flags() {
    // [[1,2,3],[4,5,6]] · [[7,8],[9,10],[11,12]] = [[58,64],[139,154]]
    let expected = [58.0, 64.0, 139.0, 154.0];
    let a = t(&A23, &[2, 3]);
    let b = t(&B32, &[3, 2]);
    // The transposes stored explicitly: A^T is [3, 2], B^T is [2, 3].
    let at = t(&[1.0, 4.0, 2.0, 5.0, 3.0, 6.0], &[3, 2]);
    let bt = t(&[7.0, 9.0, 11.0, 8.0, 10.0, 12.0], &[2, 3]);
    assert_tensor(&a.matmul(&b).unwrap(), &[2, 2], &expected, 0.0);
    assert_tensor(
        &a.matmul_t(&b, false, false).unwrap(),
        &[2, 2],
        &expected,
        0.0,
    );
    assert_tensor(
        &at.matmul_t(&b, true, false).unwrap(),
        &[2, 2],
        &expected,
        0.0,
    );
    assert_tensor(
        &a.matmul_t(&bt, false, true).unwrap(),
        &[2, 2],
        &expected,
        0.0,
    );
    assert_tensor(
        &at.matmul_t(&bt, true, true).unwrap(),
        &[2, 2],
        &expected,
        0.0,
    );
    // B·A is a different (3×3) product.
    assert_tensor(
        &b.matmul(&a).unwrap(),
        &[3, 3],
        &[39.0, 54.0, 69.0, 49.0, 68.0, 87.0, 59.0, 82.0, 105.0],
        0.0,
    );
}

#[test]
fn gram_matrices_through_transpose_flags() {
    let a = t(&A23, &[2, 3]);
    // A^T·A is 3×3, A·A^T is 2×2.
    assert_tensor(
        &a.matmul_t(&a, true, false).unwrap(),
        &[3, 3],
        &[17.0, 22.0, 27.0, 22.0, 29.0, 36.0, 27.0, 36.0, 45.0],
        0.0,
    );
    assert_tensor(
        &a.matmul_t(&a, false, true).unwrap(),
        &[2, 2],
        &[14.0, 32.0, 32.0, 77.0],
        0.0,
    );
}

/// `A[i][j] = (3i + 5j) mod 11 - 5` (7×13) and `B[j][k] = (2j + 7k) mod 9 - 4` (13×5).
fn odd_operands() -> (Vec<f32>, Vec<f32>) {
    let a = (0..7)
        .flat_map(|i| (0..13).map(move |j| ((3 * i + 5 * j) % 11) as f32 - 5.0))
        .collect();
    let b = (0..13)
        .flat_map(|j| (0..5).map(move |k| ((2 * j + 7 * k) % 9) as f32 - 4.0))
        .collect();
    (a, b)
}

/// `A · B` of [`odd_operands`], computed by hand (integers, so exact in f32).
const ODD_PRODUCT: [f64; 35] = [
    54.0, -35.0, 11.0, -6.0, 13.0, 9.0, -11.0, 5.0, -42.0, 46.0, -14.0, 57.0, -34.0, 10.0, -9.0,
    -26.0, 15.0, -7.0, 7.0, -42.0, 50.0, -16.0, 53.0, -40.0, 2.0, -28.0, -25.0, 14.0, -10.0, 2.0,
    -40.0, 54.0, -14.0, 53.0, -42.0,
];

#[test]
fn seven_by_thirteen_times_thirteen_by_five_all_flags() {
    let (a, b) = odd_operands();
    let a_t = transpose(&a, 7, 13);
    let b_t = transpose(&b, 13, 5);
    let cases = [
        (t(&a, &[7, 13]), t(&b, &[13, 5]), false, false),
        (t(&a_t, &[13, 7]), t(&b, &[13, 5]), true, false),
        (t(&a, &[7, 13]), t(&b_t, &[5, 13]), false, true),
        (t(&a_t, &[13, 7]), t(&b_t, &[5, 13]), true, true),
    ];
    for (lhs, rhs, ta, tb) in cases {
        let c = lhs.matmul_t(&rhs, ta, tb).unwrap();
        assert_tensor(&c, &[7, 5], &ODD_PRODUCT, 0.0);
    }
}

#[test]
fn one_by_one_and_vector_shapes() {
    assert_tensor(
        &t(&[3.0], &[1, 1]).matmul(&t(&[-4.0], &[1, 1])).unwrap(),
        &[1, 1],
        &[-12.0],
        0.0,
    );
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let c = t(&[3.0], &[1, 1])
            .matmul_t(&t(&[0.5], &[1, 1]), ta, tb)
            .unwrap();
        assert_tensor(&c, &[1, 1], &[1.5], 0.0);
    }
    let row = t(&[1.0, 2.0, 3.0, 4.0, 5.0], &[1, 5]);
    let col = t(&[0.5, -1.0, 2.0, 0.25, -3.0], &[5, 1]);
    // 1×N · N×1: a dot product.
    assert_tensor(&row.matmul(&col).unwrap(), &[1, 1], &[-9.5], 0.0);
    // The same dot product from two rows, with the second transposed.
    let row2 = t(&[0.5, -1.0, 2.0, 0.25, -3.0], &[1, 5]);
    assert_tensor(
        &row.matmul_t(&row2, false, true).unwrap(),
        &[1, 1],
        &[-9.5],
        0.0,
    );
    // N×1 · 1×M: an outer product.
    let outer = row
        .matmul_t(&t(&[2.0, -1.0, 0.5], &[1, 3]), true, false)
        .unwrap();
    assert_tensor(
        &outer,
        &[5, 3],
        &[
            2.0, -1.0, 0.5, 4.0, -2.0, 1.0, 6.0, -3.0, 1.5, 8.0, -4.0, 2.0, 10.0, -5.0, 2.5,
        ],
        0.0,
    );
    // Matrix times column vector.
    let m = t(&A23, &[2, 3]);
    assert_tensor(
        &m.matmul(&t(&[1.0, 0.0, -1.0], &[3, 1])).unwrap(),
        &[2, 1],
        &[-2.0, -2.0],
        0.0,
    );
}

#[test]
fn zero_sized_products() {
    let zeros = |dims: [usize; 2]| Tensor::<Cpu>::zeros(dims, &Cpu).unwrap();
    // k = 0: an empty sum, so every entry is 0.
    let a = Tensor::<Cpu>::ones([3, 0], &Cpu).unwrap();
    let b = Tensor::<Cpu>::ones([0, 2], &Cpu).unwrap();
    assert_tensor(&a.matmul(&b).unwrap(), &[3, 2], &[0.0; 6], 0.0);
    // With both flags, [3, 0]^T · [0, 2]^T multiplies [0, 3] by [2, 0]: a mismatch.
    assert!(matches!(
        a.matmul_t(&b, true, true),
        Err(Error::MatmulMismatch {
            m: 0,
            k_lhs: 3,
            k_rhs: 2,
            n: 0,
            ..
        })
    ));
    // [0, 3]^T · [0, 2] is 3×2 with k = 0.
    assert_tensor(
        &zeros([0, 3]).matmul_t(&b, true, false).unwrap(),
        &[3, 2],
        &[0.0; 6],
        0.0,
    );
    // m = 0 or n = 0: an empty result.
    let c = zeros([0, 4]).matmul(&zeros([4, 3])).unwrap();
    assert_eq!(c.dims(), &[0, 3]);
    assert!(vals(&c).is_empty());
    let c = zeros([2, 4]).matmul(&zeros([4, 0])).unwrap();
    assert_eq!(c.dims(), &[2, 0]);
    let c = zeros([4, 0]).matmul_t(&zeros([4, 2]), true, false).unwrap();
    assert_eq!(c.dims(), &[0, 2]);
}

#[test]
fn matmul_mismatch_names_op_and_shapes() {
    let a = t(&A23, &[2, 3]);
    let b = Tensor::<Cpu>::ones([4, 5], &Cpu).unwrap();
    let err = a.matmul(&b).unwrap_err();
    assert_eq!(
        err,
        Error::MatmulMismatch {
            op: "matmul",
            lhs: Shape::from([2, 3]),
            rhs: Shape::from([4, 5]),
            m: 2,
            k_lhs: 3,
            k_rhs: 4,
            n: 5,
        }
    );
    let text = err.to_string();
    for needle in ["matmul", "[2, 3]", "[4, 5]"] {
        assert!(text.contains(needle), "{text:?} lacks {needle:?}");
    }
    // The flags change which dimensions must agree.
    let err = a.matmul_t(&a, false, false).unwrap_err();
    assert!(
        matches!(
            err,
            Error::MatmulMismatch {
                k_lhs: 3,
                k_rhs: 2,
                ..
            }
        ),
        "{err:?}"
    );
    let err = a.matmul_t(&b, true, false).unwrap_err();
    assert!(
        matches!(
            err,
            Error::MatmulMismatch {
                m: 3,
                k_lhs: 2,
                k_rhs: 4,
                n: 5,
                ..
            }
        ),
        "{err:?}"
    );
    let err = a.matmul_t(&b, false, true).unwrap_err();
    assert!(
        matches!(
            err,
            Error::MatmulMismatch {
                m: 2,
                k_lhs: 3,
                k_rhs: 5,
                n: 4,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("[2, 3]") && text.contains("[4, 5]"), "{text}");
}

#[test]
fn matmul_needs_two_dimensional_operands() {
    let m = t(&A23, &[2, 3]);
    let v = t(&[1.0, 2.0, 3.0], &[3]);
    let cube = Tensor::<Cpu>::ones([2, 3, 2], &Cpu).unwrap();
    let s = common::scalar(1.0);
    for (lhs, rhs, bad) in [(&m, &v, &v), (&v, &m, &v), (&cube, &m, &cube), (&m, &s, &s)] {
        let err = lhs.matmul(rhs).unwrap_err();
        assert_eq!(
            err,
            Error::WrongRank {
                op: "matmul",
                expected: "a 2-D tensor",
                shape: bad.shape().clone(),
            }
        );
    }
}
