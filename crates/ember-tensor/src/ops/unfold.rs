//! Unfold (im2col) and fold (col2im): the primitives convolution and pooling are built from,
//! and scatter, the adjoint of gather.
//!
//! `unfold` turns an `[N, C, H, W]` input into a matrix with one row per window tap of every
//! channel (`C · kh · kw` rows, in `(c, i, j)` order — the order of a flattened `Conv2d`
//! weight) and one column per output position (`N · OH · OW` columns, in `(n, oy, ox)` order),
//! as `torch.nn.functional.unfold` with the batch folded into the columns. A row is a shifted,
//! strided copy of one input plane, so the kernel is a sequence of short copies; and a
//! convolution is then `W · cols`, already in output-channel-major order. Taps in the padding
//! read `pad_value`. `fold` is its adjoint: each entry is added back to the input position it
//! was read from (padding taps are dropped), in row order, so overlapping windows sum.

use crate::conformance::{CaseInput, CaseValues, OpCall, OpCase};
use crate::ops::window::{Window2d, WindowOptions};
use crate::{Backend, Error, Result, Shape, Tensor};

/// Reference unfold on host data: the semantics every backend reproduces.
pub fn unfold_reference(x: &[f32], window: &Window2d, pad_value: f32) -> Vec<f32> {
    let [kh, kw] = window.options.kernel;
    let [h, w] = window.input;
    let mut out = Vec::with_capacity(window.patch_len() * window.positions());
    for c in 0..window.channels {
        for i in 0..kh {
            for j in 0..kw {
                for n in 0..window.batch {
                    let plane = &x[(n * window.channels + c) * h * w..][..h * w];
                    for oy in 0..window.output[0] {
                        for ox in 0..window.output[1] {
                            out.push(match window.source(oy, ox, i, j) {
                                Some((y, xx)) => plane[y * w + xx],
                                None => pad_value,
                            });
                        }
                    }
                }
            }
        }
    }
    out
}

/// Reference fold on host data: contributions added in row order (taps `(c, i, j)`
/// ascending), so each input element sums its entries in tap order.
pub fn fold_reference(cols: &[f32], window: &Window2d) -> Vec<f32> {
    let [kh, kw] = window.options.kernel;
    let [h, w] = window.input;
    let mut out = vec![0.0; window.input_len()];
    let mut next = cols.iter();
    for c in 0..window.channels {
        for i in 0..kh {
            for j in 0..kw {
                for n in 0..window.batch {
                    let base = (n * window.channels + c) * h * w;
                    for oy in 0..window.output[0] {
                        for ox in 0..window.output[1] {
                            let value = next.next().copied().unwrap_or(0.0);
                            if let Some((y, xx)) = window.source(oy, ox, i, j) {
                                out[base + y * w + xx] += value;
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

impl<B: Backend> Tensor<B> {
    /// The windows of an `[N, C, H, W]` tensor as the columns of a `[C·kh·kw, N·OH·OW]`
    /// matrix (im2col); padding reads `pad_value`.
    pub fn unfold2d(&self, options: WindowOptions, pad_value: f32) -> Result<Self> {
        let window = Window2d::new("unfold2d", self.shape(), options)?;
        let storage = self
            .backend()
            .unfold2d(self.storage(), &window, pad_value)?;
        Tensor::from_storage(
            storage,
            [window.patch_len(), window.positions()],
            self.backend(),
        )
    }

    /// The adjoint of [`Tensor::unfold2d`]: a `[C·kh·kw, N·OH·OW]` matrix added back into an
    /// input of `input_shape` (col2im). Overlapping windows sum; padding taps are dropped.
    pub fn fold2d(&self, input_shape: &Shape, options: WindowOptions) -> Result<Self> {
        let window = Window2d::new("fold2d", input_shape, options)?;
        self.expect_dims("fold2d", &[window.patch_len(), window.positions()])?;
        let storage = self.backend().fold2d(self.storage(), &window)?;
        Tensor::from_storage(storage, input_shape.clone(), self.backend())
    }

    /// The adjoint of [`Tensor::gather`]: a `[rows, cols]` tensor of zeros with
    /// `self[r]` at `[r, indices[r]]` (indices stored as `f32`).
    pub fn scatter_rows(&self, indices: &Self, cols: usize) -> Result<Self> {
        let rows = self.numel();
        self.expect_dims("scatter_rows", &[rows])?;
        indices.expect_dims("scatter_rows", &[rows])?;
        let storage = self
            .backend()
            .scatter(self.storage(), indices.storage(), rows, cols)?;
        Tensor::from_storage(storage, [rows, cols], self.backend())
    }

    /// Fails unless the shape is `dims`.
    pub(crate) fn expect_dims(&self, op: &'static str, dims: &[usize]) -> Result<()> {
        if self.dims() != dims {
            return Err(Error::ShapeMismatch {
                op,
                lhs: self.shape().clone(),
                rhs: Shape::from(dims),
            });
        }
        Ok(())
    }
}

/// Windows of the unfold and fold cases: padding, stride with padding, dilation, a window
/// covering the whole input, and the lab CNN's first layer.
fn windows() -> [(&'static str, [usize; 4], WindowOptions); 5] {
    [
        (
            "3x3 pad 1",
            [2, 3, 6, 5],
            WindowOptions::new([3, 3]).padding([1, 1]),
        ),
        (
            "3x3 stride 2 pad 1",
            [2, 2, 7, 8],
            WindowOptions::new([3, 3]).stride([2, 2]).padding([1, 1]),
        ),
        (
            "2x3 dilation (2,1)",
            [1, 2, 7, 6],
            WindowOptions::new([2, 3]).dilation([2, 1]),
        ),
        ("whole input", [3, 2, 4, 4], WindowOptions::new([4, 4])),
        (
            "lab CNN layer 1",
            [8, 1, 28, 28],
            WindowOptions::new([3, 3]).padding([1, 1]),
        ),
    ]
}

/// Unfold cases, padding with zeros and with −∞ (pooling).
pub(crate) fn unfold_conformance_cases() -> Vec<OpCase> {
    let mut cases = Vec::new();
    for (class, input, options) in windows() {
        for pad_value in [0.0, f32::NEG_INFINITY] {
            cases.push(OpCase {
                call: OpCall::Unfold2d { options, pad_value },
                class,
                inputs: vec![CaseInput::new(&input, CaseValues::Uniform(-3.0, 3.0))],
            });
        }
    }
    cases
}

/// Fold cases: the adjoint of each unfold window (overlapping windows sum).
pub(crate) fn fold_conformance_cases() -> Vec<OpCase> {
    windows()
        .into_iter()
        .filter_map(|(class, input, options)| {
            let window = Window2d::new("fold2d", &Shape::from(&input[..]), options).ok()?;
            Some(OpCase {
                call: OpCall::Fold2d { input, options },
                class,
                inputs: vec![CaseInput::new(
                    &[window.patch_len(), window.positions()],
                    CaseValues::Uniform(-3.0, 3.0),
                )],
            })
        })
        .collect()
}

/// Scatter cases: one row, pooling windows, and many rows.
pub(crate) fn scatter_conformance_cases() -> Vec<OpCase> {
    [
        ("1 row", 1, 4),
        ("2x2 windows", 37, 4),
        ("many rows", 20_000, 9),
    ]
    .into_iter()
    .map(|(class, rows, cols)| OpCase {
        call: OpCall::ScatterRows { cols },
        class,
        inputs: vec![
            CaseInput::new(&[rows], CaseValues::Uniform(-3.0, 3.0)),
            CaseInput::new(&[rows], CaseValues::Indices(cols)),
        ],
    })
    .collect()
}
