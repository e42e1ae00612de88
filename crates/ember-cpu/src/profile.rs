//! Where the CPU backend's time goes, by kind of op: opt-in counters of wall-clock time and
//! calls, for benchmarks (`ember-bench` splits a CNN epoch with them).
//!
//! Off by default; while off, an op pays one relaxed atomic load. Each op is timed on the
//! thread that called it, around its whole work (both threads' halves included), and only leaf
//! work is timed, so nothing is counted twice: the CPU's fused convolution passes have
//! categories of their own, while a default body's primitives count under theirs.
//!
//! ```
//! use ember_cpu::profile::{self, Category};
//! use ember_cpu::Cpu;
//! use ember_tensor::Tensor;
//!
//! let a = Tensor::ones([64, 64], &Cpu)?;
//! let before = profile::snapshot();
//! profile::enable(true);
//! let _ = a.matmul(&a)?.relu()?;
//! profile::enable(false);
//! let after = profile::snapshot();
//! // The counters are process-wide: other threads' ops may add to them too.
//! assert!(after.get(Category::Gemm).calls > before.get(Category::Gemm).calls);
//! assert!(after.get(Category::Elementwise).calls > before.get(Category::Elementwise).calls);
//! assert!(after.total() > before.total());
//! # Ok::<(), ember_tensor::Error>(())
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A category of op, as the profile counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// Matrix products (every GEMM, including a convolution's).
    Gemm,
    /// im2col: unfolding windows into columns.
    Unfold,
    /// col2im: folding columns back into images (a convolution's input gradient).
    Fold,
    /// Strided copies (transposes, permutes) and scatters.
    Layout,
    /// A convolution's forward pass where a backend fuses it (the CPU: GEMM and bias image by
    /// image, reading a stride-1 window's padded image in place, unfolding others first).
    ConvForward,
    /// A convolution's input gradient where a backend fuses it (the CPU, image by image: a
    /// stride-1 window's as a convolution by the flipped weight, others as GEMM and col2im).
    ConvInputGradient,
    /// A convolution's weight gradient where a backend fuses it (the CPU, for a stride-1
    /// window: GEMMs image by image, reading the padded image in place).
    ConvWeightGradient,
    /// A convolution and the max pooling of its output where a backend fuses the two (the
    /// CPU, image by image): the forward pass.
    ConvMaxPoolForward,
    /// The same, backward: the pooling's gradient and the convolution's input and weight
    /// gradients, image by image.
    ConvMaxPoolBackward,
    /// Max pooling, forward and backward.
    Pooling,
    /// Element-wise ops and their gradients (ReLU, arithmetic, broadcasts), dropout.
    Elementwise,
    /// Reductions and the row-wise softmax/loss family.
    Reduction,
    /// Fused optimizer updates.
    Optimizer,
}

impl Category {
    /// Every category, in report order.
    pub const ALL: [Category; 13] = [
        Category::Gemm,
        Category::Unfold,
        Category::Fold,
        Category::Layout,
        Category::ConvForward,
        Category::ConvInputGradient,
        Category::ConvWeightGradient,
        Category::ConvMaxPoolForward,
        Category::ConvMaxPoolBackward,
        Category::Pooling,
        Category::Elementwise,
        Category::Reduction,
        Category::Optimizer,
    ];

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Category::Gemm => "GEMM",
            Category::Unfold => "im2col",
            Category::Fold => "col2im",
            Category::Layout => "layout copies",
            Category::ConvForward => "conv forward (fused, image by image)",
            Category::ConvInputGradient => "conv input gradient (fused, image by image)",
            Category::ConvWeightGradient => "conv weight gradient (fused, image by image)",
            Category::ConvMaxPoolForward => "conv + max pool forward (fused, image by image)",
            Category::ConvMaxPoolBackward => "conv + max pool gradients (fused, image by image)",
            Category::Pooling => "pooling",
            Category::Elementwise => "element-wise",
            Category::Reduction => "reductions, softmax, loss",
            Category::Optimizer => "optimizer",
        }
    }

    /// Its counter: the variants are declared in report order.
    fn index(self) -> usize {
        self as usize
    }
}

static ENABLED: AtomicBool = AtomicBool::new(false);
static NANOS: [AtomicU64; Category::ALL.len()] = [const { AtomicU64::new(0) }; Category::ALL.len()];
static CALLS: [AtomicU64; Category::ALL.len()] = [const { AtomicU64::new(0) }; Category::ALL.len()];

/// Turns counting on or off (process-wide).
pub fn enable(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Sets every counter to zero.
pub fn reset() {
    for counter in NANOS.iter().chain(&CALLS) {
        counter.store(0, Ordering::Relaxed);
    }
}

/// Time and calls of one kind of op.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpTime {
    /// Wall-clock time inside the ops.
    pub time: Duration,
    /// Number of ops.
    pub calls: u64,
}

/// The counters at one moment, per kind of op.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Profile([OpTime; Category::ALL.len()]);

impl Profile {
    /// The time and calls of `kind`.
    pub fn get(&self, kind: Category) -> OpTime {
        self.0[kind.index()]
    }

    /// The time of every kind together.
    pub fn total(&self) -> Duration {
        self.0.iter().map(|t| t.time).sum()
    }
}

/// The counters now.
pub fn snapshot() -> Profile {
    Profile(std::array::from_fn(|i| OpTime {
        time: Duration::from_nanos(NANOS[i].load(Ordering::Relaxed)),
        calls: CALLS[i].load(Ordering::Relaxed),
    }))
}

/// Runs `op`, adding its time to `kind`'s counter while counting is on.
#[inline]
pub(crate) fn timed<T>(kind: Category, op: impl FnOnce() -> T) -> T {
    if !ENABLED.load(Ordering::Relaxed) {
        return op();
    }
    let started = Instant::now();
    let result = op();
    let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    NANOS[kind.index()].fetch_add(nanos, Ordering::Relaxed);
    CALLS[kind.index()].fetch_add(1, Ordering::Relaxed);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_has_its_own_counter_in_report_order() {
        for (i, category) in Category::ALL.into_iter().enumerate() {
            assert_eq!(category.index(), i, "{category:?}");
        }
    }
}
