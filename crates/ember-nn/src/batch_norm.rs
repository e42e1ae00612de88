//! `BatchNorm1d` and `BatchNorm2d`, as PyTorch defines them: batch statistics (biased
//! variance) in training mode, running statistics updated with `momentum` and the unbiased
//! variance, running statistics in evaluation mode; the `affine` and `track_running_stats`
//! options; PyTorch's names (`weight`, `bias`, `running_mean`, `running_var`,
//! `num_batches_tracked`) and initial values.

use ember_autodiff::{BatchNormStatistics, Var};
use ember_tensor::{Backend, Tensor};

use crate::buffer::{Buffer, I64Tensor, StateTensor};
use crate::module::{Module, join_name};
use crate::{Error, Result};

/// The arguments of PyTorch's `BatchNorm1d`/`BatchNorm2d`, with its defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchNormConfig {
    /// Channels `C` of the input `[N, C, ...]`.
    pub num_features: usize,
    /// Added to the variance before its square root (default `1e-5`).
    pub eps: f32,
    /// Weight of the batch statistic in the running statistics (default `Some(0.1)`); `None`
    /// makes them a cumulative average over the batches seen, as PyTorch's `momentum=None`.
    pub momentum: Option<f32>,
    /// Learnable per-channel `weight` (ones) and `bias` (zeros) (default `true`).
    pub affine: bool,
    /// Keep running statistics and use them in evaluation mode (default `true`); without them
    /// the batch's statistics are used in both modes.
    pub track_running_stats: bool,
}

impl BatchNormConfig {
    /// PyTorch's defaults for `num_features` channels.
    pub fn new(num_features: usize) -> Self {
        BatchNormConfig {
            num_features,
            eps: 1e-5,
            momentum: Some(0.1),
            affine: true,
            track_running_stats: true,
        }
    }

    /// Sets `eps`.
    pub fn eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }

    /// Sets `momentum` (`None`: cumulative average).
    pub fn momentum(mut self, momentum: Option<f32>) -> Self {
        self.momentum = momentum;
        self
    }

    /// Sets `affine`.
    pub fn affine(mut self, affine: bool) -> Self {
        self.affine = affine;
        self
    }

    /// Sets `track_running_stats`.
    pub fn track_running_stats(mut self, track: bool) -> Self {
        self.track_running_stats = track;
        self
    }

    /// The layer as PyTorch prints it, e.g.
    /// `BatchNorm1d(32, eps=1e-5, momentum=0.1, affine=true, track_running_stats=true)`.
    fn describe(&self, layer: &str) -> String {
        let momentum = self
            .momentum
            .map_or_else(|| "None".to_string(), |m| m.to_string());
        format!(
            "{layer}({}, eps={:e}, momentum={momentum}, affine={}, track_running_stats={})",
            self.num_features, self.eps, self.affine, self.track_running_stats
        )
    }

    /// Checks the values PyTorch would take but that make no sense: no channels, a negative or
    /// non-finite `eps`, a momentum outside `[0, 1]`.
    fn validate(&self, layer: &str) -> Result<()> {
        let problem = if self.num_features == 0 {
            Some("num_features must be at least 1".to_string())
        } else if !(self.eps.is_finite() && self.eps >= 0.0) {
            Some(format!("eps must be finite and >= 0, got {}", self.eps))
        } else {
            self.momentum
                .filter(|m| !(0.0..=1.0).contains(m))
                .map(|m| format!("momentum must be in [0, 1] (or None), got {m}"))
        };
        match problem {
            Some(message) => Err(Error::Config {
                layer: self.describe(layer),
                message,
            }),
            None => Ok(()),
        }
    }
}

/// What the two layers share; they differ only in the input ranks they take.
struct BatchNorm<B: Backend> {
    config: BatchNormConfig,
    weight: Option<Var<B>>,
    bias: Option<Var<B>>,
    running_mean: Option<Buffer<B>>,
    running_var: Option<Buffer<B>>,
    num_batches_tracked: Option<Buffer<B>>,
    training: bool,
}

impl<B: Backend> BatchNorm<B> {
    fn new(config: BatchNormConfig, layer: &str, backend: &B) -> Result<Self> {
        config.validate(layer)?;
        let c = config.num_features;
        let (weight, bias) = if config.affine {
            (
                Some(Var::parameter(Tensor::ones([c], backend)?)),
                Some(Var::parameter(Tensor::zeros([c], backend)?)),
            )
        } else {
            (None, None)
        };
        let (running_mean, running_var, num_batches_tracked) = if config.track_running_stats {
            (
                Some(Buffer::new(Tensor::zeros([c], backend)?)),
                Some(Buffer::new(Tensor::ones([c], backend)?)),
                Some(Buffer::new(I64Tensor::scalar(0))),
            )
        } else {
            (None, None, None)
        };
        Ok(BatchNorm {
            config,
            weight,
            bias,
            running_mean,
            running_var,
            num_batches_tracked,
            training: true,
        })
    }

    fn forward(&self, x: &Var<B>, layer: &str, ranks: &[usize], expected: &str) -> Result<Var<B>> {
        let shape = x.shape();
        let dims = shape.dims();
        if !ranks.contains(&dims.len()) || dims[1] != self.config.num_features {
            return Err(Error::InputShape {
                layer: self.config.describe(layer),
                expected: expected.to_string(),
                got: shape.clone(),
            });
        }
        let running = match (&self.running_mean, &self.running_var) {
            (Some(mean), Some(var)) => Some((f32_buffer(mean), f32_buffer(var))),
            _ => None,
        };
        let use_batch = self.training || running.is_none();
        if use_batch && dims[0] * dims[2..].iter().product::<usize>() <= 1 {
            return Err(Error::SingleValuePerChannel {
                layer: self.config.describe(layer),
                got: shape.clone(),
            });
        }
        let statistics = match (&running, use_batch) {
            (Some((mean, var)), false) => BatchNormStatistics::Given { mean, var },
            _ => BatchNormStatistics::Batch,
        };
        let out = x
            .batch_norm(
                statistics,
                self.weight.as_ref(),
                self.bias.as_ref(),
                self.config.eps,
            )
            .map_err(|source| Error::Layer {
                layer: self.config.describe(layer),
                source: Box::new(source),
            })?;
        if let (true, Some((running_mean, running_var))) = (self.training, running) {
            self.update_running_statistics(&out, &running_mean, &running_var)?;
        }
        Ok(out.output)
    }

    /// `running = (1 - f)·running + f·batch`, the variance's batch value unbiased
    /// (`var · n/(n - 1)`), with `f` the momentum or, without one, `1/num_batches_tracked`.
    fn update_running_statistics(
        &self,
        out: &ember_autodiff::BatchNormOutput<B>,
        running_mean: &Tensor<B>,
        running_var: &Tensor<B>,
    ) -> Result<()> {
        let tracked = match &self.num_batches_tracked {
            Some(counter) => {
                let next = counter.get().as_i64().map_or(0, |t| t.data[0]) + 1;
                counter.set(I64Tensor::scalar(next));
                next
            }
            None => 1,
        };
        let factor = self.config.momentum.unwrap_or(1.0 / tracked as f32);
        let unbiased = out
            .var
            .mul_scalar(out.count as f32 / (out.count - 1) as f32)?;
        let blend = |running: &Tensor<B>, batch: &Tensor<B>| -> Result<Tensor<B>> {
            Ok(running
                .mul_scalar(1.0 - factor)?
                .add(&batch.mul_scalar(factor)?)?)
        };
        if let (Some(mean), Some(var)) = (&self.running_mean, &self.running_var) {
            mean.set(blend(running_mean, &out.mean)?);
            var.set(blend(running_var, &unbiased)?);
        }
        Ok(())
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Var<B>)) {
        if let Some(w) = &self.weight {
            f(&join_name(prefix, "weight"), w);
        }
        if let Some(b) = &self.bias {
            f(&join_name(prefix, "bias"), b);
        }
    }

    fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, &Buffer<B>)) {
        let buffers = [
            ("running_mean", &self.running_mean),
            ("running_var", &self.running_var),
            ("num_batches_tracked", &self.num_batches_tracked),
        ];
        for (name, buffer) in buffers {
            if let Some(buffer) = buffer {
                f(&join_name(prefix, name), buffer);
            }
        }
    }
}

/// A running statistic's tensor. The layer creates them F32 and a state-dict load keeps the
/// dtype, so another dtype is a broken invariant.
fn f32_buffer<B: Backend>(buffer: &Buffer<B>) -> Tensor<B> {
    match buffer.get() {
        StateTensor::F32(t) => t,
        StateTensor::I64(_) => unreachable!("running statistics are F32 buffers"),
    }
}

macro_rules! batch_norm_layer {
    ($(#[$doc:meta])* $name:ident, $ranks:expr, $expected:expr) => {
        $(#[$doc])*
        pub struct $name<B: Backend> {
            inner: BatchNorm<B>,
        }

        impl<B: Backend> $name<B> {
            /// The layer with PyTorch's initial values: weight 1, bias 0, running mean 0,
            /// running variance 1, no batches tracked.
            pub fn new(config: BatchNormConfig, backend: &B) -> Result<Self> {
                Ok($name {
                    inner: BatchNorm::new(config, stringify!($name), backend)?,
                })
            }

            /// Its configuration.
            pub fn config(&self) -> &BatchNormConfig {
                &self.inner.config
            }

            /// Whether it is in training mode (the initial mode, as in PyTorch).
            pub fn is_training(&self) -> bool {
                self.inner.training
            }

            /// The running mean and variance (`[C]`), when they are tracked.
            pub fn running_statistics(&self) -> Option<(Tensor<B>, Tensor<B>)> {
                match (&self.inner.running_mean, &self.inner.running_var) {
                    (Some(mean), Some(var)) => Some((f32_buffer(mean), f32_buffer(var))),
                    _ => None,
                }
            }

            /// Batches seen in training mode, when running statistics are tracked.
            pub fn num_batches_tracked(&self) -> Option<i64> {
                let counter = self.inner.num_batches_tracked.as_ref()?.get();
                counter.as_i64().map(|t| t.data[0])
            }

            /// The input shapes it takes, as its errors print them.
            fn expected_input(&self) -> String {
                let c = self.inner.config.num_features;
                format!($expected, c = c)
            }
        }

        impl<B: Backend> std::fmt::Debug for $name<B> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.inner.config.describe(stringify!($name)))
            }
        }

        impl<B: Backend> Module<B> for $name<B> {
            fn forward(&self, x: &Var<B>) -> Result<Var<B>> {
                self.inner.forward(x, stringify!($name), &$ranks, &self.expected_input())
            }

            fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Var<B>)) {
                self.inner.visit_parameters(prefix, f);
            }

            fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, &Buffer<B>)) {
                self.inner.visit_buffers(prefix, f);
            }

            fn set_training(&mut self, training: bool) {
                self.inner.training = training;
            }

            fn training_mode(&self) -> Option<bool> {
                Some(self.inner.training)
            }
        }
    };
}

batch_norm_layer!(
    /// Batch normalisation of `[N, C]` or `[N, C, L]` over `N` (and `L`), as `nn.BatchNorm1d`.
    ///
    /// ```
    /// use ember_autodiff::Var;
    /// use ember_nn::{BatchNorm1d, BatchNormConfig, Module};
    /// use ember_cpu::Cpu;
    /// use ember_tensor::Tensor;
    ///
    /// let mut bn = BatchNorm1d::new(BatchNormConfig::new(2), &Cpu)?;
    /// let x = Var::constant(Tensor::from_vec(vec![1.0, 10.0, 3.0, 30.0], [2, 2], &Cpu)?);
    /// let y = bn.forward(&x)?.value().to_vec()?;
    /// assert!((y[0] + 1.0).abs() < 1e-3 && (y[3] - 1.0).abs() < 1e-3);
    /// let (mean, var) = bn.running_statistics().unwrap();
    /// assert_eq!(mean.to_vec()?, vec![0.2, 2.0]); // 0.9·0 + 0.1·batch mean
    /// assert_eq!(bn.num_batches_tracked(), Some(1));
    /// bn.set_training(false); // now the running statistics normalise
    /// let names: Vec<String> = bn.state_dict().into_iter().map(|(n, _)| n).collect();
    /// assert_eq!(names, ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]);
    /// # Ok::<(), ember_nn::Error>(())
    /// ```
    BatchNorm1d,
    [2, 3],
    "[N, {c}] or [N, {c}, L]"
);

batch_norm_layer!(
    /// Batch normalisation of `[N, C, H, W]` over `N`, `H` and `W`, as `nn.BatchNorm2d`.
    BatchNorm2d,
    [4],
    "[N, {c}, H, W]"
);

#[cfg(test)]
mod tests {
    use ember_cpu::Cpu;

    use super::*;

    #[test]
    fn a_bad_configuration_names_the_layer() {
        let err = BatchNorm1d::new(BatchNormConfig::new(4).momentum(Some(1.5)), &Cpu).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("BatchNorm1d(4, eps=1e-5, momentum=1.5"),
            "{err}"
        );
        assert!(BatchNorm2d::<Cpu>::new(BatchNormConfig::new(0), &Cpu).is_err());
        assert!(BatchNorm2d::<Cpu>::new(BatchNormConfig::new(3).eps(-1.0), &Cpu).is_err());
    }

    #[test]
    fn without_running_statistics_it_has_no_buffers_and_always_uses_the_batch() {
        let config = BatchNormConfig::new(2)
            .track_running_stats(false)
            .affine(false);
        let mut bn = BatchNorm1d::new(config, &Cpu).unwrap();
        assert!(bn.named_buffers().is_empty() && bn.named_parameters().is_empty());
        bn.set_training(false);
        let x = Var::constant(Tensor::from_vec(vec![1.0, 5.0, 3.0, 7.0], [2, 2], &Cpu).unwrap());
        let y = bn.forward(&x).unwrap().value().to_vec().unwrap();
        for (got, want) in y.iter().zip([-1.0, -1.0, 1.0, 1.0]) {
            assert!((got - want).abs() < 1e-3, "{y:?}");
        }
        assert_eq!(bn.running_statistics().map(|_| ()), None);
    }

    #[test]
    fn momentum_none_is_a_cumulative_average() {
        let config = BatchNormConfig::new(1).momentum(None);
        let bn = BatchNorm1d::new(config, &Cpu).unwrap();
        for batch in [[1.0, 3.0], [5.0, 7.0], [0.0, 0.0]] {
            let x = Var::constant(Tensor::from_vec(batch.to_vec(), [2, 1], &Cpu).unwrap());
            bn.forward(&x).unwrap();
        }
        // The mean of the batch means 2, 6, 0; of the unbiased variances 2, 2, 0.
        let (mean, var) = bn.running_statistics().unwrap();
        assert!((mean.to_vec().unwrap()[0] - 8.0 / 3.0).abs() < 1e-6);
        assert!((var.to_vec().unwrap()[0] - 4.0 / 3.0).abs() < 1e-6);
        assert_eq!(bn.num_batches_tracked(), Some(3));
    }
}
