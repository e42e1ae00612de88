//! The NEON GEMM kernel (aarch64: Apple Silicon, Graviton, Ampere, Raspberry Pi 4 and later),
//! run by the driver in [`super::packed`]. NEON is part of the aarch64 baseline, so it needs no
//! detection.
//!
//! Sized for 32 q registers: a [`MR`]×[`NR`] tile of `C` in 24 accumulators, plus 4 packed `B`
//! vectors and a broadcast of `A` per step. Strips of [`NR`] columns; a transposed `B` is
//! transposed element by element while packing. Tail tiles (fewer than [`NR`] valid columns)
//! go through a small buffer; row tails use a kernel instantiated for that many rows. Tested
//! for correctness under qemu (`cargo xtask test-aarch64`); its speed is not measured.

use std::arch::aarch64::{float32x4_t, vaddq_f32, vdupq_n_f32, vfmaq_f32, vld1q_f32, vst1q_f32};
use std::ops::Range;

use super::packed::{self, Blocking, Product, Tile};

/// q vectors across a micro-tile.
const VECTORS: usize = 4;
/// Columns of `C` per micro-tile.
pub const NR: usize = 4 * VECTORS;
/// Rows of `C` per micro-tile.
pub const MR: usize = 6;
/// Target depth of a `K` block: a 16-column strip of `B` is then 16 KiB.
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
    block: NR,
};

/// Whether this CPU runs the NEON kernel (every aarch64 CPU does).
pub fn available() -> bool {
    true
}

/// Computes the columns `cols` of `C` (see [`packed::PackedKernel::strip`]).
unsafe fn strip(p: &Product<'_>, cols: Range<usize>, strip: &mut [f32]) {
    // SAFETY: forwarded from the caller (`packed::PackedKernel::strip`'s contract).
    unsafe {
        packed::strip_blocks(p, cols, strip, BLOCKING, transpose_into, |tile| run(tile));
    }
}

/// Writes the transpose of a `rows × kc` block (row `r` at `src[r·stride..]`, contiguous) into
/// `strip[kk·NR + offset + r]`.
fn transpose_into(
    src: &[f32],
    stride: usize,
    rows: usize,
    kc: usize,
    strip: &mut [f32],
    offset: usize,
) {
    for r in 0..rows {
        let row = &src[r * stride..][..kc];
        for (kk, &value) in row.iter().enumerate() {
            strip[kk * NR + offset + r] = value;
        }
    }
}

/// Runs the kernel instantiated for the tile's rows.
unsafe fn run(tile: &Tile) {
    // SAFETY (every arm): forwarded from the caller.
    unsafe {
        match tile.rows {
            1 => kernel::<1>(tile),
            2 => kernel::<2>(tile),
            3 => kernel::<3>(tile),
            4 => kernel::<4>(tile),
            5 => kernel::<5>(tile),
            _ => kernel::<MR>(tile),
        }
    }
}

/// The `R × NR` micro-kernel: `R` rows of `A` against the packed strip, one `K` block.
#[inline]
unsafe fn kernel<const R: usize>(t: &Tile) {
    // SAFETY: the strip holds `kc · NR` floats, and A's rows `0..R` and steps `0..kc` lie
    // inside its slice (the caller's contract).
    let acc = unsafe {
        let mut acc = [[vdupq_n_f32(0.0); VECTORS]; R];
        if t.a_row == 1 {
            // Transposed A: the R values of a step are contiguous.
            for kk in 0..t.kc {
                let b = b_step(t.b, kk);
                let a = t.a.add(kk * t.a_k);
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = vdupq_n_f32(*a.add(r));
                    for v in 0..VECTORS {
                        acc[v] = vfmaq_f32(acc[v], x, b[v]);
                    }
                }
            }
        } else {
            // Row-major A read in place: R rows, each contiguous along k.
            let rows: [*const f32; R] = std::array::from_fn(|r| t.a_row_start(r));
            for kk in 0..t.kc {
                let b = b_step(t.b, kk);
                for (row, acc) in rows.iter().zip(acc.iter_mut()) {
                    let x = vdupq_n_f32(*row.add(kk));
                    for v in 0..VECTORS {
                        acc[v] = vfmaq_f32(acc[v], x, b[v]);
                    }
                }
            }
        }
        acc
    };
    for (r, acc) in acc.iter().enumerate() {
        let row = t.c.wrapping_add(r * t.ldc);
        // SAFETY: the caller guarantees the tile's `width` columns of row `r` lie inside C.
        unsafe { store_row(row, acc, t.width, t.accumulate) };
    }
}

/// Stores (or adds, when `accumulate`) one row of a tile into `C`'s `width` valid columns.
///
/// # Safety
/// `row[..width]` lies inside `C`.
#[inline]
unsafe fn store_row(row: *mut f32, acc: &[float32x4_t; VECTORS], width: usize, accumulate: bool) {
    // SAFETY: the caller's contract; a full row holds NR floats.
    unsafe {
        if width == NR {
            for (v, &sum) in acc.iter().enumerate() {
                let out = row.add(4 * v);
                let sum = if accumulate {
                    vaddq_f32(sum, vld1q_f32(out))
                } else {
                    sum
                };
                vst1q_f32(out, sum);
            }
        } else {
            let mut lanes = [0.0f32; NR];
            for (v, &sum) in acc.iter().enumerate() {
                vst1q_f32(lanes.as_mut_ptr().add(4 * v), sum);
            }
            for (c, &value) in lanes.iter().enumerate().take(width) {
                let out = row.add(c);
                *out = if accumulate { *out + value } else { value };
            }
        }
    }
}

/// Step `kk` of the strip: its `NR / 4` vectors.
#[inline]
unsafe fn b_step(b: *const f32, kk: usize) -> [float32x4_t; VECTORS] {
    // SAFETY: the caller keeps `kk < kc`.
    std::array::from_fn(|v| unsafe { vld1q_f32(b.add(kk * NR + 4 * v)) })
}
