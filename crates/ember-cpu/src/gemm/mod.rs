//! Single-precision GEMM for the CPU backend: `C = A·B` with any strides on `A` and `B`.
//!
//! The kernel is chosen once, at run time, for the CPU found (no build flag): AVX-512
//! ([`avx512`], 12×32 tiles in 24 zmm registers), else AVX2+FMA ([`avx2`], 6×16 tiles in 12
//! ymm registers), else NEON on aarch64 (`neon.rs`), else `matrixmultiply`. `EMBER_GEMM` forces
//! one by name (see [`Kernel`]). The packed kernels share one driver (`packed.rs`) and run on up
//! to two threads, which claim column strips of `C` one at a time; every element of `C` is
//! summed over `k` in the same order whatever thread computes it, so results are bit-identical
//! on one thread or two, from run to run. Why kernels of our own: `docs/BENCHMARKS.md`
//! ("Choosing the GEMM engine") has the measurements.
//!
//! ```
//! use ember_cpu::gemm::{MatRef, gemm};
//!
//! // A is 2×3, B is stored as the 2×3 matrix Bᵀ, so C = A·B is 2×2.
//! let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
//! let bt = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0];
//! let mut c = [0.0; 4];
//! gemm(MatRef::row_major(&a, 2, 3)?, MatRef::row_major(&bt, 2, 3)?.t(), &mut c)?;
//! assert_eq!(c, [4.0, 2.0, 10.0, 5.0]);
//! # Ok::<(), ember_tensor::Error>(())
//! ```

#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx512;
mod kernel;
#[cfg(target_arch = "aarch64")]
pub mod neon;
mod packed;
mod peak;

use std::mem::MaybeUninit;

pub use kernel::{Engine, Kernel};
pub use peak::fma_peak_gflops;

use ember_tensor::{Error, Result};

/// A read-only strided matrix: element `(i, j)` is `data[i * row_stride + j * col_stride]`.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// The elements, row after row, if the matrix is row-major with no gap between rows.
    pub(crate) fn contiguous_rows(&self) -> Option<&'a [f32]> {
        let len = self.rows * self.cols;
        (self.col_stride == 1 && (self.row_stride == self.cols || self.rows <= 1))
            .then(|| self.data.get(..len))
            .flatten()
    }

    /// A view of `data` with the given strides; fails if an element would lie outside `data`.
    pub fn new(
        data: &'a [f32],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Result<Self> {
        let last = if rows == 0 || cols == 0 {
            None
        } else {
            (rows - 1)
                .checked_mul(row_stride)
                .zip((cols - 1).checked_mul(col_stride))
                .and_then(|(r, c)| r.checked_add(c))
        };
        match last {
            Some(last) if last >= data.len() => Err(Error::Device {
                op: "gemm",
                message: format!(
                    "a {rows}×{cols} view with strides ({row_stride}, {col_stride}) reaches \
                     element {last} of {}",
                    data.len()
                ),
            }),
            None if rows != 0 && cols != 0 => Err(Error::Device {
                op: "gemm",
                message: format!("a {rows}×{cols} view overflows the address space"),
            }),
            _ => Ok(Self {
                data,
                rows,
                cols,
                row_stride,
                col_stride,
            }),
        }
    }

    /// A dense row-major `rows × cols` view.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Result<Self> {
        Self::new(data, rows, cols, cols, 1)
    }

    /// The `rows × cols` operand `data` holds: stored row-major, or stored row-major as its
    /// transpose (`cols × rows`) when `transposed` — how a matmul's transpose flags store
    /// operands.
    pub fn stored(data: &'a [f32], rows: usize, cols: usize, transposed: bool) -> Result<Self> {
        if transposed {
            Ok(Self::row_major(data, cols, rows)?.t())
        } else {
            Self::row_major(data, rows, cols)
        }
    }

    /// The transposed view (no data moves).
    pub fn t(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    #[inline(always)]
    fn at(&self, i: usize, j: usize) -> f32 {
        self.data[i * self.row_stride + j * self.col_stride]
    }
}

/// `C = A·B`, with `C` dense row-major (`a.rows() × b.cols()`); `C`'s old contents are ignored.
///
/// Fails if the shapes do not agree, or if `EMBER_GEMM` or `EMBER_THREADS` holds a value that is
/// not allowed (see [`crate::check_environment`]).
pub fn gemm(a: MatRef<'_>, b: MatRef<'_>, c: &mut [f32]) -> Result<()> {
    gemm_with(Engine::selected()?, a, b, c)
}

/// [`gemm`] on a chosen [`Engine`]; fails if this CPU cannot run its kernel.
pub fn gemm_with(engine: Engine, a: MatRef<'_>, b: MatRef<'_>, c: &mut [f32]) -> Result<()> {
    // SAFETY: `MaybeUninit<f32>` has the layout of `f32`, and the product only writes
    // initialised floats, so `c` stays initialised.
    let c = unsafe { &mut *(std::ptr::from_mut(c) as *mut [MaybeUninit<f32>]) };
    product(engine, (a, b, false), c)
}

/// `C = A·B + C` on `engine`: each element of `A·B` is the sum [`gemm_with`] computes, added
/// to `C` (for the packed kernels, as each `K` block after the first is).
pub fn gemm_add(engine: Engine, a: MatRef<'_>, b: MatRef<'_>, c: &mut [f32]) -> Result<()> {
    // SAFETY: as in `gemm_with`.
    let c = unsafe { &mut *(std::ptr::from_mut(c) as *mut [MaybeUninit<f32>]) };
    product(engine, (a, b, true), c)
}

/// [`gemm`] into uninitialised memory (a fresh output buffer need not be zeroed first): every
/// element of `C` is written on success.
pub fn gemm_uninit(a: MatRef<'_>, b: MatRef<'_>, c: &mut [MaybeUninit<f32>]) -> Result<()> {
    product(Engine::selected()?, (a, b, false), c)
}

/// `C = A·B`, or `A·B + C` when `accumulate` (then `C` is initialised).
fn product(
    engine: Engine,
    (a, b, accumulate): (MatRef<'_>, MatRef<'_>, bool),
    c: &mut [MaybeUninit<f32>],
) -> Result<()> {
    let packed = engine.kernel.packed()?;
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if b.rows != k || c.len() != m * n {
        return Err(Error::Device {
            op: "gemm",
            message: format!(
                "cannot multiply {m}×{k} by {}×{n} into {} elements",
                b.rows,
                c.len()
            ),
        });
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if !accumulate {
            c.fill(MaybeUninit::new(0.0));
        }
        return Ok(());
    }
    match packed {
        // Fewer columns than one strip (a 3×3 convolution's weight gradient on one input
        // channel has 9): one strip, mostly padding, on one thread. `Cᵀ = Bᵀ·Aᵀ` has `m`
        // columns instead, and each element is the same sum in the same order.
        Some(kernel) if n < kernel.blocking.nr && m > n => {
            let mut transposed = vec![MaybeUninit::new(0.0); n * m];
            if accumulate {
                for (j, column) in transposed.chunks_exact_mut(m).enumerate() {
                    for (i, value) in column.iter_mut().enumerate() {
                        *value = c[i * n + j];
                    }
                }
            }
            let operands = packed::Operands {
                a: b.t(),
                a_rows: None,
                b: a.t(),
                b_rows: None,
                accumulate,
            };
            // SAFETY: as below, for the n×m product Bᵀ·Aᵀ into `transposed`.
            unsafe { packed::run(kernel, operands, &mut transposed, engine.two_threads) };
            for (j, column) in transposed.chunks_exact(m).enumerate() {
                for (i, &value) in column.iter().enumerate() {
                    c[i * n + j] = value;
                }
            }
        }
        // SAFETY: `packed` checked that this CPU runs the kernel, and the shapes were checked
        // above; `c` is the dense m×n output.
        Some(kernel) => {
            let operands = packed::Operands {
                a,
                a_rows: None,
                b,
                b_rows: None,
                accumulate,
            };
            // SAFETY: as above.
            unsafe { packed::run(kernel, operands, c, engine.two_threads) }
        }
        None => fallback(a, b, c, accumulate),
    }
    Ok(())
}

/// A `rows × cols` matrix whose row `r` is the run `data[starts[r]..starts[r] + cols]`: runs
/// may overlap, as the rows of a stride-1 convolution's unfolded input do (each is its padded
/// image from a tap's offset on). The packed kernels read the runs where they lie; nothing is
/// copied into a matrix first.
///
/// ```
/// use ember_cpu::gemm::{MatRef, RowsAt, gemm_rows_at, Engine};
///
/// // B's rows are [1, 2, 3] and [2, 3, 4]: overlapping runs of one buffer.
/// let data = [1.0, 2.0, 3.0, 4.0];
/// let b = RowsAt::new(&data, &[0, 1], 3)?;
/// let mut c = [0.0; 3];
/// gemm_rows_at(Engine::selected()?, MatRef::row_major(&[1.0, 10.0], 1, 2)?, b, &mut c)?;
/// assert_eq!(c, [21.0, 32.0, 43.0]);
/// # Ok::<(), ember_tensor::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RowsAt<'a> {
    data: &'a [f32],
    starts: &'a [usize],
    cols: usize,
}

impl<'a> RowsAt<'a> {
    /// The matrix of `starts.len()` rows of `cols` elements; fails if a run would end past
    /// `data`.
    pub fn new(data: &'a [f32], starts: &'a [usize], cols: usize) -> Result<Self> {
        match starts
            .iter()
            .find(|&&s| s.checked_add(cols).is_none_or(|end| end > data.len()))
        {
            Some(start) => Err(Error::Device {
                op: "gemm",
                message: format!(
                    "a row of {cols} elements from element {start} ends past the {} elements \
                     of its buffer",
                    data.len()
                ),
            }),
            None => Ok(Self { data, starts, cols }),
        }
    }

    /// The rows copied into a dense row-major matrix.
    fn dense(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.starts.len() * self.cols);
        for &start in self.starts {
            out.extend_from_slice(&self.data[start..][..self.cols]);
        }
        out
    }
}

/// `C = A·B` for a `B` given as [`RowsAt`], on `engine`: what [`gemm_with`] computes for the
/// same matrix stored densely, the same bits.
pub fn gemm_rows_at(engine: Engine, a: MatRef<'_>, b: RowsAt<'_>, c: &mut [f32]) -> Result<()> {
    product_of_sides(engine, (Side::Dense(a), Side::Rows(b)), c, false)
}

/// `C = A·B + C` for an `A` given as [`RowsAt`], on `engine`: what [`gemm_add`] computes for
/// the same matrix stored densely, the same bits.
pub fn gemm_add_rows_at(engine: Engine, a: RowsAt<'_>, b: MatRef<'_>, c: &mut [f32]) -> Result<()> {
    product_of_sides(engine, (Side::Rows(a), Side::Dense(b)), c, true)
}

/// An operand of [`product_of_sides`].
enum Side<'a> {
    Dense(MatRef<'a>),
    Rows(RowsAt<'a>),
}

impl<'a> Side<'a> {
    fn rows(&self) -> usize {
        match self {
            Side::Dense(m) => m.rows,
            Side::Rows(r) => r.starts.len(),
        }
    }

    fn cols(&self) -> usize {
        match self {
            Side::Dense(m) => m.cols,
            Side::Rows(r) => r.cols,
        }
    }

    /// The view the packed driver reads, with its table of row starts.
    fn view(&self) -> (MatRef<'a>, Option<&'a [usize]>) {
        match *self {
            Side::Dense(m) => (m, None),
            Side::Rows(r) => (
                MatRef {
                    data: r.data,
                    rows: r.starts.len(),
                    cols: r.cols,
                    row_stride: 0,
                    col_stride: 1,
                },
                Some(r.starts),
            ),
        }
    }
}

/// `C = A·B` (or `A·B + C`) with either operand given as rows at starts: the packed kernels
/// read those rows where they lie; other engines and shapes (and their errors) take the
/// operands copied into dense matrices.
fn product_of_sides(
    engine: Engine,
    (a, b): (Side<'_>, Side<'_>),
    c: &mut [f32],
    accumulate: bool,
) -> Result<()> {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    let packed = engine.kernel.packed()?;
    match packed {
        Some(kernel)
            if b.rows() == k && c.len() == m * n && m * k > 0 && n >= kernel.blocking.nr =>
        {
            let ((a, a_rows), (b, b_rows)) = (a.view(), b.view());
            let operands = packed::Operands {
                a,
                a_rows,
                b,
                b_rows,
                accumulate,
            };
            // SAFETY: `c` holds initialised floats and the product writes only floats.
            let c = unsafe { &mut *(std::ptr::from_mut(c) as *mut [MaybeUninit<f32>]) };
            // SAFETY: `packed` checked that this CPU runs the kernel; the shapes agree (checked
            // above), and `RowsAt::new` checked that every run lies inside its buffer.
            unsafe { packed::run(kernel, operands, c, engine.two_threads) };
            Ok(())
        }
        _ => {
            let dense = |side: &Side<'_>| match side {
                Side::Rows(rows) => rows.dense(),
                Side::Dense(_) => Vec::new(),
            };
            let (a_dense, b_dense) = (dense(&a), dense(&b));
            let b_rows = b.rows();
            let a = match a {
                Side::Dense(a) => a,
                Side::Rows(_) => MatRef::row_major(&a_dense, m, k)?,
            };
            let b = match b {
                Side::Dense(b) => b,
                Side::Rows(_) => MatRef::row_major(&b_dense, b_rows, n)?,
            };
            // SAFETY: as in `gemm_with`.
            let c = unsafe { &mut *(std::ptr::from_mut(c) as *mut [MaybeUninit<f32>]) };
            product(engine, (a, b, accumulate), c)
        }
    }
}

/// The last resort: `matrixmultiply`, single-threaded (with β = 0 it never reads `C`; β = 1
/// when `accumulate`).
fn fallback(a: MatRef<'_>, b: MatRef<'_>, c: &mut [MaybeUninit<f32>], accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let stride = |s: usize| isize::try_from(s).unwrap_or(isize::MAX);
    // SAFETY: `MatRef::new` checked that every (i, j) of A and B lies inside its slice, and C is
    // a dense m×n buffer (checked by `gemm`).
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.data.as_ptr(),
            stride(a.row_stride),
            stride(a.col_stride),
            b.data.as_ptr(),
            stride(b.row_stride),
            stride(b.col_stride),
            if accumulate { 1.0 } else { 0.0 },
            c.as_mut_ptr().cast(),
            stride(n),
            1,
        );
    }
}

/// The reference product (naive triple loop, `k` summed in order): used by the tests.
pub fn gemm_reference(a: MatRef<'_>, b: MatRef<'_>) -> Vec<f32> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|p| a.at(i, p) * b.at(p, j)).sum();
        }
    }
    c
}
