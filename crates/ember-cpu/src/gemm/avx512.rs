//! The AVX-512 GEMM kernel (x86-64 CPUs with AVX-512F), run by the driver in `packed.rs`.
//!
//! Strips of [`NR`] = 32 columns: for each `k`, 32 packed floats are two aligned zmm loads (a
//! transposed `B` is transposed 16×16 in registers), and the micro-kernel keeps a 12×32 tile of
//! `C` in 24 zmm registers for a whole `K` block: 24 FMAs per 2 loads and 12 broadcasts of `A`.
//! The packed strip (32 KiB) stays in L1 while every 12-row panel of `A` passes over it. Column
//! tails are zero-padded in the strip and stored through a mask; row tails use a kernel
//! instantiated for that many rows.

use std::arch::x86_64::{
    __m512, __mmask16, _mm512_add_ps, _mm512_castpd_ps, _mm512_castps_pd, _mm512_fmadd_ps,
    _mm512_load_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps, _mm512_set1_ps,
    _mm512_setzero_ps, _mm512_shuffle_f32x4, _mm512_storeu_ps, _mm512_unpackhi_pd,
    _mm512_unpackhi_ps, _mm512_unpacklo_pd, _mm512_unpacklo_ps,
};
use std::ops::Range;

use super::packed::{self, Blocking, Product, Tile};

/// Columns of `C` per micro-tile (two 16-lane vectors).
pub const NR: usize = 32;
/// Rows of `C` per micro-tile.
pub const MR: usize = 12;
/// Target depth of a `K` block: a 32-column strip of `B` is then 32 KiB, inside L1.
pub const KC: usize = 256;

/// The kernel as the shared driver runs it.
pub(super) const KERNEL: packed::PackedKernel = packed::PackedKernel {
    blocking: BLOCKING,
    strip,
};

const BLOCKING: Blocking = Blocking {
    nr: NR,
    mr: MR,
    kc: KC,
    block: 16,
};

/// Whether this CPU runs the AVX-512 kernel.
pub fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

/// Computes the columns `cols` of `C` (see [`packed::PackedKernel::strip`]).
#[target_feature(enable = "avx512f")]
unsafe fn strip(p: &Product<'_>, cols: Range<usize>, strip: &mut [f32]) {
    // SAFETY: forwarded from the caller (`packed::PackedKernel::strip`'s contract).
    unsafe {
        packed::strip_blocks(
            p,
            cols,
            strip,
            BLOCKING,
            |s, st, r, kc, out, o| transpose_into(s, st, r, kc, out, o),
            |tile| {
                let (mask0, mask1) = column_masks(tile.width);
                run(tile, mask0, mask1)
            },
        );
    }
}

/// Masks for the two 16-lane halves of a strip with `width` valid columns.
fn column_masks(width: usize) -> (__mmask16, __mmask16) {
    let lanes = |n: usize| -> __mmask16 {
        if n >= 16 {
            0xFFFF
        } else {
            ((1u32 << n) - 1) as __mmask16
        }
    };
    (lanes(width), lanes(width.saturating_sub(16)))
}

/// Writes the transpose of a `rows × kc` block (`rows` ≤ 16, row `r` at `src[r·stride..]`,
/// contiguous) into `strip[kk·NR + offset + r]`, 16×16 in registers at a time.
#[target_feature(enable = "avx512f")]
fn transpose_into(
    src: &[f32],
    stride: usize,
    rows: usize,
    kc: usize,
    strip: &mut [f32],
    offset: usize,
) {
    for kk0 in (0..kc).step_by(16) {
        let len = (kc - kk0).min(16);
        let valid = column_masks(len).0;
        let block: [__m512; 16] = std::array::from_fn(|r| {
            if r < rows {
                let row = &src[r * stride + kk0..][..len];
                // SAFETY: the mask covers exactly the `len` elements of `row`.
                unsafe { _mm512_maskz_loadu_ps(valid, row.as_ptr()) }
            } else {
                _mm512_setzero_ps()
            }
        });
        let columns = transpose16(block);
        for (t, column) in columns.iter().enumerate().take(len) {
            let out = &mut strip[(kk0 + t) * NR + offset..][..16];
            // SAFETY: `out` holds 16 floats.
            unsafe { _mm512_storeu_ps(out.as_mut_ptr(), *column) };
        }
    }
}

/// The transpose of a 16×16 block held in 16 registers (row `r` in register `r`): 64 shuffles.
#[target_feature(enable = "avx512f")]
fn transpose16(r: [__m512; 16]) -> [__m512; 16] {
    // Pairs of rows interleaved element by element, then pair by pair: `quads[4g + c]` holds, in
    // 128-bit lane `l`, rows 4g..4g+4 of column 4l + c.
    let mut quads = [_mm512_setzero_ps(); 16];
    for g in 0..4 {
        let lo01 = _mm512_unpacklo_ps(r[4 * g], r[4 * g + 1]);
        let hi01 = _mm512_unpackhi_ps(r[4 * g], r[4 * g + 1]);
        let lo23 = _mm512_unpacklo_ps(r[4 * g + 2], r[4 * g + 3]);
        let hi23 = _mm512_unpackhi_ps(r[4 * g + 2], r[4 * g + 3]);
        let pd = _mm512_castps_pd;
        let ps = _mm512_castpd_ps;
        quads[4 * g] = ps(_mm512_unpacklo_pd(pd(lo01), pd(lo23)));
        quads[4 * g + 1] = ps(_mm512_unpackhi_pd(pd(lo01), pd(lo23)));
        quads[4 * g + 2] = ps(_mm512_unpacklo_pd(pd(hi01), pd(hi23)));
        quads[4 * g + 3] = ps(_mm512_unpackhi_pd(pd(hi01), pd(hi23)));
    }
    // Gather lane l of the four row groups: column 4l + c.
    let mut out = [_mm512_setzero_ps(); 16];
    for c in 0..4 {
        let even01 = _mm512_shuffle_f32x4::<0x88>(quads[c], quads[4 + c]);
        let odd01 = _mm512_shuffle_f32x4::<0xDD>(quads[c], quads[4 + c]);
        let even23 = _mm512_shuffle_f32x4::<0x88>(quads[8 + c], quads[12 + c]);
        let odd23 = _mm512_shuffle_f32x4::<0xDD>(quads[8 + c], quads[12 + c]);
        out[c] = _mm512_shuffle_f32x4::<0x88>(even01, even23);
        out[8 + c] = _mm512_shuffle_f32x4::<0xDD>(even01, even23);
        out[4 + c] = _mm512_shuffle_f32x4::<0x88>(odd01, odd23);
        out[12 + c] = _mm512_shuffle_f32x4::<0xDD>(odd01, odd23);
    }
    out
}

/// Runs the kernel instantiated for the tile's rows.
#[target_feature(enable = "avx512f")]
unsafe fn run(tile: &Tile, mask0: __mmask16, mask1: __mmask16) {
    // SAFETY (every arm): forwarded from the caller.
    unsafe {
        match tile.rows {
            1 => kernel::<1>(tile, mask0, mask1),
            2 => kernel::<2>(tile, mask0, mask1),
            3 => kernel::<3>(tile, mask0, mask1),
            4 => kernel::<4>(tile, mask0, mask1),
            5 => kernel::<5>(tile, mask0, mask1),
            6 => kernel::<6>(tile, mask0, mask1),
            7 => kernel::<7>(tile, mask0, mask1),
            8 => kernel::<8>(tile, mask0, mask1),
            9 => kernel::<9>(tile, mask0, mask1),
            10 => kernel::<10>(tile, mask0, mask1),
            11 => kernel::<11>(tile, mask0, mask1),
            _ => kernel::<MR>(tile, mask0, mask1),
        }
    }
}

/// The `R × 32` micro-kernel: `R` rows of `A` against the packed strip, one `K` block.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn kernel<const R: usize>(t: &Tile, mask0: __mmask16, mask1: __mmask16) {
    let mut acc0: [__m512; R] = [_mm512_setzero_ps(); R];
    let mut acc1: [__m512; R] = [_mm512_setzero_ps(); R];
    // SAFETY: the strip holds `kc · NR` 64-byte aligned floats, and A's rows `0..R` and steps
    // `0..kc` lie inside its slice (the caller's contract).
    unsafe {
        if t.a_row == 1 {
            // Transposed A: the R values of a step are contiguous.
            for kk in 0..t.kc {
                let (b0, b1) = b_step(t.b, kk);
                let a = t.a.add(kk * t.a_k);
                for r in 0..R {
                    let x = _mm512_set1_ps(*a.add(r));
                    acc0[r] = _mm512_fmadd_ps(x, b0, acc0[r]);
                    acc1[r] = _mm512_fmadd_ps(x, b1, acc1[r]);
                }
            }
        } else {
            // Row-major A read in place: R rows, each contiguous along k.
            let rows: [*const f32; R] = std::array::from_fn(|r| t.a_row_start(r));
            for kk in 0..t.kc {
                let (b0, b1) = b_step(t.b, kk);
                for r in 0..R {
                    let x = _mm512_set1_ps(*rows[r].add(kk));
                    acc0[r] = _mm512_fmadd_ps(x, b0, acc0[r]);
                    acc1[r] = _mm512_fmadd_ps(x, b1, acc1[r]);
                }
            }
        }
    }
    for r in 0..R {
        let row = t.c.wrapping_add(r * t.ldc);
        let high = row.wrapping_add(16);
        let (mut v0, mut v1) = (acc0[r], acc1[r]);
        // SAFETY: masked-off lanes are neither read nor written, and the caller guarantees the
        // unmasked ones lie inside C.
        unsafe {
            if t.accumulate {
                v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(mask0, row));
                v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(mask1, high));
            }
            _mm512_mask_storeu_ps(row, mask0, v0);
            _mm512_mask_storeu_ps(high, mask1, v1);
        }
    }
}

/// Step `kk` of the strip: its two 16-column halves.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn b_step(b: *const f32, kk: usize) -> (__m512, __m512) {
    // SAFETY: the caller keeps `kk < kc`; the strip is 64-byte aligned.
    unsafe {
        let b = b.add(kk * NR);
        (_mm512_load_ps(b), _mm512_load_ps(b.add(16)))
    }
}
