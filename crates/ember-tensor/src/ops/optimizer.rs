//! The fused optimizer update: one variant per torch.optim algorithm, each with its element
//! function (`SgdStep`, `AdamStep`, ...), the single definition every backend follows. Per-step
//! constants (bias corrections, NAdam's momentum schedule, RAdam's rectification) are computed
//! here in f64 and rounded once, so every backend receives the same constants.

/// One fused optimizer update of a parameter tensor, in place, as torch.optim documents it.
///
/// The state buffers a backend receives, in order, are listed on each variant; each has the
/// parameter's length. The optimizer crate owns them and passes them in every step. Every
/// variant has `maximize` (torch.optim's option): the gradient is negated first.
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
        /// Ascend instead of descend.
        maximize: bool,
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
        /// Ascend instead of descend.
        maximize: bool,
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
        /// Ascend instead of descend.
        maximize: bool,
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
        /// Ascend instead of descend.
        maximize: bool,
    },
    /// Adadelta. State: `[square_avg, acc_delta]`.
    Adadelta {
        /// Scale of the computed delta.
        lr: f32,
        /// Decay of the running averages.
        rho: f32,
        /// Added inside both square roots.
        eps: f32,
        /// L2 penalty added to the gradient.
        weight_decay: f32,
        /// Ascend instead of descend.
        maximize: bool,
    },
    /// Adamax (Adam with the infinity norm). State: `[exp_avg, exp_inf]`.
    Adamax {
        /// Learning rate.
        lr: f32,
        /// Decay of the first moment.
        beta1: f32,
        /// Decay of the infinity norm.
        beta2: f32,
        /// Added to the gradient's magnitude.
        eps: f32,
        /// L2 penalty added to the gradient.
        weight_decay: f32,
        /// Step number, starting at 1.
        step: u64,
        /// Ascend instead of descend.
        maximize: bool,
    },
    /// NAdam (Adam with Nesterov momentum and a momentum schedule). State:
    /// `[exp_avg, exp_avg_sq]`.
    NAdam {
        /// Learning rate.
        lr: f32,
        /// Decay of the first moment.
        beta1: f32,
        /// Decay of the second moment.
        beta2: f32,
        /// Added to the denominator.
        eps: f32,
        /// Weight decay: L2 added to the gradient, or decoupled as AdamW.
        weight_decay: f32,
        /// Decoupled (AdamW-style) weight decay.
        decoupled: bool,
        /// The momentum schedule's ψ (PyTorch's `momentum_decay`).
        momentum_decay: f32,
        /// Step number, starting at 1.
        step: u64,
        /// Ascend instead of descend.
        maximize: bool,
    },
    /// RAdam (Adam with the variance rectification). State: `[exp_avg, exp_avg_sq]`.
    RAdam {
        /// Learning rate.
        lr: f32,
        /// Decay of the first moment.
        beta1: f32,
        /// Decay of the second moment.
        beta2: f32,
        /// Added to the denominator.
        eps: f32,
        /// Weight decay: L2 added to the gradient, or decoupled as AdamW.
        weight_decay: f32,
        /// Decoupled (AdamW-style) weight decay.
        decoupled: bool,
        /// Step number, starting at 1.
        step: u64,
        /// Ascend instead of descend.
        maximize: bool,
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
            OptimizerUpdate::Adadelta { .. } => "adadelta",
            OptimizerUpdate::Adamax { .. } => "adamax",
            OptimizerUpdate::NAdam { .. } => "nadam",
            OptimizerUpdate::RAdam { .. } => "radam",
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
            OptimizerUpdate::Adadelta { .. }
            | OptimizerUpdate::Adamax { .. }
            | OptimizerUpdate::NAdam { .. }
            | OptimizerUpdate::RAdam { .. } => 2,
        }
    }

    /// The reference update of one element: `param`, its gradient and its state slots (in the
    /// order listed on the variant). Every backend computes exactly this; the CPU backend runs
    /// the same per-variant element functions ([`SgdStep`], [`AdamStep`], [`RmsPropStep`],
    /// [`AdagradStep`], [`AdadeltaStep`], [`AdamaxStep`], [`NAdamStep`], [`RAdamStep`]) in loops
    /// the compiler can vectorise.
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
            OptimizerUpdate::Adadelta { .. } => {
                if let [square_avg, acc_delta, ..] = state {
                    AdadeltaStep::new(self).apply(param, grad, square_avg, acc_delta);
                }
            }
            OptimizerUpdate::Adamax { .. } => {
                if let [m, u, ..] = state {
                    AdamaxStep::new(self).apply(param, grad, m, u);
                }
            }
            OptimizerUpdate::NAdam { .. } => {
                if let [m, v, ..] = state {
                    NAdamStep::new(self).apply(param, grad, m, v);
                }
            }
            OptimizerUpdate::RAdam { .. } => {
                if let [m, v, ..] = state {
                    RAdamStep::new(self).apply(param, grad, m, v);
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

/// The gradient as the update sees it: negated with `maximize`.
#[inline(always)]
fn signed(grad: f32, maximize: bool) -> f32 {
    if maximize { -grad } else { grad }
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
    maximize: bool,
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
                maximize,
            } => SgdStep {
                lr,
                momentum,
                one_minus_dampening: 1.0 - dampening,
                weight_decay,
                nesterov,
                first_step,
                maximize,
            },
            _ => SgdStep {
                lr: 0.0,
                momentum: 0.0,
                one_minus_dampening: 1.0,
                weight_decay: 0.0,
                nesterov: false,
                first_step: false,
                maximize: false,
            },
        }
    }

    /// `buf` is the momentum buffer (present when momentum != 0).
    #[inline(always)]
    pub fn apply(&self, param: &mut f32, grad: f32, buf: Option<&mut f32>) {
        let mut g = signed(grad, self.maximize);
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
    maximize: bool,
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
                maximize,
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
                    maximize,
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
                maximize: false,
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
        let mut g = signed(grad, self.maximize);
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
    maximize: bool,
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
                maximize,
                ..
            } => RmsPropStep {
                lr,
                alpha,
                one_minus_alpha: 1.0 - alpha,
                eps,
                weight_decay,
                momentum,
                maximize,
            },
            _ => RmsPropStep {
                lr: 0.0,
                alpha: 1.0,
                one_minus_alpha: 0.0,
                eps: 1.0,
                weight_decay: 0.0,
                momentum: 0.0,
                maximize: false,
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
        let mut g = signed(grad, self.maximize);
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
    maximize: bool,
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
                maximize,
            } => AdagradStep {
                clr: adagrad_decayed_lr(lr, lr_decay, step),
                weight_decay,
                eps,
                maximize,
            },
            _ => AdagradStep {
                clr: 0.0,
                weight_decay: 0.0,
                eps: 1.0,
                maximize: false,
            },
        }
    }

    /// `sum` is the running sum of squared gradients.
    #[inline(always)]
    pub fn apply(&self, param: &mut f32, grad: f32, sum: &mut f32) {
        let mut g = signed(grad, self.maximize);
        if self.weight_decay != 0.0 {
            g += self.weight_decay * *param;
        }
        *sum += g * g;
        let std = sum.sqrt() + self.eps;
        *param -= self.clr * (g / std);
    }
}

/// Adadelta's element update with its constants hoisted.
#[derive(Debug, Clone, Copy)]
pub struct AdadeltaStep {
    lr: f32,
    rho: f32,
    one_minus_rho: f32,
    eps: f32,
    weight_decay: f32,
    maximize: bool,
}

impl AdadeltaStep {
    /// Constants of an [`OptimizerUpdate::Adadelta`] (other variants give a no-op step).
    pub fn new(update: &OptimizerUpdate) -> Self {
        match *update {
            OptimizerUpdate::Adadelta {
                lr,
                rho,
                eps,
                weight_decay,
                maximize,
            } => AdadeltaStep {
                lr,
                rho,
                one_minus_rho: 1.0 - rho,
                eps,
                weight_decay,
                maximize,
            },
            _ => AdadeltaStep {
                lr: 0.0,
                rho: 1.0,
                one_minus_rho: 0.0,
                eps: 1.0,
                weight_decay: 0.0,
                maximize: false,
            },
        }
    }

    /// `square_avg` is the running mean of squared gradients, `acc_delta` of squared deltas.
    #[inline(always)]
    pub fn apply(&self, param: &mut f32, grad: f32, square_avg: &mut f32, acc_delta: &mut f32) {
        let mut g = signed(grad, self.maximize);
        if self.weight_decay != 0.0 {
            g += self.weight_decay * *param;
        }
        *square_avg = flush_subnormal(*square_avg * self.rho + self.one_minus_rho * g * g);
        let std = (*square_avg + self.eps).sqrt();
        let delta = (*acc_delta + self.eps).sqrt() / std * g;
        *acc_delta = flush_subnormal(*acc_delta * self.rho + self.one_minus_rho * delta * delta);
        *param -= self.lr * delta;
    }
}

/// Adamax's element update with its constants hoisted.
#[derive(Debug, Clone, Copy)]
pub struct AdamaxStep {
    beta2: f32,
    one_minus_beta1: f32,
    eps: f32,
    weight_decay: f32,
    /// `-(lr / (1 - β1^t))`.
    step_size: f32,
    maximize: bool,
}

impl AdamaxStep {
    /// Constants of an [`OptimizerUpdate::Adamax`] (other variants give a no-op step).
    pub fn new(update: &OptimizerUpdate) -> Self {
        match *update {
            OptimizerUpdate::Adamax {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
                step,
                maximize,
            } => AdamaxStep {
                beta2,
                one_minus_beta1: 1.0 - beta1,
                eps,
                weight_decay,
                step_size: -(lr / adam_bias_corrections(beta1, beta2, step).0),
                maximize,
            },
            _ => AdamaxStep {
                beta2: 1.0,
                one_minus_beta1: 0.0,
                eps: 1.0,
                weight_decay: 0.0,
                step_size: 0.0,
                maximize: false,
            },
        }
    }

    /// `m` is the first moment, `u` the exponentially weighted infinity norm.
    #[inline(always)]
    pub fn apply(&self, param: &mut f32, grad: f32, m: &mut f32, u: &mut f32) {
        let mut g = signed(grad, self.maximize);
        if self.weight_decay != 0.0 {
            g += self.weight_decay * *param;
        }
        *m = flush_subnormal(*m + (g - *m) * self.one_minus_beta1);
        let decayed = *u * self.beta2;
        let magnitude = g.abs() + self.eps;
        // Written out (not `f32::max`) so a NaN gradient propagates on every backend alike.
        *u = flush_subnormal(if decayed > magnitude {
            decayed
        } else {
            magnitude
        });
        *param += self.step_size * (*m / *u);
    }
}

/// NAdam's element update with its constants hoisted.
#[derive(Debug, Clone, Copy)]
pub struct NAdamStep {
    moments: AdamMoments,
    eps: f32,
    decay: WeightDecay,
    bias2: f32,
    coefficients: NAdamCoefficients,
    maximize: bool,
}

impl NAdamStep {
    /// Constants of an [`OptimizerUpdate::NAdam`] (other variants give a no-op step).
    pub fn new(update: &OptimizerUpdate) -> Self {
        match *update {
            OptimizerUpdate::NAdam {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
                decoupled,
                momentum_decay,
                step,
                maximize,
            } => NAdamStep {
                moments: AdamMoments::new(beta1, beta2),
                eps,
                decay: WeightDecay::new(lr, weight_decay, decoupled),
                bias2: bias_correction(beta2, step),
                coefficients: nadam_coefficients(lr, beta1, momentum_decay, step),
                maximize,
            },
            _ => NAdamStep {
                moments: AdamMoments::new(1.0, 1.0),
                eps: 1.0,
                decay: WeightDecay::new(0.0, 0.0, false),
                bias2: 1.0,
                coefficients: NAdamCoefficients {
                    grad: 0.0,
                    exp_avg: 0.0,
                },
                maximize: false,
            },
        }
    }

    /// `m`, `v` are the moments.
    #[inline(always)]
    pub fn apply(&self, param: &mut f32, grad: f32, m: &mut f32, v: &mut f32) {
        let g = self.decay.apply(param, signed(grad, self.maximize));
        self.moments.update(g, m, v);
        let denom = (*v / self.bias2).sqrt() + self.eps;
        *param += self.coefficients.grad * (g / denom);
        *param += self.coefficients.exp_avg * (*m / denom);
    }
}

/// RAdam's element update with its constants hoisted.
#[derive(Debug, Clone, Copy)]
pub struct RAdamStep {
    lr: f32,
    moments: AdamMoments,
    eps: f32,
    decay: WeightDecay,
    bias1: f32,
    bias2_sqrt: f32,
    rectification: Option<f32>,
    maximize: bool,
}

impl RAdamStep {
    /// Constants of an [`OptimizerUpdate::RAdam`] (other variants give a no-op step).
    pub fn new(update: &OptimizerUpdate) -> Self {
        match *update {
            OptimizerUpdate::RAdam {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
                decoupled,
                step,
                maximize,
            } => {
                let (bias1, bias2_sqrt) = adam_bias_corrections(beta1, beta2, step);
                RAdamStep {
                    lr,
                    moments: AdamMoments::new(beta1, beta2),
                    eps,
                    decay: WeightDecay::new(lr, weight_decay, decoupled),
                    bias1,
                    bias2_sqrt,
                    rectification: radam_rectification(beta2, step),
                    maximize,
                }
            }
            _ => RAdamStep {
                lr: 0.0,
                moments: AdamMoments::new(1.0, 1.0),
                eps: 1.0,
                decay: WeightDecay::new(0.0, 0.0, false),
                bias1: 1.0,
                bias2_sqrt: 1.0,
                rectification: None,
                maximize: false,
            },
        }
    }

    /// `m`, `v` are the moments.
    #[inline(always)]
    pub fn apply(&self, param: &mut f32, grad: f32, m: &mut f32, v: &mut f32) {
        let g = self.decay.apply(param, signed(grad, self.maximize));
        self.moments.update(g, m, v);
        let m_hat = *m / self.bias1;
        match self.rectification {
            Some(r) => {
                let adaptive = self.bias2_sqrt / (v.sqrt() + self.eps);
                *param -= m_hat * self.lr * adaptive * r;
            }
            None => *param -= m_hat * self.lr,
        }
    }
}

/// Weight decay as NAdam and RAdam apply it: L2 added to the gradient, or decoupled
/// (`p ← p·(1 - lr·wd)`, AdamW's).
#[derive(Debug, Clone, Copy)]
struct WeightDecay {
    weight_decay: f32,
    decoupled: bool,
    decay_factor: f32,
}

impl WeightDecay {
    fn new(lr: f32, weight_decay: f32, decoupled: bool) -> Self {
        WeightDecay {
            weight_decay,
            decoupled,
            decay_factor: 1.0 - lr * weight_decay,
        }
    }

    /// Decays `param` (decoupled) or returns the gradient with the L2 term.
    #[inline(always)]
    fn apply(&self, param: &mut f32, g: f32) -> f32 {
        if self.weight_decay == 0.0 {
            g
        } else if self.decoupled {
            *param *= self.decay_factor;
            g
        } else {
            g + self.weight_decay * *param
        }
    }
}

/// The Adam family's running moments: `m ← lerp(m, g, 1 - β1)`, `v ← β2·v + (1 - β2)·g²`,
/// subnormals flushed.
#[derive(Debug, Clone, Copy)]
struct AdamMoments {
    beta2: f32,
    one_minus_beta1: f32,
    one_minus_beta2: f32,
}

impl AdamMoments {
    fn new(beta1: f32, beta2: f32) -> Self {
        AdamMoments {
            beta2,
            one_minus_beta1: 1.0 - beta1,
            one_minus_beta2: 1.0 - beta2,
        }
    }

    #[inline(always)]
    fn update(&self, g: f32, m: &mut f32, v: &mut f32) {
        *m = flush_subnormal(*m + (g - *m) * self.one_minus_beta1);
        *v = flush_subnormal(*v * self.beta2 + self.one_minus_beta2 * g * g);
    }
}

/// Adam's bias corrections for `step`: `1 - β1^t` and `sqrt(1 - β2^t)`, computed in f64 and
/// rounded once so every backend receives the same constants.
pub fn adam_bias_corrections(beta1: f32, beta2: f32, step: u64) -> (f32, f32) {
    let b1 = bias_correction_f64(beta1, step);
    let b2 = bias_correction_f64(beta2, step);
    (b1 as f32, b2.sqrt() as f32)
}

/// `1 - β^t` in f64.
fn bias_correction_f64(beta: f32, step: u64) -> f64 {
    let t = step.min(i32::MAX as u64) as i32;
    1.0 - (beta as f64).powi(t)
}

/// `1 - β^t`, computed in f64 and rounded once.
pub fn bias_correction(beta: f32, step: u64) -> f32 {
    bias_correction_f64(beta, step) as f32
}

/// Adagrad's learning rate at `step`: `lr / (1 + (t - 1)·lr_decay)`.
pub fn adagrad_decayed_lr(lr: f32, lr_decay: f32, step: u64) -> f32 {
    lr / (1.0 + (step.saturating_sub(1)) as f32 * lr_decay)
}

/// The two step sizes of NAdam's update at step `t`: of the gradient,
/// `-lr·(1 - μ_t) / (1 - Π_{i≤t} μ_i)`, and of the first moment,
/// `-lr·μ_{t+1} / (1 - Π_{i≤t+1} μ_i)`, with `μ_i = β1·(1 - ½·0.96^(i·ψ))`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NAdamCoefficients {
    /// Multiplies `g / denom`.
    pub grad: f32,
    /// Multiplies `exp_avg / denom`.
    pub exp_avg: f32,
}

/// NAdam's step sizes for `step` (computed in f64, rounded once). The product of the μ is
/// recomputed from the step count with the current β1, so it needs no saved state (PyTorch keeps
/// it per parameter; the two agree while β1 stays fixed).
pub fn nadam_coefficients(
    lr: f32,
    beta1: f32,
    momentum_decay: f32,
    step: u64,
) -> NAdamCoefficients {
    let (beta1, psi, lr) = (beta1 as f64, momentum_decay as f64, lr as f64);
    let mu = |i: u64| beta1 * (1.0 - 0.5 * 0.96f64.powf(i as f64 * psi));
    let mut product = 1.0f64;
    for i in 1..=step {
        product *= mu(i);
        // Beyond this the product no longer changes `1 - product` in f64.
        if product < 1e-20 {
            product = 0.0;
            break;
        }
    }
    let (mu_t, mu_next) = (mu(step), mu(step + 1));
    NAdamCoefficients {
        grad: (-lr * (1.0 - mu_t) / (1.0 - product)) as f32,
        exp_avg: (-lr * mu_next / (1.0 - product * mu_next)) as f32,
    }
}

/// RAdam's rectification term `r_t` at `step`, or `None` while the variance is intractable
/// (`ρ_t ≤ 5`, where PyTorch takes an un-adapted momentum step). Computed in f64, rounded once.
pub fn radam_rectification(beta2: f32, step: u64) -> Option<f32> {
    let beta2 = beta2 as f64;
    let t = step.min(i32::MAX as u64) as i32;
    let beta2_t = beta2.powi(t);
    let rho_inf = 2.0 / (1.0 - beta2) - 1.0;
    let rho_t = rho_inf - 2.0 * step as f64 * beta2_t / (1.0 - beta2_t);
    (rho_t > 5.0).then(|| {
        (((rho_t - 4.0) * (rho_t - 2.0) * rho_inf) / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
            .sqrt() as f32
    })
}
