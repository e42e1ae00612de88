//! The WGSL kernels: one template per op family under `src/shaders/`, and the variants the
//! backend compiles from them.
//!
//! Element-wise kernels are templates: the op's WGSL expression from [`ember_tensor::ops`]
//! ([`UnaryOp::wgsl`], [`UnaryOp::wgsl_derivative`], [`ScalarOp::wgsl`], [`BinaryOp::wgsl`]) is
//! spliced into a `{{slot}}` of `elementwise.wgsl`, giving one module per op. [`Kernel::all`]
//! lists every variant, built from the ops' `ALL` tables, so a new op variant is compiled and
//! validated by the shader tests without further changes.

use ember_tensor::ops::{BinaryOp, ReduceOp, ScalarOp, UnaryOp};

/// `elementwise.wgsl`: unary, unary backward, scalar and broadcasting binary ops.
pub const ELEMENTWISE_WGSL: &str = include_str!("shaders/elementwise.wgsl");
/// `fill.wgsl`: a buffer filled with one value.
pub const FILL_WGSL: &str = include_str!("shaders/fill.wgsl");
/// `matmul.wgsl`: matrix products with transpose flags.
pub const MATMUL_WGSL: &str = include_str!("shaders/matmul.wgsl");
/// `reduce.wgsl`: sum, mean and max along one axis.
pub const REDUCE_WGSL: &str = include_str!("shaders/reduce.wgsl");
/// `rows.wgsl`: log-softmax, softmax-cross-entropy (forward and backward), argmax, gather.
pub const ROWS_WGSL: &str = include_str!("shaders/rows.wgsl");
/// `layout.wgsl`: the strided copy (permute, transpose, narrow, expand).
pub const LAYOUT_WGSL: &str = include_str!("shaders/layout.wgsl");
/// `window.wgsl`: unfold (im2col) and fold (col2im).
pub const WINDOW_WGSL: &str = include_str!("shaders/window.wgsl");
/// `dropout.wgsl`: dropout with a Philox4x32-10 mask drawn on the device.
pub const DROPOUT_WGSL: &str = include_str!("shaders/dropout.wgsl");
/// `optimizer.wgsl`: the fused SGD, Adam(W), RMSprop, Adagrad, Adadelta, Adamax, NAdam and RAdam
/// updates.
pub const OPTIMIZER_WGSL: &str = include_str!("shaders/optimizer.wgsl");

/// Which matrix-product kernel to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MatmulKernel {
    /// The default: `Tiled` (on lavapipe too, where it measured 2.5× faster than `Simple`).
    #[default]
    Auto,
    /// 64×64 output blocks per workgroup, staged through workgroup memory, 4×4 outputs per
    /// invocation.
    Tiled,
    /// One invocation per output, reading A and B directly (same summation order as `Tiled`,
    /// so the same bits).
    Simple,
}

/// Number of state buffers of a fused optimizer update (0 to 3), which picks the entry point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptimizerStates {
    /// SGD without momentum.
    None,
    /// SGD with momentum, Adagrad, RMSprop without momentum or centering.
    One,
    /// Adam, Adadelta, Adamax, NAdam, RAdam, RMSprop with momentum or centering.
    Two,
    /// Adam with amsgrad, RMSprop with momentum and centering.
    Three,
}

impl OptimizerStates {
    /// Every variant.
    pub const ALL: [OptimizerStates; 4] = [
        OptimizerStates::None,
        OptimizerStates::One,
        OptimizerStates::Two,
        OptimizerStates::Three,
    ];

    /// The variant for `count` state buffers, if there is one.
    pub fn from_count(count: usize) -> Option<Self> {
        match count {
            0 => Some(OptimizerStates::None),
            1 => Some(OptimizerStates::One),
            2 => Some(OptimizerStates::Two),
            3 => Some(OptimizerStates::Three),
            _ => None,
        }
    }
}

/// A row-wise op of `rows.wgsl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowOp {
    /// Log-softmax of each row.
    LogSoftmax,
    /// The fused softmax-cross-entropy loss of each row.
    SoftmaxCrossEntropy,
    /// Its gradient with respect to the logits.
    SoftmaxCrossEntropyBackward,
    /// Index of each row's largest value.
    Argmax,
    /// One value of each row, by index.
    Gather,
    /// The adjoint of gather: one value per row placed at its index in a row of zeros.
    Scatter,
}

impl RowOp {
    /// Every variant.
    pub const ALL: [RowOp; 6] = [
        RowOp::LogSoftmax,
        RowOp::SoftmaxCrossEntropy,
        RowOp::SoftmaxCrossEntropyBackward,
        RowOp::Argmax,
        RowOp::Gather,
        RowOp::Scatter,
    ];

    /// The entry points of the op: one invocation per row, and one workgroup per row (`None`
    /// for gather, which reads one value per row).
    fn entry_points(self) -> (&'static str, Option<&'static str>) {
        match self {
            RowOp::LogSoftmax => (
                "log_softmax_per_invocation",
                Some("log_softmax_per_workgroup"),
            ),
            RowOp::SoftmaxCrossEntropy => (
                "softmax_cross_entropy_per_invocation",
                Some("softmax_cross_entropy_per_workgroup"),
            ),
            RowOp::SoftmaxCrossEntropyBackward => (
                "softmax_cross_entropy_backward_per_invocation",
                Some("softmax_cross_entropy_backward_per_workgroup"),
            ),
            RowOp::Argmax => ("argmax_per_invocation", Some("argmax_per_workgroup")),
            RowOp::Gather => ("gather", None),
            RowOp::Scatter => ("scatter", None),
        }
    }

    /// Whether the op has a one-workgroup-per-row entry point.
    pub fn has_per_workgroup(self) -> bool {
        self.entry_points().1.is_some()
    }
}

/// One compute pipeline: a family template (with an op spliced in where the family has slots)
/// and one of its entry points. The backend caches one compiled pipeline per `Kernel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// `fill.wgsl` / `fill`.
    Fill,
    /// `elementwise.wgsl` / `unary` with the op's expression spliced in.
    Unary(UnaryOp),
    /// `elementwise.wgsl` / `unary_backward` with the op's derivative spliced in.
    UnaryBackward(UnaryOp),
    /// `elementwise.wgsl` / `scalar`.
    Scalar(ScalarOp),
    /// `elementwise.wgsl` / `binary`.
    Binary(BinaryOp),
    /// `matmul.wgsl` / `matmul_tiled` or `matmul_simple` (never `Auto`).
    Matmul(MatmulKernel),
    /// `reduce.wgsl` / `reduce_sum` (sum and mean) or `reduce_max`; with `carried`, the
    /// `*_carried` entry points that continue a reduction over several dispatches.
    Reduce {
        /// The reduction.
        op: ReduceOp,
        /// Part of a reduction split over several dispatches.
        carried: bool,
    },
    /// `rows.wgsl` / `<op>_per_invocation` (one invocation per row) or, with `per_workgroup`,
    /// `<op>_per_workgroup` (one workgroup per row, for long rows).
    Rows {
        /// The op.
        op: RowOp,
        /// One workgroup per row.
        per_workgroup: bool,
    },
    /// `optimizer.wgsl` / the entry point for this many state buffers.
    Optimizer(OptimizerStates),
    /// `layout.wgsl` / `strided_copy`.
    StridedCopy,
    /// `window.wgsl` / `unfold2d`.
    Unfold2d,
    /// `window.wgsl` / `fold2d`.
    Fold2d,
    /// `dropout.wgsl` / `dropout`.
    Dropout,
}

/// The expressions spliced into `elementwise.wgsl`; slots a kernel does not use get the
/// identity.
struct ElementwiseSlots {
    unary: &'static str,
    unary_derivative: &'static str,
    scalar: &'static str,
    binary: &'static str,
}

const IDENTITY_SLOTS: ElementwiseSlots = ElementwiseSlots {
    unary: "x",
    unary_derivative: "1.0",
    scalar: "x",
    binary: "a",
};

/// The WGSL expression of a scalar op. WGSL's `pow` is undefined for negative bases, where the
/// CPU reference (`f32::powf`) is not, so `Pow` goes through a helper of the template that
/// handles them and calls `pow` otherwise.
pub fn scalar_expression(op: ScalarOp) -> &'static str {
    match op {
        ScalarOp::Pow => "pow_with_negative_bases(x, s)",
        other => other.wgsl(),
    }
}

impl Kernel {
    /// Every kernel the backend can compile: the op families crossed with the ops' `ALL`
    /// tables.
    pub fn all() -> Vec<Kernel> {
        let mut kernels = vec![Kernel::Fill];
        kernels.extend(UnaryOp::ALL.iter().map(|&op| Kernel::Unary(op)));
        kernels.extend(UnaryOp::ALL.iter().map(|&op| Kernel::UnaryBackward(op)));
        kernels.extend(ScalarOp::ALL.iter().map(|&op| Kernel::Scalar(op)));
        kernels.extend(BinaryOp::ALL.iter().map(|&op| Kernel::Binary(op)));
        kernels.push(Kernel::Matmul(MatmulKernel::Tiled));
        kernels.push(Kernel::Matmul(MatmulKernel::Simple));
        for &op in ReduceOp::ALL {
            for carried in [false, true] {
                kernels.push(Kernel::Reduce { op, carried });
            }
        }
        for op in RowOp::ALL {
            kernels.push(Kernel::Rows {
                op,
                per_workgroup: false,
            });
            if op.has_per_workgroup() {
                kernels.push(Kernel::Rows {
                    op,
                    per_workgroup: true,
                });
            }
        }
        kernels.extend(OptimizerStates::ALL.iter().map(|&s| Kernel::Optimizer(s)));
        kernels.extend([
            Kernel::StridedCopy,
            Kernel::Unfold2d,
            Kernel::Fold2d,
            Kernel::Dropout,
        ]);
        kernels
    }

    /// The shader file the kernel comes from.
    pub fn file(&self) -> &'static str {
        match self {
            Kernel::Fill => "fill.wgsl",
            Kernel::Unary(_) | Kernel::UnaryBackward(_) | Kernel::Scalar(_) | Kernel::Binary(_) => {
                "elementwise.wgsl"
            }
            Kernel::Matmul(_) => "matmul.wgsl",
            Kernel::Reduce { .. } => "reduce.wgsl",
            Kernel::Rows { .. } => "rows.wgsl",
            Kernel::Optimizer(_) => "optimizer.wgsl",
            Kernel::StridedCopy => "layout.wgsl",
            Kernel::Unfold2d | Kernel::Fold2d => "window.wgsl",
            Kernel::Dropout => "dropout.wgsl",
        }
    }

    /// The entry point (a `@compute fn` of the file).
    pub fn entry_point(&self) -> &'static str {
        match self {
            Kernel::Fill => "fill",
            Kernel::Unary(_) => "unary",
            Kernel::UnaryBackward(_) => "unary_backward",
            Kernel::Scalar(_) => "scalar",
            Kernel::Binary(_) => "binary",
            Kernel::Matmul(MatmulKernel::Simple) => "matmul_simple",
            Kernel::Matmul(MatmulKernel::Tiled | MatmulKernel::Auto) => "matmul_tiled",
            Kernel::Reduce { op, carried } => match (op, carried) {
                (ReduceOp::Sum | ReduceOp::Mean, false) => "reduce_sum",
                (ReduceOp::Sum | ReduceOp::Mean, true) => "reduce_sum_carried",
                (ReduceOp::Max, false) => "reduce_max",
                (ReduceOp::Max, true) => "reduce_max_carried",
            },
            Kernel::Rows { op, per_workgroup } => {
                let (per_invocation, per_workgroup_entry) = op.entry_points();
                match per_workgroup_entry {
                    Some(entry) if *per_workgroup => entry,
                    _ => per_invocation,
                }
            }
            Kernel::Optimizer(OptimizerStates::None) => "update_without_state",
            Kernel::Optimizer(OptimizerStates::One) => "update_with_one_state",
            Kernel::Optimizer(OptimizerStates::Two) => "update_with_two_states",
            Kernel::Optimizer(OptimizerStates::Three) => "update_with_three_states",
            Kernel::StridedCopy => "strided_copy",
            Kernel::Unfold2d => "unfold2d",
            Kernel::Fold2d => "fold2d",
            Kernel::Dropout => "dropout",
        }
    }

    /// A readable name: file, entry point and spliced op, e.g. `elementwise.wgsl:unary[exp]`.
    pub fn label(&self) -> String {
        let op = match self {
            Kernel::Unary(op) | Kernel::UnaryBackward(op) => Some(op.name()),
            Kernel::Scalar(op) => Some(op.name()),
            Kernel::Binary(op) => Some(op.name()),
            Kernel::Reduce { op, .. } => Some(op.name()),
            _ => None,
        };
        match op {
            Some(op) => format!("{}:{}[{op}]", self.file(), self.entry_point()),
            None => format!("{}:{}", self.file(), self.entry_point()),
        }
    }

    /// The complete WGSL module of this kernel (the template with its slots filled).
    pub fn source(&self) -> String {
        let slots = match *self {
            Kernel::Unary(op) | Kernel::UnaryBackward(op) => ElementwiseSlots {
                unary: op.wgsl(),
                unary_derivative: op.wgsl_derivative(),
                ..IDENTITY_SLOTS
            },
            Kernel::Scalar(op) => ElementwiseSlots {
                scalar: scalar_expression(op),
                ..IDENTITY_SLOTS
            },
            Kernel::Binary(op) => ElementwiseSlots {
                binary: op.wgsl(),
                ..IDENTITY_SLOTS
            },
            Kernel::Fill => return FILL_WGSL.to_string(),
            Kernel::Matmul(_) => return MATMUL_WGSL.to_string(),
            Kernel::Reduce { .. } => return REDUCE_WGSL.to_string(),
            Kernel::Rows { .. } => return ROWS_WGSL.to_string(),
            Kernel::Optimizer(_) => return OPTIMIZER_WGSL.to_string(),
            Kernel::StridedCopy => return LAYOUT_WGSL.to_string(),
            Kernel::Unfold2d | Kernel::Fold2d => return WINDOW_WGSL.to_string(),
            Kernel::Dropout => return DROPOUT_WGSL.to_string(),
        };
        splice(ELEMENTWISE_WGSL, &slots)
    }
}

/// Fills the `{{slot}}` markers of the element-wise template; each expression is parenthesised
/// so operator precedence inside the template cannot change its meaning.
fn splice(template: &str, slots: &ElementwiseSlots) -> String {
    [
        ("{{unary}}", slots.unary),
        ("{{unary_derivative}}", slots.unary_derivative),
        ("{{scalar}}", slots.scalar),
        ("{{binary}}", slots.binary),
    ]
    .iter()
    .fold(template.to_string(), |source, (slot, expression)| {
        source.replace(slot, &format!("({expression})"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_slot_is_filled() {
        for kernel in Kernel::all() {
            let source = kernel.source();
            assert!(
                !source.contains("{{"),
                "{} has an unfilled slot",
                kernel.label()
            );
            assert!(
                source.contains(&format!("fn {}(", kernel.entry_point())),
                "{} lacks its entry point",
                kernel.label()
            );
        }
    }

    #[test]
    fn labels_are_unique() {
        let kernels = Kernel::all();
        let mut labels: Vec<String> = kernels.iter().map(Kernel::label).collect();
        labels.sort();
        labels.dedup();
        assert_eq!(labels.len(), kernels.len());
    }
}
