//! What the packed kernels (AVX-512, AVX2+FMA, NEON) share: the plan of a product in column
//! strips that threads claim from a counter, the `K` blocks of a strip, packing a block of `B`,
//! and the description of one micro-tile. Each kernel module supplies only what depends on its
//! registers: the micro-kernel and the in-register transpose of a transposed `B`.
//!
//! `C` is computed in strips of `NR` columns (the kernel's register width). For each block of
//! about `KC` steps of `K`, the strip's columns of `B` are packed (for each `k`, `NR`
//! contiguous floats on a 64-byte boundary), and the micro-kernel keeps an `MR × NR` tile of `C`
//! in registers for the whole block, reading `A` in place (row-major or transposed). Each strip
//! is computed whole by one thread, every element of `C` summed over `k` in one fixed order: the
//! result does not depend on which thread computed what.

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::MatRef;
use crate::parallel::{self, SendPtr};

/// Products smaller than this many multiply-adds (about 10 µs on one core) stay on one thread,
/// where the hand-off and an unequal last strip would eat most of the gain. A round number, not
/// a measured optimum: every product of the `mlp` step but the 10-wide last layer is above it.
const PARALLEL_MIN_MACS: usize = 1 << 20;

/// An operand up to this many bytes stays in a core's L2 cache (512 KiB on Zen 3, 1–2 MiB on
/// AVX-512 Intel parts) from one strip to the next: strips of an `A` this small can be claimed
/// one at a time, and a `B` this small is not prefetched (the `mlp`'s largest operand, its
/// 100×784 input, is 306 KiB).
const IN_L2: usize = 384 << 10;

/// Products with more strips than this are claimed in this many panels of neighbouring strips:
/// the last one claimed leaves the other thread idle for at most 1/64 of the product.
const PANELS_PER_PRODUCT: usize = 64;

/// A panel's block of `C` (rows × panel columns) up to this many bytes stays in L2 between the
/// `K` blocks that add into it.
const C_PANEL_IN_L2: usize = 128 << 10;

/// A cache line of floats: packed strips are built from these so every vector load is aligned.
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

/// One product `C = A·B` as every strip sees it: its operands, and `C`, a dense row-major
/// `a.rows() × b.cols()` buffer.
pub(super) struct Product<'a> {
    pub operands: Operands<'a>,
    pub c: SendPtr<f32>,
}

/// What a product multiplies. `A` has a unit stride along one axis. With `a_rows` (`b_rows`),
/// row `r` of `A` (`B`) starts at `data[rows[r]]` instead of `r · row_stride` (the column
/// stride is then 1). With `accumulate`, the product is added to `C` (`C = A·B + C`).
pub(super) struct Operands<'a> {
    pub a: MatRef<'a>,
    pub a_rows: Option<&'a [usize]>,
    pub b: MatRef<'a>,
    pub b_rows: Option<&'a [usize]>,
    pub accumulate: bool,
}

/// A packed kernel as the driver sees it.
pub(super) struct PackedKernel {
    /// Its strip width, tile height and block depths.
    pub blocking: Blocking,
    /// Computes the columns `cols` of `C` (a panel: whole strips of `blocking.nr` columns, the
    /// last one maybe narrower), every row, using `strip` (room for `nr` columns of the deepest
    /// block) to pack `B`.
    ///
    /// Safety: the CPU runs the kernel's instruction set; `Product`'s invariants hold; no other
    /// thread touches the columns `cols` of `C`.
    pub strip: unsafe fn(&Product<'_>, Range<usize>, &mut [f32]),
}

/// `C = A·B` (or `A·B + C`) on `kernel`, on two threads when `parallel` and the product is
/// large enough; the operands as in [`Operands`].
///
/// # Safety
/// The CPU must run `kernel`'s instruction set; `a.cols() == b.rows()`; `c` is the dense
/// `a.rows() × b.cols()` output, initialised if `accumulate`; with `a_rows` (`b_rows`), the
/// operand's column stride is 1, its row stride is not 1, the table has an entry per row, and
/// each row's elements lie inside the operand's data.
pub(super) unsafe fn run(
    kernel: &PackedKernel,
    operands: Operands<'_>,
    c: &mut [MaybeUninit<f32>],
    parallel: bool,
) {
    let Operands {
        a,
        a_rows,
        b,
        b_rows,
        accumulate,
    } = operands;
    let (m, k, n) = (a.rows, a.cols, b.cols);
    // The kernels read A in place along one unit stride; any other view is copied first.
    let contiguous: Vec<f32>;
    let a = if a.row_stride == 1 || a.col_stride == 1 {
        a
    } else {
        contiguous = (0..m * k).map(|idx| a.at(idx / k, idx % k)).collect();
        MatRef {
            data: &contiguous,
            rows: m,
            cols: k,
            row_stride: k,
            col_stride: 1,
        }
    };
    let nr = kernel.blocking.nr;
    let width = nr * panel_strips(m, k, nr, n.div_ceil(nr));
    let strips = Strips {
        kernel,
        product: Product {
            operands: Operands {
                a,
                a_rows,
                b,
                b_rows,
                accumulate,
            },
            c: SendPtr::new(c.as_mut_ptr().cast()),
        },
        next: AtomicUsize::new(0),
        width,
        count: n.div_ceil(width),
    };
    if parallel && m * n * k >= PARALLEL_MIN_MACS && strips.count >= 2 {
        parallel::join(|| strips.work(), || strips.work());
    } else {
        strips.work();
    }
}

/// How many strips of `C` a thread claims at once (a panel), for an `m×k` `A` and `strips`
/// strips. While `A` stays in L2 a panel is one strip (or a 64th of many), so a thread that
/// starts late simply takes fewer. A larger `A` (the weight gradient of a convolution: `A` is
/// `[O, N·OH·OW]`) would stream from memory once per strip; in a panel each `K` block of `A`
/// is read from memory once and from L2 for the panel's other strips. Two panels, one per
/// thread, unless the panel's block of `C` would leave L2.
fn panel_strips(m: usize, k: usize, nr: usize, strips: usize) -> usize {
    let floats = std::mem::size_of::<f32>();
    if m * k * floats <= IN_L2 {
        // Many strips (a convolution's `N·OH·OW` columns): runs of neighbouring strips, so the
        // lines of `B` a thread prefetches for its next strip are its own.
        return (strips / PANELS_PER_PRODUCT).max(1);
    }
    let fitting = C_PANEL_IN_L2 / (m * floats * nr).max(1);
    strips.div_ceil(2).min(fitting).max(1)
}

/// The panels of one product, which threads claim one at a time, so a thread that starts late
/// (a helper waking up, cold caches) simply takes fewer panels.
struct Strips<'a> {
    kernel: &'a PackedKernel,
    product: Product<'a>,
    next: AtomicUsize,
    /// Columns per panel: a multiple of the kernel's strip width.
    width: usize,
    count: usize,
}

impl Strips<'_> {
    /// Computes strips until none is left; call it from any number of threads.
    fn work(&self) {
        let Blocking { nr, kc, .. } = self.kernel.blocking;
        let operands = &self.product.operands;
        let (k, n, width) = (operands.a.cols, operands.b.cols, self.width);
        STRIP.with_borrow_mut(|buffer| {
            // The deepest block: a last one may take up to half a block more (`block_depth`).
            let deepest = k.min(kc + kc / 2);
            let strip = floats(buffer, nr * deepest);
            loop {
                let s = self.next.fetch_add(1, Ordering::Relaxed);
                if s >= self.count {
                    break;
                }
                let cols = s * width..((s + 1) * width).min(n);
                // SAFETY: `run`'s contract; panel `s` is claimed by this thread alone.
                unsafe { (self.kernel.strip)(&self.product, cols, strip) };
            }
        });
    }
}

/// The depth of the next `K` block: `kc`, or all that is left when a second block would be
/// short.
fn block_depth(remaining: usize, kc: usize) -> usize {
    if remaining <= kc + kc / 2 {
        remaining
    } else {
        kc
    }
}

/// One micro-tile: `rows` rows of a panel of `A`, a packed strip of `B`, and where the result
/// goes.
pub(super) struct Tile<'a> {
    /// Steps of `K` in this block.
    pub kc: usize,
    /// `A[i0, k0]`; element `(r, kk)` of the panel is at `a + r·a_row + kk·a_k` (see
    /// [`Tile::a_row_start`] for rows given by a table).
    pub a: *const f32,
    pub a_row: usize,
    pub a_k: usize,
    /// With a table of `A`'s rows: where rows `i0..` start relative to `a`.
    pub a_rows: Option<&'a [usize]>,
    /// The packed strip: step `kk` holds `NR` floats at `b + kk·NR`.
    pub b: *const f32,
    /// `C[i0, j0]`; row `r` starts at `c + r·ldc`.
    pub c: *mut f32,
    pub ldc: usize,
    /// Rows of the tile (at most the kernel's `MR`).
    pub rows: usize,
    /// Valid columns of the strip (at most `NR`).
    pub width: usize,
    /// Add to `C` (a later `K` block) instead of overwriting it.
    pub accumulate: bool,
}

impl Tile<'_> {
    /// Where row `r` of a row-major panel of `A` starts (`a_row` is then not 1).
    ///
    /// # Safety
    /// `r < rows`, and the tile describes a panel of `A` inside its buffer.
    #[inline(always)]
    pub unsafe fn a_row_start(&self, r: usize) -> *const f32 {
        // SAFETY: the caller's contract.
        unsafe {
            match self.a_rows {
                Some(rows) => self.a.add(rows[r]),
                None => self.a.add(r * self.a_row),
            }
        }
    }
}

/// The shape of a kernel's work: columns per strip (`nr`), rows per micro-tile (`mr`), target
/// depth of a `K` block (`kc`), and rows of `Bᵀ` its in-register transpose takes (`block`).
#[derive(Clone, Copy)]
pub(super) struct Blocking {
    pub nr: usize,
    pub mr: usize,
    pub kc: usize,
    pub block: usize,
}

/// Computes the columns `cols` of `C` (a panel of strips): for each `K` block, and each strip
/// of the panel, packs `B` into `strip` ([`pack_b`], with the kernel's `transpose`), then hands
/// each `mr`-row panel of `A` to `tile`. The strips of a block reuse its rows of `A` from
/// cache. Inlined into each kernel's `#[target_feature]` strip function, so the closures are
/// compiled for its instruction set.
///
/// # Safety
/// `Product`'s invariants hold, `cols` lies inside `C`, and `strip` holds `nr` columns of the
/// deepest block.
#[inline(always)]
pub(super) unsafe fn strip_blocks(
    p: &Product<'_>,
    cols: Range<usize>,
    strip: &mut [f32],
    blocking: Blocking,
    mut transpose: impl FnMut(&[f32], usize, usize, usize, &mut [f32], usize),
    mut tile: impl FnMut(&Tile),
) {
    let Blocking { nr, mr, kc, block } = blocking;
    let o = &p.operands;
    let (a, n) = (o.a, o.b.cols);
    let (m, k) = (a.rows, a.cols);
    let prefetch = k * n * std::mem::size_of::<f32>() > IN_L2;
    let mut k0 = 0;
    while k0 < k {
        let depth = block_depth(k - k0, kc);
        let packed = &mut strip[..nr * depth];
        for j0 in cols.clone().step_by(nr) {
            let strip_cols = j0..(j0 + nr).min(cols.end);
            pack_b(
                (o.b, o.b_rows),
                (k0, depth, strip_cols.clone()),
                packed,
                (nr, block, prefetch),
                &mut transpose,
            );
            for (i0, rows) in tile_rows(m, mr) {
                let (a_start, a_rows) = match o.a_rows {
                    Some(rows) => (k0, Some(&rows[i0..])),
                    None => (i0 * a.row_stride + k0 * a.col_stride, None),
                };
                tile(&Tile {
                    kc: depth,
                    a: a.data[a_start..].as_ptr(),
                    a_row: a.row_stride,
                    a_k: a.col_stride,
                    a_rows,
                    b: packed.as_ptr(),
                    // SAFETY: row i0 < m and column j0 < n lie inside the m×n buffer C.
                    c: unsafe { p.c.get().add(i0 * n + j0) },
                    ldc: n,
                    rows,
                    width: strip_cols.len(),
                    accumulate: k0 > 0 || o.accumulate,
                });
            }
        }
        k0 += depth;
    }
}

/// The micro-tiles down `m` rows of a strip, as `(first row, rows)`: full tiles of `mr` rows,
/// except that a last stretch of between `mr` and `2·mr` rows is split into two tiles of
/// about half each (32 rows with `mr = 6`: four tiles of 6, two of 4, not a last tile of 2).
/// A tile of few rows has few accumulators, too few to hide the multiply-add's latency: two
/// tiles of 4 take less time than one of 6 and one of 2. Each element of `C` is the same sum
/// whatever tile holds its row.
fn tile_rows(m: usize, mr: usize) -> impl Iterator<Item = (usize, usize)> {
    let mut i0 = 0;
    std::iter::from_fn(move || {
        let left = m - i0;
        if left == 0 || mr == 0 {
            return None;
        }
        let rows = if left > mr && left < 2 * mr {
            left.div_ceil(2)
        } else {
            left.min(mr)
        };
        i0 += rows;
        Some((i0 - rows, rows))
    })
}

/// Packs `B[k0..k0 + kc, cols]` (at most `nr` columns; rows at `b_rows` when given, as in
/// [`Product`]) into `strip` (`nr·kc` floats):
/// `strip[kk·nr + jj]` is `B[k0 + kk, cols.start + jj]`, zero past the last column. A transposed
/// `B` (unit row stride, as in `x·Wᵀ`) goes through `transpose`, which writes the transpose of
/// at most `block` rows of `Bᵀ` (`transpose(src, stride, rows, kc, strip, offset)`: row `r` of
/// the block at `src[r·stride..]`, into `strip[kk·nr + offset + r]`).
#[inline(always)]
fn pack_b(
    (b, b_rows): (MatRef<'_>, Option<&[usize]>),
    (k0, kc, cols): (usize, usize, Range<usize>),
    strip: &mut [f32],
    (nr, block, prefetch): (usize, usize, bool),
    mut transpose: impl FnMut(&[f32], usize, usize, usize, &mut [f32], usize),
) {
    let j0 = cols.start;
    let width = cols.len();
    let row_start = |r: usize| b_rows.map_or(r * b.row_stride, |rows| rows[r]);
    if width < nr {
        strip.fill(0.0);
    }
    if b.col_stride == 1 && width == nr {
        // `nr` is the kernel's constant here (this is inlined), so each row is a few vector
        // moves, not a call to `memcpy`. The rows of a large `B` are far apart (a convolution's
        // unfolded input has rows of N·OH·OW floats): too many streams for the hardware
        // prefetcher, so each row's part of the next strip is fetched into L2 while this one is
        // packed and used.
        for (kk, out) in strip.chunks_exact_mut(nr).enumerate() {
            let row = &b.data[row_start(k0 + kk) + j0..];
            if prefetch {
                // Both ends of the next strip's run: it spans two lines unless rows are aligned.
                prefetch_l2(row.as_ptr().wrapping_add(nr));
                prefetch_l2(row.as_ptr().wrapping_add(2 * nr - 1));
            }
            out.copy_from_slice(&row[..nr]);
        }
    } else if b.col_stride == 1 {
        for (kk, out) in strip.chunks_exact_mut(nr).enumerate() {
            let row = &b.data[row_start(k0 + kk) + j0..][..width];
            crate::copy_floats(&mut out[..width], row, |v| v);
        }
    } else if b.row_stride == 1 {
        // A transposed operand (x·Wᵀ): columns of B are contiguous; transpose in blocks.
        for first in (0..width).step_by(block) {
            let rows = (width - first).min(block);
            let start = (j0 + first) * b.col_stride + k0;
            transpose(&b.data[start..], b.col_stride, rows, kc, strip, first);
        }
        // These columns' next `K` block is packed after the rest of the panel: fetch it into
        // L2 now (a column of `Bᵀ` is a long contiguous row; the hardware prefetcher loses
        // track of so many short runs).
        let next = b.data.as_ptr().wrapping_add(k0 + kc);
        for jj in (0..width).filter(|_| prefetch) {
            for line in (0..kc).step_by(16) {
                prefetch_l2(next.wrapping_add((j0 + jj) * b.col_stride + line));
            }
        }
    } else {
        for jj in 0..width {
            let base = (j0 + jj) * b.col_stride + k0 * b.row_stride;
            for kk in 0..kc {
                strip[kk * nr + jj] = b.data[base + kk * b.row_stride];
            }
        }
    }
}

/// Asks for the cache line holding `at` to be brought into L2; never faults, whatever `at` is.
#[inline(always)]
fn prefetch_l2(at: *const f32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it reads nothing and never faults, even out of bounds. SSE
    // is part of x86-64's baseline.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T1, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T1>(at.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}
