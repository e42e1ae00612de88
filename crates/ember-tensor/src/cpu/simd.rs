//! Hot loops compiled once per instruction set and chosen at run time, so the CPU backend is as
//! fast in a crate built without `target-cpu` flags as a build for the CPU at hand would be.
//!
//! [`multiversion!`] turns a function into an `#[inline(always)]` body plus copies of it compiled
//! with `#[target_feature]` for AVX2+FMA and for AVX-512 (on x86-64), and calls the copy for the
//! best level this CPU has ([`level`], detected once). The source is the same for every copy,
//! and Rust never contracts a multiply and an add into an FMA nor reorders float operations, so
//! every copy computes the same bits: only the vector width of the loops changes.

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
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(detect)
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

                match $crate::cpu::simd::level() {
                    // SAFETY: `level` found these features on this CPU.
                    $crate::cpu::simd::Level::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    $crate::cpu::simd::Level::Avx2 => return unsafe { avx2($($arg),*) },
                    $crate::cpu::simd::Level::Baseline => {}
                }
            }
            body($($arg),*)
        }
    };
}

pub(crate) use multiversion;
