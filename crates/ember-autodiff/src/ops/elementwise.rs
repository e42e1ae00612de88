//! Element-wise ops: unary functions, scalar ops and broadcasting binary ops.

use ember_tensor::ops::{BinaryOp, ScalarOp, UnaryOp};
use ember_tensor::{Backend, Tensor};

use crate::Result;
use crate::var::Var;

impl<B: Backend> Var<B> {
    /// Applies an element-wise function; its gradient is `grad * f'(x)`, computed in one fused
    /// backend pass.
    pub fn unary(&self, op: UnaryOp) -> Result<Var<B>> {
        let x = self.value();
        let y = x.unary(op)?;
        let saved_y = y.clone();
        Ok(Var::from_op(y, op.name(), &[self], move |g| {
            Ok(vec![Some(x.unary_backward(op, &saved_y, g)?)])
        }))
    }

    /// `-x`
    pub fn neg(&self) -> Result<Var<B>> {
        self.unary(UnaryOp::Neg)
    }
    /// `e^x`
    pub fn exp(&self) -> Result<Var<B>> {
        self.unary(UnaryOp::Exp)
    }
    /// `ln x`
    pub fn log(&self) -> Result<Var<B>> {
        self.unary(UnaryOp::Log)
    }
    /// `max(x, 0)`; gradient 0 at 0, as PyTorch.
    pub fn relu(&self) -> Result<Var<B>> {
        self.unary(UnaryOp::Relu)
    }
    /// The logistic function.
    pub fn sigmoid(&self) -> Result<Var<B>> {
        self.unary(UnaryOp::Sigmoid)
    }
    /// Hyperbolic tangent.
    pub fn tanh(&self) -> Result<Var<B>> {
        self.unary(UnaryOp::Tanh)
    }
    /// Square root.
    pub fn sqrt(&self) -> Result<Var<B>> {
        self.unary(UnaryOp::Sqrt)
    }
    /// `x²`
    pub fn square(&self) -> Result<Var<B>> {
        self.unary(UnaryOp::Square)
    }

    /// An element-wise function of `self` and a scalar.
    pub fn scalar_op(&self, op: ScalarOp, s: f32) -> Result<Var<B>> {
        let x = self.value();
        let y = x.scalar_op(op, s)?;
        Ok(Var::from_op(y, op.name(), &[self], move |g| {
            let grad = match op {
                ScalarOp::Add => g.clone(),
                ScalarOp::Mul => g.mul_scalar(s)?,
                // d/dx x^s = s·x^(s-1)
                ScalarOp::Pow => g.mul(&x.pow_scalar(s - 1.0)?.mul_scalar(s)?)?,
            };
            Ok(vec![Some(grad)])
        }))
    }
    /// `x + s`
    pub fn add_scalar(&self, s: f32) -> Result<Var<B>> {
        self.scalar_op(ScalarOp::Add, s)
    }
    /// `x * s`
    pub fn mul_scalar(&self, s: f32) -> Result<Var<B>> {
        self.scalar_op(ScalarOp::Mul, s)
    }
    /// `x ^ s`
    pub fn pow_scalar(&self, s: f32) -> Result<Var<B>> {
        self.scalar_op(ScalarOp::Pow, s)
    }

    /// A broadcasting binary op. A broadcast operand (such as a bias) gets its gradient summed
    /// over the axes it was expanded along.
    pub fn binary(&self, op: BinaryOp, other: &Var<B>) -> Result<Var<B>> {
        let a = self.value();
        let b = other.value();
        let y = a.binary(op, &b)?;
        let saved_y = y.clone();
        let (needs_a, needs_b) = (self.requires_grad(), other.requires_grad());
        Ok(Var::from_op(y, op.name(), &[self, other], move |g| {
            let (ga, gb): (Option<Tensor<B>>, Option<Tensor<B>>) = match op {
                BinaryOp::Add => (needs_a.then(|| g.clone()), needs_b.then(|| g.clone())),
                BinaryOp::Sub => (
                    needs_a.then(|| g.clone()),
                    needs_b.then(|| g.neg()).transpose()?,
                ),
                BinaryOp::Mul => (
                    needs_a.then(|| g.mul(&b)).transpose()?,
                    needs_b.then(|| g.mul(&a)).transpose()?,
                ),
                // d(a/b)/da = 1/b;  d(a/b)/db = -a/b² = -y/b
                BinaryOp::Div => (
                    needs_a.then(|| g.div(&b)).transpose()?,
                    needs_b
                        .then(|| g.mul(&saved_y)?.div(&b)?.neg())
                        .transpose()?,
                ),
            };
            Ok(vec![
                ga.map(|t| t.sum_to_shape(a.shape())).transpose()?,
                gb.map(|t| t.sum_to_shape(b.shape())).transpose()?,
            ])
        }))
    }
    /// `a + b` (broadcasting)
    pub fn add(&self, other: &Var<B>) -> Result<Var<B>> {
        self.binary(BinaryOp::Add, other)
    }
    /// `a - b` (broadcasting)
    pub fn sub(&self, other: &Var<B>) -> Result<Var<B>> {
        self.binary(BinaryOp::Sub, other)
    }
    /// `a * b` (broadcasting)
    pub fn mul(&self, other: &Var<B>) -> Result<Var<B>> {
        self.binary(BinaryOp::Mul, other)
    }
    /// `a / b` (broadcasting)
    pub fn div(&self, other: &Var<B>) -> Result<Var<B>> {
        self.binary(BinaryOp::Div, other)
    }

    /// The same values with another shape.
    pub fn reshape(&self, shape: impl Into<ember_tensor::Shape>) -> Result<Var<B>> {
        let x = self.value();
        let input_shape = x.shape().clone();
        let y = x.reshape(shape)?;
        Ok(Var::from_op(y, "reshape", &[self], move |g| {
            Ok(vec![Some(g.reshape(input_shape.clone())?)])
        }))
    }
}
