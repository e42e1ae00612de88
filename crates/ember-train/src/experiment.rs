//! The experiments, by name: the seed's models, the vanishing-gradient pair, the lab's CNN and
//! its batch-normalised MLP.

use ember_nn::init::{self, FanMode};
use ember_nn::{
    BatchNorm1d, BatchNormConfig, Conv2d, Conv2dConfig, Flatten, Linear, MaxPool2d, Module, ReLU,
    Sequential, Sigmoid, Unflatten,
};
use ember_tensor::{Backend, seeded_rng};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A model to train, named as on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Experiment {
    /// 784-256-256-10 with ReLU (the seed's DNN; the default).
    Mlp,
    /// Linear 784→10 with PyTorch's default initialisation (the seed's class version).
    Softmax,
    /// Linear 784→10 with weights re-initialised by `normal_` (the seed's first run).
    SoftmaxNormal,
    /// The `mlp` with sigmoid instead of ReLU.
    MlpSigmoid,
    /// Five Linear layers (784-256-256-256-256-10) with ReLU.
    DeepRelu,
    /// The same five layers with sigmoid: the gradient vanishes towards the input.
    DeepSigmoid,
    /// The lab's CNN: two blocks of Conv2d(3×3, padding 1) → ReLU → MaxPool2d(2), 32 and 64
    /// channels, then Linear(3136, 10) with Xavier-uniform weights.
    Cnn,
    /// The `mlp` with `BatchNorm1d` between each hidden Linear layer and its ReLU (lab 10-6's
    /// layout: `Sequential(Linear, BatchNorm1d, ReLU, Linear, BatchNorm1d, ReLU, Linear)`, so
    /// PyTorch's names `0.weight`, `1.running_mean`, …, `6.bias`).
    MlpBatchnorm,
}

/// How weights are initialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitScheme {
    /// Each experiment's own (PyTorch's default; `normal` for `softmax-normal`).
    Default,
    /// Weights N(0, 1), as `torch.nn.init.normal_`.
    Normal,
    /// Glorot uniform.
    XavierUniform,
    /// He uniform for ReLU (a = 0).
    KaimingUniform,
    /// He normal for ReLU (a = 0).
    KaimingNormal,
}

impl InitScheme {
    /// Every scheme.
    pub const ALL: [InitScheme; 5] = [
        InitScheme::Default,
        InitScheme::Normal,
        InitScheme::XavierUniform,
        InitScheme::KaimingUniform,
        InitScheme::KaimingNormal,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            InitScheme::Default => "default",
            InitScheme::Normal => "normal",
            InitScheme::XavierUniform => "xavier-uniform",
            InitScheme::KaimingUniform => "kaiming-uniform",
            InitScheme::KaimingNormal => "kaiming-normal",
        }
    }

    /// Parses a command-line name.
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| Error::UnknownChoice {
                option: "--init",
                value: name.to_string(),
                known: Self::ALL.map(Self::name).join(", "),
            })
    }
}

impl Experiment {
    /// Every experiment, the default first.
    pub const ALL: [Experiment; 8] = [
        Experiment::Mlp,
        Experiment::Softmax,
        Experiment::SoftmaxNormal,
        Experiment::MlpSigmoid,
        Experiment::DeepRelu,
        Experiment::DeepSigmoid,
        Experiment::Cnn,
        Experiment::MlpBatchnorm,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Experiment::Mlp => "mlp",
            Experiment::Softmax => "softmax",
            Experiment::SoftmaxNormal => "softmax-normal",
            Experiment::MlpSigmoid => "mlp-sigmoid",
            Experiment::DeepRelu => "deep-relu",
            Experiment::DeepSigmoid => "deep-sigmoid",
            Experiment::Cnn => "cnn",
            Experiment::MlpBatchnorm => "mlp-batchnorm",
        }
    }

    /// One line on what it shows.
    pub fn description(self) -> &'static str {
        match self {
            Experiment::Mlp => "784-256-256-10 ReLU network (the seed's DNN)",
            Experiment::Softmax => "softmax regression, PyTorch's default init",
            Experiment::SoftmaxNormal => "softmax regression, weights re-initialised N(0,1)",
            Experiment::MlpSigmoid => "784-256-256-10 with sigmoid",
            Experiment::DeepRelu => "784-256-256-256-256-10 with ReLU",
            Experiment::DeepSigmoid => "784-256-256-256-256-10 with sigmoid (vanishing gradients)",
            Experiment::Cnn => "the lab's CNN: 2 × (conv 3×3, ReLU, max-pool 2), Linear 3136→10",
            Experiment::MlpBatchnorm => "784-256-256-10 with BatchNorm1d before each ReLU",
        }
    }

    /// Parses a command-line name; an unknown one gives an error listing them all.
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|e| e.name() == name)
            .ok_or_else(|| Error::UnknownExperiment {
                name: name.to_string(),
                known: Self::ALL
                    .map(|e| format!("{} ({})", e.name(), e.description()))
                    .join(", "),
            })
    }

    /// Widths of the fully connected layers, from their input to the output.
    pub fn widths(self) -> &'static [usize] {
        match self {
            Experiment::Cnn => &[3136, 10],
            Experiment::Mlp | Experiment::MlpSigmoid | Experiment::MlpBatchnorm => {
                &[784, 256, 256, 10]
            }
            Experiment::Softmax | Experiment::SoftmaxNormal => &[784, 10],
            Experiment::DeepRelu | Experiment::DeepSigmoid => &[784, 256, 256, 256, 256, 10],
        }
    }

    fn uses_sigmoid(self) -> bool {
        matches!(self, Experiment::MlpSigmoid | Experiment::DeepSigmoid)
    }

    /// The initialisation `Default` stands for.
    pub fn default_init(self) -> InitScheme {
        match self {
            Experiment::SoftmaxNormal => InitScheme::Normal,
            _ => InitScheme::Default,
        }
    }

    /// Builds the model, initialised from `seed`: PyTorch's default init, then `init` applied to
    /// every weight (biases keep PyTorch's default, as in the seed's `normal_` run).
    pub fn build<B: Backend>(
        self,
        init: InitScheme,
        seed: u64,
        backend: &B,
    ) -> Result<Sequential<B>> {
        let mut rng = seeded_rng(seed);
        if self == Experiment::Cnn {
            let model = lab_cnn(&mut rng, backend)?;
            // The lab: Xavier-uniform on the last layer's weight; another scheme replaces every
            // weight.
            let reinit: &[&str] = match init {
                InitScheme::Default => &["fc.weight"],
                _ => &[],
            };
            let scheme = match init {
                InitScheme::Default => InitScheme::XavierUniform,
                other => other,
            };
            reinit_weights(
                &model,
                scheme,
                |name| reinit.is_empty() || reinit.contains(&name),
                &mut rng,
            )?;
            return Ok(model);
        }
        let widths = self.widths();
        let mut model = Sequential::new();
        for (i, pair) in widths.windows(2).enumerate() {
            model.push(Linear::new(pair[0], pair[1], &mut rng, backend)?);
            if i + 2 < widths.len() {
                if self == Experiment::MlpBatchnorm {
                    model.push(BatchNorm1d::new(BatchNormConfig::new(pair[1]), backend)?);
                }
                if self.uses_sigmoid() {
                    model.push(Sigmoid);
                } else {
                    model.push(ReLU);
                }
            }
        }
        let init = match init {
            InitScheme::Default => self.default_init(),
            other => other,
        };
        reinit_weights(&model, init, |_| true, &mut rng)?;
        Ok(model)
    }
}

/// Re-initialises with `scheme` every layer weight (a matrix or a convolution kernel, not
/// BatchNorm's per-channel scale) whose name `select` accepts (biases keep PyTorch's default,
/// as in the seed's `normal_` run).
fn reinit_weights<B: Backend>(
    model: &Sequential<B>,
    scheme: InitScheme,
    select: impl Fn(&str) -> bool,
    rng: &mut ember_tensor::SeededRng,
) -> Result<()> {
    for (name, p) in model.named_parameters() {
        if !name.ends_with("weight") || p.shape().dims().len() < 2 || !select(&name) {
            continue;
        }
        match scheme {
            InitScheme::Default => {}
            InitScheme::Normal => init::normal_(&p, 0.0, 1.0, rng)?,
            InitScheme::XavierUniform => init::xavier_uniform_(&p, 1.0, rng)?,
            InitScheme::KaimingUniform => init::kaiming_uniform_(&p, 0.0, FanMode::FanIn, rng)?,
            InitScheme::KaimingNormal => init::kaiming_normal_(&p, 0.0, FanMode::FanIn, rng)?,
        }
    }
    Ok(())
}

/// The lab's CNN with PyTorch's parameter names (`layer1.0.weight` … `fc.bias`), taking
/// `[N, 784]` images, which its first layer views as `[N, 1, 28, 28]`.
fn lab_cnn<B: Backend>(rng: &mut ember_tensor::SeededRng, backend: &B) -> Result<Sequential<B>> {
    let block =
        |in_channels, out_channels, rng: &mut ember_tensor::SeededRng| -> Result<Sequential<B>> {
            let conv = Conv2dConfig::new(in_channels, out_channels, [3, 3]).padding([1, 1]);
            Ok(Sequential::new()
                .append(Conv2d::new(conv, rng, backend)?)
                .append(ReLU)
                .append(MaxPool2d::new([2, 2])))
        };
    let layer1 = block(1, 32, rng)?;
    let layer2 = block(32, 64, rng)?;
    Ok(Sequential::new()
        .append_named("image", Unflatten::new(1, &[1, 28, 28]))
        .append_named("layer1", layer1)
        .append_named("layer2", layer2)
        .append_named("flatten", Flatten::default())
        .append_named("fc", Linear::new(7 * 7 * 64, 10, rng, backend)?))
}
