//! Conformance cases declared by the ops themselves.
//!
//! Each op file under [`crate::ops`] (layout, unfold, conv2d, pooling, ...) declares the cases
//! it must pass on every backend; [`cases`] collects them through an exhaustive `match` over
//! [`OpKind`], so a new [`OpCall`] variant without cases (or without a way to run it) does not
//! compile. The workspace's conformance harness (`tests/src/conformance.rs`) runs each case on
//! the CPU reference and on another backend with the same inputs ([`OpCase::inputs_data`]) and
//! compares the outputs within [`OpCase::tolerance`].
//!
//! ```
//! use ember_cpu::Cpu;
//! use ember_tensor::conformance::cases;
//!
//! let case = &cases()[0];
//! let data = case.inputs_data(7);
//! let outputs = case.run(&Cpu, &data)?;
//! assert!(!outputs.is_empty());
//! # Ok::<(), ember_tensor::Error>(())
//! ```

use strum::{EnumDiscriminants, VariantArray};

use crate::ops::conv2d::Conv2dGradients;
use crate::ops::dropout::DropoutMask;
use crate::ops::layout::StridedView;
use crate::ops::window::WindowOptions;
use crate::ops::{
    Tolerance, avg_pool2d, conv2d, conv2d_max_pool2d, dropout, layout, max_pool2d, unfold,
};
use crate::{Backend, Result, Shape, Tensor};

/// How an input's values are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CaseValues {
    /// Seeded uniform values in `[low, high)`.
    Uniform(f32, f32),
    /// Integers in `0..3`: windows and rows with ties.
    Ties,
    /// Valid indices below `n` (as `f32`).
    Indices(usize),
}

/// One input of a case: its dimensions and how its values are drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseInput {
    /// The input's dimensions.
    pub dims: Vec<usize>,
    /// Its values.
    pub values: CaseValues,
}

impl CaseInput {
    /// An input of `dims` with `values`.
    pub fn new(dims: &[usize], values: CaseValues) -> Self {
        CaseInput {
            dims: dims.to_vec(),
            values,
        }
    }
}

/// An op call with its parameters; its inputs are the case's, in order.
#[derive(Debug, Clone, PartialEq, EnumDiscriminants)]
#[strum_discriminants(name(OpKind), derive(VariantArray, Hash))]
#[strum_discriminants(
    doc = "Which op an [`OpCall`] calls, without its parameters; `OpKind::VARIANTS` lists them all."
)]
pub enum OpCall {
    /// `x.strided(view)`.
    StridedCopy(StridedView),
    /// `x.unfold2d(options, pad_value)`.
    Unfold2d {
        /// The window.
        options: WindowOptions,
        /// Value of padding taps.
        pad_value: f32,
    },
    /// `cols.fold2d(input, options)`.
    Fold2d {
        /// `[N, C, H, W]` of the folded result.
        input: [usize; 4],
        /// The window.
        options: WindowOptions,
    },
    /// `values.scatter_rows(indices, cols)`.
    ScatterRows {
        /// Columns of the result.
        cols: usize,
    },
    /// `x.conv2d(weight, Some(bias), options)`.
    Conv2d(WindowOptions),
    /// `x.conv2d_backward(weight, grad, options)`: both gradients.
    Conv2dBackward(WindowOptions),
    /// `x.max_pool2d(options)`: values and indices.
    MaxPool2d(WindowOptions),
    /// The gradient of max pooling, with the indices of a forward pass on the same backend.
    MaxPool2dBackward(WindowOptions),
    /// `x.conv2d_max_pool2d(weight, Some(bias), conv, pool)`: values and indices.
    Conv2dMaxPool2d {
        /// The convolution's window.
        conv: WindowOptions,
        /// The pooling's window.
        pool: WindowOptions,
    },
    /// Its input and weight gradients, with the indices of a forward pass (without bias) on
    /// the same backend.
    Conv2dMaxPool2dBackward {
        /// The convolution's window.
        conv: WindowOptions,
        /// The pooling's window.
        pool: WindowOptions,
    },
    /// `x.avg_pool2d(options)`.
    AvgPool2d(WindowOptions),
    /// `grad.avg_pool2d_backward(x.shape(), options)`.
    AvgPool2dBackward(WindowOptions),
    /// `x.dropout(mask)`: the mask must be the same bits on every backend.
    Dropout(DropoutMask),
}

impl OpCall {
    /// The op's name in reports, e.g. `conv2d backward`.
    pub fn name(&self) -> &'static str {
        match self {
            OpCall::StridedCopy(_) => "strided_copy",
            OpCall::Unfold2d { .. } => "unfold2d",
            OpCall::Fold2d { .. } => "fold2d",
            OpCall::ScatterRows { .. } => "scatter_rows",
            OpCall::Conv2d(_) => "conv2d",
            OpCall::Conv2dBackward(_) => "conv2d backward",
            OpCall::MaxPool2d(_) => "max_pool2d",
            OpCall::MaxPool2dBackward(_) => "max_pool2d backward",
            OpCall::Conv2dMaxPool2d { .. } => "conv2d_max_pool2d",
            OpCall::Conv2dMaxPool2dBackward { .. } => "conv2d_max_pool2d backward",
            OpCall::AvgPool2d(_) => "avg_pool2d",
            OpCall::AvgPool2dBackward(_) => "avg_pool2d backward",
            OpCall::Dropout(_) => "dropout",
        }
    }
}

/// One declared case: an op call, a label for its shape class, and its inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct OpCase {
    /// What runs.
    pub call: OpCall,
    /// The shape class, e.g. `3x3 pad 1`.
    pub class: &'static str,
    /// The inputs, in the order the call takes them.
    pub inputs: Vec<CaseInput>,
}

impl OpCase {
    /// The inputs' values, drawn from `seed`: the same on every machine.
    pub fn inputs_data(&self, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = SplitMix64(seed);
        self.inputs
            .iter()
            .map(|input| {
                let len: usize = input.dims.iter().product();
                (0..len)
                    .map(|_| match input.values {
                        CaseValues::Uniform(low, high) => rng.uniform(low, high),
                        CaseValues::Ties => rng.below(3) as f32,
                        CaseValues::Indices(n) => rng.below(n) as f32,
                    })
                    .collect()
            })
            .collect()
    }

    /// Runs the case on `backend` with `data` (from [`OpCase::inputs_data`]); returns each
    /// output with its name.
    pub fn run<B: Backend>(
        &self,
        backend: &B,
        data: &[Vec<f32>],
    ) -> Result<Vec<(String, Vec<f32>)>> {
        let inputs = self
            .inputs
            .iter()
            .zip(data)
            .map(|(input, values)| Tensor::from_slice(values, input.dims.clone(), backend))
            .collect::<Result<Vec<_>>>()?;
        let arg = |i: usize| &inputs[i];
        let outputs: Vec<(&str, Tensor<B>)> = match &self.call {
            OpCall::StridedCopy(view) => vec![("out", arg(0).strided(view)?)],
            OpCall::Unfold2d { options, pad_value } => {
                vec![("out", arg(0).unfold2d(*options, *pad_value)?)]
            }
            OpCall::Fold2d { input, options } => {
                vec![("out", arg(0).fold2d(&Shape::from(&input[..]), *options)?)]
            }
            OpCall::ScatterRows { cols } => vec![("out", arg(0).scatter_rows(arg(1), *cols)?)],
            OpCall::Conv2d(options) => {
                vec![("out", arg(0).conv2d(arg(1), Some(arg(2)), *options)?)]
            }
            OpCall::Conv2dBackward(options) => {
                let wanted = Conv2dGradients {
                    input: true,
                    weight: true,
                };
                let (dx, dw) = arg(0).conv2d_backward(arg(1), arg(2), *options, wanted)?;
                [("grad input", dx), ("grad weight", dw)]
                    .into_iter()
                    .filter_map(|(name, t)| t.map(|t| (name, t)))
                    .collect()
            }
            OpCall::MaxPool2d(options) => {
                let (y, indices) = arg(0).max_pool2d(*options)?;
                vec![("out", y), ("indices", indices)]
            }
            OpCall::MaxPool2dBackward(options) => {
                let (_, indices) = arg(0).max_pool2d(*options)?;
                let dx = arg(1).max_pool2d_backward(&indices, arg(0).shape(), *options)?;
                vec![("grad input", dx)]
            }
            OpCall::Conv2dMaxPool2d { conv, pool } => {
                let (y, indices) = arg(0).conv2d_max_pool2d(arg(1), Some(arg(2)), *conv, *pool)?;
                vec![("out", y), ("indices", indices)]
            }
            OpCall::Conv2dMaxPool2dBackward { conv, pool } => {
                let wanted = Conv2dGradients {
                    input: true,
                    weight: true,
                };
                let (_, indices) = arg(0).conv2d_max_pool2d(arg(1), None, *conv, *pool)?;
                let (dx, dw) = arg(0).conv2d_max_pool2d_backward(
                    arg(1),
                    (arg(2), &indices),
                    (*conv, *pool),
                    wanted,
                )?;
                [("grad input", dx), ("grad weight", dw)]
                    .into_iter()
                    .filter_map(|(name, t)| t.map(|t| (name, t)))
                    .collect()
            }
            OpCall::AvgPool2d(options) => vec![("out", arg(0).avg_pool2d(*options)?)],
            OpCall::AvgPool2dBackward(options) => {
                vec![(
                    "grad input",
                    arg(1).avg_pool2d_backward(arg(0).shape(), *options)?,
                )]
            }
            OpCall::Dropout(mask) => vec![("out", arg(0).dropout(mask)?)],
        };
        outputs
            .into_iter()
            .map(|(name, t)| Ok((name.to_string(), t.to_vec()?)))
            .collect()
    }

    /// How closely another backend must match the CPU on this case's `data`. Copies, gathers
    /// and scatters are exact; so are max pooling and fold, whose sums keep the reference's
    /// order; dropout's mask is drawn in integers and applied with one multiplication. Products
    /// are held to the matmul bound `k · ε · max|A| · max|B|` plus 1e-5
    /// relative, with `k` the longest dot product the op computes.
    pub fn tolerance(&self, data: &[Vec<f32>]) -> Tolerance {
        let max_abs = |i: usize| {
            data.get(i)
                .map_or(0.0, |v| v.iter().fold(0.0f32, |m, x| m.max(x.abs())))
        };
        let product = |k: usize, scale: f32| Tolerance::new(k as f32 * f32::EPSILON * scale, 1e-5);
        match &self.call {
            OpCall::StridedCopy(_)
            | OpCall::Unfold2d { .. }
            | OpCall::Fold2d { .. }
            | OpCall::ScatterRows { .. }
            | OpCall::MaxPool2d(_)
            | OpCall::MaxPool2dBackward(_)
            | OpCall::Dropout(_) => Tolerance::EXACT,
            OpCall::AvgPool2d(_) | OpCall::AvgPool2dBackward(_) => Tolerance::new(1e-6, 1e-6),
            OpCall::Conv2d(_) | OpCall::Conv2dMaxPool2d { .. } => {
                // The maxima of values within the bound are within it; their indices agree
                // unless two values of a window lie closer than it.
                let k = self.inputs[1].dims[1..].iter().product();
                let bias = max_abs(2);
                product(k, max_abs(0) * max_abs(1) + bias)
            }
            OpCall::Conv2dBackward(_) => {
                // dW sums over every output position; dx over output channels and taps.
                let grad = &self.inputs[2].dims;
                let weight = &self.inputs[1].dims;
                let k = (grad[0] * grad[2] * grad[3]).max(weight.iter().product());
                product(k, max_abs(2) * max_abs(0).max(max_abs(1)))
            }
            OpCall::Conv2dMaxPool2dBackward { .. } => {
                // As the convolution's, over its whole output (most of it a zero gradient).
                let input = &self.inputs[0].dims;
                let weight = &self.inputs[1].dims;
                let k = (input[0] * input[2] * input[3]).max(weight.iter().product());
                product(k, max_abs(2) * max_abs(0).max(max_abs(1)))
            }
        }
    }
}

/// Every [`OpKind`], in declaration order.
pub fn kinds() -> &'static [OpKind] {
    OpKind::VARIANTS
}

/// Every declared case, in a fixed order: each [`OpKind`]'s cases from its op's file.
pub fn cases() -> Vec<OpCase> {
    OpKind::VARIANTS
        .iter()
        .flat_map(|&kind| cases_of(kind))
        .collect()
}

/// The cases an op's file declares for `kind`. Exhaustive: a new variant must say where its
/// cases are.
pub fn cases_of(kind: OpKind) -> Vec<OpCase> {
    match kind {
        OpKind::StridedCopy => layout::conformance_cases(),
        OpKind::Unfold2d => unfold::unfold_conformance_cases(),
        OpKind::Fold2d => unfold::fold_conformance_cases(),
        OpKind::ScatterRows => unfold::scatter_conformance_cases(),
        OpKind::Conv2d => conv2d::conformance_cases(false),
        OpKind::Conv2dBackward => conv2d::conformance_cases(true),
        OpKind::MaxPool2d => max_pool2d::conformance_cases(false),
        OpKind::MaxPool2dBackward => max_pool2d::conformance_cases(true),
        OpKind::Conv2dMaxPool2d => conv2d_max_pool2d::conformance_cases(false),
        OpKind::Conv2dMaxPool2dBackward => conv2d_max_pool2d::conformance_cases(true),
        OpKind::AvgPool2d => avg_pool2d::conformance_cases(false),
        OpKind::AvgPool2dBackward => avg_pool2d::conformance_cases(true),
        OpKind::Dropout => dropout::conformance_cases(),
    }
}

/// SplitMix64: a tiny seeded generator, so case inputs are identical on every machine.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[low, high)`.
    pub fn uniform(&mut self, low: f32, high: f32) -> f32 {
        let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        low + (high - low) * unit
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}
