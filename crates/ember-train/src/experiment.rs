//! The experiments, by name: the seed's models and the vanishing-gradient pair.

use ember_nn::init::{self, FanMode};
use ember_nn::{Linear, Module, ReLU, Sequential, Sigmoid};
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
    pub const ALL: [Experiment; 6] = [
        Experiment::Mlp,
        Experiment::Softmax,
        Experiment::SoftmaxNormal,
        Experiment::MlpSigmoid,
        Experiment::DeepRelu,
        Experiment::DeepSigmoid,
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

    /// Layer widths from input to output.
    pub fn widths(self) -> &'static [usize] {
        match self {
            Experiment::Mlp | Experiment::MlpSigmoid => &[784, 256, 256, 10],
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
        let widths = self.widths();
        let mut model = Sequential::new();
        for (i, pair) in widths.windows(2).enumerate() {
            model.push(Linear::new(pair[0], pair[1], &mut rng, backend)?);
            if i + 2 < widths.len() {
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
        for (name, p) in model.named_parameters() {
            if !name.ends_with("weight") {
                continue;
            }
            match init {
                InitScheme::Default => {}
                InitScheme::Normal => init::normal_(&p, 0.0, 1.0, &mut rng)?,
                InitScheme::XavierUniform => init::xavier_uniform_(&p, 1.0, &mut rng)?,
                InitScheme::KaimingUniform => {
                    init::kaiming_uniform_(&p, 0.0, FanMode::FanIn, &mut rng)?
                }
                InitScheme::KaimingNormal => {
                    init::kaiming_normal_(&p, 0.0, FanMode::FanIn, &mut rng)?
                }
            }
        }
        Ok(model)
    }
}
