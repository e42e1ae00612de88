//! The AVX2+FMA GEMM kernel (x86-64 CPUs without AVX-512: Intel before Skylake-X and most
//! desktops and laptops, AMD before Zen 4), run by the driver in `packed.rs`.
//!
//! Sized for 16 ymm registers: a [`MR`]×[`NR`] tile of `C` in `MR·NR/8` accumulators, plus
//! `NR/8` packed `B` vectors and one broadcast of `A` per step. Strips of [`NR`] columns; for
//! each `k`, `NR` packed floats are aligned ymm loads (a transposed `B` is transposed 8×8 in
//! registers). Column tails are zero-padded in the strip and go through masked loads and stores
//! (only in the tail strip: AMD's masked stores are slow); row tails use a kernel instantiated
//! for that many rows.

use std::arch::x86_64::{
    __m256, __m256i, _mm256_add_ps, _mm256_broadcast_ss, _mm256_cmpgt_epi32, _mm256_fmadd_ps,
    _mm256_load_ps, _mm256_loadu_ps, _mm256_maskload_ps, _mm256_maskstore_ps,
    _mm256_permute2f128_ps, _mm256_set1_epi32, _mm256_setr_epi32, _mm256_setzero_ps,
    _mm256_shuffle_ps, _mm256_storeu_ps, _mm256_unpackhi_ps, _mm256_unpacklo_ps,
};
use std::ops::Range;

use super::packed::{self, Blocking, Product, Tile};

/// ymm vectors across a micro-tile.
const VECTORS: usize = 2;
/// Columns of `C` per micro-tile.
pub const NR: usize = 8 * VECTORS;
/// Rows of `C` per micro-tile: 12 accumulators, 2 `B` vectors and a broadcast of `A`.
pub const MR: usize = 6;
/// Target depth of a `K` block: a 16-column strip of `B` is then 16 KiB, half of Zen 3's L1.
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
    block: 8,
};

/// Whether this CPU runs the AVX2+FMA kernel.
pub fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// Computes the columns `cols` of `C` (see [`packed::PackedKernel::strip`]).
#[target_feature(enable = "avx2,fma")]
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
                let masks = std::array::from_fn(|v| lane_mask(tile.width, 8 * v));
                run(tile, &masks)
            },
        );
    }
}

/// A mask of the lanes `first..first + 8` that fall below `width` (all ones where valid).
#[target_feature(enable = "avx2")]
fn lane_mask(width: usize, first: usize) -> __m256i {
    let valid = width.saturating_sub(first).min(8) as i32;
    _mm256_cmpgt_epi32(
        _mm256_set1_epi32(valid),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    )
}

/// Writes the transpose of a `rows × kc` block (`rows` ≤ 8, row `r` at `src[r·stride..]`,
/// contiguous) into `strip[kk·NR + offset + r]`, 8×8 in registers at a time.
#[target_feature(enable = "avx2")]
fn transpose_into(
    src: &[f32],
    stride: usize,
    rows: usize,
    kc: usize,
    strip: &mut [f32],
    offset: usize,
) {
    for kk0 in (0..kc).step_by(8) {
        let len = (kc - kk0).min(8);
        let valid = lane_mask(len, 0);
        let block: [__m256; 8] = std::array::from_fn(|r| {
            if r < rows && len == 8 {
                let row = &src[r * stride + kk0..][..8];
                // SAFETY: `row` holds 8 floats.
                unsafe { _mm256_loadu_ps(row.as_ptr()) }
            } else if r < rows {
                let row = &src[r * stride + kk0..][..len];
                // SAFETY: the mask covers exactly the `len` elements of `row`.
                unsafe { _mm256_maskload_ps(row.as_ptr(), valid) }
            } else {
                _mm256_setzero_ps()
            }
        });
        let columns = transpose8(block);
        for (t, column) in columns.iter().enumerate().take(len) {
            let out = &mut strip[(kk0 + t) * NR + offset..][..8];
            // SAFETY: `out` holds 8 floats.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr(), *column) };
        }
    }
}

/// The transpose of an 8×8 block held in 8 registers (row `r` in register `r`): 24 shuffles.
#[target_feature(enable = "avx")]
fn transpose8(r: [__m256; 8]) -> [__m256; 8] {
    // Rows interleaved in pairs, then in fours: `quads[4h + c]` holds, in 128-bit lane `l`,
    // rows 4h..4h+4 of column 4l + c.
    let mut quads = [_mm256_setzero_ps(); 8];
    for h in 0..2 {
        let lo01 = _mm256_unpacklo_ps(r[4 * h], r[4 * h + 1]);
        let hi01 = _mm256_unpackhi_ps(r[4 * h], r[4 * h + 1]);
        let lo23 = _mm256_unpacklo_ps(r[4 * h + 2], r[4 * h + 3]);
        let hi23 = _mm256_unpackhi_ps(r[4 * h + 2], r[4 * h + 3]);
        quads[4 * h] = _mm256_shuffle_ps::<0x44>(lo01, lo23);
        quads[4 * h + 1] = _mm256_shuffle_ps::<0xEE>(lo01, lo23);
        quads[4 * h + 2] = _mm256_shuffle_ps::<0x44>(hi01, hi23);
        quads[4 * h + 3] = _mm256_shuffle_ps::<0xEE>(hi01, hi23);
    }
    // Column c from the low lanes, column 4 + c from the high lanes.
    std::array::from_fn(|col| {
        let (c, lanes) = (col % 4, col / 4);
        if lanes == 0 {
            _mm256_permute2f128_ps::<0x20>(quads[c], quads[4 + c])
        } else {
            _mm256_permute2f128_ps::<0x31>(quads[c], quads[4 + c])
        }
    })
}

/// Runs the kernel instantiated for the tile's rows.
#[target_feature(enable = "avx2,fma")]
unsafe fn run(tile: &Tile, masks: &[__m256i; VECTORS]) {
    // SAFETY (every arm): forwarded from the caller.
    unsafe {
        match tile.rows {
            1 => kernel::<1>(tile, masks),
            2 => kernel::<2>(tile, masks),
            3 => kernel::<3>(tile, masks),
            4 => kernel::<4>(tile, masks),
            5 => kernel::<5>(tile, masks),
            _ => kernel::<MR>(tile, masks),
        }
    }
}

/// The `R × NR` micro-kernel: `R` rows of `A` against the packed strip, one `K` block.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn kernel<const R: usize>(t: &Tile, masks: &[__m256i; VECTORS]) {
    let mut acc = [[_mm256_setzero_ps(); VECTORS]; R];
    // SAFETY: the strip holds `kc · NR` 64-byte aligned floats, and A's rows `0..R` and steps
    // `0..kc` lie inside its slice (the caller's contract).
    unsafe {
        if t.a_row == 1 {
            // Transposed A: the R values of a step are contiguous.
            for kk in 0..t.kc {
                let b = b_step(t.b, kk);
                let a = t.a.add(kk * t.a_k);
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = _mm256_broadcast_ss(&*a.add(r));
                    for v in 0..VECTORS {
                        acc[v] = _mm256_fmadd_ps(x, b[v], acc[v]);
                    }
                }
            }
        } else {
            // Row-major A read in place: R rows, each contiguous along k.
            let rows: [*const f32; R] = std::array::from_fn(|r| t.a_row_start(r));
            for kk in 0..t.kc {
                let b = b_step(t.b, kk);
                for (row, acc) in rows.iter().zip(acc.iter_mut()) {
                    let x = _mm256_broadcast_ss(&*row.add(kk));
                    for v in 0..VECTORS {
                        acc[v] = _mm256_fmadd_ps(x, b[v], acc[v]);
                    }
                }
            }
        }
    }
    let full = t.width == NR;
    for (r, acc) in acc.iter().enumerate() {
        let row = t.c.wrapping_add(r * t.ldc);
        for (v, (&sum, &mask)) in acc.iter().zip(masks).enumerate() {
            let out = row.wrapping_add(8 * v);
            // SAFETY: a full strip's columns lie inside C; in a tail strip, masked-off lanes
            // are neither read nor written (the caller's contract).
            unsafe {
                match (full, t.accumulate) {
                    (true, false) => _mm256_storeu_ps(out, sum),
                    (true, true) => _mm256_storeu_ps(out, _mm256_add_ps(sum, _mm256_loadu_ps(out))),
                    (false, false) => _mm256_maskstore_ps(out, mask, sum),
                    (false, true) => {
                        let old = _mm256_maskload_ps(out, mask);
                        _mm256_maskstore_ps(out, mask, _mm256_add_ps(sum, old));
                    }
                }
            }
        }
    }
}

/// Step `kk` of the strip: its `NR / 8` vectors.
#[target_feature(enable = "avx")]
#[inline]
unsafe fn b_step(b: *const f32, kk: usize) -> [__m256; VECTORS] {
    // SAFETY: the caller keeps `kk < kc`; the strip is 64-byte aligned and NR is a multiple
    // of 8, so every step starts on a 32-byte boundary.
    std::array::from_fn(|v| unsafe { _mm256_load_ps(b.add(kk * NR + 8 * v)) })
}
