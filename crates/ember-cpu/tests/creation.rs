//! Building tensors: fills, host data, reshapes, scalars, and seeded random initialisation.

mod common;

use common::{assert_tensor, scalar, t, vals};
use ember_cpu::Cpu;
use ember_tensor::{Backend, Error, Shape, Tensor, seeded_rng};

#[test]
fn fills_zeros_ones_and_full() {
    assert_tensor(
        &Tensor::<Cpu>::zeros([2, 3], &Cpu).unwrap(),
        &[2, 3],
        &[0.0; 6],
        0.0,
    );
    assert_tensor(
        &Tensor::<Cpu>::ones([3, 1], &Cpu).unwrap(),
        &[3, 1],
        &[1.0; 3],
        0.0,
    );
    assert_tensor(
        &Tensor::<Cpu>::full([1, 4], -2.5, &Cpu).unwrap(),
        &[1, 4],
        &[-2.5; 4],
        0.0,
    );
    assert_tensor(
        &Tensor::<Cpu>::full([2, 1, 2], 7.0, &Cpu).unwrap(),
        &[2, 1, 2],
        &[7.0; 4],
        0.0,
    );
    // Rank 0 holds one element; a zero dimension holds none.
    let s = Tensor::<Cpu>::full(Shape::scalar(), 4.0, &Cpu).unwrap();
    assert_eq!(s.dims(), &[] as &[usize]);
    assert_eq!(s.numel(), 1);
    assert_eq!(s.to_scalar().unwrap(), 4.0);
    let e = Tensor::<Cpu>::ones([3, 0, 2], &Cpu).unwrap();
    assert_eq!(e.numel(), 0);
    assert!(vals(&e).is_empty());
    // Infinity and NaN fill like any other value.
    assert!(
        vals(&Tensor::<Cpu>::full([2], f32::NAN, &Cpu).unwrap())
            .iter()
            .all(|v| v.is_nan())
    );
    assert_eq!(
        vals(&Tensor::<Cpu>::full([2], f32::NEG_INFINITY, &Cpu).unwrap()),
        vec![f32::NEG_INFINITY; 2]
    );
}

#[test]
fn host_data_round_trips_row_major() {
    let data = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let x = Tensor::from_vec(data.clone(), [2, 3], &Cpu).unwrap();
    assert_eq!(x.dims(), &[2, 3]);
    assert_eq!(x.shape(), &Shape::from([2, 3]));
    assert_eq!(x.numel(), 6);
    assert_eq!(x.to_vec().unwrap(), data);
    assert_eq!(x.backend().name(), "cpu");
    // Row-major: the second row starts at 4 (visible through a reduction).
    assert_tensor(&x.sum_axis(1, false).unwrap(), &[2], &[6.0, 15.0], 0.0);
    let y = Tensor::from_slice(&data, [3, 2], &Cpu).unwrap();
    assert_tensor(&y.sum_axis(1, false).unwrap(), &[3], &[3.0, 7.0, 11.0], 0.0);
    // Scalars.
    let s = scalar(-1.25);
    assert_eq!(s.dims(), &[] as &[usize]);
    assert_eq!(s.to_vec().unwrap(), vec![-1.25]);
    assert_eq!(s.to_scalar().unwrap(), -1.25);
    assert_eq!(
        Tensor::from_vec(vec![9.0], Shape::scalar(), &Cpu)
            .unwrap()
            .to_scalar()
            .unwrap(),
        9.0
    );
    // One-element tensors of any rank convert to a scalar value.
    assert_eq!(t(&[3.5], &[1, 1, 1]).to_scalar().unwrap(), 3.5);
    // Empty data.
    let e = Tensor::from_vec(vec![], [0, 5], &Cpu).unwrap();
    assert_eq!(e.dims(), &[0, 5]);
    assert!(e.to_vec().unwrap().is_empty());
}

#[test]
fn from_storage_and_into_parts() {
    let storage = Cpu.upload(&[1.0, 2.0, 3.0, 4.0]).unwrap();
    let x = Tensor::from_storage(storage, [2, 2], &Cpu).unwrap();
    assert_tensor(&x, &[2, 2], &[1.0, 2.0, 3.0, 4.0], 0.0);
    let (storage, shape) = x.into_parts();
    assert_eq!(shape, Shape::from([2, 2]));
    assert_eq!(Cpu.download(&storage).unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
    let y = Tensor::from_storage(storage, [4], &Cpu).unwrap();
    assert_eq!(y.dims(), &[4]);
}

#[test]
fn reshape_keeps_the_row_major_order() {
    let x = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let y = x.reshape([3, 2]).unwrap();
    assert_eq!(y.dims(), &[3, 2]);
    assert_eq!(vals(&y), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    // Not a transpose: the first column of [3, 2] is 1, 3, 5.
    assert_tensor(&y.sum_axis(1, false).unwrap(), &[3], &[3.0, 7.0, 11.0], 0.0);
    assert_eq!(x.reshape([1, 6, 1]).unwrap().dims(), &[1, 6, 1]);
    assert_eq!(x.reshape([6]).unwrap().dims(), &[6]);
    // The original keeps its shape.
    assert_eq!(x.dims(), &[2, 3]);
    // To and from a scalar; empty to empty.
    let s = t(&[5.0], &[1]).reshape(Shape::scalar()).unwrap();
    assert_eq!(s.dims(), &[] as &[usize]);
    assert_eq!(scalar(5.0).reshape([1, 1]).unwrap().dims(), &[1, 1]);
    assert_eq!(
        Tensor::<Cpu>::zeros([0, 3], &Cpu)
            .unwrap()
            .reshape([3, 0, 7])
            .unwrap()
            .dims(),
        &[3, 0, 7]
    );
}

#[test]
fn operations_do_not_modify_their_operands() {
    let x = t(&[1.0, -2.0, 3.0], &[3]);
    let alias = x.clone();
    let _ = x.relu().unwrap();
    let _ = x.add(&alias).unwrap();
    let _ = x.mul_scalar(10.0).unwrap();
    let _ = x
        .reshape([3, 1])
        .unwrap()
        .matmul(&x.reshape([1, 3]).unwrap())
        .unwrap();
    assert_eq!(vals(&x), vec![1.0, -2.0, 3.0]);
    assert_eq!(vals(&alias), vec![1.0, -2.0, 3.0]);
}

const N: usize = 100_000;

fn mean_std(v: &[f32]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let var = v
        .iter()
        .map(|&x| (f64::from(x) - mean).powi(2))
        .sum::<f64>()
        / n;
    (mean, var.sqrt())
}

#[test]
fn randn_is_seeded_and_has_the_requested_moments() {
    let a = Tensor::<Cpu>::randn([N], 0.5, 2.0, &mut seeded_rng(42), &Cpu).unwrap();
    let b = Tensor::<Cpu>::randn([N], 0.5, 2.0, &mut seeded_rng(42), &Cpu).unwrap();
    let c = Tensor::<Cpu>::randn([N], 0.5, 2.0, &mut seeded_rng(43), &Cpu).unwrap();
    let (a, b, c) = (vals(&a), vals(&b), vals(&c));
    assert_eq!(a, b, "same seed, same values");
    assert_ne!(a[..16], c[..16], "another seed, other values");
    // Standard errors: 2/√N ≈ 0.0063 for the mean, 2/√(2N) ≈ 0.0045 for the std.
    let (mean, std) = mean_std(&a);
    assert!((mean - 0.5).abs() < 0.03, "mean {mean}");
    assert!((std - 2.0).abs() < 0.03, "std {std}");
    // Values are spread on both sides of the mean.
    assert!(a.iter().any(|&v| v < -5.0) && a.iter().any(|&v| v > 6.0));
    // Consecutive draws from one generator differ.
    let mut rng = seeded_rng(7);
    let d1 = vals(&Tensor::<Cpu>::randn([2, 3], 0.0, 1.0, &mut rng, &Cpu).unwrap());
    let d2 = Tensor::<Cpu>::randn([2, 3], 0.0, 1.0, &mut rng, &Cpu).unwrap();
    assert_eq!(d2.dims(), &[2, 3]);
    assert_ne!(d1, vals(&d2));
    // A zero standard deviation gives the mean; scalar and empty shapes.
    let z = Tensor::<Cpu>::randn([4], 3.0, 0.0, &mut rng, &Cpu).unwrap();
    assert_eq!(vals(&z), vec![3.0; 4]);
    assert_eq!(
        Tensor::<Cpu>::randn(Shape::scalar(), 0.0, 1.0, &mut rng, &Cpu)
            .unwrap()
            .numel(),
        1
    );
    assert_eq!(
        Tensor::<Cpu>::randn([0, 3], 0.0, 1.0, &mut rng, &Cpu)
            .unwrap()
            .dims(),
        &[0, 3]
    );
}

#[test]
fn rand_uniform_is_seeded_and_stays_within_bounds() {
    let a = Tensor::<Cpu>::rand_uniform([N], -2.0, 3.0, &mut seeded_rng(1), &Cpu).unwrap();
    let b = Tensor::<Cpu>::rand_uniform([N], -2.0, 3.0, &mut seeded_rng(1), &Cpu).unwrap();
    let c = Tensor::<Cpu>::rand_uniform([N], -2.0, 3.0, &mut seeded_rng(2), &Cpu).unwrap();
    let (a, b, c) = (vals(&a), vals(&b), vals(&c));
    assert_eq!(a, b);
    assert_ne!(a[..16], c[..16]);
    assert!(
        a.iter().all(|&v| (-2.0..3.0).contains(&v)),
        "out of [-2, 3)"
    );
    // The whole range is covered.
    let min = a.iter().copied().fold(f32::INFINITY, f32::min);
    let max = a.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    assert!(min < -1.99 && max > 2.99, "[{min}, {max}]");
    // U(-2, 3): mean 0.5, std 5/√12 ≈ 1.4434; standard errors ≈ 0.0046 and 0.0026.
    let (mean, std) = mean_std(&a);
    assert!((mean - 0.5).abs() < 0.02, "mean {mean}");
    assert!((std - 1.443_375_672_974_064_4).abs() < 0.015, "std {std}");
    // A degenerate range is a fill.
    let same = Tensor::<Cpu>::rand_uniform([3], 0.25, 0.25, &mut seeded_rng(1), &Cpu).unwrap();
    assert_eq!(vals(&same), vec![0.25; 3]);
    assert_eq!(
        Tensor::<Cpu>::rand_uniform([2, 0], 0.0, 1.0, &mut seeded_rng(1), &Cpu)
            .unwrap()
            .dims(),
        &[2, 0]
    );
}

#[test]
fn invalid_distributions_are_rejected() {
    let mut rng = seeded_rng(0);
    for std in [-1.0, -1e-6, f32::NAN, f32::INFINITY] {
        let err = Tensor::<Cpu>::randn([3], 0.0, std, &mut rng, &Cpu).unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument { op: "randn", .. }),
            "std {std}: {err:?}"
        );
        assert!(err.to_string().starts_with("randn"), "{err}");
    }
    for (low, high) in [
        (1.0, 0.0),
        (f32::NAN, 1.0),
        (0.0, f32::INFINITY),
        (f32::NEG_INFINITY, 0.0),
    ] {
        let err = Tensor::<Cpu>::rand_uniform([3], low, high, &mut rng, &Cpu).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidArgument {
                    op: "rand_uniform",
                    ..
                }
            ),
            "U({low}, {high}): {err:?}"
        );
    }
}
