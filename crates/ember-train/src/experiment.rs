//! The experiments, by name: the seed's models, the vanishing-gradient pair, the lab's
//! initialisation, depth, dropout and batch-norm chapters, and its two CNNs.

use ember_nn::init::{self, FanMode};
use ember_nn::{
    BatchNorm1d, BatchNormConfig, Conv2d, Conv2dConfig, Dropout, Flatten, Linear, MaxPool2d,
    Module, ReLU, Sequential, Sigmoid, Unflatten,
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
    /// The `mlp` with Xavier-uniform weights (lab 10-3).
    MlpXavier,
    /// 784-512-512-512-512-10 with ReLU and Xavier-uniform weights (lab 10-4).
    DeepXavier,
    /// `deep-xavier` with Dropout(0.3) after each ReLU (lab 10-5).
    DeepDropout,
    /// The lab's deeper CNN (11-2): three blocks of Conv2d(3×3, padding 1) → ReLU → MaxPool2d(2)
    /// with 32, 64 and 128 channels (the last pool padded by 1, so 4×4×128), then
    /// `fc1` = Linear(2048, 625), ReLU, Dropout(0.5), `fc2` = Linear(625, 10); Xavier-uniform
    /// on `fc1` and `fc2`.
    DeepCnn,
}

/// How weights are initialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitScheme {
    /// Each experiment's own (PyTorch's default; `normal` for `softmax-normal`).
    Default,
    /// Weights N(0, 1), as `torch.nn.init.normal_`.
    Normal,
    /// Glorot uniform (gain 1), as `torch.nn.init.xavier_uniform_`.
    XavierUniform,
    /// Glorot normal (gain 1), as `torch.nn.init.xavier_normal_`.
    XavierNormal,
    /// He uniform for ReLU (a = 0).
    KaimingUniform,
    /// He normal for ReLU (a = 0).
    KaimingNormal,
}

impl InitScheme {
    /// Every scheme.
    pub const ALL: [InitScheme; 6] = [
        InitScheme::Default,
        InitScheme::Normal,
        InitScheme::XavierUniform,
        InitScheme::XavierNormal,
        InitScheme::KaimingUniform,
        InitScheme::KaimingNormal,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            InitScheme::Default => "default",
            InitScheme::Normal => "normal",
            InitScheme::XavierUniform => "xavier-uniform",
            InitScheme::XavierNormal => "xavier-normal",
            InitScheme::KaimingUniform => "kaiming-uniform",
            InitScheme::KaimingNormal => "kaiming-normal",
        }
    }

    /// Parses a command-line name, hyphenated or as `torch.nn.init` spells it
    /// (`xavier_uniform`); an unknown one is [`Error::UnknownChoice`] listing them all.
    pub fn parse(name: &str) -> Result<Self> {
        let hyphenated = name.replace('_', "-");
        Self::ALL
            .into_iter()
            .find(|s| s.name() == hyphenated)
            .ok_or_else(|| Error::UnknownChoice {
                option: "--init",
                value: name.to_string(),
                known: format!(
                    "{} (or with underscores, as torch.nn.init: xavier_uniform, ...)",
                    Self::ALL.map(Self::name).join(", ")
                ),
            })
    }

    /// Re-initialises `weight` with this scheme, PyTorch's formulas (`Default` leaves it).
    pub fn apply<B: Backend>(
        self,
        weight: &ember_autodiff::Var<B>,
        rng: &mut ember_tensor::SeededRng,
    ) -> Result<()> {
        match self {
            InitScheme::Default => {}
            InitScheme::Normal => init::normal_(weight, 0.0, 1.0, rng)?,
            InitScheme::XavierUniform => init::xavier_uniform_(weight, 1.0, rng)?,
            InitScheme::XavierNormal => init::xavier_normal_(weight, 1.0, rng)?,
            InitScheme::KaimingUniform => init::kaiming_uniform_(weight, 0.0, FanMode::FanIn, rng)?,
            InitScheme::KaimingNormal => init::kaiming_normal_(weight, 0.0, FanMode::FanIn, rng)?,
        }
        Ok(())
    }
}

impl Experiment {
    /// Every experiment, the default first.
    pub const ALL: [Experiment; 12] = [
        Experiment::Mlp,
        Experiment::Softmax,
        Experiment::SoftmaxNormal,
        Experiment::MlpSigmoid,
        Experiment::DeepRelu,
        Experiment::DeepSigmoid,
        Experiment::Cnn,
        Experiment::MlpBatchnorm,
        Experiment::MlpXavier,
        Experiment::DeepXavier,
        Experiment::DeepDropout,
        Experiment::DeepCnn,
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
            Experiment::MlpXavier => "mlp-xavier",
            Experiment::DeepXavier => "deep-xavier",
            Experiment::DeepDropout => "deep-dropout",
            Experiment::DeepCnn => "deep-cnn",
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
            Experiment::MlpXavier => "784-256-256-10 ReLU network, Xavier-uniform weights",
            Experiment::DeepXavier => "784-512-512-512-512-10 with ReLU, Xavier-uniform weights",
            Experiment::DeepDropout => "deep-xavier with Dropout(0.3) after each ReLU",
            Experiment::DeepCnn => {
                "the lab's deeper CNN: 3 × (conv 3×3, ReLU, max-pool 2), fc 2048→625, \
                 dropout 0.5, fc 625→10"
            }
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
            Experiment::DeepCnn => &[2048, 625, 10],
            Experiment::Mlp
            | Experiment::MlpSigmoid
            | Experiment::MlpBatchnorm
            | Experiment::MlpXavier => &[784, 256, 256, 10],
            Experiment::Softmax | Experiment::SoftmaxNormal => &[784, 10],
            Experiment::DeepRelu | Experiment::DeepSigmoid => &[784, 256, 256, 256, 256, 10],
            Experiment::DeepXavier | Experiment::DeepDropout => &[784, 512, 512, 512, 512, 10],
        }
    }

    fn uses_sigmoid(self) -> bool {
        matches!(self, Experiment::MlpSigmoid | Experiment::DeepSigmoid)
    }

    /// The dropout probability after each hidden ReLU of a fully connected experiment.
    fn hidden_dropout(self) -> Option<f32> {
        match self {
            Experiment::DeepDropout => Some(0.3),
            _ => None,
        }
    }

    /// The initialisation `Default` stands for.
    pub fn default_init(self) -> InitScheme {
        match self {
            Experiment::SoftmaxNormal => InitScheme::Normal,
            Experiment::MlpXavier | Experiment::DeepXavier | Experiment::DeepDropout => {
                InitScheme::XavierUniform
            }
            _ => InitScheme::Default,
        }
    }

    /// Builds the model, initialised from `seed`: PyTorch's default init, then `init` applied to
    /// every weight (biases keep PyTorch's default, as in the seed's `normal_` run). Its dropout
    /// layers are keyed from `seed` and their names ([`Module::seed_random_streams`]).
    pub fn build<B: Backend>(
        self,
        init: InitScheme,
        seed: u64,
        backend: &B,
    ) -> Result<Sequential<B>> {
        let mut rng = seeded_rng(seed);
        let model = match self {
            Experiment::Cnn | Experiment::DeepCnn => {
                let (model, lab_xavier): (_, &[&str]) = if self == Experiment::Cnn {
                    (lab_cnn(&mut rng, backend)?, &["fc.weight"])
                } else {
                    (
                        lab_deep_cnn(&mut rng, backend)?,
                        &["fc1.weight", "fc2.weight"],
                    )
                };
                // The lab: Xavier-uniform on the fully connected weights; another scheme
                // replaces every weight.
                match init {
                    InitScheme::Default => reinit_weights(
                        &model,
                        InitScheme::XavierUniform,
                        |name| lab_xavier.contains(&name),
                        &mut rng,
                    )?,
                    other => reinit_weights(&model, other, |_| true, &mut rng)?,
                }
                model
            }
            _ => {
                let model = self.fully_connected(&mut rng, backend)?;
                let init = match init {
                    InitScheme::Default => self.default_init(),
                    other => other,
                };
                reinit_weights(&model, init, |_| true, &mut rng)?;
                model
            }
        };
        model.seed_random_streams(seed);
        Ok(model)
    }

    /// Linear layers of [`Experiment::widths`], each hidden one followed by its activation
    /// (and dropout), with PyTorch's default initialisation and positional names.
    fn fully_connected<B: Backend>(
        self,
        rng: &mut ember_tensor::SeededRng,
        backend: &B,
    ) -> Result<Sequential<B>> {
        let widths = self.widths();
        let mut model = Sequential::new();
        for (i, pair) in widths.windows(2).enumerate() {
            model.push(Linear::new(pair[0], pair[1], rng, backend)?);
            if i + 2 < widths.len() {
                if self == Experiment::MlpBatchnorm {
                    model.push(BatchNorm1d::new(BatchNormConfig::new(pair[1]), backend)?);
                }
                if self.uses_sigmoid() {
                    model.push(Sigmoid);
                } else {
                    model.push(ReLU);
                }
                if let Some(p) = self.hidden_dropout() {
                    model.push(Dropout::new(p)?);
                }
            }
        }
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
        scheme.apply(&p, rng)?;
    }
    Ok(())
}

/// A convolution block of the lab's CNNs: Conv2d(3×3, padding 1) → ReLU → `pool`.
fn conv_block<B: Backend>(
    in_channels: usize,
    out_channels: usize,
    pool: MaxPool2d,
    rng: &mut ember_tensor::SeededRng,
    backend: &B,
) -> Result<Sequential<B>> {
    let conv = Conv2dConfig::new(in_channels, out_channels, [3, 3]).padding([1, 1]);
    Ok(Sequential::new()
        .append(Conv2d::new(conv, rng, backend)?)
        .append(ReLU)
        .append(pool))
}

/// The lab's CNN with PyTorch's parameter names (`layer1.0.weight` … `fc.bias`), taking
/// `[N, 784]` images, which its first layer views as `[N, 1, 28, 28]`.
fn lab_cnn<B: Backend>(rng: &mut ember_tensor::SeededRng, backend: &B) -> Result<Sequential<B>> {
    let layer1 = conv_block(1, 32, MaxPool2d::new([2, 2]), rng, backend)?;
    let layer2 = conv_block(32, 64, MaxPool2d::new([2, 2]), rng, backend)?;
    Ok(Sequential::new()
        .append_named("image", Unflatten::new(1, &[1, 28, 28]))
        .append_named("layer1", layer1)
        .append_named("layer2", layer2)
        .append_named("flatten", Flatten::default())
        .append_named("fc", Linear::new(7 * 7 * 64, 10, rng, backend)?))
}

/// The lab's deeper CNN (11-2) with its parameter names (`layer1.0.weight` … `layer3.0.bias`,
/// `fc1.weight`, `fc1.bias`, `fc2.weight`, `fc2.bias`): 28 → 14 → 7 → 4 (the last pool is
/// padded by 1), so `fc1` takes 4·4·128 = 2048 features.
fn lab_deep_cnn<B: Backend>(
    rng: &mut ember_tensor::SeededRng,
    backend: &B,
) -> Result<Sequential<B>> {
    let layer1 = conv_block(1, 32, MaxPool2d::new([2, 2]), rng, backend)?;
    let layer2 = conv_block(32, 64, MaxPool2d::new([2, 2]), rng, backend)?;
    let padded_pool = MaxPool2d::new([2, 2]).padding([1, 1]);
    let layer3 = conv_block(64, 128, padded_pool, rng, backend)?;
    let fc1 = Linear::new(4 * 4 * 128, 625, rng, backend)?;
    let fc2 = Linear::new(625, 10, rng, backend)?;
    Ok(Sequential::new()
        .append_named("image", Unflatten::new(1, &[1, 28, 28]))
        .append_named("layer1", layer1)
        .append_named("layer2", layer2)
        .append_named("layer3", layer3)
        .append_named("flatten", Flatten::default())
        .append_named("fc1", fc1)
        .append_named("relu", ReLU)
        .append_named("dropout", Dropout::new(0.5)?)
        .append_named("fc2", fc2))
}
