//! [`evaluate`]: a classifier's accuracy on a data set, in evaluation mode and without
//! recording a graph.

use ember_autodiff::{NoGradGuard, Var};
use ember_data::{DataLoader, Dataset, IMAGE_BYTES};
use ember_tensor::{Backend, Shape, Tensor};

use crate::module::Module;
use crate::{Error, Result};

/// Samples per forward pass.
const EVAL_BATCH: usize = 1000;

/// The share of `data`'s samples whose largest logit is their label: the model runs on
/// batches of shape `[N, sample_shape…]` (`[784]` for a flat network, `[1, 28, 28]` for a
/// CNN), in evaluation mode (dropout off, BatchNorm's running statistics) and without
/// recording ([`NoGradGuard`]). The model's mode is put back as it was afterwards.
///
/// ```
/// use ember_autodiff::Var;
/// use ember_cpu::Cpu;
/// use ember_data::InMemoryDataset;
/// use ember_nn::{Conv2d, Conv2dConfig, Flatten, Linear, Module, Sequential, evaluate};
/// use ember_tensor::seeded_rng;
///
/// let mut rng = seeded_rng(0);
/// let mut cnn = Sequential::new()
///     .append(Conv2d::new(Conv2dConfig::new(1, 2, [3, 3]), &mut rng, &Cpu)?)
///     .append(Flatten::default())
///     .append(Linear::new(2 * 26 * 26, 10, &mut rng, &Cpu)?);
/// let data = InMemoryDataset::new(vec![0; 3 * 784], vec![1, 2, 3])?;
/// let accuracy = evaluate(&mut cnn, &data, &[1, 28, 28], &Cpu)?;
/// assert!((0.0..=1.0).contains(&accuracy));
/// assert!(cnn.is_training());
/// // A flat sample does not fit the convolution: a typed error naming the layer.
/// assert!(evaluate(&mut cnn, &data, &[784], &Cpu).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`Error::InputShape`] if `sample_shape` does not hold 784 elements; the model's own errors
/// for a shape it does not take.
pub fn evaluate<B, M, D>(
    model: &mut M,
    data: &D,
    sample_shape: &[usize],
    backend: &B,
) -> Result<f64>
where
    B: Backend,
    M: Module<B> + ?Sized,
    D: Dataset + ?Sized,
{
    if sample_shape.iter().product::<usize>() != IMAGE_BYTES {
        return Err(Error::InputShape {
            layer: "evaluate".to_string(),
            expected: format!(
                "a sample shape of {IMAGE_BYTES} elements, as [{IMAGE_BYTES}] or [1, 28, 28]"
            ),
            got: Shape::from(sample_shape.to_vec()),
        });
    }
    let mode = model.training_mode();
    model.set_training(false);
    let accuracy = count_correct(model, data, sample_shape, backend);
    if let Some(training) = mode {
        model.set_training(training);
    }
    Ok(accuracy? as f64 / data.len().max(1) as f64)
}

/// How many of `data`'s samples the model classifies as labelled.
fn count_correct<B, M, D>(model: &M, data: &D, sample_shape: &[usize], backend: &B) -> Result<usize>
where
    B: Backend,
    M: Module<B> + ?Sized,
    D: Dataset + ?Sized,
{
    let _no_grad = NoGradGuard::new();
    let loader = DataLoader::new(data, EVAL_BATCH)?;
    let mut batch = loader.new_batch();
    let mut batches = loader.epoch(0);
    let mut correct = 0usize;
    while batches.next_into(&mut batch) {
        let mut dims = Vec::with_capacity(1 + sample_shape.len());
        dims.push(batch.len);
        dims.extend_from_slice(sample_shape);
        // The batch's pixels move into the tensor (no copy on the CPU); the loader allocates
        // the next batch's.
        let x = Tensor::from_vec(std::mem::take(&mut batch.images), dims, backend)?;
        let predictions = model
            .forward(&Var::constant(x))?
            .value()
            .argmax()?
            .to_vec()?;
        correct += predictions
            .iter()
            .zip(&batch.labels)
            .filter(|(p, l)| **p as u32 == **l)
            .count();
    }
    Ok(correct)
}
