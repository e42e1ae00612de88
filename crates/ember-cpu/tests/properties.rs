//! Algebraic identities checked on random inputs: matmul with transpose flags, broadcasting,
//! reductions of broadcasts, and `sum_to_shape` as the inverse of broadcasting.

mod common;

use common::{t, vals};
use ember_cpu::Cpu;
use ember_tensor::ops::BinaryOp;
use ember_tensor::{Shape, Tensor};
use proptest::prelude::*;

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

/// `A · B` by the textbook triple loop, in f64.
fn naive_matmul(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k)
                .map(|p| f64::from(a[i * k + p]) * f64::from(b[p * n + j]))
                .sum();
        }
    }
    c
}

/// The shape PyTorch gives to `a op b`, written out independently of `Shape::broadcast`.
fn broadcast_dims(a: &[usize], b: &[usize]) -> Vec<usize> {
    let rank = a.len().max(b.len());
    let pad = |s: &[usize]| -> Vec<usize> {
        let mut v = vec![1; rank - s.len()];
        v.extend_from_slice(s);
        v
    };
    let (a, b) = (pad(a), pad(b));
    a.iter()
        .zip(&b)
        .map(|(&x, &y)| if x == 1 { y } else { x })
        .collect()
}

/// Materialises `data` of shape `from` repeated to shape `to` (which `from` broadcasts to).
fn expand(data: &[f32], from: &[usize], to: &[usize]) -> Vec<f32> {
    let offset = to.len() - from.len();
    let numel: usize = to.iter().product();
    let mut out = Vec::with_capacity(numel);
    for flat in 0..numel {
        // Multi-index of `flat` in `to`, then the matching flat index in `from`.
        let mut rem = flat;
        let mut index = vec![0; to.len()];
        for axis in (0..to.len()).rev() {
            index[axis] = rem % to[axis];
            rem /= to[axis];
        }
        let mut src = 0;
        for (axis, &d) in from.iter().enumerate() {
            let i = if d == 1 { 0 } else { index[axis + offset] };
            src = src * d + i;
        }
        out.push(data[src]);
    }
    out
}

/// A target shape and a shape it broadcasts to: the target's dims are the larger shape's
/// suffix with some of them set to 1.
fn target_and_broadcast() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    prop::collection::vec(1usize..5, 0..=4).prop_flat_map(|out| {
        let rank = out.len();
        (
            Just(out),
            0..=rank,
            prop::collection::vec(any::<bool>(), rank),
        )
            .prop_map(|(out, keep, ones)| {
                let target = out[out.len() - keep..]
                    .iter()
                    .zip(&ones)
                    .map(|(&d, &one)| if one { 1 } else { d })
                    .collect();
                (target, out)
            })
    })
}

/// Two shapes that broadcast against each other, each with small-integer data.
fn broadcast_operands() -> impl Strategy<Value = (Vec<usize>, Vec<f32>, Vec<usize>, Vec<f32>)> {
    (target_and_broadcast(), target_and_broadcast())
        .prop_filter("the larger shapes must agree", |((_, oa), (_, ob))| {
            let r = oa.len().min(ob.len());
            oa[oa.len() - r..] == ob[ob.len() - r..]
        })
        .prop_flat_map(|((a, _), (b, _))| {
            let na: usize = a.iter().product();
            let nb: usize = b.iter().product();
            let ints = |n| prop::collection::vec((-50i32..50).prop_map(|v| v as f32), n);
            (Just(a), ints(na), Just(b), ints(nb))
        })
}

/// Matmul operands `(m, k, n, trans_a, trans_b, A, B)` with `A` `m × k` and `B` `k × n` as
/// logical (untransposed) row-major matrices.
fn matmul_case() -> impl Strategy<Value = (usize, usize, usize, bool, bool, Vec<f32>, Vec<f32>)> {
    (
        1usize..20,
        1usize..20,
        1usize..20,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_flat_map(|(m, k, n, ta, tb)| {
            let vals = |len| prop::collection::vec(-4.0f32..4.0, len);
            (
                Just(m),
                Just(k),
                Just(n),
                Just(ta),
                Just(tb),
                vals(m * k),
                vals(k * n),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn matmul_with_flags_equals_matmul_of_explicit_transposes(
        (m, k, n, ta, tb, a, b) in matmul_case()
    ) {
        // Store each operand transposed when its flag is set.
        let a_stored = if ta { t(&transpose(&a, m, k), &[k, m]) } else { t(&a, &[m, k]) };
        let b_stored = if tb { t(&transpose(&b, k, n), &[n, k]) } else { t(&b, &[k, n]) };
        let flagged = a_stored.matmul_t(&b_stored, ta, tb).unwrap();
        prop_assert_eq!(flagged.dims(), &[m, n]);
        let plain = t(&a, &[m, k]).matmul(&t(&b, &[k, n])).unwrap();
        let reference = naive_matmul(&a, &b, m, k, n);
        for ((&x, &y), &r) in vals(&flagged).iter().zip(&vals(&plain)).zip(&reference) {
            // |entries| < 16·k: a few ulps of the largest possible sum.
            let tol = 1e-5 * 16.0 * k as f64;
            prop_assert!((f64::from(x) - f64::from(y)).abs() <= tol, "{} vs {}", x, y);
            prop_assert!((f64::from(x) - r).abs() <= tol, "{} vs exact {}", x, r);
        }
    }

    #[test]
    fn add_then_sub_gives_back_the_first_operand(
        ab in prop::collection::vec((-1e3f32..1e3, -1e3f32..1e3), 1..64)
    ) {
        let (a, b): (Vec<f32>, Vec<f32>) = ab.into_iter().unzip();
        let n = a.len();
        let ta = t(&a, &[n]);
        let tb = t(&b, &[n]);
        let back = vals(&ta.add(&tb).unwrap().sub(&tb).unwrap());
        for ((&got, &x), &y) in back.iter().zip(&a).zip(&b) {
            // Two roundings of values below |x| + |y|.
            let tol = 2.0 * f32::EPSILON * (x.abs() + y.abs());
            prop_assert!((got - x).abs() <= tol, "({} + {}) - {} = {}", x, y, y, got);
        }
    }

    #[test]
    fn broadcasting_equals_explicit_repetition((sa, a, sb, b) in broadcast_operands()) {
        let out = broadcast_dims(&sa, &sb);
        let ta = Tensor::from_slice(&a, sa.as_slice(), &Cpu).unwrap();
        let tb = Tensor::from_slice(&b, sb.as_slice(), &Cpu).unwrap();
        let ea = Tensor::from_vec(expand(&a, &sa, &out), out.as_slice(), &Cpu).unwrap();
        let eb = Tensor::from_vec(expand(&b, &sb, &out), out.as_slice(), &Cpu).unwrap();
        for &op in BinaryOp::ALL {
            let got = ta.binary(op, &tb).unwrap();
            prop_assert_eq!(got.dims(), out.as_slice());
            let want = ea.binary(op, &eb).unwrap();
            // Element by element on the host, too, to not only trust the equal-shape path.
            let host: Vec<f32> = vals(&ea)
                .iter()
                .zip(vals(&eb))
                .map(|(&x, y)| op.apply(x, y))
                .collect();
            let got = vals(&got);
            prop_assert_eq!(got.len(), host.len());
            for ((g, w), h) in got.iter().zip(vals(&want)).zip(host) {
                prop_assert!(g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()), "{:?}: {} vs {}", op, g, w);
                prop_assert!(g.to_bits() == h.to_bits() || (g.is_nan() && h.is_nan()), "{:?}: {} vs {}", op, g, h);
            }
            // The other operand order.
            let rev = vals(&tb.binary(op, &ta).unwrap());
            let rev_want = vals(&eb.binary(op, &ea).unwrap());
            for (g, w) in rev.iter().zip(rev_want) {
                prop_assert!(g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()), "{:?} reversed: {} vs {}", op, g, w);
            }
        }
    }

    #[test]
    fn sum_over_a_broadcast_axis_is_count_times_value(
        m in 1usize..30,
        row in prop::collection::vec((-100i32..100).prop_map(|v| v as f32), 1..12)
    ) {
        let n = row.len();
        // A row repeated over m rows, and the same values as a column repeated over n columns.
        let rows = Tensor::<Cpu>::zeros([m, n], &Cpu).unwrap().add(&t(&row, &[n])).unwrap();
        let sums = vals(&rows.sum_axis(0, false).unwrap());
        let means = vals(&rows.mean_axis(0, true).unwrap());
        let maxes = vals(&rows.max_axis(0, false).unwrap());
        for (i, &v) in row.iter().enumerate() {
            prop_assert_eq!(sums[i], m as f32 * v);
            prop_assert!((means[i] - v).abs() <= 1e-5 * v.abs().max(1.0));
            prop_assert_eq!(maxes[i], v);
        }
        let cols = t(&row, &[n, 1]).add(&Tensor::<Cpu>::zeros([m], &Cpu).unwrap()).unwrap();
        prop_assert_eq!(cols.dims(), &[n, m]);
        let sums = vals(&cols.sum_axis(1, true).unwrap());
        for (i, &v) in row.iter().enumerate() {
            prop_assert_eq!(sums[i], m as f32 * v);
        }
        let total = rows.sum_all().unwrap().to_scalar().unwrap();
        prop_assert_eq!(total, m as f32 * row.iter().sum::<f32>());
    }

    #[test]
    fn sum_to_shape_inverts_broadcasting_of_ones((target, out) in target_and_broadcast()) {
        let count = out.iter().product::<usize>() / target.iter().product::<usize>();
        let target_shape = Shape::from(target.as_slice());
        // ones(target) broadcast to `out`, then summed back: `count` in every element.
        let ones = Tensor::<Cpu>::ones(target.as_slice(), &Cpu).unwrap();
        let wide = Tensor::<Cpu>::zeros(out.as_slice(), &Cpu).unwrap().add(&ones).unwrap();
        prop_assert_eq!(wide.dims(), out.as_slice());
        let back = wide.sum_to_shape(&target_shape).unwrap();
        prop_assert_eq!(back.dims(), target.as_slice());
        prop_assert!(vals(&back).iter().all(|&v| v == count as f32), "{:?} != {}", vals(&back), count);
        // And for distinct values: each target element collects `count` copies of itself.
        let data: Vec<f32> = (0..ones.numel()).map(|i| i as f32 - 3.0).collect();
        let x = Tensor::from_slice(&data, target.as_slice(), &Cpu).unwrap();
        let back = wide.mul(&x).unwrap().sum_to_shape(&target_shape).unwrap();
        let expected: Vec<f32> = data.iter().map(|&v| v * count as f32).collect();
        prop_assert_eq!(vals(&back), expected);
    }

    #[test]
    fn cross_entropy_is_minus_the_label_log_probability(
        rows in prop::collection::vec(
            (prop::collection::vec(-30.0f32..30.0, 5), 0usize..5),
            1..8,
        )
    ) {
        let n = rows.len();
        let logits: Vec<f32> = rows.iter().flat_map(|(r, _)| r.clone()).collect();
        let labels: Vec<f32> = rows.iter().map(|&(_, l)| l as f32).collect();
        let x = t(&logits, &[n, 5]);
        let y = t(&labels, &[n]);
        let loss = vals(&x.softmax_cross_entropy(&y).unwrap());
        let picked = vals(&x.log_softmax().unwrap().gather(&y).unwrap());
        for (l, p) in loss.iter().zip(&picked) {
            prop_assert!(*l >= 0.0);
            prop_assert!((l + p).abs() <= 1e-4 * l.abs().max(1.0), "{} vs {}", l, -p);
        }
        // Each row of the gradient (with unit upstream gradient) sums to 0.
        let grad = x.softmax_cross_entropy_backward(&y, &Tensor::ones([n], &Cpu).unwrap()).unwrap();
        for row in vals(&grad).chunks(5) {
            prop_assert!(row.iter().sum::<f32>().abs() <= 1e-5);
        }
        // argmax agrees with a host scan (first index of the maximum).
        let arg = vals(&x.argmax().unwrap());
        for (r, (row, _)) in rows.iter().enumerate() {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let first = row.iter().position(|&v| v == max).unwrap();
            prop_assert_eq!(arg[r], first as f32);
        }
    }
}
