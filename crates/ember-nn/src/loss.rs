//! Losses: cross-entropy over logits (softmax inside) and mean squared error.

use ember_autodiff::Var;
use ember_tensor::{Backend, Tensor};

use crate::Result;

/// How per-sample losses are combined.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Reduction {
    /// The mean over samples (PyTorch's default).
    #[default]
    Mean,
    /// The sum over samples.
    Sum,
    /// One loss per sample.
    None,
}

fn reduce<B: Backend>(losses: Var<B>, reduction: Reduction) -> Result<Var<B>> {
    Ok(match reduction {
        Reduction::Mean => losses.mean_all()?,
        Reduction::Sum => losses.sum_all()?,
        Reduction::None => losses,
    })
}

/// Cross-entropy of logits `[N, C]` against class indices `[N]` (stored as `f32`), with the
/// softmax computed inside by the fused, stable softmax-cross-entropy op — as PyTorch's
/// `nn.CrossEntropyLoss`, so the model's last layer has no activation.
///
/// ```
/// use ember_autodiff::Var;
/// use ember_nn::CrossEntropyLoss;
/// use ember_cpu::Cpu;
/// use ember_tensor::Tensor;
///
/// let logits = Var::parameter(Tensor::from_vec(vec![1000.0, -1000.0, 0.0, 0.0], [2, 2], &Cpu)?);
/// let labels = Tensor::from_vec(vec![0.0, 1.0], [2], &Cpu)?;
/// let loss = CrossEntropyLoss::default().forward(&logits, &labels)?;
/// assert!((loss.value().to_scalar()? - std::f32::consts::LN_2 / 2.0).abs() < 1e-6);
/// # Ok::<(), ember_nn::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CrossEntropyLoss {
    /// How per-sample losses are combined.
    pub reduction: Reduction,
}

impl CrossEntropyLoss {
    /// With the given reduction.
    pub fn new(reduction: Reduction) -> Self {
        CrossEntropyLoss { reduction }
    }

    /// The loss of `logits` against `labels`.
    pub fn forward<B: Backend>(&self, logits: &Var<B>, labels: &Tensor<B>) -> Result<Var<B>> {
        reduce(logits.softmax_cross_entropy(labels)?, self.reduction)
    }
}

/// Mean squared error `(prediction - target)²`, as PyTorch's `nn.MSELoss`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MSELoss {
    /// How per-element losses are combined.
    pub reduction: Reduction,
}

impl MSELoss {
    /// With the given reduction.
    pub fn new(reduction: Reduction) -> Self {
        MSELoss { reduction }
    }

    /// The loss of `prediction` against `target` (same shape, or broadcastable).
    pub fn forward<B: Backend>(&self, prediction: &Var<B>, target: &Var<B>) -> Result<Var<B>> {
        reduce(prediction.sub(target)?.square()?, self.reduction)
    }
}
