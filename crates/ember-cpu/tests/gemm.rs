//! Every GEMM kernel this CPU runs against a naive triple loop: every transpose combination,
//! row and column tails of every width, `K` blocks with short tails, and the same bits on one
//! thread or two.

use ember_cpu::gemm::{
    Engine, Kernel, MatRef, RowsAt, gemm, gemm_add, gemm_add_rows_at, gemm_reference, gemm_rows_at,
    gemm_with,
};
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

/// Every kernel this CPU runs, on one thread and on two.
fn engines() -> Vec<Engine> {
    Kernel::available_kernels()
        .into_iter()
        .flat_map(|kernel| {
            [true, false].map(|two_threads| Engine {
                kernel,
                two_threads,
            })
        })
        .collect()
}

/// Checks `A·B` of the given shape on every engine against the naive product; returns the
/// products of the engines.
fn check(m: usize, k: usize, n: usize, ta: bool, tb: bool) -> Vec<(Engine, Vec<f32>)> {
    let a_data = random(m * k, (m * 1000 + k) as u64);
    let b_data = random(k * n, (n * 1000 + k) as u64 + 1);
    let a = view(&a_data, m, k, ta);
    let b = view(&b_data, k, n, tb);
    let expected = gemm_reference(a, b);
    let mut products = Vec::new();
    for engine in engines() {
        let mut c = vec![f32::NAN; m * n];
        gemm_with(engine, a, b, &mut c).expect("gemm");
        for (idx, (&got, &want)) in c.iter().zip(&expected).enumerate() {
            // Each product is at most 1 in magnitude: k·eps bounds the reordering error.
            let bound = 4.0 * k as f32 * f32::EPSILON;
            assert!(
                (got - want).abs() <= bound,
                "{engine:?} {m}×{k}×{n} ta={ta} tb={tb}: C[{}, {}] = {got}, expected {want}",
                idx / n,
                idx % n
            );
        }
        products.push((engine, c));
    }
    products
}

/// Asserts that each kernel gave the same bits on one thread and on two.
fn assert_thread_count_changes_no_bit(products: &[(Engine, Vec<f32>)]) {
    for (engine, c) in products {
        let one_thread = Engine {
            two_threads: false,
            ..*engine
        };
        let (_, single) = products
            .iter()
            .find(|(e, _)| *e == one_thread)
            .expect("every kernel runs on one thread too");
        assert!(c == single, "{engine:?} differs from {one_thread:?}");
    }
}

#[test]
fn every_tail_and_transpose_matches_the_naive_product() {
    for &(ta, tb) in &[(false, false), (false, true), (true, false), (true, true)] {
        for m in [1, 2, 5, 6, 7, 11, 12, 13, 25, 100] {
            for n in [1, 7, 8, 9, 10, 16, 17, 24, 31, 32, 33, 65] {
                for k in [1, 3, 8, 9, 17] {
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
fn training_shapes_match_and_do_not_depend_on_the_thread_count() {
    // The MLP's products (forward x·Wᵀ, dW = dYᵀ·x, dX = dY·W), and the CNN's im2col products,
    // as its layers call them, with fewer columns where only the column count differs (conv1's
    // `N·H·W` is 78,400 in training).
    for (m, k, n, ta, tb) in [
        (100, 784, 256, false, true),
        (256, 100, 784, true, false),
        (100, 256, 256, false, false),
        (100, 256, 10, false, true),
        (10, 100, 256, true, false),
        (100, 10, 256, false, false),
        (32, 9, 4000, false, false),
        (32, 4000, 9, false, true),
        (64, 288, 1960, false, false),
        (64, 1960, 288, false, true),
        (288, 64, 1960, true, false),
        // An A too large for L2: threads claim panels of strips.
        (64, 1600, 288, false, true),
    ] {
        let products = check(m, k, n, ta, tb);
        assert_thread_count_changes_no_bit(&products);
    }
}

#[test]
fn results_do_not_depend_on_the_thread_split() {
    // 100×784×256 runs on two threads; every 16-column slice of B computed alone (one thread,
    // one strip or part of one) must give the same bits, on every kernel.
    let (m, k, n) = (100, 784, 256);
    let a_data = random(m * k, 1);
    let b_data = random(k * n, 2);
    let a = view(&a_data, m, k, false);
    for engine in engines().into_iter().filter(|e| e.two_threads) {
        let mut whole = vec![0.0; m * n];
        gemm_with(engine, a, view(&b_data, k, n, false), &mut whole).expect("gemm");
        let alone = Engine {
            two_threads: false,
            ..engine
        };
        for j0 in (0..n).step_by(16) {
            let slice = MatRef::new(&b_data[j0..], k, 16, n, 1).expect("slice");
            let mut part = vec![0.0; m * 16];
            gemm_with(alone, a, slice, &mut part).expect("gemm");
            for i in 0..m {
                assert_eq!(
                    &part[i * 16..][..16],
                    &whole[i * n + j0..][..16],
                    "{engine:?} row {i}"
                );
            }
        }
        let mut again = vec![0.0; m * n];
        gemm_with(engine, a, view(&b_data, k, n, false), &mut again).expect("gemm");
        assert_eq!(whole, again, "{engine:?}");
    }
}

#[test]
fn detection_finds_the_fastest_kernel_of_this_cpu() {
    let detected = Kernel::detected();
    assert_eq!(Some(&detected), Kernel::available_kernels().first());
    assert!(Kernel::Matrixmultiply.available());
    #[cfg(target_arch = "x86_64")]
    {
        let expected = if std::arch::is_x86_feature_detected!("avx512f") {
            Kernel::Avx512
        } else if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
        {
            Kernel::Avx2
        } else {
            Kernel::Matrixmultiply
        };
        assert_eq!(detected, expected);
        assert!(!Kernel::Neon.available());
    }
    #[cfg(target_arch = "aarch64")]
    {
        assert_eq!(detected, Kernel::Neon);
        assert!(!Kernel::Avx2.available() && !Kernel::Avx512.available());
    }
    // `gemm` runs the detected kernel (this test binary runs without `EMBER_GEMM`).
    assert_eq!(Engine::selected().expect("environment").kernel, detected);
}

#[test]
fn a_kernel_this_cpu_cannot_run_is_an_error() {
    let data = [1.0; 4];
    let a = MatRef::row_major(&data, 2, 2).expect("a");
    for kernel in Kernel::ALL.into_iter().filter(|k| !k.available()) {
        let mut c = vec![0.0; 4];
        let engine = Engine {
            kernel,
            two_threads: true,
        };
        let err = gemm_with(engine, a, a, &mut c).expect_err("unavailable kernel");
        assert!(
            err.to_string()
                .contains(&format!("cannot run the {kernel} kernel")),
            "{err}"
        );
    }
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
    let (m, k, n) = (100, 300, 70);
    let a_data = random(m * k, 3);
    let b_data = random(k * n, 4);
    let a = view(&a_data, m, k, false);
    let b = view(&b_data, k, n, true);
    let expected = gemm_reference(a, b);
    let mut auto = vec![0.0; m * n];
    gemm(a, b, &mut auto).expect("auto");
    for engine in engines() {
        let mut c = vec![f32::NAN; m * n];
        gemm_with(engine, a, b, &mut c).expect("gemm");
        for (&got, &want) in c.iter().zip(&expected) {
            assert!(
                (got - want).abs() <= 4.0 * k as f32 * f32::EPSILON,
                "{engine:?}"
            );
        }
        if engine.kernel == Kernel::detected() {
            // Same kernel, same order per element: the thread count changes no bit.
            assert_eq!(c, auto, "{engine:?}");
        }
    }
}

#[test]
fn a_product_narrower_than_a_strip_gives_the_bits_of_a_wide_one() {
    // n = 9 (a 3×3 convolution's weight gradient on one channel) is computed as Cᵀ = Bᵀ·Aᵀ;
    // each element is the same sum in the same order as in a product 32 columns wide.
    let (m, k) = (32, 3000);
    let a_data = random(m * k, 7);
    let b_data = random(32 * k, 8);
    let a = view(&a_data, m, k, false);
    let packed = engines()
        .into_iter()
        .filter(|e| e.kernel != Kernel::Matrixmultiply);
    for engine in packed {
        let mut wide = vec![0.0; m * 32];
        gemm_with(engine, a, view(&b_data, k, 32, true), &mut wide).expect("gemm");
        for n in [1, 9, 15] {
            let mut narrow = vec![0.0; m * n];
            gemm_with(engine, a, view(&b_data[..n * k], k, n, true), &mut narrow).expect("gemm");
            for i in 0..m {
                assert_eq!(
                    &narrow[i * n..][..n],
                    &wide[i * 32..][..n],
                    "{engine:?} n {n}"
                );
            }
        }
    }
}

#[test]
fn rows_read_where_they_lie_give_the_bits_of_the_dense_matrix() {
    // Overlapping runs of one buffer at uneven starts, as a convolution's taps read a padded
    // image; `k` spans two blocks; `n` has a tail strip, or is narrower than a strip.
    for (m, k, n) in [(13, 300, 53), (6, 9, 40), (7, 20, 5), (1, 1, 16)] {
        let data = random(k * 3 + n + 7, (m + k + n) as u64);
        let starts: Vec<usize> = (0..k)
            .map(|r| (r * 3 + r % 7) % (data.len() - n + 1))
            .collect();
        let a_data = random(m * k, 7);
        let a = view(&a_data, m, k, false);
        let dense: Vec<f32> = starts
            .iter()
            .flat_map(|&s| data[s..s + n].iter().copied())
            .collect();
        for engine in engines() {
            let mut want = vec![0.0; m * n];
            gemm_with(engine, a, view(&dense, k, n, false), &mut want).expect("dense");
            let mut got = vec![f32::NAN; m * n];
            let b = RowsAt::new(&data, &starts, n).expect("rows");
            gemm_rows_at(engine, a, b, &mut got).expect("rows at");
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "{engine:?} {m}×{k}×{n}");
        }
    }
    // Rows of `A` read where they lie, added to `C`: the bits of `gemm_add` on the dense `A`.
    for (m, k, n) in [(13, 300, 53), (40, 9, 6), (7, 20, 16)] {
        let data = random(m * 3 + k + 7, (m * k + n) as u64);
        let starts: Vec<usize> = (0..m)
            .map(|r| (r * 3 + r % 5) % (data.len() - k + 1))
            .collect();
        let dense: Vec<f32> = starts
            .iter()
            .flat_map(|&s| data[s..s + k].iter().copied())
            .collect();
        let b_data = random(k * n, 9);
        let b = view(&b_data, k, n, true);
        let start = random(m * n, 10);
        for engine in engines() {
            let mut want = start.clone();
            gemm_add(engine, view(&dense, m, k, false), b, &mut want).expect("dense");
            let mut got = start.clone();
            let a = RowsAt::new(&data, &starts, k).expect("rows");
            gemm_add_rows_at(engine, a, b, &mut got).expect("rows at");
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "{engine:?} {m}×{k}×{n}");
        }
    }
    // A run past the buffer, and shapes that disagree, are errors.
    let data = [0.0; 8];
    assert!(RowsAt::new(&data, &[0, 5], 4).is_err());
    let b = RowsAt::new(&data, &[0, 4], 4).expect("rows");
    let a = view(&data, 2, 3, false);
    assert!(gemm_rows_at(Engine::selected().expect("engine"), a, b, &mut [0.0; 8]).is_err());
}

#[test]
fn an_added_product_continues_the_sum_as_a_later_k_block_would() {
    // `A·B` over k = 512 is two blocks of 256: the second is added to the first. Computing the
    // first half, then adding the second with `gemm_add`, gives the same bits on the packed
    // kernels, and the sum within rounding on every engine; also for a product narrower than
    // a strip (computed as its transpose).
    let (k, half) = (512, 256);
    for (m, n) in [(13, 40), (40, 9)] {
        let a_data = random(m * k, 11);
        let b_data = random(k * n, 12);
        let a = view(&a_data, m, k, false);
        let b = view(&b_data, k, n, false);
        let halves: Vec<(Vec<f32>, Vec<f32>)> = [0..half, half..k]
            .into_iter()
            .map(|range| {
                let a_half: Vec<f32> = (0..m)
                    .flat_map(|i| a_data[i * k..][range.clone()].iter().copied())
                    .collect();
                (a_half, b_data[range.start * n..range.end * n].to_vec())
            })
            .collect();
        let expected = gemm_reference(a, b);
        for engine in engines() {
            let mut whole = vec![0.0; m * n];
            gemm_with(engine, a, b, &mut whole).expect("whole");
            let mut c = vec![0.0; m * n];
            for (i, (a_half, b_half)) in halves.iter().enumerate() {
                let a = view(a_half, m, half, false);
                let b = view(b_half, half, n, false);
                if i == 0 {
                    gemm_with(engine, a, b, &mut c).expect("first half");
                } else {
                    gemm_add(engine, a, b, &mut c).expect("second half");
                }
            }
            for (&got, &want) in c.iter().zip(&expected) {
                assert!(
                    (got - want).abs() <= 4.0 * k as f32 * f32::EPSILON,
                    "{engine:?}"
                );
            }
            if engine.kernel != Kernel::Matrixmultiply {
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&c), bits(&whole), "{engine:?} {m}×{k}×{n}");
            }
        }
    }
}
