//! Batch normalisation, forward and backward side by side, composed from backend ops (channel
//! sums, broadcasting arithmetic, `sqrt`), so it runs on every backend. One recorded op instead
//! of the dozen a composition of `Var` ops would record: backward saves only `x̂` and `1/σ`.

use ember_tensor::{Backend, Tensor};

use crate::Result;
use crate::var::Var;

/// Which statistics normalise the input.
#[derive(Debug, Clone, Copy)]
pub enum BatchNormStatistics<'a, B: Backend> {
    /// The batch's own mean and biased variance, per channel (training mode); the gradient
    /// flows through them.
    Batch,
    /// Given per-channel mean and variance (`[C]`, e.g. running statistics in evaluation mode);
    /// constants for the gradient.
    Given {
        /// Mean per channel.
        mean: &'a Tensor<B>,
        /// Variance per channel.
        var: &'a Tensor<B>,
    },
}

/// What [`Var::batch_norm`] returns: the normalised output and the statistics it used.
#[derive(Debug, Clone)]
pub struct BatchNormOutput<B: Backend> {
    /// `(x - mean) / sqrt(var + eps) · weight + bias`, the input's shape.
    pub output: Var<B>,
    /// Mean per channel (`[C]`).
    pub mean: Tensor<B>,
    /// Variance per channel (`[C]`): the biased (divide-by-`n`) variance of the batch, or the
    /// given one.
    pub var: Tensor<B>,
    /// Values per channel in the batch (`N` times the spatial size), for an unbiased variance.
    pub count: usize,
}

/// The layout the op computes in: `[N, C]` against per-channel `[C]` rows when there is no
/// spatial extent (BatchNorm1d on `[N, C]`: the backends' fast row broadcast), else
/// `[N, C, S]` against `[1, C, 1]`.
struct Layout {
    values: Vec<usize>,
    per_channel: Vec<usize>,
}

impl Layout {
    fn new(n: usize, c: usize, spatial: usize) -> Self {
        if spatial == 1 {
            Layout {
                values: vec![n, c],
                per_channel: vec![c],
            }
        } else {
            Layout {
                values: vec![n, c, spatial],
                per_channel: vec![1, c, 1],
            }
        }
    }
}

/// `t` (`[N, C]` or `[N, C, S]`) summed over all but `C`, in the per-channel shape.
fn channel_sum<B: Backend>(t: &Tensor<B>) -> ember_tensor::Result<Tensor<B>> {
    match t.dims().len() {
        2 => t.sum_axis(0, false),
        _ => t.sum_axis(2, true)?.sum_axis(0, true),
    }
}

impl<B: Backend> Var<B> {
    /// Batch normalisation of `[N, C, ...]` over every axis but the channel axis 1, as
    /// `torch.nn.functional.batch_norm`: `y = (x - mean) / sqrt(var + eps) · weight + bias`,
    /// with `weight` and `bias` of shape `[C]` (absent: 1 and 0).
    ///
    /// Gradients, with `x̂ = (x - mean)/σ`, `g` the output gradient and sums over all but `C`:
    /// `dbias = Σg`, `dweight = Σ g·x̂`; `dx = weight/σ · (g - Σg/n - x̂·Σ(g·x̂)/n)` with batch
    /// statistics, `dx = weight/σ · g` with given ones.
    ///
    /// An input of rank below 2 is [`ember_tensor::Error::WrongRank`]; statistics, weight or
    /// bias without `C` values fail their reshape. A layer checks shapes first, to name itself
    /// in the message; a batch statistic over one value per channel gives a zero variance, not
    /// an error.
    pub fn batch_norm(
        &self,
        statistics: BatchNormStatistics<'_, B>,
        weight: Option<&Var<B>>,
        bias: Option<&Var<B>>,
        eps: f32,
    ) -> Result<BatchNormOutput<B>> {
        let x = self.value();
        let dims = x.dims().to_vec();
        let &[n, c, ..] = dims.as_slice() else {
            return Err(ember_tensor::Error::WrongRank {
                op: "batch_norm",
                expected: "a tensor of shape [N, C, ...]",
                shape: x.shape().clone(),
            }
            .into());
        };
        let spatial: usize = dims[2..].iter().product();
        let count = n * spatial;
        let layout = Layout::new(n, c, spatial);
        let per_channel = layout.per_channel.clone();
        let x3 = x.reshape(layout.values.clone())?;
        let (mean, var, centred, batch_statistics) = match statistics {
            BatchNormStatistics::Batch => {
                let scale = 1.0 / count as f32;
                let mean = channel_sum(&x3)?.mul_scalar(scale)?;
                let centred = x3.sub(&mean)?;
                let var = channel_sum(&centred.square()?)?.mul_scalar(scale)?;
                (mean, var, centred, true)
            }
            BatchNormStatistics::Given { mean, var } => {
                let mean = mean.reshape(per_channel.clone())?;
                let centred = x3.sub(&mean)?;
                (mean, var.reshape(per_channel.clone())?, centred, false)
            }
        };
        let inv_std = Tensor::scalar(1.0, x.backend())?.div(&var.add_scalar(eps)?.sqrt()?)?;
        let x_hat = centred.mul(&inv_std)?;
        let w = weight
            .map(|w| w.value().reshape(per_channel.clone()))
            .transpose()?;
        let b = bias.map(|b| b.value().reshape(per_channel)).transpose()?;
        let mut y = match &w {
            Some(w) => x_hat.mul(w)?,
            None => x_hat.clone(),
        };
        if let Some(b) = &b {
            y = y.add(b)?;
        }
        let y = y.reshape(dims.clone())?;

        let wants_input = self.requires_grad();
        let wants_weight = weight.is_some_and(Var::requires_grad);
        let wants_bias = bias.is_some_and(Var::requires_grad);
        let (has_weight, has_bias) = (weight.is_some(), bias.is_some());
        let mut inputs = vec![self];
        inputs.extend(weight);
        inputs.extend(bias);
        let output = Var::from_op(y, "batch_norm", &inputs, move |g| {
            let g3 = g.reshape(layout.values.clone())?;
            let needs_sums = wants_weight || (wants_input && batch_statistics);
            let sum_g = if wants_bias || (wants_input && batch_statistics) {
                Some(channel_sum(&g3)?)
            } else {
                None
            };
            let sum_g_x_hat = if needs_sums {
                Some(channel_sum(&g3.mul(&x_hat)?)?)
            } else {
                None
            };
            let grad_input = if wants_input {
                let scale = match &w {
                    Some(w) => inv_std.mul(w)?,
                    None => inv_std.clone(),
                };
                let centred = match (&sum_g, &sum_g_x_hat, batch_statistics) {
                    (Some(sum_g), Some(sum_g_x_hat), true) => {
                        let mean_g = sum_g.mul_scalar(1.0 / count as f32)?;
                        let mean_g_x_hat = sum_g_x_hat.mul_scalar(1.0 / count as f32)?;
                        g3.sub(&mean_g)?.sub(&x_hat.mul(&mean_g_x_hat)?)?
                    }
                    _ => g3.clone(),
                };
                Some(centred.mul(&scale)?.reshape(dims.clone())?)
            } else {
                None
            };
            // Per-channel sums as `[C]` gradients, for the inputs present.
            let per_channel = |wanted: bool, sum: &Option<Tensor<B>>| {
                sum.as_ref()
                    .filter(|_| wanted)
                    .map(|s| s.reshape([c]))
                    .transpose()
            };
            let mut grads = vec![grad_input];
            if has_weight {
                grads.push(per_channel(wants_weight, &sum_g_x_hat)?);
            }
            if has_bias {
                grads.push(per_channel(wants_bias, &sum_g)?);
            }
            Ok(grads)
        });
        Ok(BatchNormOutput {
            output,
            mean: mean.reshape([c])?,
            var: var.reshape([c])?,
            count,
        })
    }
}
