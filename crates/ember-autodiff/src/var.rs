//! `Var`: a tensor that remembers how it was computed.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ember_tensor::{Backend, Cpu, Shape, Tensor};

use crate::Result;
use crate::grad_mode::is_grad_enabled;

/// How an op pushes the gradient of its output to its inputs: one entry per input, `None` where
/// an input needs no gradient.
pub(crate) type BackwardRule<B> = Box<dyn Fn(&Tensor<B>) -> Result<Vec<Option<Tensor<B>>>>>;

pub(crate) struct Recorded<B: Backend> {
    pub(crate) op: &'static str,
    pub(crate) inputs: Vec<Var<B>>,
    /// Taken (and so freed, with the values it saved) when backward runs through it.
    pub(crate) rule: RefCell<Option<BackwardRule<B>>>,
}

pub(crate) struct Node<B: Backend> {
    pub(crate) id: usize,
    pub(crate) value: RefCell<Tensor<B>>,
    pub(crate) requires_grad: bool,
    pub(crate) grad: RefCell<Option<Tensor<B>>>,
    pub(crate) recorded: Option<Recorded<B>>,
    pub(crate) retain_grad: Cell<bool>,
}

/// A tensor on the autodiff tape.
///
/// A `Var` is a leaf (a parameter or an input) or the result of an op on other `Var`s. Ops on
/// `Var`s whose inputs require gradients are recorded; [`Var::backward`] walks the record from a
/// scalar output and accumulates gradients into the leaves that require them, as PyTorch's
/// `.grad`. Cloning a `Var` is cheap and shares the node.
///
/// ```
/// use ember_autodiff::Var;
/// use ember_tensor::{Cpu, Tensor};
///
/// // f(x) = sum(relu(x) * x)  →  df/dx = 2x where x > 0, else 0
/// let x = Var::parameter(Tensor::from_vec(vec![-1.0, 2.0, 3.0], [3], &Cpu)?);
/// let y = x.relu()?.mul(&x)?.sum_all()?;
/// y.backward()?;
/// assert_eq!(y.value().to_scalar()?, 13.0);
/// assert_eq!(x.grad().unwrap().to_vec()?, vec![0.0, 4.0, 6.0]);
/// # Ok::<(), ember_autodiff::Error>(())
/// ```
pub struct Var<B: Backend = Cpu> {
    pub(crate) node: Rc<Node<B>>,
}

impl<B: Backend> Clone for Var<B> {
    fn clone(&self) -> Self {
        Var {
            node: Rc::clone(&self.node),
        }
    }
}

impl<B: Backend> fmt::Debug for Var<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Var")
            .field("id", &self.node.id)
            .field("shape", self.node.value.borrow().shape())
            .field("requires_grad", &self.node.requires_grad)
            .field("op", &self.node.recorded.as_ref().map_or("leaf", |r| r.op))
            .finish()
    }
}

fn next_id() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl<B: Backend> Var<B> {
    fn leaf(value: Tensor<B>, requires_grad: bool) -> Self {
        Var {
            node: Rc::new(Node {
                id: next_id(),
                value: RefCell::new(value),
                requires_grad,
                grad: RefCell::new(None),
                recorded: None,
                retain_grad: Cell::new(false),
            }),
        }
    }

    /// A leaf that needs no gradient (an input, a constant).
    pub fn constant(value: Tensor<B>) -> Self {
        Self::leaf(value, false)
    }

    /// A leaf whose gradient is accumulated by [`Var::backward`] (a parameter).
    pub fn parameter(value: Tensor<B>) -> Self {
        Self::leaf(value, true)
    }

    /// The result of an op: records `rule` when gradients are enabled and an input needs one.
    pub(crate) fn from_op(
        value: Tensor<B>,
        op: &'static str,
        inputs: &[&Var<B>],
        rule: impl Fn(&Tensor<B>) -> Result<Vec<Option<Tensor<B>>>> + 'static,
    ) -> Self {
        let needs_grad = is_grad_enabled() && inputs.iter().any(|v| v.requires_grad());
        if !needs_grad {
            return Self::constant(value);
        }
        Var {
            node: Rc::new(Node {
                id: next_id(),
                value: RefCell::new(value),
                requires_grad: true,
                grad: RefCell::new(None),
                recorded: Some(Recorded {
                    op,
                    inputs: inputs.iter().map(|v| (*v).clone()).collect(),
                    rule: RefCell::new(Some(Box::new(rule))),
                }),
                retain_grad: Cell::new(false),
            }),
        }
    }

    /// A unique id of this node.
    pub fn id(&self) -> usize {
        self.node.id
    }

    /// The value (a cheap clone of the tensor).
    pub fn value(&self) -> Tensor<B> {
        self.node.value.borrow().clone()
    }

    /// The value's shape.
    pub fn shape(&self) -> Shape {
        self.node.value.borrow().shape().clone()
    }

    /// The backend the value lives on.
    pub fn backend(&self) -> B {
        self.node.value.borrow().backend().clone()
    }

    /// Whether gradients flow to this value.
    pub fn requires_grad(&self) -> bool {
        self.node.requires_grad
    }

    /// Whether this is a leaf (not the result of a recorded op).
    pub fn is_leaf(&self) -> bool {
        self.node.recorded.is_none()
    }

    /// The accumulated gradient (leaves, and non-leaves after [`Var::retain_grad`]).
    pub fn grad(&self) -> Option<Tensor<B>> {
        self.node.grad.borrow().clone()
    }

    /// Keep this non-leaf's gradient after backward (as PyTorch's `retain_grad`).
    pub fn retain_grad(&self) {
        self.node.retain_grad.set(true);
    }

    /// Clears the accumulated gradient.
    pub fn zero_grad(&self) {
        *self.node.grad.borrow_mut() = None;
    }

    /// Replaces the value of a leaf in place (optimizers, loading a state dict). The graph is not
    /// affected: ops already recorded keep the value they saw.
    pub fn set_value(&self, value: Tensor<B>) {
        *self.node.value.borrow_mut() = value;
    }

    /// Runs `f` on the value in place (e.g. a fused optimizer update of its storage).
    pub fn update_value<T>(&self, f: impl FnOnce(&mut Tensor<B>) -> T) -> T {
        f(&mut self.node.value.borrow_mut())
    }

    /// Sets the accumulated gradient (used by tests and tools that bring their own gradients).
    pub fn set_grad(&self, grad: Option<Tensor<B>>) {
        *self.node.grad.borrow_mut() = grad;
    }

    /// A new leaf with the same value that no gradient flows through.
    pub fn detach(&self) -> Self {
        Self::constant(self.value())
    }
}
