//! The primitive operations every backend implements, as data.
//!
//! Each enum variant carries its reference semantics (the scalar function the CPU backend
//! applies, which every other backend is compared against), the WGSL expression a GPU backend
//! splices into its kernels, and the tolerance within which another backend must agree with the
//! CPU. Adding a variant makes the compiler point at every place that must handle it.
//!
//! Larger ops live one file each beside this one — parameters, shape checks, the `Tensor`
//! method, a family trait whose default bodies are built from the backend's primitives, and
//! the op's conformance cases: [`conv2d`], [`max_pool2d`], [`avg_pool2d`], [`dropout`] (whose
//! family has no default body: its counter-based draw is a primitive). The primitives they
//! build on: [`layout`] (reshape, and the strided copy behind permute/narrow/expand) and
//! [`unfold`] (im2col, col2im, scatter), over the sliding [`window`] they share.

use strum::VariantArray;

pub mod avg_pool2d;
pub mod conv2d;
pub mod dropout;
pub mod layout;
pub mod max_pool2d;
pub mod unfold;
pub mod window;

pub use avg_pool2d::AvgPool2dOp;
pub use conv2d::{Conv2dGradients, Conv2dOp};
pub use dropout::{DropoutMask, DropoutOp};
pub use layout::StridedView;
pub use max_pool2d::MaxPool2dOp;
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

/// One fused optimizer update of a parameter tensor, in place, as torch.optim documents it.
///
/// The state buffers a backend receives, in order, are listed on each variant; each has the
/// parameter's length. The optimizer crate owns them and passes them in every step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerUpdate {
    /// SGD. State: `[momentum_buffer]` when `momentum != 0`, else none.
    Sgd {
        /// Learning rate.
        lr: f32,
        /// Momentum factor.
        momentum: f32,
        /// Dampening for momentum.
        dampening: f32,
        /// L2 penalty added to the gradient.
        weight_decay: f32,
        /// Nesterov momentum.
        nesterov: bool,
        /// True on the first step: the momentum buffer is set to the gradient, as in PyTorch.
        first_step: bool,
    },
    /// Adam and AdamW. State: `[exp_avg, exp_avg_sq]`, plus `max_exp_avg_sq` with `amsgrad`.
    Adam {
        /// Learning rate.
        lr: f32,
        /// Decay of the first moment.
        beta1: f32,
        /// Decay of the second moment.
        beta2: f32,
        /// Added to the denominator.
        eps: f32,
        /// Weight decay: L2 added to the gradient (Adam) or decoupled (AdamW).
        weight_decay: f32,
        /// AdamW's decoupled weight decay.
        decoupled: bool,
        /// Keep the running maximum of the second moment.
        amsgrad: bool,
        /// Step number, starting at 1.
        step: u64,
    },
    /// RMSprop. State: `[square_avg]`, then `momentum_buffer` if `momentum != 0`, then
    /// `grad_avg` if `centered`.
    RmsProp {
        /// Learning rate.
        lr: f32,
        /// Smoothing constant.
        alpha: f32,
        /// Added to the denominator.
        eps: f32,
        /// L2 penalty added to the gradient.
        weight_decay: f32,
        /// Momentum factor.
        momentum: f32,
        /// Normalise by the variance estimate instead of the raw second moment.
        centered: bool,
    },
    /// Adagrad. State: `[sum]`.
    Adagrad {
        /// Learning rate.
        lr: f32,
        /// Learning-rate decay.
        lr_decay: f32,
        /// L2 penalty added to the gradient.
        weight_decay: f32,
        /// Added to the denominator.
        eps: f32,
        /// Step number, starting at 1.
        step: u64,
    },
}

impl OptimizerUpdate {
    /// Name of the algorithm.
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerUpdate::Sgd { .. } => "sgd",
            OptimizerUpdate::Adam {
                decoupled: false, ..
            } => "adam",
            OptimizerUpdate::Adam {
                decoupled: true, ..
            } => "adamw",
            OptimizerUpdate::RmsProp { .. } => "rmsprop",
            OptimizerUpdate::Adagrad { .. } => "adagrad",
        }
    }

    /// How many state buffers this update reads and writes.
    pub fn state_len(&self) -> usize {
        match *self {
            OptimizerUpdate::Sgd { momentum, .. } => usize::from(momentum != 0.0),
            OptimizerUpdate::Adam { amsgrad, .. } => 2 + usize::from(amsgrad),
            OptimizerUpdate::RmsProp {
                momentum, centered, ..
            } => 1 + usize::from(momentum != 0.0) + usize::from(centered),
            OptimizerUpdate::Adagrad { .. } => 1,
        }
    }

    /// The reference update of one element: `param`, its gradient and its state slots (in the
    /// order listed on the variant). Every backend computes exactly this; the CPU backend runs
    /// the same per-variant element functions ([`SgdStep`], [`AdamStep`], [`RmsPropStep`],
    /// [`AdagradStep`]) in loops the compiler can vectorise.
    #[inline]
    pub fn apply(&self, param: &mut f32, grad: f32, state: &mut [f32]) {
        match *self {
            OptimizerUpdate::Sgd { .. } => {
                let k = SgdStep::new(self);
                match state {
                    [buf, ..] => k.apply(param, grad, Some(buf)),
                    [] => k.apply(param, grad, None),
                }
            }
            OptimizerUpdate::Adam { .. } => {
                let k = AdamStep::new(self);
                if let [m, v, rest @ ..] = state {
                    k.apply(param, grad, m, v, rest.first_mut());
                }
            }
            OptimizerUpdate::RmsProp { momentum, .. } => {
                let k = RmsPropStep::new(self);
                let (square_avg, rest) = state.split_at_mut(1);
                let (buf, rest) = if momentum != 0.0 {
                    let (b, r) = rest.split_at_mut(1);
                    (b.first_mut(), r)
                } else {
                    (None, rest)
                };
                k.apply(param, grad, &mut square_avg[0], buf, rest.first_mut());
            }
            OptimizerUpdate::Adagrad { .. } => {
                if let [sum, ..] = state {
                    AdagradStep::new(self).apply(param, grad, sum);
                }
            }
        }
    }
}

/// Flushes a subnormal to zero. Optimizer state that decays towards zero (Adam's moments of a
/// parameter whose gradient stays 0, such as weights of always-blank pixels) would otherwise
/// become subnormal, which is many times slower on CPUs, for no effect on the parameters: a
/// subnormal moment moves a parameter by less than 1e-30.
#[inline(always)]
pub fn flush_subnormal(x: f32) -> f32 {
    if x.abs() < f32::MIN_POSITIVE { 0.0 } else { x }
}

/// SGD's element update with its constants hoisted.
#[derive(Debug, Clone, Copy)]
pub struct SgdStep {
    lr: f32,
    momentum: f32,
    one_minus_dampening: f32,
    weight_decay: f32,
    nesterov: bool,
    first_step: bool,
}

impl SgdStep {
    /// Constants of an [`OptimizerUpdate::Sgd`] (other variants give a no-op step).
    pub fn new(update: &OptimizerUpdate) -> Self {
        match *update {
            OptimizerUpdate::Sgd {
                lr,
                momentum,
                dampening,
                weight_decay,
                nesterov,
                first_step,
            } => SgdStep {
                lr,
                momentum,
                one_minus_dampening: 1.0 - dampening,
                weight_decay,
                nesterov,
                first_step,
            },
            _ => SgdStep {
                lr: 0.0,
                momentum: 0.0,
                one_minus_dampening: 1.0,
                weight_decay: 0.0,
                nesterov: false,
                first_step: false,
            },
        }
    }

    /// `buf` is the momentum buffer (present when momentum != 0).
    #[inline(always)]
    pub fn apply(&self, param: &mut f32, grad: f32, buf: Option<&mut f32>) {
        let mut g = grad;
        if self.weight_decay != 0.0 {
            g += self.weight_decay * *param;
        }
        if let Some(buf) = buf {
            *buf = if self.first_step {
                g
            } else {
                *buf * self.momentum + self.one_minus_dampening * g
            };
            g = if self.nesterov {
                g + self.momentum * *buf
            } else {
                *buf
            };
        }
        *param -= self.lr * g;
    }
}

/// Adam's (and AdamW's) element update with its constants hoisted.
#[derive(Debug, Clone, Copy)]
pub struct AdamStep {
    lr: f32,
    beta2: f32,
    one_minus_beta1: f32,
    one_minus_beta2: f32,
    eps: f32,
    weight_decay: f32,
    decoupled: bool,
    step_size: f32,
    bias2_sqrt: f32,
}

impl AdamStep {
    /// Constants of an [`OptimizerUpdate::Adam`] (other variants give a no-op step).
    pub fn new(update: &OptimizerUpdate) -> Self {
        match *update {
            OptimizerUpdate::Adam {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
                decoupled,
                step,
                ..
            } => {
                let (bias1, bias2_sqrt) = adam_bias_corrections(beta1, beta2, step);
                AdamStep {
                    lr,
                    beta2,
                    one_minus_beta1: 1.0 - beta1,
                    one_minus_beta2: 1.0 - beta2,
                    eps,
                    weight_decay,
                    decoupled,
                    step_size: lr / bias1,
                    bias2_sqrt,
                }
            }
            _ => AdamStep {
                lr: 0.0,
                beta2: 1.0,
                one_minus_beta1: 0.0,
                one_minus_beta2: 0.0,
                eps: 1.0,
                weight_decay: 0.0,
                decoupled: false,
                step_size: 0.0,
                bias2_sqrt: 1.0,
            },
        }
    }

    /// `m`, `v` are the moments; `vmax` the running maximum with AMSGrad.
    #[inline(always)]
    pub fn apply(
        &self,
        param: &mut f32,
        grad: f32,
        m: &mut f32,
        v: &mut f32,
        vmax: Option<&mut f32>,
    ) {
        let mut g = grad;
        if self.weight_decay != 0.0 {
            if self.decoupled {
                *param *= 1.0 - self.lr * self.weight_decay;
            } else {
                g += self.weight_decay * *param;
            }
        }
        *m = flush_subnormal(*m + (g - *m) * self.one_minus_beta1);
        *v = flush_subnormal(*v * self.beta2 + self.one_minus_beta2 * g * g);
        let second = match vmax {
            Some(vmax) => {
                *vmax = vmax.max(*v);
                *vmax
            }
            None => *v,
        };
        let denom = second.sqrt() / self.bias2_sqrt + self.eps;
        *param += -self.step_size * (*m / denom);
    }
}

/// RMSprop's element update with its constants hoisted.
#[derive(Debug, Clone, Copy)]
pub struct RmsPropStep {
    lr: f32,
    alpha: f32,
    one_minus_alpha: f32,
    eps: f32,
    weight_decay: f32,
    momentum: f32,
}

impl RmsPropStep {
    /// Constants of an [`OptimizerUpdate::RmsProp`] (other variants give a no-op step).
    pub fn new(update: &OptimizerUpdate) -> Self {
        match *update {
            OptimizerUpdate::RmsProp {
                lr,
                alpha,
                eps,
                weight_decay,
                momentum,
                ..
            } => RmsPropStep {
                lr,
                alpha,
                one_minus_alpha: 1.0 - alpha,
                eps,
                weight_decay,
                momentum,
            },
            _ => RmsPropStep {
                lr: 0.0,
                alpha: 1.0,
                one_minus_alpha: 0.0,
                eps: 1.0,
                weight_decay: 0.0,
                momentum: 0.0,
            },
        }
    }

    /// `buf` is the momentum buffer, `grad_avg` the centered variant's mean gradient.
    #[inline(always)]
    pub fn apply(
        &self,
        param: &mut f32,
        grad: f32,
        square_avg: &mut f32,
        buf: Option<&mut f32>,
        grad_avg: Option<&mut f32>,
    ) {
        let mut g = grad;
        if self.weight_decay != 0.0 {
            g += self.weight_decay * *param;
        }
        *square_avg = flush_subnormal(*square_avg * self.alpha + self.one_minus_alpha * g * g);
        let avg = match grad_avg {
            Some(grad_avg) => {
                *grad_avg = flush_subnormal(*grad_avg + (g - *grad_avg) * self.one_minus_alpha);
                (*square_avg - *grad_avg * *grad_avg).sqrt() + self.eps
            }
            None => square_avg.sqrt() + self.eps,
        };
        match buf {
            Some(buf) => {
                *buf = *buf * self.momentum + g / avg;
                *param -= self.lr * *buf;
            }
            None => *param -= self.lr * (g / avg),
        }
    }
}

/// Adagrad's element update with its constants hoisted.
#[derive(Debug, Clone, Copy)]
pub struct AdagradStep {
    clr: f32,
    weight_decay: f32,
    eps: f32,
}

impl AdagradStep {
    /// Constants of an [`OptimizerUpdate::Adagrad`] (other variants give a no-op step).
    pub fn new(update: &OptimizerUpdate) -> Self {
        match *update {
            OptimizerUpdate::Adagrad {
                lr,
                lr_decay,
                weight_decay,
                eps,
                step,
            } => AdagradStep {
                clr: lr / (1.0 + (step.saturating_sub(1)) as f32 * lr_decay),
                weight_decay,
                eps,
            },
            _ => AdagradStep {
                clr: 0.0,
                weight_decay: 0.0,
                eps: 1.0,
            },
        }
    }

    /// `sum` is the running sum of squared gradients.
    #[inline(always)]
    pub fn apply(&self, param: &mut f32, grad: f32, sum: &mut f32) {
        let mut g = grad;
        if self.weight_decay != 0.0 {
            g += self.weight_decay * *param;
        }
        *sum += g * g;
        let std = sum.sqrt() + self.eps;
        *param -= self.clr * (g / std);
    }
}

/// Adam's bias corrections for `step`: `1 - β1^t` and `sqrt(1 - β2^t)`, computed in f64 and
/// rounded once so every backend receives the same constants.
pub fn adam_bias_corrections(beta1: f32, beta2: f32, step: u64) -> (f32, f32) {
    let t = step.min(i32::MAX as u64) as i32;
    let b1 = 1.0 - (beta1 as f64).powi(t);
    let b2 = 1.0 - (beta2 as f64).powi(t);
    (b1 as f32, b2.sqrt() as f32)
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
