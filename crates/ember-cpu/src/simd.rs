//! Hot loops compiled once per instruction set and chosen at run time, so the CPU backend is as
//! fast in a crate built without `target-cpu` flags as a build for the CPU at hand would be.
//!
//! [`multiversion!`] turns a function into an `#[inline(always)]` body plus copies of it compiled
//! with `#[target_feature]` for AVX2+FMA and for AVX-512 (on x86-64), and calls the copy for the
//! best level this CPU has ([`level`], detected once). The source is the same for every copy,
//! and Rust never contracts a multiply and an add into an FMA nor reorders float operations, so
//! every copy computes the same bits: only the vector width of the loops changes.

#[cfg(test)]
use std::cell::Cell;
use std::sync::OnceLock;

/// The instruction sets the hot loops are compiled for (only x86-64 has more than one).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// What the build targets (x86-64's SSE2 baseline, or aarch64's NEON).
    Baseline,
    /// x86-64 with AVX2 and FMA.
    Avx2,
    /// x86-64 with AVX-512 (F, VL, BW, DQ) besides AVX2 and FMA.
    Avx512,
}

/// The best level this CPU runs, detected on first use.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) fn level() -> Level {
    #[cfg(test)]
    if let Some(forced) = FORCED.get() {
        return forced;
    }
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(detect)
}

#[cfg(test)]
thread_local! {
    /// A level forced on this thread by [`at_level`] (tests only).
    static FORCED: Cell<Option<Level>> = const { Cell::new(None) };
}

/// Runs `f` with the hot loops at `level` on this thread (tests only: `level` must be one the
/// CPU runs).
#[cfg(test)]
pub(crate) fn at_level<R>(level: Level, f: impl FnOnce() -> R) -> R {
    FORCED.set(Some(level));
    let result = f();
    FORCED.set(None);
    result
}

/// The levels this CPU runs, lowest first (tests only).
#[cfg(test)]
pub(crate) fn runnable_levels() -> Vec<Level> {
    let best = detect();
    [Level::Baseline, Level::Avx2, Level::Avx512]
        .into_iter()
        .filter(|&l| {
            l == Level::Baseline || l == Level::Avx2 && best != Level::Baseline || l == best
        })
        .collect()
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Level {
    use std::arch::is_x86_feature_detected as has;
    let avx2 = has!("avx2") && has!("fma");
    if avx2 && has!("avx512f") && has!("avx512vl") && has!("avx512bw") && has!("avx512dq") {
        Level::Avx512
    } else if avx2 {
        Level::Avx2
    } else {
        Level::Baseline
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[allow(dead_code)]
fn detect() -> Level {
    Level::Baseline
}

/// Defines `fn $name(args) -> R { body }` whose body is compiled for every [`Level`] and run at
/// the best one this CPU has (see the module's doc). Arguments are `name: Type` pairs; no
/// generics.
macro_rules! multiversion {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block
    ) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn body($($arg: $ty),*) $(-> $ret)? $body

            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }

                #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
                fn avx512($($arg: $ty),*) $(-> $ret)? {
                    body($($arg),*)
                }

                match $crate::simd::level() {
                    // SAFETY: `level` found these features on this CPU.
                    $crate::simd::Level::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    $crate::simd::Level::Avx2 => return unsafe { avx2($($arg),*) },
                    $crate::simd::Level::Baseline => {}
                }
            }
            body($($arg),*)
        }
    };
}

pub(crate) use multiversion;

#[cfg(test)]
mod tests {
    use super::{Level, at_level, runnable_levels};
    use crate::{elementwise, optimizer, reduce};
    use ember_tensor::ops::{BinaryOp, OptimizerUpdate, ScalarOp, UnaryOp};
    use ember_tensor::rand::Rng;
    use ember_tensor::seeded_rng;

    /// Values with odd lengths (vector tails), signs, zeros, tiny and large magnitudes.
    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut rng = seeded_rng(seed);
        (0..len)
            .map(|i| match i % 11 {
                0 => 0.0,
                1 => 1e-39,
                2 => -3e4,
                _ => rng.random_range(-4.0..4.0),
            })
            .collect()
    }

    /// Asserts that `f` gives the same bits at every level this CPU runs as at the baseline.
    fn same_bits_at_every_level<T: PartialEq + std::fmt::Debug>(what: &str, f: impl Fn() -> T) {
        let baseline = at_level(Level::Baseline, &f);
        for level in runnable_levels() {
            let got = at_level(level, &f);
            assert!(
                got == baseline,
                "{what} at {level:?}: {got:?} != {baseline:?}"
            );
        }
    }

    /// Bit patterns, so NaNs compare equal to themselves.
    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn element_wise_loops_give_the_same_bits_at_every_level() {
        let (x, y, g) = (values(1037, 1), values(1037, 2), values(1037, 3));
        let positive: Vec<f32> = x.iter().map(|v| v.abs() + 0.5).collect();
        for &op in UnaryOp::ALL {
            same_bits_at_every_level(op.name(), || bits(&elementwise::unary_slice(op, &x)));
            same_bits_at_every_level(op.name(), || {
                bits(&elementwise::unary_backward_slices(op, &x, &y, &g))
            });
        }
        for &op in ScalarOp::ALL {
            same_bits_at_every_level(op.name(), || {
                bits(&elementwise::scalar_slice(op, &positive, 1.7))
            });
        }
        for &op in BinaryOp::ALL {
            same_bits_at_every_level(op.name(), || bits(&elementwise::binary_slices(op, &x, &y)));
            for row_is_rhs in [true, false] {
                same_bits_at_every_level(op.name(), || {
                    bits(&elementwise::binary_rows(
                        op,
                        &x[..1020],
                        &y[..17],
                        row_is_rhs,
                    ))
                });
            }
        }
    }

    #[test]
    fn reductions_give_the_same_bits_at_every_level() {
        let x = values(3 * 37 * 29, 4);
        same_bits_at_every_level("sum_outer_axis", || {
            bits(&reduce::sum_outer_axis(&x, 3, 37, 29))
        });
        same_bits_at_every_level("sum_squares", || reduce::sum_squares_slice(&x).to_bits());
    }

    #[test]
    fn adam_gives_the_same_bits_at_every_level() {
        let update = OptimizerUpdate::Adam {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
            decoupled: true,
            amsgrad: false,
            step: 3,
            maximize: false,
        };
        let grad = values(1037, 5);
        same_bits_at_every_level("adam", || {
            let mut param = values(1037, 6);
            let mut m = values(1037, 7);
            let mut v: Vec<f32> = values(1037, 8).iter().map(|x| x * x).collect();
            let mut slots: Vec<&mut [f32]> = vec![&mut m, &mut v];
            optimizer::apply(&update, &mut param, &grad, &mut slots);
            (bits(&param), bits(&m), bits(&v))
        });
    }
}
