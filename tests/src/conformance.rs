//! The backend conformance table: every op of the [`Backend`] trait, on every shape class that
//! matters, run on the CPU reference and on a candidate backend with the same inputs, compared
//! within the tolerance written down for the op.
//!
//! The table is data: [`cases`] crosses the op enums' `ALL` lists (and every
//! [`OptimizerUpdate`] variant with its flags) with the shape classes below, so a new op
//! variant is tested without anyone adding a row. [`run_case`] returns a [`CaseResult`] per case
//! (errors, tolerance, pass, first mismatches); the test `tests/conformance.rs` asserts on them
//! and [`write_report`] renders them as `docs/CONFORMANCE.md`.
//!
//! Tolerances: the element-wise ops and reductions use their own `tolerance()` from
//! [`ember_tensor::ops`]; the others are defined here ([`MATMUL_REL`], [`ROWS_TOLERANCE`],
//! [`ROWS_BACKWARD_TOLERANCE`], [`OPTIMIZER_TOLERANCE`]). A comparison accepts `a` against `b`
//! when `|a - b| <= max(abs, rel * max(|a|, |b|))` ([`Tolerance::accepts`]); NaN matches NaN.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use ember_cpu::Cpu;
use ember_tensor::conformance::{CaseValues, OpCase, SplitMix64};
use ember_tensor::ops::{
    BinaryOp, MatmulDims, OptimizerUpdate, ReduceOp, ScalarOp, Tolerance, UnaryOp,
};
use ember_tensor::{Backend, Shape};

/// Relative part of the matmul tolerance. The absolute part is `k · ε · max|A| · max|B|`
/// (ε = 2⁻²³): the first-order bound on how far two summation orders (or a fused multiply-add
/// against a separate multiply and add) of a length-`k` dot product can drift apart, scaled to
/// the operands.
pub const MATMUL_REL: f32 = 1e-5;

/// Log-softmax and softmax-cross-entropy: the GPU's `exp` and `log` differ from Rust's by a few
/// ulps (measured on lavapipe: exp rel ≤ 1.2e-6, log abs ≤ 1e-6), which moves `ln Σ exp` by a
/// few 1e-6; large outputs (logits of ±1e4) differ by an ulp of the result. Plus
/// `cols · 2⁻²⁴` absolute ([`rows_tolerance`]): a backend may sum a row's exponentials in
/// another order, which moves the sum of `cols` positive terms by at most that much relatively.
pub const ROWS_TOLERANCE: Tolerance = Tolerance::new(5e-6, 1e-6);

/// Softmax-cross-entropy backward: `softmax - onehot` inherits the error of `exp` and of the
/// row's log-sum-exp, scaled by the row's incoming gradient (|g| ≤ 1 in the table); plus the
/// same `cols · 2⁻²⁴`.
pub const ROWS_BACKWARD_TOLERANCE: Tolerance = Tolerance::new(5e-6, 5e-6);

/// `base` widened by `cols · 2⁻²⁴` absolute: the bound on the relative change of a sum of
/// `cols` positive terms (a row's exponentials) when it is added in another order.
pub fn rows_tolerance(base: Tolerance, cols: usize) -> Tolerance {
    Tolerance::new(base.abs + cols as f32 * f32::EPSILON / 2.0, base.rel)
}

/// Fused optimizer updates: the same f32 operations in the same order as the reference; only
/// `sqrt` and division may be rounded differently by a GPU.
pub const OPTIMIZER_TOLERANCE: Tolerance = Tolerance::new(1e-6, 1e-6);

/// How many mismatching positions a result keeps for its failure message.
const MISMATCHES_KEPT: usize = 5;

/// The family of a case; the conformance test runs one test per family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Upload/download round trips and fills.
    Memory,
    /// Unary ops, their backward step and scalar ops.
    Elementwise,
    /// Broadcasting binary ops.
    Binary,
    /// Matrix products.
    Matmul,
    /// Reductions along an axis.
    Reduce,
    /// Log-softmax, softmax-cross-entropy (forward, backward), argmax, gather.
    Rows,
    /// Fused optimizer updates.
    Optimizer,
    /// The cases ops declare next to their code (`ember_tensor::conformance`): layout
    /// primitives, unfold/fold, convolution, pooling.
    Declared,
}

impl Family {
    /// Every family.
    pub const ALL: [Family; 8] = [
        Family::Memory,
        Family::Elementwise,
        Family::Binary,
        Family::Matmul,
        Family::Reduce,
        Family::Rows,
        Family::Optimizer,
        Family::Declared,
    ];
}

/// How a case's input values are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    /// Seeded uniform values in [-3, 3).
    Seeded,
    /// A cycle of edge values: ±0, ±1e4, ±1e-30, 1e-20, ±1, ±88, ±20, ...
    Edge,
    /// All zeros.
    Zeros,
    /// Seeded uniform values in [-3, -1e-3).
    Negative,
    /// Seeded uniform values in [-1e4, 1e4).
    Wide,
    /// Logits drawn from {±1e4, 9999, 100, -100, 88.5, 0}: rows that overflow `exp` unless the
    /// maximum is subtracted, and rows dominated by one value.
    ExtremeLogits,
    /// Integers in 0..3, so rows have ties.
    Ties,
    /// Infinities, NaN and signed zeros (for upload/download).
    Special,
}

impl Values {
    fn label(self) -> &'static str {
        match self {
            Values::Seeded => "seeded",
            Values::Edge => "edge values",
            Values::Zeros => "zeros",
            Values::Negative => "negatives",
            Values::Wide => "±1e4",
            Values::ExtremeLogits => "extreme logits",
            Values::Ties => "ties",
            Values::Special => "inf/NaN/-0",
        }
    }
}

const EDGE_VALUES: [f32; 18] = [
    0.0, -0.0, 1e4, -1e4, 1e-30, -1e-30, 1e-20, 1.0, -1.0, 0.5, -2.5, 88.0, -88.0, 20.0, -20.0,
    3.0, 1e-3, -7.25,
];
const EXTREME_LOGITS: [f32; 7] = [1e4, -1e4, 9999.0, 100.0, -100.0, 88.5, 0.0];
const SPECIAL_VALUES: [f32; 6] = [f32::INFINITY, f32::NEG_INFINITY, f32::NAN, -0.0, 0.0, 1.0];

/// The op a case runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Upload then download.
    Upload,
    /// `fill(len, value)`.
    Fill(f32),
    /// `unary(op, x)`.
    Unary(UnaryOp),
    /// `unary_backward(op, x, op(x), grad)`.
    UnaryBackward(UnaryOp),
    /// `scalar(op, x, s)`.
    Scalar(ScalarOp, f32),
    /// `binary(op, a, b)` with broadcasting.
    Binary(BinaryOp),
    /// `matmul` with transpose flags.
    Matmul {
        /// A stored as `[k, m]`.
        trans_a: bool,
        /// B stored as `[n, k]`.
        trans_b: bool,
    },
    /// `reduce(op, x, shape, axis)`.
    Reduce(ReduceOp),
    /// `sum_squares(x)`: the squared L2 norm.
    SumSquares,
    /// `log_softmax`.
    LogSoftmax,
    /// `softmax_cross_entropy`.
    SoftmaxCrossEntropy,
    /// `softmax_cross_entropy_backward`.
    SoftmaxCrossEntropyBackward,
    /// `argmax`.
    Argmax,
    /// `gather`.
    Gather,
    /// Consecutive fused updates of one parameter (and its state).
    Optimizer {
        /// The configuration's name, e.g. `sgd nesterov`.
        name: &'static str,
        /// One update per step.
        steps: Vec<OptimizerUpdate>,
    },
    /// A case an op declares itself.
    Declared(Box<OpCase>),
}

impl Op {
    /// The op's name in the report.
    pub fn name(&self) -> String {
        match self {
            Op::Upload => "upload/download".to_string(),
            Op::Fill(value) => format!("fill({value:e})"),
            Op::Unary(op) => op.name().to_string(),
            Op::UnaryBackward(op) => format!("{} backward", op.name()),
            Op::Scalar(op, s) => format!("{}(s={s})", op.name()),
            Op::Binary(op) => op.name().to_string(),
            Op::Matmul { trans_a, trans_b } => format!(
                "matmul {}·{}",
                if *trans_a { "Aᵀ" } else { "A" },
                if *trans_b { "Bᵀ" } else { "B" }
            ),
            Op::Reduce(op) => op.name().to_string(),
            Op::SumSquares => "sum_squares".to_string(),
            Op::LogSoftmax => "log_softmax".to_string(),
            Op::SoftmaxCrossEntropy => "softmax_cross_entropy".to_string(),
            Op::SoftmaxCrossEntropyBackward => "softmax_cross_entropy backward".to_string(),
            Op::Argmax => "argmax".to_string(),
            Op::Gather => "gather".to_string(),
            Op::Optimizer { name, steps } => format!("{name} ({} steps)", steps.len()),
            Op::Declared(case) => case.call.name().to_string(),
        }
    }
}

/// The tensor layout of a case.
#[derive(Debug, Clone, PartialEq)]
pub enum Layout {
    /// One tensor of this shape (element-wise ops, fills, optimizer parameters).
    Flat(Vec<usize>),
    /// Two operands broadcast against each other.
    Broadcast(Vec<usize>, Vec<usize>),
    /// `op(A)` is `[m, k]`, `op(B)` is `[k, n]`.
    Matmul(usize, usize, usize),
    /// A tensor reduced along `axis`.
    Reduce(Vec<usize>, usize),
    /// A `[rows, cols]` matrix processed row by row.
    Rows(usize, usize),
    /// The inputs of a declared case.
    Declared(Vec<Vec<usize>>),
}

impl Layout {
    fn label(&self) -> String {
        let dims = |d: &[usize]| Shape::from(d).to_string();
        match self {
            Layout::Flat(d) => dims(d),
            Layout::Broadcast(a, b) => format!("{} ∘ {}", dims(a), dims(b)),
            Layout::Matmul(m, k, n) => format!("m={m} k={k} n={n}"),
            Layout::Reduce(d, axis) => format!("{} axis {axis}", dims(d)),
            Layout::Rows(r, c) => format!("{r}x{c}"),
            Layout::Declared(inputs) => inputs
                .iter()
                .map(|d| dims(d))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// The family (one test each).
    pub family: Family,
    /// What runs.
    pub op: Op,
    /// Shapes.
    pub layout: Layout,
    /// Input values.
    pub values: Values,
    /// Seed of the inputs.
    pub seed: u64,
    /// A name for the shape class (e.g. `bias row`, `2-D dispatch`), shown before the shapes.
    pub class: &'static str,
}

impl Case {
    /// The shape class column of the report: name, shapes and values.
    pub fn shape_class(&self) -> String {
        format!(
            "{}: {} ({})",
            self.class,
            self.layout.label(),
            self.values.label()
        )
    }
}

/// `65535 · 256 + 1` elements: one more than a one-dimensional dispatch of 256-wide workgroups
/// can cover, so the kernel must spread over two dimensions.
pub const TWO_D_DISPATCH_LEN: usize = 65_535 * 256 + 1;

/// Shape classes of the element-wise ops (unary, unary backward, scalar).
const ELEMENTWISE_SHAPES: &[(&str, &[usize], Values)] = &[
    ("1x1", &[1, 1], Values::Seeded),
    ("1xN", &[1, 37], Values::Seeded),
    ("Nx1", &[37, 1], Values::Seeded),
    ("odd", &[17, 33], Values::Seeded),
    ("odd", &[17, 33], Values::Edge),
    ("odd", &[17, 33], Values::Zeros),
    ("odd", &[17, 33], Values::Negative),
    ("odd", &[17, 33], Values::Wide),
    ("batch", &[100, 784], Values::Seeded),
    ("2-D dispatch", &[TWO_D_DISPATCH_LEN], Values::Seeded),
];

/// Broadcast classes of the binary ops.
const BROADCAST_SHAPES: &[(&str, &[usize], &[usize], Values)] = &[
    ("same shape", &[17, 33], &[17, 33], Values::Seeded),
    ("same shape", &[17, 33], &[17, 33], Values::Edge),
    ("same shape", &[17, 33], &[17, 33], Values::Wide),
    ("1x1", &[1, 1], &[1, 1], Values::Seeded),
    ("bias row", &[100, 10], &[10], Values::Seeded),
    ("bias row, left", &[33], &[17, 33], Values::Seeded),
    ("column", &[17, 33], &[17, 1], Values::Seeded),
    ("scalar", &[17, 33], &[], Values::Seeded),
    ("scalar, left", &[], &[17, 33], Values::Seeded),
    ("3-D", &[2, 3, 4], &[3, 1], Values::Seeded),
    ("3-D", &[2, 1, 4], &[3, 1], Values::Seeded),
    ("3-D", &[4, 1, 5], &[1, 3, 1], Values::Edge),
    (
        "2-D dispatch",
        &[TWO_D_DISPATCH_LEN],
        &[TWO_D_DISPATCH_LEN],
        Values::Seeded,
    ),
];

/// Lengths of `sum_squares` (the trainer's gradient norms): tails of 16 lanes and the `mlp`'s
/// first weight.
const SUM_SQUARES_SHAPES: &[(&str, &[usize], Values)] = &[
    ("1x1", &[1], Values::Seeded),
    ("odd", &[17, 33], Values::Seeded),
    ("odd", &[17, 33], Values::Wide),
    ("odd", &[17, 33], Values::Zeros),
    ("weight", &[256, 784], Values::Seeded),
];

/// Matrix products `(m, k, n)`, each run with all four transpose combinations.
const MATMUL_SHAPES: &[(&str, usize, usize, usize, Values)] = &[
    ("1x1", 1, 1, 1, Values::Seeded),
    ("1xN", 1, 33, 17, Values::Seeded),
    ("Nx1", 17, 33, 1, Values::Seeded),
    ("k=0", 3, 0, 4, Values::Seeded),
    ("odd", 17, 33, 9, Values::Seeded),
    ("odd", 17, 33, 9, Values::Edge),
    ("tile straddle", 65, 67, 129, Values::Seeded),
    ("tile multiple", 128, 64, 64, Values::Seeded),
    ("MNIST layer", 100, 784, 256, Values::Seeded),
    ("long k (split)", 2, 70_000, 3, Values::Seeded),
];

/// Reductions, each along every axis.
const REDUCE_SHAPES: &[(&str, &[usize], Values)] = &[
    ("1x1", &[1, 1], Values::Seeded),
    ("1xN", &[1, 37], Values::Seeded),
    ("Nx1", &[37, 1], Values::Seeded),
    ("odd", &[17, 33], Values::Seeded),
    ("odd", &[17, 33], Values::Edge),
    ("3-D", &[2, 3, 4], Values::Seeded),
    ("3-D", &[4, 1, 5], Values::Seeded),
    ("long rows", &[5, 1001], Values::Seeded),
    ("long rows", &[5, 1001], Values::Wide),
    ("1-D", &[1000], Values::Seeded),
    ("1-D", &[100_000], Values::Seeded),
    ("1-D, two passes", &[600_000], Values::Seeded),
    ("long axis, two passes", &[70_000, 2], Values::Seeded),
];

/// `[rows, cols]` matrices of the row-wise ops.
const ROW_SHAPES: &[(&str, usize, usize, Values)] = &[
    ("1x1", 1, 1, Values::Seeded),
    ("1xN", 1, 10, Values::Seeded),
    ("batch", 100, 10, Values::Seeded),
    ("batch", 100, 10, Values::ExtremeLogits),
    ("batch", 100, 10, Values::Wide),
    ("odd", 17, 33, Values::Seeded),
    ("odd", 17, 33, Values::Ties),
    ("wide rows", 7, 1000, Values::Seeded),
    ("many rows", 70_000, 3, Values::Seeded),
    ("long rows (workgroup per row)", 4, 2000, Values::Seeded),
    (
        "long rows (workgroup per row)",
        4,
        2000,
        Values::ExtremeLogits,
    ),
    ("long rows (workgroup per row)", 4, 2000, Values::Ties),
    (
        "very long rows (workgroup per row)",
        2,
        70_000,
        Values::Seeded,
    ),
];

/// Parameter tensors of the optimizer cases.
const OPTIMIZER_SHAPES: &[(&str, &[usize], Values)] = &[
    ("scalar", &[1], Values::Seeded),
    ("odd", &[17, 33], Values::Seeded),
    ("odd", &[17, 33], Values::Edge),
    ("MNIST weight", &[256, 784], Values::Seeded),
];

/// Fill classes.
const FILL_LENGTHS: &[(&str, usize)] = &[
    ("one", 1),
    ("odd", 561),
    ("2-D dispatch", TWO_D_DISPATCH_LEN),
];
const FILL_VALUES: [f32; 5] = [0.0, -0.0, 1.5, -1e4, 1e-30];

/// Upload/download classes.
const UPLOAD_SHAPES: &[(&str, &[usize], Values)] = &[
    ("empty", &[0], Values::Seeded),
    ("one", &[1], Values::Seeded),
    ("odd", &[17, 33], Values::Edge),
    ("odd", &[17, 33], Values::Special),
];

/// The scalars each scalar op is tested with. `Pow` also gets non-integer exponents, which are
/// run on positive bases only (see [`Domain`]).
fn scalar_operands(op: ScalarOp) -> &'static [f32] {
    match op {
        ScalarOp::Add => &[0.5, -3.0],
        ScalarOp::Mul => &[0.5, -3.0, 0.0],
        ScalarOp::Pow => &[2.0, 3.0, 0.5, -1.5],
    }
}

/// Which inputs an op is defined on; values outside are mapped into it before both backends
/// run, so a case compares the op, not two ways of being undefined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// Every value.
    All,
    /// `x > 0`: `|x|`, with zeros replaced by 1 (log, sqrt, fractional powers).
    Positive,
    /// `x != 0`: zeros replaced by 1 (divisors).
    NonZero,
}

impl Domain {
    fn apply(self, values: &mut [f32]) {
        match self {
            Domain::All => {}
            Domain::Positive => {
                for v in values {
                    *v = if *v == 0.0 { 1.0 } else { v.abs() };
                }
            }
            Domain::NonZero => {
                for v in values {
                    if *v == 0.0 {
                        *v = 1.0;
                    }
                }
            }
        }
    }
}

/// The domain of a unary op's input.
pub fn unary_domain(op: UnaryOp) -> Domain {
    match op {
        UnaryOp::Log | UnaryOp::Sqrt => Domain::Positive,
        UnaryOp::Neg
        | UnaryOp::Exp
        | UnaryOp::Relu
        | UnaryOp::Sigmoid
        | UnaryOp::Tanh
        | UnaryOp::Square => Domain::All,
    }
}

/// The domain of a scalar op's tensor operand for scalar `s`. WGSL's `pow` is defined for
/// positive bases; the backend handles negative bases with integer exponents itself.
pub fn scalar_domain(op: ScalarOp, s: f32) -> Domain {
    match op {
        ScalarOp::Pow if s.fract() != 0.0 => Domain::Positive,
        ScalarOp::Add | ScalarOp::Mul | ScalarOp::Pow => Domain::All,
    }
}

/// The domains of a binary op's left and right operands.
pub fn binary_domain(op: BinaryOp) -> (Domain, Domain) {
    match op {
        BinaryOp::Div => (Domain::All, Domain::NonZero),
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul => (Domain::All, Domain::All),
    }
}

/// Each [`OptimizerUpdate`] variant with its flags: `(name, update at step 1)`. Later steps
/// come from [`optimizer_step`].
pub fn optimizer_configs() -> Vec<(&'static str, OptimizerUpdate)> {
    let sgd = |momentum, dampening, weight_decay, nesterov| OptimizerUpdate::Sgd {
        lr: 0.1,
        momentum,
        dampening,
        weight_decay,
        nesterov,
        first_step: true,
        maximize: false,
    };
    let adam = |weight_decay, decoupled, amsgrad| OptimizerUpdate::Adam {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay,
        decoupled,
        amsgrad,
        step: 1,
        maximize: false,
    };
    let rmsprop = |weight_decay, momentum, centered| OptimizerUpdate::RmsProp {
        lr: 1e-2,
        alpha: 0.99,
        eps: 1e-8,
        weight_decay,
        momentum,
        centered,
        maximize: false,
    };
    let adagrad = |lr_decay, weight_decay| OptimizerUpdate::Adagrad {
        lr: 1e-2,
        lr_decay,
        weight_decay,
        eps: 1e-10,
        step: 1,
        maximize: false,
    };
    let adadelta = |rho, weight_decay, maximize| OptimizerUpdate::Adadelta {
        lr: 1.0,
        rho,
        eps: 1e-6,
        weight_decay,
        maximize,
    };
    let adamax = |weight_decay, maximize| OptimizerUpdate::Adamax {
        lr: 2e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay,
        step: 1,
        maximize,
    };
    let nadam = |weight_decay, decoupled, maximize| OptimizerUpdate::NAdam {
        lr: 2e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay,
        decoupled,
        momentum_decay: 4e-3,
        step: 1,
        maximize,
    };
    let radam = |weight_decay, decoupled, maximize| OptimizerUpdate::RAdam {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay,
        decoupled,
        step: 1,
        maximize,
    };
    let maximized = |update: OptimizerUpdate| {
        let mut update = update;
        match &mut update {
            OptimizerUpdate::Sgd { maximize, .. }
            | OptimizerUpdate::Adam { maximize, .. }
            | OptimizerUpdate::RmsProp { maximize, .. }
            | OptimizerUpdate::Adagrad { maximize, .. }
            | OptimizerUpdate::Adadelta { maximize, .. }
            | OptimizerUpdate::Adamax { maximize, .. }
            | OptimizerUpdate::NAdam { maximize, .. }
            | OptimizerUpdate::RAdam { maximize, .. } => *maximize = true,
        }
        update
    };
    vec![
        ("sgd", sgd(0.0, 0.0, 0.0, false)),
        ("sgd weight_decay", sgd(0.0, 0.0, 1e-2, false)),
        ("sgd momentum", sgd(0.9, 0.0, 0.0, false)),
        (
            "sgd momentum dampening weight_decay",
            sgd(0.9, 0.1, 1e-2, false),
        ),
        ("sgd nesterov", sgd(0.9, 0.0, 0.0, true)),
        ("adam", adam(0.0, false, false)),
        ("adam weight_decay", adam(1e-2, false, false)),
        ("adam amsgrad", adam(0.0, false, true)),
        ("adamw", adam(1e-2, true, false)),
        ("adamw amsgrad", adam(1e-2, true, true)),
        ("rmsprop", rmsprop(0.0, 0.0, false)),
        ("rmsprop weight_decay", rmsprop(1e-2, 0.0, false)),
        ("rmsprop momentum", rmsprop(0.0, 0.9, false)),
        ("rmsprop centered", rmsprop(0.0, 0.0, true)),
        ("rmsprop momentum centered", rmsprop(0.0, 0.9, true)),
        ("adagrad", adagrad(0.0, 0.0)),
        ("adagrad lr_decay weight_decay", adagrad(1e-2, 1e-2)),
        ("adadelta", adadelta(0.9, 0.0, false)),
        ("adadelta rho weight_decay", adadelta(0.8, 1e-2, false)),
        ("adamax", adamax(0.0, false)),
        ("adamax weight_decay", adamax(1e-2, false)),
        ("nadam", nadam(0.0, false, false)),
        ("nadam weight_decay", nadam(1e-2, false, false)),
        ("nadam decoupled_weight_decay", nadam(1e-2, true, false)),
        ("radam", radam(0.0, false, false)),
        ("radam decoupled_weight_decay", radam(1e-2, true, false)),
        ("radam rectified (from step 10)", {
            let mut update = radam(1e-2, false, false);
            if let OptimizerUpdate::RAdam { step, .. } = &mut update {
                *step = 10;
            }
            update
        }),
        (
            "sgd momentum maximize",
            maximized(sgd(0.9, 0.0, 0.0, false)),
        ),
        ("adam maximize", maximized(adam(0.0, false, false))),
        ("rmsprop maximize", maximized(rmsprop(0.0, 0.0, false))),
        ("adagrad maximize", maximized(adagrad(0.0, 0.0))),
        ("adadelta maximize", adadelta(0.9, 0.0, true)),
        ("adamax maximize", adamax(0.0, true)),
        ("nadam maximize", nadam(0.0, false, true)),
        ("radam maximize", radam(0.0, false, true)),
    ]
}

/// The variant index of an update (0 = SGD, 1 = Adam, 2 = RMSprop, 3 = Adagrad, 4 = Adadelta,
/// 5 = Adamax, 6 = NAdam, 7 = RAdam). A new variant
/// fails to compile here, pointing at [`optimizer_configs`], which must cover it.
pub fn optimizer_variant(update: &OptimizerUpdate) -> usize {
    match update {
        OptimizerUpdate::Sgd { .. } => 0,
        OptimizerUpdate::Adam { .. } => 1,
        OptimizerUpdate::RmsProp { .. } => 2,
        OptimizerUpdate::Adagrad { .. } => 3,
        OptimizerUpdate::Adadelta { .. } => 4,
        OptimizerUpdate::Adamax { .. } => 5,
        OptimizerUpdate::NAdam { .. } => 6,
        OptimizerUpdate::RAdam { .. } => 7,
    }
}

/// Number of [`OptimizerUpdate`] variants.
pub const OPTIMIZER_VARIANTS: usize = 8;

/// The update of step `index` (0-based) of a configuration: the first step flag and step
/// counters advance as an optimizer would advance them (from the configuration's own step, so
/// a case may start late, e.g. RAdam once its rectification applies).
pub fn optimizer_step(first: &OptimizerUpdate, index: usize) -> OptimizerUpdate {
    let mut update = *first;
    match &mut update {
        OptimizerUpdate::Sgd { first_step, .. } => *first_step = index == 0,
        OptimizerUpdate::Adam { step, .. }
        | OptimizerUpdate::Adagrad { step, .. }
        | OptimizerUpdate::Adamax { step, .. }
        | OptimizerUpdate::NAdam { step, .. }
        | OptimizerUpdate::RAdam { step, .. } => {
            *step += index as u64;
        }
        OptimizerUpdate::RmsProp { .. } | OptimizerUpdate::Adadelta { .. } => {}
    }
    update
}

/// Steps of each optimizer case.
const OPTIMIZER_STEPS: usize = 3;

/// The whole table.
pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut push = |family, op: Op, layout: Layout, values: Values, class| {
        // The seed depends only on what the case is, so adding cases changes no other inputs.
        let seed = fnv1a(format!("{op:?} {layout:?} {values:?}").as_bytes());
        cases.push(Case {
            family,
            op,
            layout,
            values,
            seed,
            class,
        });
    };

    for &(class, dims, values) in UPLOAD_SHAPES {
        push(
            Family::Memory,
            Op::Upload,
            Layout::Flat(dims.to_vec()),
            values,
            class,
        );
    }
    for &(class, len) in FILL_LENGTHS {
        for value in FILL_VALUES {
            push(
                Family::Memory,
                Op::Fill(value),
                Layout::Flat(vec![len]),
                Values::Zeros,
                class,
            );
        }
    }

    for &(class, dims, values) in ELEMENTWISE_SHAPES {
        for &op in UnaryOp::ALL {
            push(
                Family::Elementwise,
                Op::Unary(op),
                Layout::Flat(dims.to_vec()),
                values,
                class,
            );
            push(
                Family::Elementwise,
                Op::UnaryBackward(op),
                Layout::Flat(dims.to_vec()),
                values,
                class,
            );
        }
        for &op in ScalarOp::ALL {
            for &s in scalar_operands(op) {
                push(
                    Family::Elementwise,
                    Op::Scalar(op, s),
                    Layout::Flat(dims.to_vec()),
                    values,
                    class,
                );
            }
        }
    }

    for &(class, lhs, rhs, values) in BROADCAST_SHAPES {
        for &op in BinaryOp::ALL {
            push(
                Family::Binary,
                Op::Binary(op),
                Layout::Broadcast(lhs.to_vec(), rhs.to_vec()),
                values,
                class,
            );
        }
    }

    for &(class, m, k, n, values) in MATMUL_SHAPES {
        for (trans_a, trans_b) in [(false, false), (true, false), (false, true), (true, true)] {
            push(
                Family::Matmul,
                Op::Matmul { trans_a, trans_b },
                Layout::Matmul(m, k, n),
                values,
                class,
            );
        }
    }

    for &(class, dims, values) in REDUCE_SHAPES {
        for &op in ReduceOp::ALL {
            for axis in 0..dims.len() {
                push(
                    Family::Reduce,
                    Op::Reduce(op),
                    Layout::Reduce(dims.to_vec(), axis),
                    values,
                    class,
                );
            }
        }
    }

    for &(class, dims, values) in SUM_SQUARES_SHAPES {
        push(
            Family::Reduce,
            Op::SumSquares,
            Layout::Flat(dims.to_vec()),
            values,
            class,
        );
    }

    for &(class, rows, cols, values) in ROW_SHAPES {
        for op in [
            Op::LogSoftmax,
            Op::SoftmaxCrossEntropy,
            Op::SoftmaxCrossEntropyBackward,
            Op::Argmax,
            Op::Gather,
        ] {
            push(Family::Rows, op, Layout::Rows(rows, cols), values, class);
        }
    }

    for &(class, dims, values) in OPTIMIZER_SHAPES {
        for (name, first) in optimizer_configs() {
            let steps = (0..OPTIMIZER_STEPS)
                .map(|i| optimizer_step(&first, i))
                .collect();
            push(
                Family::Optimizer,
                Op::Optimizer { name, steps },
                Layout::Flat(dims.to_vec()),
                values,
                class,
            );
        }
    }

    for declared in ember_tensor::conformance::cases() {
        let values = if declared.inputs.iter().any(|i| i.values == CaseValues::Ties) {
            Values::Ties
        } else {
            Values::Seeded
        };
        let layout = Layout::Declared(declared.inputs.iter().map(|i| i.dims.clone()).collect());
        let class = declared.class;
        push(
            Family::Declared,
            Op::Declared(Box::new(declared)),
            layout,
            values,
            class,
        );
    }
    cases
}

/// FNV-1a of `bytes`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn generate(values: Values, len: usize, rng: &mut SplitMix64) -> Vec<f32> {
    let offset = rng.below(EDGE_VALUES.len());
    (0..len)
        .map(|i| match values {
            Values::Seeded => rng.uniform(-3.0, 3.0),
            Values::Edge => EDGE_VALUES[(i + offset) % EDGE_VALUES.len()],
            Values::Zeros => 0.0,
            Values::Negative => rng.uniform(-3.0, -1e-3),
            Values::Wide => rng.uniform(-1e4, 1e4),
            Values::ExtremeLogits => EXTREME_LOGITS[rng.below(EXTREME_LOGITS.len())],
            Values::Ties => rng.below(3) as f32,
            Values::Special => SPECIAL_VALUES[(i + offset) % SPECIAL_VALUES.len()],
        })
        .collect()
}

/// The host inputs of a case, identical for both backends.
struct Inputs {
    tensors: Vec<Vec<f32>>,
}

fn make_inputs(case: &Case) -> Inputs {
    let mut rng = SplitMix64(case.seed);
    let mut draw = |len: usize| generate(case.values, len, &mut rng);
    let tensors = match (&case.op, &case.layout) {
        (Op::Upload, Layout::Flat(dims)) => vec![draw(dims.iter().product())],
        (Op::Fill(_), _) => vec![],
        (Op::Unary(op), Layout::Flat(dims)) => {
            let mut x = draw(dims.iter().product());
            unary_domain(*op).apply(&mut x);
            vec![x]
        }
        (Op::UnaryBackward(op), Layout::Flat(dims)) => {
            let len = dims.iter().product();
            let mut x = draw(len);
            unary_domain(*op).apply(&mut x);
            let y = x.iter().map(|&v| op.apply(v)).collect();
            let grad = generate(Values::Seeded, len, &mut SplitMix64(case.seed ^ 0xA5A5));
            vec![x, y, grad]
        }
        (Op::Scalar(op, s), Layout::Flat(dims)) => {
            let mut x = draw(dims.iter().product());
            scalar_domain(*op, *s).apply(&mut x);
            vec![x]
        }
        (Op::Binary(op), Layout::Broadcast(a, b)) => {
            let (domain_a, domain_b) = binary_domain(*op);
            let mut lhs = draw(a.iter().product());
            let mut rhs = draw(b.iter().product());
            domain_a.apply(&mut lhs);
            domain_b.apply(&mut rhs);
            vec![lhs, rhs]
        }
        (Op::Matmul { .. }, &Layout::Matmul(m, k, n)) => vec![draw(m * k), draw(k * n)],
        (Op::Reduce(_), Layout::Reduce(dims, _)) => vec![draw(dims.iter().product())],
        (Op::SumSquares, Layout::Flat(dims)) => vec![draw(dims.iter().product())],
        (Op::LogSoftmax | Op::Argmax, &Layout::Rows(rows, cols)) => vec![draw(rows * cols)],
        (
            Op::SoftmaxCrossEntropy | Op::SoftmaxCrossEntropyBackward | Op::Gather,
            &Layout::Rows(rows, cols),
        ) => {
            let x = draw(rows * cols);
            let mut labels_rng = SplitMix64(case.seed ^ 0x1ABE1);
            let labels = (0..rows).map(|_| labels_rng.below(cols) as f32).collect();
            let grad = generate(Values::Seeded, rows, &mut labels_rng)
                .into_iter()
                .map(|g| g / 3.0)
                .collect();
            vec![x, labels, grad]
        }
        (Op::Optimizer { steps, .. }, Layout::Flat(dims)) => {
            let len: usize = dims.iter().product();
            let param = draw(len);
            let mut tensors = vec![param];
            for _ in steps {
                tensors.push(draw(len));
            }
            tensors
        }
        (Op::Declared(declared), _) => declared.inputs_data(case.seed),
        (op, layout) => panic!("the table pairs {op:?} with {layout:?}, which has no inputs"),
    };
    Inputs { tensors }
}

/// Named outputs of one run.
type Outputs = Vec<(String, Vec<f32>)>;

/// Runs a case on `backend`.
fn execute<B: Backend>(backend: &B, case: &Case, inputs: &Inputs) -> ember_tensor::Result<Outputs> {
    let up = |i: usize| backend.upload(&inputs.tensors[i]);
    let down = |s: &B::Storage| backend.download(s);
    let single = |storage: ember_tensor::Result<B::Storage>| -> ember_tensor::Result<Outputs> {
        Ok(vec![("out".to_string(), down(&storage?)?)])
    };
    match (&case.op, &case.layout) {
        (Op::Upload, _) => single(up(0)),
        (Op::Fill(value), Layout::Flat(dims)) => {
            single(backend.fill(dims.iter().product(), *value))
        }
        (Op::Unary(op), _) => single(backend.unary(*op, &up(0)?)),
        (Op::UnaryBackward(op), _) => {
            single(backend.unary_backward(*op, &up(0)?, &up(1)?, &up(2)?))
        }
        (Op::Scalar(op, s), _) => single(backend.scalar(*op, &up(0)?, *s)),
        (Op::Binary(op), Layout::Broadcast(a, b)) => {
            let (a, b) = (Shape::from(a.as_slice()), Shape::from(b.as_slice()));
            let out =
                Shape::broadcast(&a, &b).ok_or_else(|| ember_tensor::Error::NotBroadcastable {
                    op: op.name(),
                    lhs: a.clone(),
                    rhs: b.clone(),
                })?;
            single(backend.binary(*op, &up(0)?, &a, &up(1)?, &b, &out))
        }
        (Op::Matmul { trans_a, trans_b }, &Layout::Matmul(m, k, n)) => {
            let dims = MatmulDims {
                m,
                k,
                n,
                trans_a: *trans_a,
                trans_b: *trans_b,
            };
            single(backend.matmul(&up(0)?, &up(1)?, dims))
        }
        (Op::Reduce(op), Layout::Reduce(dims, axis)) => {
            single(backend.reduce(*op, &up(0)?, &Shape::from(dims.as_slice()), *axis))
        }
        (Op::SumSquares, _) => single(backend.sum_squares(&up(0)?)),
        (Op::LogSoftmax, &Layout::Rows(rows, cols)) => {
            single(backend.log_softmax(&up(0)?, rows, cols))
        }
        (Op::SoftmaxCrossEntropy, &Layout::Rows(rows, cols)) => {
            single(backend.softmax_cross_entropy(&up(0)?, &up(1)?, rows, cols))
        }
        (Op::SoftmaxCrossEntropyBackward, &Layout::Rows(rows, cols)) => {
            single(backend.softmax_cross_entropy_backward(&up(0)?, &up(1)?, &up(2)?, rows, cols))
        }
        (Op::Argmax, &Layout::Rows(rows, cols)) => single(backend.argmax(&up(0)?, rows, cols)),
        (Op::Gather, &Layout::Rows(rows, cols)) => {
            single(backend.gather(&up(0)?, &up(1)?, rows, cols))
        }
        (Op::Optimizer { steps, .. }, Layout::Flat(dims)) => {
            let len: usize = dims.iter().product();
            let mut param = up(0)?;
            let state_len = steps.first().map_or(0, OptimizerUpdate::state_len);
            let mut state = (0..state_len)
                .map(|_| backend.fill(len, 0.0))
                .collect::<ember_tensor::Result<Vec<_>>>()?;
            for (i, update) in steps.iter().enumerate() {
                let grad = up(i + 1)?;
                backend.optimizer_update(update, &mut param, &grad, &mut state)?;
            }
            let mut outputs = vec![("param".to_string(), down(&param)?)];
            for (i, slot) in state.iter().enumerate() {
                outputs.push((format!("state[{i}]"), down(slot)?));
            }
            Ok(outputs)
        }
        (Op::Declared(declared), _) => declared.run(backend, &inputs.tensors),
        (op, layout) => panic!("the table pairs {op:?} with {layout:?}, which cannot run"),
    }
}

fn cols(case: &Case) -> usize {
    match case.layout {
        Layout::Rows(_, cols) => cols,
        _ => 0,
    }
}

/// The tolerance of a case.
fn tolerance(case: &Case, inputs: &Inputs) -> Tolerance {
    match &case.op {
        Op::Upload | Op::Fill(_) | Op::Argmax | Op::Gather => Tolerance::EXACT,
        Op::Unary(op) | Op::UnaryBackward(op) => op.tolerance(),
        Op::Scalar(op, _) => op.tolerance(),
        Op::Binary(op) => op.tolerance(),
        Op::Reduce(op) => op.tolerance(),
        // One value summed in another order (the CPU keeps 16 running sums).
        Op::SumSquares => Tolerance::new(1e-6, 1e-4),
        Op::Matmul { .. } => {
            let k = match case.layout {
                Layout::Matmul(_, k, _) => k,
                _ => 0,
            };
            let max_abs = |v: &[f32]| v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
            let scale = max_abs(&inputs.tensors[0]) * max_abs(&inputs.tensors[1]);
            Tolerance::new(k as f32 * f32::EPSILON * scale, MATMUL_REL)
        }
        Op::LogSoftmax | Op::SoftmaxCrossEntropy => rows_tolerance(ROWS_TOLERANCE, cols(case)),
        Op::SoftmaxCrossEntropyBackward => rows_tolerance(ROWS_BACKWARD_TOLERANCE, cols(case)),
        Op::Optimizer { .. } => OPTIMIZER_TOLERANCE,
        Op::Declared(declared) => declared.tolerance(&inputs.tensors),
    }
}

/// A position where the candidate disagrees with the reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// Which output (`out`, `param`, `state[1]`, ...).
    pub output: String,
    /// Flat index.
    pub index: usize,
    /// The CPU reference's value.
    pub expected: f32,
    /// The candidate's value.
    pub actual: f32,
}

/// The outcome of one case.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseResult {
    /// The family.
    pub family: Family,
    /// The op's name.
    pub op: String,
    /// The shape class.
    pub shape_class: String,
    /// Elements compared.
    pub elements: usize,
    /// Largest `|a - b|` over positions where both are finite.
    pub max_abs_err: f32,
    /// Largest `|a - b| / max(|a|, |b|)` over positions where both are finite and not both 0.
    pub max_rel_err: f32,
    /// The tolerance the case is held to.
    pub tolerance: Tolerance,
    /// Every value has the same bits on both backends (NaN matching NaN).
    pub bit_exact: bool,
    /// Running the case twice on the candidate gave identical bits (`None`: not checked, for
    /// cases of [`REPEAT_LIMIT`] elements or more).
    pub deterministic: Option<bool>,
    /// Within tolerance, same lengths, no error, deterministic.
    pub pass: bool,
    /// The first mismatching positions.
    pub mismatches: Vec<Mismatch>,
    /// An error returned by either backend, or a length mismatch.
    pub error: Option<String>,
}

impl CaseResult {
    /// A multi-line description of a failure: the case, the error or the first mismatches with
    /// both values.
    pub fn failure_report(&self) -> String {
        let mut text = format!(
            "{} on {}: max abs err {:e}, max rel err {:e}, tolerance abs {:e} rel {:e}",
            self.op,
            self.shape_class,
            self.max_abs_err,
            self.max_rel_err,
            self.tolerance.abs,
            self.tolerance.rel
        );
        if let Some(error) = &self.error {
            let _ = write!(text, "\n    error: {error}");
        }
        if self.deterministic == Some(false) {
            text.push_str("\n    two runs on the candidate gave different bits");
        }
        for m in &self.mismatches {
            let _ = write!(
                text,
                "\n    {}[{}]: cpu {:e} ({:#010x}), candidate {:e} ({:#010x})",
                m.output,
                m.index,
                m.expected,
                m.expected.to_bits(),
                m.actual,
                m.actual.to_bits()
            );
        }
        text
    }
}

fn same_bits(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn outputs_identical(a: &Outputs, b: &Outputs) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|((_, x), (_, y))| {
            x.len() == y.len() && x.iter().zip(y).all(|(&p, &q)| same_bits(p, q))
        })
}

/// Cases with at least this many elements run once on the candidate, not twice: the repeat
/// would double the slowest cases of the table, and determinism does not depend on size.
pub const REPEAT_LIMIT: usize = 1_000_000;

/// Runs one case on the CPU and on `candidate` (twice, below [`REPEAT_LIMIT`] elements), and
/// compares.
pub fn run_case<B: Backend>(case: &Case, candidate: &B) -> CaseResult {
    let inputs = make_inputs(case);
    let tolerance = tolerance(case, &inputs);
    let mut result = CaseResult {
        family: case.family,
        op: case.op.name(),
        shape_class: case.shape_class(),
        elements: 0,
        max_abs_err: 0.0,
        max_rel_err: 0.0,
        tolerance,
        bit_exact: true,
        deterministic: None,
        pass: false,
        mismatches: Vec::new(),
        error: None,
    };
    let repeat = case.size() < REPEAT_LIMIT;
    let runs = execute(&Cpu, case, &inputs).and_then(|expected| {
        let first = execute(candidate, case, &inputs)?;
        let second = if repeat {
            Some(execute(candidate, case, &inputs)?)
        } else {
            None
        };
        Ok((expected, first, second))
    });
    let (expected, actual, repeated) = match runs {
        Ok(runs) => runs,
        Err(error) => {
            result.error = Some(error.to_string());
            return result;
        }
    };
    result.deterministic = repeated.map(|second| outputs_identical(&actual, &second));
    let mut within = true;
    for ((name, want), (_, got)) in expected.iter().zip(&actual) {
        if want.len() != got.len() {
            result.error = Some(format!(
                "{name}: the CPU returned {} values, the candidate {}",
                want.len(),
                got.len()
            ));
            return result;
        }
        result.elements += want.len();
        for (index, (&e, &a)) in want.iter().zip(got).enumerate() {
            if !same_bits(e, a) {
                result.bit_exact = false;
            }
            if e.is_finite() && a.is_finite() {
                let diff = (e - a).abs();
                result.max_abs_err = result.max_abs_err.max(diff);
                let scale = e.abs().max(a.abs());
                if scale > 0.0 {
                    result.max_rel_err = result.max_rel_err.max(diff / scale);
                }
            }
            if !tolerance.accepts(e, a) {
                within = false;
                if result.mismatches.len() < MISMATCHES_KEPT {
                    result.mismatches.push(Mismatch {
                        output: name.clone(),
                        index,
                        expected: e,
                        actual: a,
                    });
                }
                if !(e.is_finite() && a.is_finite()) {
                    result.max_abs_err = f32::INFINITY;
                    result.max_rel_err = f32::INFINITY;
                }
            }
        }
    }
    result.pass = within && result.deterministic != Some(false);
    result
}

/// Runs every case of `family` (every case with `None`) on `candidate`.
pub fn run_family<B: Backend>(candidate: &B, family: Option<Family>) -> Vec<CaseResult> {
    run_cases(candidate, |case| family.is_none_or(|f| case.family == f))
}

/// Runs the cases `select` picks on `candidate`.
pub fn run_cases<B: Backend>(candidate: &B, select: impl Fn(&Case) -> bool) -> Vec<CaseResult> {
    cases()
        .iter()
        .filter(|case| select(case))
        .map(|case| run_case(case, candidate))
        .collect()
}

impl Case {
    /// Elements of the case's largest input or output.
    pub fn size(&self) -> usize {
        match &self.layout {
            Layout::Flat(dims) | Layout::Reduce(dims, _) => dims.iter().product(),
            Layout::Broadcast(a, b) => a.iter().product::<usize>().max(b.iter().product()),
            Layout::Matmul(m, k, n) => (m * k).max(k * n).max(m * n),
            Layout::Rows(rows, cols) => rows * cols,
            Layout::Declared(inputs) => {
                inputs.iter().map(|d| d.iter().product()).max().unwrap_or(0)
            }
        }
    }
}

/// The failures among `results`, one report each, or `None` when all pass.
pub fn failures(results: &[CaseResult]) -> Option<String> {
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.pass)
        .map(CaseResult::failure_report)
        .collect();
    if failed.is_empty() {
        None
    } else {
        Some(format!(
            "{} of {} cases failed:\n{}",
            failed.len(),
            results.len(),
            failed.join("\n")
        ))
    }
}

fn format_error(value: f32) -> String {
    if value == 0.0 {
        "0".to_string()
    } else {
        format!("{value:.2e}")
    }
}

fn format_tolerance(tolerance: &Tolerance) -> String {
    if *tolerance == Tolerance::EXACT {
        "exact".to_string()
    } else {
        format!(
            "abs {} / rel {}",
            format_error(tolerance.abs),
            format_error(tolerance.rel)
        )
    }
}

/// Renders `results` as the Markdown of `docs/CONFORMANCE.md`, headed by the device that ran
/// them.
pub fn render_report(device: &str, results: &[CaseResult]) -> String {
    let passed = results.iter().filter(|r| r.pass).count();
    let exact = results.iter().filter(|r| r.bit_exact).count();
    let mut text = String::new();
    let _ = writeln!(
        text,
        "# Backend conformance: Wgpu against the CPU reference\n"
    );
    let _ = writeln!(text, "Device: **{device}**\n");
    let _ = writeln!(
        text,
        "Generated by `cargo xtask conformance` from the table in `tests/src/conformance.rs` \
         (the same cases `cargo test -p ember-tests --test conformance` asserts on). Each case \
         runs on `Cpu` and on `Wgpu` with the same seeded inputs; a value passes when \
         `|a - b| <= max(abs, rel * max(|a|, |b|))`, NaN matching NaN. \"exact\" means \
         bit-identical is required; \"bit-exact\" says whether every value was. Each case below \
         {REPEAT_LIMIT} elements also runs twice on the GPU; \"deterministic\" means both runs \
         gave the same bits (\"—\": not repeated). Max errors are over positions where both \
         values are finite.\n"
    );
    let _ = writeln!(
        text,
        "Tolerances: element-wise ops and reductions use their `tolerance()` from \
         `ember_tensor::ops`; matmul uses abs `k·ε·max|A|·max|B|` (ε = 2⁻²³) and rel \
         {MATMUL_REL:e}; log-softmax and softmax-cross-entropy abs {:e} + cols·2⁻²⁴ / rel {:e}, \
         its backward abs {:e} + cols·2⁻²⁴ / rel {:e}; optimizer updates abs {:e} / rel {:e}; \
         fills, uploads, argmax and gather are exact. Inputs of log, sqrt and fractional powers \
         are made positive and divisors non-zero, where WGSL leaves results undefined.\n",
        ROWS_TOLERANCE.abs,
        ROWS_TOLERANCE.rel,
        ROWS_BACKWARD_TOLERANCE.abs,
        ROWS_BACKWARD_TOLERANCE.rel,
        OPTIMIZER_TOLERANCE.abs,
        OPTIMIZER_TOLERANCE.rel
    );
    let _ = writeln!(
        text,
        "**{passed} of {} cases pass; {exact} are bit-exact.**\n",
        results.len()
    );
    let _ = writeln!(
        text,
        "| op | shape class | elements | max abs err | max rel err | tolerance | bit-exact | deterministic | pass |"
    );
    let _ = writeln!(text, "|---|---|---:|---:|---:|---|:-:|:-:|:-:|");
    for r in results {
        let _ = writeln!(
            text,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.op,
            r.shape_class,
            r.elements,
            format_error(r.max_abs_err),
            format_error(r.max_rel_err),
            format_tolerance(&r.tolerance),
            if r.bit_exact { "yes" } else { "no" },
            match r.deterministic {
                Some(true) => "yes",
                Some(false) => "no",
                None => "—",
            },
            if r.pass { "pass" } else { "**FAIL**" }
        );
    }
    text
}

/// Writes the report to `path` atomically: a temporary file next to it, flushed to disk, then
/// renamed over the old report.
pub fn write_report(path: &Path, device: &str, results: &[CaseResult]) -> std::io::Result<()> {
    let text = render_report(device, results);
    let directory = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(directory)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "CONFORMANCE.md".to_string());
    let temporary = directory.join(format!(".{file_name}.tmp"));
    {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path)
}
