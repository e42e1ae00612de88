//! The primitive operations every backend implements, as data.
//!
//! Each enum variant carries its reference semantics (the scalar function the CPU backend
//! applies, which every other backend is compared against), the WGSL expression a GPU backend
//! splices into its kernels, and the tolerance within which another backend must agree with the
//! CPU. Adding a variant makes the compiler point at every place that must handle it.
//!
//! Larger ops live one file each beside this one — parameters, shape checks, the `Tensor`
//! method, a family trait whose default bodies are built from the backend's primitives, and
//! the op's conformance cases: [`conv2d`], [`max_pool2d`], [`conv2d_max_pool2d`] (the two
//! fused), [`avg_pool2d`], [`dropout`] (whose
//! family has no default body: its counter-based draw is a primitive). The primitives they
//! build on: [`layout`] (reshape, and the strided copy behind permute/narrow/expand) and
//! [`unfold`] (im2col, col2im, scatter), over the sliding [`window`] they share.

use strum::VariantArray;

pub mod avg_pool2d;
pub mod conv2d;
pub mod conv2d_max_pool2d;
pub mod dropout;
pub mod layout;
pub mod max_pool2d;
mod optimizer;
pub mod unfold;
pub mod window;

pub use avg_pool2d::AvgPool2dOp;
pub use conv2d::{Conv2dGradients, Conv2dOp};
pub use conv2d_max_pool2d::Conv2dMaxPool2dOp;
pub use dropout::{DropoutMask, DropoutOp};
pub use layout::StridedView;
pub use max_pool2d::MaxPool2dOp;
pub use optimizer::*;
pub use window::{Window2d, WindowOptions};

/// Tolerance for comparing a backend's output with the CPU reference:
/// `|a - b| <= max(abs, rel * max(|a|, |b|))`. `abs = rel = 0` means bit-exact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Absolute bound.
    pub abs: f32,
    /// Relative bound.
    pub rel: f32,
}

impl Tolerance {
    /// Bit-identical results.
    pub const EXACT: Tolerance = Tolerance { abs: 0.0, rel: 0.0 };

    /// A mixed absolute/relative bound.
    pub const fn new(abs: f32, rel: f32) -> Self {
        Tolerance { abs, rel }
    }

    /// Whether `a` and `b` agree within this tolerance (NaN agrees with NaN, ±inf with itself).
    pub fn accepts(&self, a: f32, b: f32) -> bool {
        if a.is_nan() || b.is_nan() {
            return a.is_nan() && b.is_nan();
        }
        if a == b {
            return true;
        }
        let diff = (a - b).abs();
        diff <= self.abs.max(self.rel * a.abs().max(b.abs()))
    }
}

/// Element-wise functions of one operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, VariantArray)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `e^x`
    Exp,
    /// Natural logarithm.
    Log,
    /// `max(x, 0)`; its derivative is 0 at 0, as in PyTorch.
    Relu,
    /// `1 / (1 + e^-x)`
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// Square root.
    Sqrt,
    /// `x * x`
    Square,
}

impl UnaryOp {
    /// Every variant, for tables that must cover them all (derived: never out of date).
    pub const ALL: &'static [UnaryOp] = <UnaryOp as VariantArray>::VARIANTS;

    /// Lower-case name, as in PyTorch.
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Relu => "relu",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Square => "square",
        }
    }

    /// The reference value `f(x)`.
    #[inline]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            UnaryOp::Neg => -x,
            UnaryOp::Exp => x.exp(),
            UnaryOp::Log => x.ln(),
            UnaryOp::Relu => {
                if x > 0.0 {
                    x
                } else {
                    0.0
                }
            }
            UnaryOp::Sigmoid => sigmoid(x),
            UnaryOp::Tanh => x.tanh(),
            UnaryOp::Sqrt => x.sqrt(),
            UnaryOp::Square => x * x,
        }
    }

    /// The reference derivative `f'(x)`, given `x` and `y = f(x)` (whichever is cheaper).
    #[inline]
    pub fn derivative(self, x: f32, y: f32) -> f32 {
        match self {
            UnaryOp::Neg => -1.0,
            UnaryOp::Exp => y,
            UnaryOp::Log => 1.0 / x,
            UnaryOp::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            UnaryOp::Sigmoid => y * (1.0 - y),
            UnaryOp::Tanh => 1.0 - y * y,
            UnaryOp::Sqrt => 0.5 / y,
            UnaryOp::Square => 2.0 * x,
        }
    }

    /// WGSL expression of `f` in terms of an `f32` named `x`.
    pub fn wgsl(self) -> &'static str {
        match self {
            UnaryOp::Neg => "-x",
            UnaryOp::Exp => "exp(x)",
            UnaryOp::Log => "log(x)",
            UnaryOp::Relu => "select(0.0, x, x > 0.0)",
            UnaryOp::Sigmoid => "1.0 / (1.0 + exp(-x))",
            UnaryOp::Tanh => "tanh(x)",
            UnaryOp::Sqrt => "sqrt(x)",
            UnaryOp::Square => "x * x",
        }
    }

    /// WGSL expression of `f'` in terms of `x` and `y = f(x)`.
    pub fn wgsl_derivative(self) -> &'static str {
        match self {
            UnaryOp::Neg => "-1.0",
            UnaryOp::Exp => "y",
            UnaryOp::Log => "1.0 / x",
            UnaryOp::Relu => "select(0.0, 1.0, x > 0.0)",
            UnaryOp::Sigmoid => "y * (1.0 - y)",
            UnaryOp::Tanh => "1.0 - y * y",
            UnaryOp::Sqrt => "0.5 / y",
            UnaryOp::Square => "2.0 * x",
        }
    }

    /// How closely another backend must match the CPU. Bounds for the transcendental functions
    /// come from measurements of lavapipe/llvmpipe against Rust's `f32` functions.
    pub fn tolerance(self) -> Tolerance {
        match self {
            UnaryOp::Neg | UnaryOp::Relu | UnaryOp::Square => Tolerance::EXACT,
            UnaryOp::Exp | UnaryOp::Sigmoid => Tolerance::new(1e-6, 2e-6),
            UnaryOp::Log | UnaryOp::Tanh => Tolerance::new(1e-6, 2e-6),
            UnaryOp::Sqrt => Tolerance::new(0.0, 1e-6),
        }
    }
}

/// The logistic function, written so that it neither overflows nor loses precision for large
/// `|x|`.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Element-wise functions of two operands, with broadcasting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, VariantArray)]
pub enum BinaryOp {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b`
    Div,
}

impl BinaryOp {
    /// Every variant (derived by the compiler).
    pub const ALL: &'static [BinaryOp] = <BinaryOp as VariantArray>::VARIANTS;

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
        }
    }

    /// The reference value.
    #[inline]
    pub fn apply(self, a: f32, b: f32) -> f32 {
        match self {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
        }
    }

    /// WGSL expression in terms of `a` and `b`.
    pub fn wgsl(self) -> &'static str {
        match self {
            BinaryOp::Add => "a + b",
            BinaryOp::Sub => "a - b",
            BinaryOp::Mul => "a * b",
            BinaryOp::Div => "a / b",
        }
    }

    /// How closely another backend must match the CPU (IEEE-754 makes these exact, except that
    /// GPU division may be computed as `a * (1/b)`).
    pub fn tolerance(self) -> Tolerance {
        match self {
            BinaryOp::Div => Tolerance::new(0.0, 3e-7),
            _ => Tolerance::EXACT,
        }
    }
}

/// Element-wise functions of a tensor and a scalar `s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, VariantArray)]
pub enum ScalarOp {
    /// `x + s`
    Add,
    /// `x * s`
    Mul,
    /// `x ^ s`
    Pow,
}

impl ScalarOp {
    /// Every variant (derived by the compiler).
    pub const ALL: &'static [ScalarOp] = <ScalarOp as VariantArray>::VARIANTS;

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            ScalarOp::Add => "add_scalar",
            ScalarOp::Mul => "mul_scalar",
            ScalarOp::Pow => "pow_scalar",
        }
    }

    /// The reference value.
    #[inline]
    pub fn apply(self, x: f32, s: f32) -> f32 {
        match self {
            ScalarOp::Add => x + s,
            ScalarOp::Mul => x * s,
            ScalarOp::Pow => x.powf(s),
        }
    }

    /// WGSL expression in terms of `x` and `s`.
    pub fn wgsl(self) -> &'static str {
        match self {
            ScalarOp::Add => "x + s",
            ScalarOp::Mul => "x * s",
            ScalarOp::Pow => "pow(x, s)",
        }
    }

    /// How closely another backend must match the CPU.
    pub fn tolerance(self) -> Tolerance {
        match self {
            ScalarOp::Pow => Tolerance::new(1e-6, 4e-6),
            _ => Tolerance::EXACT,
        }
    }
}

/// Reductions along one axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, VariantArray)]
pub enum ReduceOp {
    /// Sum.
    Sum,
    /// Arithmetic mean.
    Mean,
    /// Maximum.
    Max,
}

impl ReduceOp {
    /// Every variant (derived by the compiler).
    pub const ALL: &'static [ReduceOp] = <ReduceOp as VariantArray>::VARIANTS;

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Mean => "mean",
            ReduceOp::Max => "max",
        }
    }

    /// How closely another backend must match the CPU; sums are compared with a bound that
    /// allows another summation order.
    pub fn tolerance(self) -> Tolerance {
        match self {
            ReduceOp::Max => Tolerance::EXACT,
            ReduceOp::Sum | ReduceOp::Mean => Tolerance::new(1e-5, 1e-5),
        }
    }
}

/// Sizes of a matrix product `op(A) · op(B)`, where `op` transposes when its flag is set.
///
/// `A` is stored as `[m, k]` (or `[k, m]` with `trans_a`), `B` as `[k, n]` (or `[n, k]` with
/// `trans_b`); the product is `[m, n]`. Backward passes need `AᵀB` and `ABᵀ`; the flags give them
/// without materialising a transpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MatmulDims {
    /// Rows of the product.
    pub m: usize,
    /// Inner dimension.
    pub k: usize,
    /// Columns of the product.
    pub n: usize,
    /// `A` is stored transposed (`[k, m]`).
    pub trans_a: bool,
    /// `B` is stored transposed (`[n, k]`).
    pub trans_b: bool,
}

impl MatmulDims {
    /// Floating-point operations of the product (`2·m·n·k`).
    pub fn flops(&self) -> u64 {
        2 * self.m as u64 * self.n as u64 * self.k as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_is_mixed_absolute_relative() {
        let t = Tolerance::new(1e-6, 1e-3);
        assert!(t.accepts(1000.0, 1000.9));
        assert!(!t.accepts(1000.0, 1002.0));
        assert!(t.accepts(0.0, 1e-7));
        assert!(!t.accepts(0.0, 1e-5));
        assert!(Tolerance::EXACT.accepts(f32::INFINITY, f32::INFINITY));
        assert!(Tolerance::EXACT.accepts(f32::NAN, f32::NAN));
        assert!(!Tolerance::EXACT.accepts(1.0, f32::NAN));
    }

    #[test]
    fn sigmoid_is_stable_at_extremes() {
        assert_eq!(sigmoid(1000.0), 1.0);
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert!((sigmoid(-100.0) - 3.72e-44).abs() < 1e-45);
    }

    #[test]
    fn relu_derivative_at_zero_is_zero() {
        assert_eq!(UnaryOp::Relu.derivative(0.0, 0.0), 0.0);
        assert_eq!(UnaryOp::Relu.derivative(1e-30, 1e-30), 1.0);
    }
}
