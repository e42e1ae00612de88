//! The GEMM kernel against a naive triple loop: every transpose combination, row and column
//! tails of every width, `K` blocks with short tails, and determinism across the thread split.

use ember_tensor::gemm::{MatRef, gemm, gemm_reference};
use ember_tensor::rand::Rng;
use ember_tensor::seeded_rng;

fn random(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = seeded_rng(seed);
    (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
}

/// A `rows × cols` view of `data`, stored row-major or as its transpose.
fn view(data: &[f32], rows: usize, cols: usize, transposed: bool) -> MatRef<'_> {
    MatRef::stored(data, rows, cols, transposed).expect("view")
}

fn check(m: usize, k: usize, n: usize, ta: bool, tb: bool) {
    let a_data = random(m * k, (m * 1000 + k) as u64);
    let b_data = random(k * n, (n * 1000 + k) as u64 + 1);
    let a = view(&a_data, m, k, ta);
    let b = view(&b_data, k, n, tb);
    let mut c = vec![f32::NAN; m * n];
    gemm(a, b, &mut c).expect("gemm");
    let expected = gemm_reference(a, b);
    for (idx, (&got, &want)) in c.iter().zip(&expected).enumerate() {
        // Each product is at most 1 in magnitude: k·eps bounds the reordering error.
        let bound = 4.0 * k as f32 * f32::EPSILON;
        assert!(
            (got - want).abs() <= bound,
            "{m}×{k}×{n} ta={ta} tb={tb}: C[{}, {}] = {got}, expected {want}",
            idx / n,
            idx % n
        );
    }
}

#[test]
fn every_tail_and_transpose_matches_the_naive_product() {
    for &(ta, tb) in &[(false, false), (false, true), (true, false), (true, true)] {
        for m in [1, 2, 5, 11, 12, 13, 25, 100] {
            for n in [1, 10, 16, 17, 31, 32, 33, 65] {
                for k in [1, 3, 17] {
                    check(m, k, n, ta, tb);
                }
            }
        }
    }
}

#[test]
fn deep_products_with_k_blocks_match() {
    // K = 256 (one block), 384 (one block with the tail folded in), 385 and 784 (several).
    for &(ta, tb) in &[(false, false), (false, true), (true, false), (true, true)] {
        for k in [256, 384, 385, 784] {
            check(37, k, 70, ta, tb);
        }
    }
}

#[test]
fn training_shapes_match() {
    check(100, 784, 256, false, true);
    check(256, 100, 784, true, false);
    check(100, 256, 256, false, false);
    check(100, 256, 10, false, true);
    check(10, 100, 256, true, false);
}

#[test]
fn results_do_not_depend_on_the_thread_split() {
    // 100×784×256 runs on two threads (columns 0..128 and 128..256); every 32-column slice of B
    // computed alone (one thread) must give the same bits.
    let (m, k, n) = (100, 784, 256);
    let a_data = random(m * k, 1);
    let b_data = random(k * n, 2);
    let a = view(&a_data, m, k, false);
    let mut whole = vec![0.0; m * n];
    gemm(a, view(&b_data, k, n, false), &mut whole).expect("gemm");
    for j0 in (0..n).step_by(32) {
        let slice = MatRef::new(&b_data[j0..], k, 32, n, 1).expect("slice");
        let mut part = vec![0.0; m * 32];
        gemm(a, slice, &mut part).expect("gemm");
        for i in 0..m {
            assert_eq!(&part[i * 32..][..32], &whole[i * n + j0..][..32], "row {i}");
        }
    }
    let mut again = vec![0.0; m * n];
    gemm(a, view(&b_data, k, n, false), &mut again).expect("gemm");
    assert_eq!(whole, again);
}

#[test]
fn empty_and_zero_depth_products() {
    let mut c = vec![f32::NAN; 6];
    gemm(
        MatRef::row_major(&[], 2, 0).expect("a"),
        MatRef::row_major(&[], 0, 3).expect("b"),
        &mut c,
    )
    .expect("gemm");
    assert_eq!(c, vec![0.0; 6]);
    let mut none: Vec<f32> = Vec::new();
    gemm(
        MatRef::row_major(&[], 0, 4).expect("a"),
        MatRef::row_major(&[0.0; 8], 4, 2).expect("b"),
        &mut none,
    )
    .expect("gemm");
}

#[test]
fn bad_views_and_shapes_are_errors() {
    let data = [0.0; 6];
    assert!(MatRef::row_major(&data, 2, 4).is_err());
    assert!(MatRef::new(&data, 2, 3, 4, 1).is_err());
    assert!(MatRef::new(&data, 2, 3, usize::MAX, 1).is_err());
    let a = MatRef::row_major(&data, 2, 3).expect("a");
    let mut c = vec![0.0; 4];
    let err = gemm(a, a, &mut c).expect_err("2×3 by 2×3");
    assert!(
        err.to_string().contains("cannot multiply 2×3 by 2×3"),
        "{err}"
    );
    let mut short = vec![0.0; 3];
    assert!(gemm(a, a.t(), &mut short).is_err());
}

#[test]
fn every_engine_gives_the_same_product() {
    use ember_tensor::gemm::{Engine, gemm_with};
    let (m, k, n) = (100, 300, 70);
    let a_data = random(m * k, 3);
    let b_data = random(k * n, 4);
    let a = view(&a_data, m, k, false);
    let b = view(&b_data, k, n, true);
    let expected = gemm_reference(a, b);
    let mut auto = vec![0.0; m * n];
    gemm_with(Engine::Auto, a, b, &mut auto).expect("auto");
    for engine in [Engine::SingleThread, Engine::Matrixmultiply] {
        let mut c = vec![f32::NAN; m * n];
        gemm_with(engine, a, b, &mut c).expect("gemm");
        for (&got, &want) in c.iter().zip(&expected) {
            assert!(
                (got - want).abs() <= 4.0 * k as f32 * f32::EPSILON,
                "{engine:?}"
            );
        }
        if engine == Engine::SingleThread {
            // Same kernel, same order per element: the thread count changes no bit.
            assert_eq!(c, auto);
        }
    }
}
