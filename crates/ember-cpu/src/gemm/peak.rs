//! The FMA peak of each packed kernel's instruction set: a loop of independent vector
//! multiply-adds and nothing else (no loads), the most floating-point work a core retires per
//! second. `cargo xtask bench` reports the GEMM's throughput as a share of it.

use std::time::Instant;

use super::Kernel;
use crate::parallel;

/// Multiply-add steps per timed run: about 10 ms on a 3 GHz core with two FMA ports.
const STEPS: usize = 4_000_000;

/// GFLOP/s of an FMA-only loop in `kernel`'s instruction set, best of ten runs, on one core or
/// on two at once (the calling thread and [`parallel`]'s helper; one if there is no helper).
/// `None` for `matrixmultiply` (not one instruction set) or a kernel this CPU cannot run.
pub fn fma_peak_gflops(kernel: Kernel, two_threads: bool) -> Option<f64> {
    let run: fn(usize) -> f64 = match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY (both x86 arms): called only if the CPU runs the kernel (checked below).
        Kernel::Avx512 => |steps| unsafe { x86::avx512(steps) },
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => |steps| unsafe { x86::avx2(steps) },
        #[cfg(target_arch = "aarch64")]
        Kernel::Neon => neon,
        _ => return None,
    };
    if !kernel.available() {
        return None;
    }
    let flops_per_step = run(1);
    let best = (0..10)
        .map(|_| {
            let started = Instant::now();
            if two_threads {
                parallel::join(
                    || {
                        run(STEPS);
                    },
                    || {
                        run(STEPS);
                    },
                );
            } else {
                run(STEPS);
            }
            started.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    let threads = if two_threads { 2.0 } else { 1.0 };
    Some(threads * flops_per_step * STEPS as f64 / best / 1e9)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m256, __m512, _mm256_fmadd_ps, _mm256_set1_ps, _mm512_fmadd_ps, _mm512_set1_ps,
    };
    use std::hint::black_box;

    /// `steps` rounds of 12 independent 8-lane FMAs (enough chains to fill two FMA ports of
    /// 4-cycle latency); returns the flops of one round.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn avx2(steps: usize) -> f64 {
        let (x, y) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        let mut acc: [__m256; 12] = [_mm256_set1_ps(1.0); 12];
        for _ in 0..steps {
            for a in &mut acc {
                *a = _mm256_fmadd_ps(*a, x, y);
            }
        }
        black_box(acc);
        (12 * 8 * 2) as f64
    }

    /// `steps` rounds of 24 independent 16-lane FMAs; returns the flops of one round.
    #[target_feature(enable = "avx512f")]
    pub(super) fn avx512(steps: usize) -> f64 {
        let (x, y) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
        let mut acc: [__m512; 24] = [_mm512_set1_ps(1.0); 24];
        for _ in 0..steps {
            for a in &mut acc {
                *a = _mm512_fmadd_ps(*a, x, y);
            }
        }
        black_box(acc);
        (24 * 16 * 2) as f64
    }
}

/// `steps` rounds of 24 independent 4-lane FMAs; returns the flops of one round.
#[cfg(target_arch = "aarch64")]
fn neon(steps: usize) -> f64 {
    use std::arch::aarch64::{float32x4_t, vdupq_n_f32, vfmaq_f32};
    // SAFETY: NEON is part of the aarch64 baseline.
    unsafe {
        let (x, y) = (vdupq_n_f32(0.999_999), vdupq_n_f32(1e-7));
        let mut acc: [float32x4_t; 24] = [vdupq_n_f32(1.0); 24];
        for _ in 0..steps {
            for a in &mut acc {
                *a = vfmaq_f32(y, *a, x);
            }
        }
        std::hint::black_box(acc);
    }
    (24 * 4 * 2) as f64
}
