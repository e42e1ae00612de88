//! Layout: reshape without a copy, and one strided-copy primitive behind permute, transpose,
//! narrow and expand.
//!
//! A tensor's storage is always dense and row-major, so a reshape only changes the shape. Every
//! other change of layout reads the source through a [`StridedView`] (an offset, the output
//! dimensions and a stride per dimension, where stride 0 repeats a value) and writes a dense
//! copy: [`Backend::strided_copy`] is the one kernel a backend implements for all of them.

use crate::conformance::{CaseInput, CaseValues, OpCall, OpCase};
use crate::{Backend, Error, Result, Shape, Tensor};

/// How to read a dense source as another tensor: element `[i0, i1, ...]` of the output is
/// `source[offset + Σ i_d · strides[d]]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StridedView {
    /// Index of the output's first element in the source.
    pub offset: usize,
    /// The output's dimensions.
    pub dims: Vec<usize>,
    /// Source stride of each output dimension (0 broadcasts).
    pub strides: Vec<usize>,
}

impl StridedView {
    /// The row-major strides of `dims`.
    pub fn contiguous_strides(dims: &[usize]) -> Vec<usize> {
        let mut strides = vec![1; dims.len()];
        for d in (0..dims.len().saturating_sub(1)).rev() {
            strides[d] = strides[d + 1] * dims[d + 1];
        }
        strides
    }

    /// Elements of the output.
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    /// Whether the output is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The largest source index the view reads (`None` for an empty view).
    pub fn last_index(&self) -> Option<usize> {
        if self.is_empty() {
            return None;
        }
        Some(
            self.offset
                + self
                    .dims
                    .iter()
                    .zip(&self.strides)
                    .map(|(&d, &s)| (d - 1) * s)
                    .sum::<usize>(),
        )
    }

    /// The same view with adjacent dimensions merged where one steps exactly over the other
    /// and size-1 dimensions dropped: fewer, longer loops for a kernel, same elements in the
    /// same order.
    pub fn simplified(&self) -> StridedView {
        let mut dims: Vec<usize> = Vec::with_capacity(self.dims.len());
        let mut strides: Vec<usize> = Vec::with_capacity(self.dims.len());
        for (&d, &s) in self.dims.iter().zip(&self.strides) {
            if d == 1 {
                continue;
            }
            match (dims.last_mut(), strides.last_mut()) {
                (Some(last_d), Some(last_s)) if *last_s == s * d => {
                    *last_d *= d;
                    *last_s = s;
                }
                _ => {
                    dims.push(d);
                    strides.push(s);
                }
            }
        }
        StridedView {
            offset: self.offset,
            dims,
            strides,
        }
    }

    /// The source index of each output element, in order: the reference semantics every
    /// backend's kernel must reproduce.
    pub fn source_indices(&self) -> impl Iterator<Item = usize> + '_ {
        let len = self.len();
        (0..len).map(move |flat| {
            let mut rest = flat;
            let mut index = self.offset;
            for d in (0..self.dims.len()).rev() {
                index += (rest % self.dims[d]) * self.strides[d];
                rest /= self.dims[d];
            }
            index
        })
    }
}

impl<B: Backend> Tensor<B> {
    /// A dense copy of the elements `view` reads from this tensor's storage.
    pub fn strided(&self, view: &StridedView) -> Result<Self> {
        if view.dims.len() != view.strides.len() {
            return Err(Error::InvalidArgument {
                op: "strided_copy",
                message: format!(
                    "{} dimensions but {} strides",
                    view.dims.len(),
                    view.strides.len()
                ),
            });
        }
        if let Some(last) = view.last_index()
            && last >= self.numel()
        {
            return Err(Error::InvalidArgument {
                op: "strided_copy",
                message: format!(
                    "the view {view:?} reads element {last} of a tensor of shape {} ({} elements)",
                    self.shape(),
                    self.numel()
                ),
            });
        }
        let storage = self
            .backend()
            .strided_copy(self.storage(), &view.simplified())?;
        Tensor::from_storage(storage, view.dims.clone(), self.backend())
    }

    /// The dimensions reordered: output dimension `i` is input dimension `order[i]` (as
    /// `torch.permute`). Copies.
    pub fn permute(&self, order: &[usize]) -> Result<Self> {
        let rank = self.shape().rank();
        let mut seen = vec![false; rank];
        let valid = order.len() == rank
            && order
                .iter()
                .all(|&axis| axis < rank && !std::mem::replace(&mut seen[axis], true));
        if !valid {
            return Err(Error::InvalidArgument {
                op: "permute",
                message: format!(
                    "{order:?} is not an ordering of the {rank} dimensions of {}",
                    self.shape()
                ),
            });
        }
        let strides = StridedView::contiguous_strides(self.dims());
        self.strided(&StridedView {
            offset: 0,
            dims: order.iter().map(|&a| self.dims()[a]).collect(),
            strides: order.iter().map(|&a| strides[a]).collect(),
        })
    }

    /// Dimensions `a` and `b` swapped. Copies.
    pub fn transpose(&self, a: usize, b: usize) -> Result<Self> {
        let rank = self.shape().rank();
        for axis in [a, b] {
            self.check_axis("transpose", axis)?;
        }
        let mut order: Vec<usize> = (0..rank).collect();
        order.swap(a, b);
        self.permute(&order)
    }

    /// `len` entries of dimension `axis` from `start` (as `torch.narrow`). Copies.
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Result<Self> {
        self.check_axis("narrow", axis)?;
        let size = self.dims()[axis];
        if start.checked_add(len).is_none_or(|end| end > size) {
            return Err(Error::InvalidArgument {
                op: "narrow",
                message: format!(
                    "entries {start}..{} of dimension {axis} of {}, which has {size}",
                    start.saturating_add(len),
                    self.shape()
                ),
            });
        }
        let strides = StridedView::contiguous_strides(self.dims());
        let mut dims = self.dims().to_vec();
        dims[axis] = len;
        self.strided(&StridedView {
            offset: start * strides[axis],
            dims,
            strides,
        })
    }

    /// Size-1 dimensions repeated to `shape`, with leading dimensions added as needed (as
    /// `torch.expand`, but the result is a dense copy).
    pub fn expand(&self, shape: impl Into<Shape>) -> Result<Self> {
        let target = shape.into();
        if Shape::broadcast(self.shape(), &target).as_ref() != Some(&target) {
            return Err(Error::NotBroadcastable {
                op: "expand",
                lhs: self.shape().clone(),
                rhs: target,
            });
        }
        let own = StridedView::contiguous_strides(self.dims());
        let lead = target.rank() - self.shape().rank();
        let strides = (0..target.rank())
            .map(|d| match d.checked_sub(lead) {
                Some(s) if self.dims()[s] != 1 => own[s],
                _ => 0,
            })
            .collect();
        self.strided(&StridedView {
            offset: 0,
            dims: target.dims().to_vec(),
            strides,
        })
    }

    /// Dimensions `start..` merged into one (as `torch.flatten(x, start)`); no copy.
    pub fn flatten_from(&self, start: usize) -> Result<Self> {
        if start >= self.shape().rank().max(1) {
            return Err(Error::InvalidAxis {
                op: "flatten",
                axis: start,
                shape: self.shape().clone(),
            });
        }
        let mut dims = self.dims()[..start].to_vec();
        dims.push(self.dims()[start..].iter().product());
        self.reshape(dims)
    }
}

/// Strided copies of the conformance table: a transpose, a 4-D permute (the convolution's
/// NHWC → NCHW step), a narrow, an expand (stride 0) and a large transpose.
pub(crate) fn conformance_cases() -> Vec<OpCase> {
    let view = |class, source: &[usize], offset, dims: &[usize], strides: &[usize]| OpCase {
        call: OpCall::StridedCopy(StridedView {
            offset,
            dims: dims.to_vec(),
            strides: strides.to_vec(),
        }),
        class,
        inputs: vec![CaseInput::new(source, CaseValues::Uniform(-3.0, 3.0))],
    };
    vec![
        view("transpose", &[17, 33], 0, &[33, 17], &[1, 33]),
        view(
            "permute NHWC→NCHW",
            &[2, 5, 7, 3],
            0,
            &[2, 3, 5, 7],
            &[105, 1, 21, 3],
        ),
        view("narrow", &[6, 10], 23, &[3, 4], &[10, 1]),
        view("expand", &[5], 0, &[4, 5, 3], &[0, 1, 0]),
        view(
            "6-D permute",
            &[2, 3, 2, 3, 2, 2],
            0,
            &[2, 2, 2, 3, 3, 2],
            &[1, 2, 36, 12, 4, 72],
        ),
        view("large transpose", &[100, 3136], 0, &[3136, 100], &[1, 3136]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simplification_merges_contiguous_runs() {
        let view = StridedView {
            offset: 3,
            dims: vec![2, 1, 3, 4],
            strides: vec![12, 99, 4, 1],
        };
        let simple = view.simplified();
        assert_eq!(simple.dims, vec![24]);
        assert_eq!(simple.strides, vec![1]);
        assert!(view.source_indices().eq(simple.source_indices()));
    }

    #[test]
    fn a_transpose_stays_two_dimensional() {
        let view = StridedView {
            offset: 0,
            dims: vec![3, 2],
            strides: vec![1, 3],
        };
        assert_eq!(view.simplified(), view);
        assert_eq!(
            view.source_indices().collect::<Vec<_>>(),
            vec![0, 3, 1, 4, 2, 5]
        );
    }
}
