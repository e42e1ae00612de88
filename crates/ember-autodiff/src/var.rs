//! `Var`: a tensor that remembers how it was computed.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ember_tensor::{Backend, Shape, Tensor};

use crate::Result;
use crate::grad_mode::is_grad_enabled;

/// How an op pushes the gradient of its output to its inputs: one entry per input, `None` where
/// an input needs no gradient. `Send + Sync`, so a recorded graph (and a model) can move to
/// another thread.
pub(crate) type BackwardRule<B> =
    Box<dyn Fn(&Tensor<B>) -> Result<Vec<Option<Tensor<B>>>> + Send + Sync>;

pub(crate) struct Recorded<B: Backend> {
    pub(crate) op: &'static str,
    pub(crate) inputs: Vec<Var<B>>,
    /// Taken (and so freed, with the values it saved) when backward runs through it.
    pub(crate) rule: Mutex<Option<BackwardRule<B>>>,
}

pub(crate) struct Node<B: Backend> {
    pub(crate) id: usize,
    pub(crate) value: Mutex<Tensor<B>>,
    pub(crate) requires_grad: bool,
    pub(crate) grad: Mutex<Option<Tensor<B>>>,
    pub(crate) recorded: Option<Recorded<B>>,
    pub(crate) retain_grad: AtomicBool,
}

/// Locks `slot`. A lock is held only for a clone or an assignment, never across user code that
/// could panic, so a poisoned lock still holds a whole value and is used as it is.
pub(crate) fn lock<T>(slot: &Mutex<T>) -> MutexGuard<'_, T> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
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
/// use ember_cpu::Cpu;
/// use ember_tensor::Tensor;
///
/// // f(x) = sum(relu(x) * x)  →  df/dx = 2x where x > 0, else 0
/// let x = Var::parameter(Tensor::from_vec(vec![-1.0, 2.0, 3.0], [3], &Cpu)?);
/// let y = x.relu()?.mul(&x)?.sum_all()?;
/// y.backward()?;
/// assert_eq!(y.value().to_scalar()?, 13.0);
/// assert_eq!(x.grad().unwrap().to_vec()?, vec![0.0, 4.0, 6.0]);
/// # Ok::<(), ember_autodiff::Error>(())
/// ```
pub struct Var<B: Backend> {
    pub(crate) node: Arc<Node<B>>,
}

impl<B: Backend> Clone for Var<B> {
    fn clone(&self) -> Self {
        Var {
            node: Arc::clone(&self.node),
        }
    }
}

impl<B: Backend> fmt::Debug for Var<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Var")
            .field("id", &self.node.id)
            .field("shape", lock(&self.node.value).shape())
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
            node: Arc::new(Node {
                id: next_id(),
                value: Mutex::new(value),
                requires_grad,
                grad: Mutex::new(None),
                recorded: None,
                retain_grad: AtomicBool::new(false),
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
        rule: impl Fn(&Tensor<B>) -> Result<Vec<Option<Tensor<B>>>> + Send + Sync + 'static,
    ) -> Self {
        let needs_grad = is_grad_enabled() && inputs.iter().any(|v| v.requires_grad());
        if !needs_grad {
            return Self::constant(value);
        }
        Var {
            node: Arc::new(Node {
                id: next_id(),
                value: Mutex::new(value),
                requires_grad: true,
                grad: Mutex::new(None),
                recorded: Some(Recorded {
                    op,
                    inputs: inputs.iter().map(|v| (*v).clone()).collect(),
                    rule: Mutex::new(Some(Box::new(rule))),
                }),
                retain_grad: AtomicBool::new(false),
            }),
        }
    }

    /// A differentiable op of your own, on any backend: as PyTorch's `autograd.Function`.
    ///
    /// `forward` computes the output from the inputs' values and returns it with what the
    /// backward rule needs (`saved`: the inputs, the output, anything; tensors are cheap
    /// clones). `backward` maps the output's gradient and `saved` to one gradient per input,
    /// in the order of `inputs`, each of its input's shape, or `None` for an input that needs
    /// none. It runs on the device the forward pass ran on, with the backend's own ops. The op
    /// is recorded only when gradients are enabled and an input requires one; otherwise
    /// `backward` is dropped unused. A rule that returns another number of gradients, or a
    /// gradient of another shape, makes [`Var::backward`] fail with
    /// [`Error::GradientCount`](crate::Error::GradientCount) or
    /// [`Error::GradientShape`](crate::Error::GradientShape), naming `op`.
    ///
    /// SiLU (`x · sigmoid(x)`), with its derivative `s · (1 + x · (1 − s))`:
    ///
    /// ```
    /// use ember_autodiff::Var;
    /// use ember_autodiff::gradcheck::{GradCheck, check_gradients};
    /// use ember_cpu::Cpu;
    /// use ember_tensor::{Backend, Tensor};
    ///
    /// fn silu<B: Backend>(x: &Var<B>) -> ember_autodiff::Result<Var<B>> {
    ///     Var::custom(
    ///         "silu",
    ///         &[x],
    ///         |[x]| {
    ///             let s = x.sigmoid()?;
    ///             Ok((x.mul(&s)?, (x.clone(), s)))
    ///         },
    ///         |grad, (x, s)| {
    ///             // s · (1 + x · (1 − s))
    ///             let slope = s.mul(&x.mul(&s.neg()?.add_scalar(1.0)?)?.add_scalar(1.0)?)?;
    ///             Ok(vec![Some(grad.mul(&slope)?)])
    ///         },
    ///     )
    /// }
    ///
    /// let x = Tensor::from_vec(vec![-2.0, -0.5, 0.0, 1.5], [4], &Cpu)?;
    /// let y = silu(&Var::constant(x.clone()))?.value().to_vec()?;
    /// assert!((y[3] - 1.5 / (1.0 + (-1.5f32).exp())).abs() < 1e-6);
    /// check_gradients("silu", &[x], |v| silu(&v[0])?.sum_all(), &GradCheck::default())?;
    /// # Ok::<(), ember_autodiff::Error>(())
    /// ```
    pub fn custom<S: Send + Sync + 'static, const N: usize>(
        op: &'static str,
        inputs: &[&Var<B>; N],
        forward: impl FnOnce(&[Tensor<B>; N]) -> Result<(Tensor<B>, S)>,
        backward: impl Fn(&Tensor<B>, &S) -> Result<Vec<Option<Tensor<B>>>> + Send + Sync + 'static,
    ) -> Result<Var<B>> {
        let values = inputs.map(Var::value);
        let (output, saved) = forward(&values)?;
        Ok(Self::from_op(output, op, inputs, move |grad| {
            backward(grad, &saved)
        }))
    }

    /// A unique id of this node.
    pub fn id(&self) -> usize {
        self.node.id
    }

    /// The value (a cheap clone of the tensor).
    pub fn value(&self) -> Tensor<B> {
        lock(&self.node.value).clone()
    }

    /// The value's shape.
    pub fn shape(&self) -> Shape {
        lock(&self.node.value).shape().clone()
    }

    /// The backend the value lives on.
    pub fn backend(&self) -> B {
        lock(&self.node.value).backend().clone()
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
        lock(&self.node.grad).clone()
    }

    /// Keep this non-leaf's gradient after backward (as PyTorch's `retain_grad`).
    pub fn retain_grad(&self) {
        self.node.retain_grad.store(true, Ordering::Relaxed);
    }

    /// Clears the accumulated gradient.
    pub fn zero_grad(&self) {
        *lock(&self.node.grad) = None;
    }

    /// Replaces the value of a leaf in place (optimizers, loading a state dict). The graph is not
    /// affected: ops already recorded keep the value they saw.
    pub fn set_value(&self, value: Tensor<B>) {
        *lock(&self.node.value) = value;
    }

    /// Runs `f` on the value in place (e.g. a fused optimizer update of its storage).
    pub fn update_value<T>(&self, f: impl FnOnce(&mut Tensor<B>) -> T) -> T {
        f(&mut lock(&self.node.value))
    }

    /// Sets the accumulated gradient (used by tests and tools that bring their own gradients).
    pub fn set_grad(&self, grad: Option<Tensor<B>>) {
        *lock(&self.node.grad) = grad;
    }

    /// A new leaf with the same value that no gradient flows through.
    pub fn detach(&self) -> Self {
        Self::constant(self.value())
    }
}
