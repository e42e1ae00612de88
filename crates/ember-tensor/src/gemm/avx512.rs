//! The AVX-512 GEMM kernel.
//!
//! `C` is computed in strips of [`NR`] = 32 columns. For each block of about [`KC`] steps of
//! `K`, the strip's columns of `B` are packed (for each `k`, 32 contiguous floats: two aligned
//! zmm loads; a transposed `B` is transposed 16×16 in registers), and a micro-kernel keeps a
//! 12×32 tile of `C` in 24 zmm registers for the whole block: 24 FMAs per 2 loads and 12
//! broadcasts of `A`, read in place (row-major or transposed). The packed strip (32 KiB) stays
//! in L1 while every 12-row panel of `A` passes over it. Column tails are zero-padded in the
//! strip and stored through a mask; row tails use a kernel instantiated for that many rows.

use std::arch::x86_64::{
    __m512, __mmask16, _mm512_add_ps, _mm512_castpd_ps, _mm512_castps_pd, _mm512_fmadd_ps,
    _mm512_load_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps, _mm512_set1_ps,
    _mm512_setzero_ps, _mm512_shuffle_f32x4, _mm512_storeu_ps, _mm512_unpackhi_pd,
    _mm512_unpackhi_ps, _mm512_unpacklo_pd, _mm512_unpacklo_ps,
};
use std::cell::RefCell;
use std::ops::Range;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::MatRef;
use crate::parallel::SendPtr;

/// Columns of `C` per micro-tile (two 16-lane vectors).
pub const NR: usize = 32;
/// Rows of `C` per micro-tile.
pub const MR: usize = 12;
/// Target depth of a `K` block: a 32-column strip of `B` is then 32 KiB, inside L1.
pub const KC: usize = 256;

/// Whether this CPU runs the AVX-512 kernel. `EMBER_GEMM=matrixmultiply` turns it off (used to
/// compare engines in `cargo xtask bench`).
pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::env::var("EMBER_GEMM").map_or(true, |v| v != "matrixmultiply")
    })
}

/// A cache line of floats: packed strips are built from these so every zmm load is aligned.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Line([f32; 16]);

thread_local! {
    /// Each thread's packed strip of `B`, grown on demand and reused: no allocation once warm.
    static STRIP: RefCell<Vec<Line>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of at least `len` floats, 64-byte aligned.
fn floats(lines: &mut Vec<Line>, len: usize) -> &mut [f32] {
    let needed = len.div_ceil(16);
    if lines.len() < needed {
        lines.resize(needed, Line([0.0; 16]));
    }
    // SAFETY: `Line` is `repr(C)` over `[f32; 16]` with no padding, so `needed` lines are
    // `16 * needed >= len` initialised floats.
    unsafe { std::slice::from_raw_parts_mut(lines.as_mut_ptr().cast::<f32>(), len) }
}

/// One product `C = A·B` cut into 32-column strips of `C` that threads claim one at a time, so
/// a thread that starts late (a helper waking up, cold caches) simply takes fewer strips. Each
/// strip is computed whole by one thread in a fixed order: the result does not depend on who
/// computed what.
pub struct Strips<'a> {
    a: MatRef<'a>,
    b: MatRef<'a>,
    c: SendPtr<f32>,
    next: AtomicUsize,
    count: usize,
}

impl<'a> Strips<'a> {
    /// Plans `C = A·B`.
    ///
    /// # Safety
    /// The CPU must support AVX-512F ([`available`]); one of `a`'s strides must be 1;
    /// `a.cols() == b.rows()`; `c` must point to a dense row-major `a.rows() × b.cols()` buffer
    /// that nothing else touches until every [`Strips::work`] call has returned.
    pub unsafe fn new(a: MatRef<'a>, b: MatRef<'a>, c: *mut f32) -> Self {
        Self {
            a,
            b,
            c: SendPtr::new(c),
            next: AtomicUsize::new(0),
            count: b.cols.div_ceil(NR),
        }
    }

    /// Number of strips.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Computes strips until none is left; call it from any number of threads.
    pub fn work(&self) {
        STRIP.with_borrow_mut(|buffer| {
            loop {
                let s = self.next.fetch_add(1, Ordering::Relaxed);
                if s >= self.count {
                    break;
                }
                // SAFETY: `new`'s contract; strip `s` is claimed by this thread alone.
                unsafe { self.strip(s, buffer) };
            }
        });
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn strip(&self, s: usize, buffer: &mut Vec<Line>) {
        let (a, b) = (self.a, self.b);
        let (m, k, n) = (a.rows, a.cols, b.cols);
        let j0 = s * NR;
        let cols = j0..(j0 + NR).min(n);
        let (mask0, mask1) = column_masks(cols.len());
        let mut k0 = 0;
        while k0 < k {
            let kc = block_depth(k - k0);
            let packed = floats(buffer, NR * kc);
            pack_b(b, k0, kc, cols.clone(), packed);
            for i0 in (0..m).step_by(MR) {
                let tile = Tile {
                    kc,
                    a: a.data[i0 * a.row_stride + k0 * a.col_stride..].as_ptr(),
                    a_row: a.row_stride,
                    a_k: a.col_stride,
                    b: packed.as_ptr(),
                    // SAFETY: row i0 < m and column j0 < n lie inside the m×n buffer C.
                    c: unsafe { self.c.get().add(i0 * n + j0) },
                    ldc: n,
                    mask0,
                    mask1,
                    accumulate: k0 > 0,
                };
                // SAFETY: the strip holds `kc` steps; the tile's rows, steps and masked
                // columns lie inside A and C (`new`'s contract).
                unsafe { tile.run(m - i0) };
            }
            k0 += kc;
        }
    }
}

/// The depth of the next `K` block: [`KC`], or all that is left when a second block would be
/// short.
fn block_depth(remaining: usize) -> usize {
    if remaining <= KC + KC / 2 {
        remaining
    } else {
        KC
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

/// Packs `B[k0..k0 + kc, cols]` (at most [`NR`] columns) into a strip: `strip[kk·NR + jj]` is
/// `B[k0 + kk, cols.start + jj]`, zero past the last column.
#[target_feature(enable = "avx512f")]
fn pack_b(b: MatRef<'_>, k0: usize, kc: usize, cols: Range<usize>, strip: &mut [f32]) {
    let j0 = cols.start;
    let width = cols.len();
    if width < NR {
        strip.fill(0.0);
    }
    if b.col_stride == 1 {
        for (kk, out) in strip.chunks_exact_mut(NR).enumerate() {
            let row = &b.data[(k0 + kk) * b.row_stride + j0..][..width];
            out[..width].copy_from_slice(row);
        }
    } else if b.row_stride == 1 {
        // A transposed operand (x·Wᵀ): columns of B are contiguous; transpose 16×16 blocks.
        for half in 0..NR / 16 {
            let rows = width.saturating_sub(16 * half).min(16);
            if rows > 0 {
                let first = (j0 + 16 * half) * b.col_stride + k0;
                transpose_into(&b.data[first..], b.col_stride, rows, kc, strip, 16 * half);
            }
        }
    } else {
        for jj in 0..width {
            let base = (j0 + jj) * b.col_stride + k0 * b.row_stride;
            for kk in 0..kc {
                strip[kk * NR + jj] = b.data[base + kk * b.row_stride];
            }
        }
    }
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

/// One micro-tile: a packed panel of `A`, a packed strip of `B`, and where the result goes.
struct Tile {
    kc: usize,
    /// `A[i0, k0]`; element `(r, kk)` of the panel is at `a + r·a_row + kk·a_k`.
    a: *const f32,
    a_row: usize,
    a_k: usize,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    mask0: __mmask16,
    mask1: __mmask16,
    /// Add to `C` (a later `K` block) instead of overwriting it.
    accumulate: bool,
}

impl Tile {
    /// Runs the kernel instantiated for `rows` (clamped to [`MR`]) rows.
    #[target_feature(enable = "avx512f")]
    unsafe fn run(&self, rows: usize) {
        // SAFETY (every arm): forwarded from the caller.
        unsafe {
            match rows {
                1 => self.kernel::<1>(),
                2 => self.kernel::<2>(),
                3 => self.kernel::<3>(),
                4 => self.kernel::<4>(),
                5 => self.kernel::<5>(),
                6 => self.kernel::<6>(),
                7 => self.kernel::<7>(),
                8 => self.kernel::<8>(),
                9 => self.kernel::<9>(),
                10 => self.kernel::<10>(),
                11 => self.kernel::<11>(),
                _ => self.kernel::<MR>(),
            }
        }
    }

    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn kernel<const R: usize>(&self) {
        let mut acc0: [__m512; R] = [_mm512_setzero_ps(); R];
        let mut acc1: [__m512; R] = [_mm512_setzero_ps(); R];
        // SAFETY: the strip holds `kc · NR` 64-byte aligned floats (see `floats`), and A's
        // rows `0..R` and steps `0..kc` lie inside its slice (the caller's contract).
        unsafe {
            if self.a_row == 1 {
                // Packed panel or transposed A: the R values of a step are contiguous.
                for kk in 0..self.kc {
                    let (b0, b1) = self.b_step(kk);
                    let a = self.a.add(kk * self.a_k);
                    for r in 0..R {
                        let x = _mm512_set1_ps(*a.add(r));
                        acc0[r] = _mm512_fmadd_ps(x, b0, acc0[r]);
                        acc1[r] = _mm512_fmadd_ps(x, b1, acc1[r]);
                    }
                }
            } else {
                // Row-major A read in place: R rows, each contiguous along k.
                let rows: [*const f32; R] = std::array::from_fn(|r| self.a.add(r * self.a_row));
                for kk in 0..self.kc {
                    let (b0, b1) = self.b_step(kk);
                    for r in 0..R {
                        let x = _mm512_set1_ps(*rows[r].add(kk));
                        acc0[r] = _mm512_fmadd_ps(x, b0, acc0[r]);
                        acc1[r] = _mm512_fmadd_ps(x, b1, acc1[r]);
                    }
                }
            }
        }
        for r in 0..R {
            let row = self.c.wrapping_add(r * self.ldc);
            let high = row.wrapping_add(16);
            let (mut v0, mut v1) = (acc0[r], acc1[r]);
            // SAFETY: masked-off lanes are neither read nor written, and the caller guarantees
            // the unmasked ones lie inside C.
            unsafe {
                if self.accumulate {
                    v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(self.mask0, row));
                    v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(self.mask1, high));
                }
                _mm512_mask_storeu_ps(row, self.mask0, v0);
                _mm512_mask_storeu_ps(high, self.mask1, v1);
            }
        }
    }

    /// Step `kk` of the strip: its two 16-column halves.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn b_step(&self, kk: usize) -> (__m512, __m512) {
        // SAFETY: the caller keeps `kk < kc`; the strip is aligned (see `floats`).
        unsafe {
            let b = self.b.add(kk * NR);
            (_mm512_load_ps(b), _mm512_load_ps(b.add(16)))
        }
    }
}
