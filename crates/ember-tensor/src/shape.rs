//! Tensor shapes and PyTorch's broadcasting rules.

use std::fmt;

/// The dimensions of a tensor, outermost first (row-major, like PyTorch).
///
/// A shape with no dimensions is a scalar and holds one element.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(Vec<usize>);

impl Shape {
    /// A shape from its dimensions.
    pub fn new(dims: impl Into<Vec<usize>>) -> Self {
        Shape(dims.into())
    }

    /// The shape of a scalar (rank 0, one element).
    pub fn scalar() -> Self {
        Shape(Vec::new())
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// Number of elements (1 for a scalar).
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }

    /// Dimension `axis`, if it exists.
    pub fn dim(&self, axis: usize) -> Option<usize> {
        self.0.get(axis).copied()
    }

    /// The shape PyTorch gives to `a op b`: dimensions are aligned from the right, and each pair
    /// must be equal or contain a 1. `None` when they cannot be broadcast.
    pub fn broadcast(a: &Shape, b: &Shape) -> Option<Shape> {
        let rank = a.rank().max(b.rank());
        let mut out = vec![0; rank];
        for (i, slot) in out.iter_mut().enumerate() {
            let da = a.dim_from_right(rank - 1 - i);
            let db = b.dim_from_right(rank - 1 - i);
            *slot = match (da, db) {
                (x, y) if x == y => x,
                (1, y) => y,
                (x, 1) => x,
                _ => return None,
            };
        }
        Some(Shape(out))
    }

    /// Dimension counted from the right (0 = last); 1 past the rank, as broadcasting pads.
    fn dim_from_right(&self, i: usize) -> usize {
        if i < self.rank() {
            self.0[self.rank() - 1 - i]
        } else {
            1
        }
    }

    /// The axes of `target` (a broadcast result of `self`) along which `self` was expanded, as
    /// indices into `target`: a gradient of `target`'s shape summed over these axes and reshaped
    /// to `self` is the gradient of `self`.
    pub fn broadcast_axes(&self, target: &Shape) -> Vec<usize> {
        let offset = target.rank().saturating_sub(self.rank());
        (0..target.rank())
            .filter(|&axis| axis < offset || (self.0[axis - offset] == 1 && target.0[axis] != 1))
            .collect()
    }

    /// This shape with `axis` removed (`keepdim = false`) or set to 1 (`keepdim = true`).
    pub fn reduced(&self, axis: usize, keepdim: bool) -> Shape {
        let mut dims = self.0.clone();
        if keepdim {
            dims[axis] = 1;
        } else {
            dims.remove(axis);
        }
        Shape(dims)
    }

    /// Treat the shape as a matrix of `rows × last dimension` (for row-wise ops such as
    /// log-softmax). A scalar is 1×1.
    pub fn as_rows(&self) -> (usize, usize) {
        match self.0.last() {
            Some(&cols) if cols > 0 => (self.numel() / cols, cols),
            Some(_) => (0, 0),
            None => (1, 1),
        }
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

impl From<Vec<usize>> for Shape {
    fn from(dims: Vec<usize>) -> Self {
        Shape(dims)
    }
}

impl From<&[usize]> for Shape {
    fn from(dims: &[usize]) -> Self {
        Shape(dims.to_vec())
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    fn from(dims: [usize; N]) -> Self {
        Shape(dims.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_pytorch() {
        let b = |a: &[usize], c: &[usize]| Shape::broadcast(&Shape::from(a), &Shape::from(c));
        assert_eq!(b(&[3, 4], &[4]), Some(Shape::from([3, 4])));
        assert_eq!(b(&[3, 1], &[1, 4]), Some(Shape::from([3, 4])));
        assert_eq!(b(&[2, 1, 4], &[3, 1]), Some(Shape::from([2, 3, 4])));
        assert_eq!(b(&[], &[5]), Some(Shape::from([5])));
        assert_eq!(b(&[3, 4], &[3]), None);
        assert_eq!(b(&[0, 4], &[1, 4]), Some(Shape::from([0, 4])));
    }

    #[test]
    fn broadcast_axes_name_the_expanded_dimensions() {
        let target = Shape::from([2, 3, 4]);
        assert_eq!(Shape::from([4]).broadcast_axes(&target), vec![0, 1]);
        assert_eq!(Shape::from([3, 1]).broadcast_axes(&target), vec![0, 2]);
        assert_eq!(
            Shape::from([2, 3, 4]).broadcast_axes(&target),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn rows_view() {
        assert_eq!(Shape::from([5, 3]).as_rows(), (5, 3));
        assert_eq!(Shape::from([2, 5, 3]).as_rows(), (10, 3));
        assert_eq!(Shape::scalar().as_rows(), (1, 1));
        assert_eq!(Shape::scalar().numel(), 1);
    }
}
