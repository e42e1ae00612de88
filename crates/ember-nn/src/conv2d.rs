//! `Conv2d`: 2-D convolution over `[N, C, H, W]`, as PyTorch's `nn.Conv2d` (`groups = 1`,
//! zero padding): its configuration, PyTorch's default initialisation and parameter names.

use ember_autodiff::Var;
use ember_tensor::ops::WindowOptions;
use ember_tensor::rand::Rng;
use ember_tensor::{Backend, Tensor};

use crate::module::{LayerKind, Module, join_name};
use crate::pool2d::MaxPool2d;
use crate::{Error, Result, init};

/// The arguments of `nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding,
/// dilation, bias)`, built up from [`Conv2dConfig::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conv2dConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels (filters).
    pub out_channels: usize,
    /// Kernel, stride, padding and dilation.
    pub window: WindowOptions,
    /// Whether the layer adds a learned bias per output channel.
    pub bias: bool,
}

impl Conv2dConfig {
    /// `in_channels → out_channels` with a `kernel` (`[kh, kw]`), stride 1, no padding, no
    /// dilation, with bias.
    pub fn new(in_channels: usize, out_channels: usize, kernel: [usize; 2]) -> Self {
        Conv2dConfig {
            in_channels,
            out_channels,
            window: WindowOptions::new(kernel),
            bias: true,
        }
    }

    /// With this stride.
    pub fn stride(mut self, stride: [usize; 2]) -> Self {
        self.window.stride = stride;
        self
    }

    /// With this zero padding on both sides.
    pub fn padding(mut self, padding: [usize; 2]) -> Self {
        self.window.padding = padding;
        self
    }

    /// With this dilation.
    pub fn dilation(mut self, dilation: [usize; 2]) -> Self {
        self.window.dilation = dilation;
        self
    }

    /// With or without bias.
    pub fn bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }

    /// The layer as PyTorch prints it, e.g. `Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1),
    /// padding=(1, 1))`.
    pub fn describe(&self) -> String {
        let pair = |p: [usize; 2]| format!("({}, {})", p[0], p[1]);
        let w = &self.window;
        let mut text = format!(
            "Conv2d({}, {}, kernel_size={}, stride={}",
            self.in_channels,
            self.out_channels,
            pair(w.kernel),
            pair(w.stride)
        );
        if w.padding != [0, 0] {
            text += &format!(", padding={}", pair(w.padding));
        }
        if w.dilation != [1, 1] {
            text += &format!(", dilation={}", pair(w.dilation));
        }
        if !self.bias {
            text += ", bias=False";
        }
        text + ")"
    }

    fn validate(&self) -> Result<()> {
        let w = &self.window;
        let problem = if self.in_channels == 0 || self.out_channels == 0 {
            Some("in_channels and out_channels must be at least 1".to_string())
        } else {
            [
                ("kernel_size", w.kernel),
                ("stride", w.stride),
                ("dilation", w.dilation),
            ]
            .into_iter()
            .find(|(_, v)| v.contains(&0))
            .map(|(what, v)| format!("{what} {v:?} must be at least 1 in both dimensions"))
        };
        match problem {
            Some(message) => Err(Error::Config {
                layer: self.describe(),
                message,
            }),
            None => Ok(()),
        }
    }
}

/// 2-D convolution: `y = W ⋆ x + b`, with `W` of shape `[out, in, kh, kw]` and `b` of shape
/// `[out]`, named `weight` and `bias` as in PyTorch. Initialised as PyTorch does by default:
/// `W` Kaiming-uniform with `a = √5` (i.e. `U(±1/√fan_in)`, `fan_in = in·kh·kw`), `b`
/// `U(±1/√fan_in)`.
///
/// ```
/// use ember_autodiff::Var;
/// use ember_nn::{Conv2d, Conv2dConfig, Module};
/// use ember_cpu::Cpu;
/// use ember_tensor::{Tensor, seeded_rng};
///
/// let conv = Conv2d::new(Conv2dConfig::new(1, 32, [3, 3]).padding([1, 1]), &mut seeded_rng(777), &Cpu)?;
/// let x = Var::constant(Tensor::zeros([2, 1, 28, 28], &Cpu)?);
/// assert_eq!(conv.forward(&x)?.shape().dims(), &[2, 32, 28, 28]);
/// # Ok::<(), ember_nn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Conv2d<B: Backend> {
    /// `[out_channels, in_channels, kh, kw]`
    pub weight: Var<B>,
    /// `[out_channels]`, absent with `bias(false)`.
    pub bias: Option<Var<B>>,
    config: Conv2dConfig,
}

impl<B: Backend> Conv2d<B> {
    /// A layer with PyTorch's default initialisation drawn from `rng`.
    pub fn new<R: Rng + ?Sized>(config: Conv2dConfig, rng: &mut R, backend: &B) -> Result<Self> {
        config.validate()?;
        let [kh, kw] = config.window.kernel;
        let dims = [config.out_channels, config.in_channels, kh, kw];
        let weight = Var::parameter(Tensor::zeros(dims, backend)?);
        init::kaiming_uniform_(&weight, 5f32.sqrt(), init::FanMode::FanIn, rng)?;
        let bias = if config.bias {
            let bound = 1.0 / ((config.in_channels * kh * kw) as f32).sqrt();
            let b = Var::parameter(Tensor::zeros([config.out_channels], backend)?);
            init::uniform_(&b, -bound, bound, rng)?;
            Some(b)
        } else {
            None
        };
        Ok(Conv2d {
            weight,
            bias,
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Conv2dConfig {
        &self.config
    }

    /// The convolution and `pool` as one op (`Var::conv2d_max_pool2d`): the same values as
    /// the two layers and the same gradients (up to the order of their sums), without this
    /// layer's whole output in memory.
    pub(crate) fn forward_max_pooled(&self, x: &Var<B>, pool: &MaxPool2d) -> Result<Var<B>> {
        self.check_input(x).and_then(|()| {
            x.conv2d_max_pool2d(
                &self.weight,
                self.bias.as_ref(),
                self.config.window,
                pool.window,
            )
            .map_err(|source| Error::Layer {
                layer: format!("{} + {}", self.config.describe(), pool.describe()),
                source: Box::new(source),
            })
        })
    }

    /// Fails unless `x` is `[N, in_channels, H, W]`, naming the layer.
    fn check_input(&self, x: &Var<B>) -> Result<()> {
        let shape = x.shape();
        if shape.rank() != 4 || shape.dims()[1] != self.config.in_channels {
            return Err(Error::InputShape {
                layer: self.config.describe(),
                expected: format!("[N, {}, H, W]", self.config.in_channels),
                got: shape,
            });
        }
        Ok(())
    }
}

impl<B: Backend> Module<B> for Conv2d<B> {
    fn forward(&self, x: &Var<B>) -> Result<Var<B>> {
        self.check_input(x)?;
        x.conv2d(&self.weight, self.bias.as_ref(), self.config.window)
            .map_err(|source| Error::Layer {
                layer: self.config.describe(),
                source: Box::new(source),
            })
    }

    fn kind(&self) -> LayerKind<'_, B> {
        LayerKind::Conv2d(self)
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Var<B>)) {
        f(&join_name(prefix, "weight"), &self.weight);
        if let Some(b) = &self.bias {
            f(&join_name(prefix, "bias"), b);
        }
    }
}
