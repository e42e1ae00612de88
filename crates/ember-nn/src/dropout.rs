//! `Dropout`, as `torch.nn.Dropout`: in training mode each element is zeroed with probability
//! `p` and the others are scaled by `1 / (1 − p)`; in evaluation mode it is the identity.

use ember_autodiff::Var;
use ember_tensor::Backend;
use ember_tensor::ops::DropoutMask;

use crate::module::Module;
use crate::random::RandomStream;
use crate::{Error, Result};

/// Dropout with probability `p`. Its mask for a step comes from its [`RandomStream`] (key and
/// step) through Philox, so it is the same bits on every backend and after a resume. Two
/// dropout layers never draw the same mask unless given the same key: a new layer's stream is
/// keyed apart from every other made on its thread, then by its name on the model's first
/// [`Module::call`], or from a seed with [`Module::seed_random_streams`] (as the trainer does).
///
/// ```
/// use ember_autodiff::Var;
/// use ember_cpu::Cpu;
/// use ember_nn::{Dropout, Module, Sequential};
/// use ember_tensor::Tensor;
///
/// let mut model: Sequential<Cpu> = Sequential::new()
///     .append(Dropout::new(0.5)?)
///     .append(Dropout::new(0.5)?);
/// let x = Var::constant(Tensor::ones([4, 256], &Cpu)?);
/// let y = model.call(&x)?.value().to_vec()?;
/// // Each layer zeroes its own half: about 3/4 of the values are 0, the rest 1 · 2 · 2.
/// let zeros = y.iter().filter(|&&v| v == 0.0).count() as f32 / y.len() as f32;
/// assert!((zeros - 0.75).abs() < 0.05, "{zeros}");
/// assert!(y.iter().all(|&v| v == 0.0 || v == 4.0));
/// model.set_training(false);
/// assert_eq!(model.forward(&x)?.value().to_vec()?, vec![1.0; 1024]);
/// assert!(Dropout::new(1.0).is_err());
/// # Ok::<(), ember_nn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Dropout {
    p: f32,
    training: bool,
    stream: RandomStream,
}

impl Dropout {
    /// Dropout with probability `p` in `[0, 1)`; any other value is [`Error::Config`].
    pub fn new(p: f32) -> Result<Self> {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::Config {
                layer: format!("Dropout(p={p})"),
                message: "p must be in [0, 1) (the probability of zeroing an element)".into(),
            });
        }
        Ok(Dropout {
            p,
            training: true,
            stream: RandomStream::default(),
        })
    }

    /// The probability of zeroing an element.
    pub fn p(&self) -> f32 {
        self.p
    }

    /// The stream its masks come from.
    pub fn stream(&self) -> &RandomStream {
        &self.stream
    }
}

impl<B: Backend> Module<B> for Dropout {
    fn forward(&self, x: &Var<B>) -> Result<Var<B>> {
        if !self.training || self.p == 0.0 {
            return Ok(x.clone());
        }
        let mask = DropoutMask::new(self.p, self.stream.key(), self.stream.take_step())?;
        Ok(x.dropout(&mask)?)
    }

    fn visit_parameters(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Var<B>)) {}

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    fn training_mode(&self) -> Option<bool> {
        Some(self.training)
    }

    fn visit_random_streams(&self, prefix: &str, f: &mut dyn FnMut(&str, &RandomStream)) {
        f(prefix, &self.stream);
    }
}
