//! Initialisers, as `torch.nn.init`: each replaces a parameter's value in place with values
//! drawn from a seeded generator on the host (so every backend starts from the same numbers).

use ember_autodiff::Var;
use ember_tensor::rand::Rng;
use ember_tensor::{Backend, Tensor};

use crate::{Error, Result};

/// Which fan Kaiming initialisation preserves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanMode {
    /// Preserve the variance of the forward pass (PyTorch's default).
    FanIn,
    /// Preserve the variance of the backward pass.
    FanOut,
}

/// `(fan_in, fan_out)` of a weight of at least 2 dimensions, as PyTorch computes them.
pub fn fans(dims: &[usize], init: &'static str) -> Result<(usize, usize)> {
    if dims.len() < 2 {
        return Err(Error::Init {
            init,
            message: format!(
                "fan in and fan out need a tensor with at least 2 dimensions, got {dims:?}"
            ),
        });
    }
    let receptive: usize = dims[2..].iter().product();
    Ok((dims[1] * receptive, dims[0] * receptive))
}

fn replace_with<B: Backend>(
    param: &Var<B>,
    make: impl FnOnce(&ember_tensor::Shape, &B) -> ember_tensor::Result<Tensor<B>>,
) -> Result<()> {
    let value = make(&param.shape(), &param.backend())?;
    param.set_value(value);
    Ok(())
}

/// Fills with samples of N(`mean`, `std`²), as `torch.nn.init.normal_`.
pub fn normal_<B: Backend, R: Rng + ?Sized>(
    param: &Var<B>,
    mean: f32,
    std: f32,
    rng: &mut R,
) -> Result<()> {
    replace_with(param, |shape, b| {
        Tensor::randn(shape.clone(), mean, std, rng, b)
    })
}

/// Fills with samples of U(`low`, `high`), as `torch.nn.init.uniform_`.
pub fn uniform_<B: Backend, R: Rng + ?Sized>(
    param: &Var<B>,
    low: f32,
    high: f32,
    rng: &mut R,
) -> Result<()> {
    if low > high {
        return Err(Error::Init {
            init: "uniform_",
            message: format!("low {low} is above high {high}"),
        });
    }
    replace_with(param, |shape, b| {
        Tensor::rand_uniform(shape.clone(), low, high, rng, b)
    })
}

/// Fills with `value`, as `torch.nn.init.constant_`.
pub fn constant_<B: Backend>(param: &Var<B>, value: f32) -> Result<()> {
    replace_with(param, |shape, b| Tensor::full(shape.clone(), value, b))
}

/// Fills with zeros, as `torch.nn.init.zeros_`.
pub fn zeros_<B: Backend>(param: &Var<B>) -> Result<()> {
    constant_(param, 0.0)
}

/// Glorot uniform: `U(±gain·√(6 / (fan_in + fan_out)))`, as `torch.nn.init.xavier_uniform_`.
pub fn xavier_uniform_<B: Backend, R: Rng + ?Sized>(
    param: &Var<B>,
    gain: f32,
    rng: &mut R,
) -> Result<()> {
    let (fan_in, fan_out) = fans(param.shape().dims(), "xavier_uniform_")?;
    let bound = gain * (6.0 / (fan_in + fan_out).max(1) as f32).sqrt();
    uniform_(param, -bound, bound, rng)
}

/// Glorot normal: `N(0, gain²·2 / (fan_in + fan_out))`, as `torch.nn.init.xavier_normal_`.
pub fn xavier_normal_<B: Backend, R: Rng + ?Sized>(
    param: &Var<B>,
    gain: f32,
    rng: &mut R,
) -> Result<()> {
    let (fan_in, fan_out) = fans(param.shape().dims(), "xavier_normal_")?;
    let std = gain * (2.0 / (fan_in + fan_out).max(1) as f32).sqrt();
    normal_(param, 0.0, std, rng)
}

/// The gain of leaky ReLU with negative slope `a`: `√(2 / (1 + a²))` (`a = 0` is ReLU's √2).
pub fn leaky_relu_gain(a: f32) -> f32 {
    (2.0 / (1.0 + a * a)).sqrt()
}

fn kaiming_std(dims: &[usize], a: f32, mode: FanMode, init: &'static str) -> Result<f32> {
    let (fan_in, fan_out) = fans(dims, init)?;
    let fan = match mode {
        FanMode::FanIn => fan_in,
        FanMode::FanOut => fan_out,
    };
    if fan == 0 {
        return Ok(0.0);
    }
    Ok(leaky_relu_gain(a) / (fan as f32).sqrt())
}

/// He uniform for leaky ReLU with slope `a`: `U(±√3·gain/√fan)`, as
/// `torch.nn.init.kaiming_uniform_(w, a, mode, nonlinearity='leaky_relu')`. With `a = √5` and
/// fan-in this is `U(±1/√fan_in)`, PyTorch's default for `nn.Linear` weights.
pub fn kaiming_uniform_<B: Backend, R: Rng + ?Sized>(
    param: &Var<B>,
    a: f32,
    mode: FanMode,
    rng: &mut R,
) -> Result<()> {
    let bound = 3f32.sqrt() * kaiming_std(param.shape().dims(), a, mode, "kaiming_uniform_")?;
    uniform_(param, -bound, bound, rng)
}

/// He normal for leaky ReLU with slope `a`: `N(0, (gain/√fan)²)`, as
/// `torch.nn.init.kaiming_normal_`.
pub fn kaiming_normal_<B: Backend, R: Rng + ?Sized>(
    param: &Var<B>,
    a: f32,
    mode: FanMode,
    rng: &mut R,
) -> Result<()> {
    let std = kaiming_std(param.shape().dims(), a, mode, "kaiming_normal_")?;
    normal_(param, 0.0, std, rng)
}
