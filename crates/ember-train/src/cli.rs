//! The `ember-train` command line.

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use ember_cpu::Cpu;

use crate::charts::{Axes, Series, line_chart};
use crate::compare_groups::CompareGroup;
use crate::metrics::Summary;
use crate::{
    DeviceChoice, Experiment, InitScheme, OutputOptions, Result, Resume, TrainConfig, train_on,
};

/// Train the seed's models on MNIST or Fashion-MNIST.
#[derive(Debug, Parser)]
#[command(name = "ember-train", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    train: TrainArgs,
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Train several experiments and draw them on shared charts (ReLU vs sigmoid gradient
    /// norms, `softmax-normal` vs `softmax` loss curves).
    Compare(CompareArgs),
    /// The optimizer race: the seed's `mlp` once with each optimizer at its customary lr, one
    /// loss chart and a table (final cost, test accuracy, seconds).
    CompareOptimizers(RaceArgs),
    /// The classic picture: each optimizer's path on the Rosenbrock function over its contours.
    OptimizerPaths(PathsArgs),
    /// List the experiments.
    List,
    /// Download a data set from its mirrors, verifying the published checksums.
    Download(DownloadArgs),
}

/// Options of `compare-optimizers`.
#[derive(Debug, Args)]
struct RaceArgs {
    /// Comma-separated subset of the runners (their --optimizer names) [default: all ten].
    #[arg(long, value_delimiter = ',')]
    optimizers: Vec<String>,
    /// Where the runs, the table and the chart go (default: a new `runs/optimizers-<time>`).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[command(flatten)]
    common: CommonArgs,
}

/// Options of `optimizer-paths`.
#[derive(Debug, Args)]
struct PathsArgs {
    /// Steps of each optimizer.
    #[arg(long, default_value_t = 400)]
    steps: usize,
    /// The PNG to write.
    #[arg(long, value_name = "FILE", default_value = "optimizer_paths.png")]
    out: PathBuf,
}

/// Options of `download`.
#[derive(Debug, Args)]
struct DownloadArgs {
    /// mnist or fashion-mnist.
    #[arg(long, default_value = "fashion-mnist")]
    dataset: String,
    /// Target directory (default: `data/<dataset>`).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Options of a training run (the seed's values by default).
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Experiment: mlp, softmax, softmax-normal, mlp-sigmoid, deep-relu, deep-sigmoid, cnn,
    /// mlp-batchnorm, mlp-xavier, deep-xavier, deep-dropout, deep-cnn (`list` describes them).
    #[arg(value_name = "EXPERIMENT")]
    experiment_positional: Option<String>,
    /// Experiment (same as the positional argument).
    #[arg(long)]
    experiment: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
    /// Continue the run in DIR from its last checkpoint, with the run's own configuration. Only
    /// --epochs, --lr, --device, --data-dir, --quiet and --json may differ from it; any other
    /// option that disagrees is an error listing the conflicts.
    #[arg(long, value_name = "DIR")]
    resume: Option<PathBuf>,
    /// Where to write the run's files (default: a new `runs/<experiment>-<time>`). A directory
    /// that holds another run is refused unless --overwrite is given.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Options shared by `train` and `compare`; `None` when not given.
#[derive(Debug, Args)]
struct CommonArgs {
    /// Passes over the training set [default: 15; when resuming, the run's]. May change on
    /// resume (not below the epochs completed).
    #[arg(long)]
    epochs: Option<usize>,
    /// Samples per step [default: 100].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Learning rate [default: 0.001; when resuming, the run's]. May change on resume.
    #[arg(long)]
    lr: Option<f32>,
    /// sgd, momentum, nesterov, adagrad, rmsprop, adadelta, adam, adamw, adamax, nadam or
    /// radam (PyTorch's defaults besides --lr) [default: adam].
    #[arg(long)]
    optimizer: Option<String>,
    #[command(flatten)]
    schedule: ScheduleArgs,
    /// default, normal, xavier_uniform, xavier_normal, kaiming_uniform or kaiming_normal
    /// (PyTorch's formulas; hyphens work too) [default: default, the experiment's own].
    #[arg(long)]
    init: Option<String>,
    /// Seed of the initialisation and the shuffling [default: 777].
    #[arg(long)]
    seed: Option<u64>,
    /// cpu, wgpu or auto (a real GPU if there is one, else the CPU) [default: cpu; when
    /// resuming, the run's]. May change on resume.
    #[arg(long)]
    device: Option<String>,
    /// mnist or fashion-mnist [default: fashion-mnist].
    #[arg(long)]
    dataset: Option<String>,
    /// Directory holding the data set's four files (default: `data/<dataset>`, then Debian's
    /// copy of Fashion-MNIST, else a download into `data/<dataset>`; when resuming, the run's).
    /// May change on resume.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Train on only the first N training samples.
    #[arg(long, value_name = "N")]
    train_limit: Option<usize>,
    /// Evaluate on only the first N test samples.
    #[arg(long, value_name = "N")]
    test_limit: Option<usize>,
    /// Also measure the accuracy over the whole training set after each epoch (in evaluation
    /// mode; one more pass over the data), recorded in metrics.csv. May be switched on when
    /// resuming.
    #[arg(long)]
    train_accuracy: bool,
    /// Delete the files of a run already in the output directory instead of refusing to start.
    #[arg(long)]
    overwrite: bool,
    /// No progress bar and no per-epoch lines. May change on resume.
    #[arg(long)]
    quiet: bool,
    /// Print the summary as JSON. May change on resume.
    #[arg(long)]
    json: bool,
}

/// Options of `compare`.
#[derive(Debug, Args)]
struct CompareArgs {
    /// A README comparison: init (softmax-normal vs softmax, mlp vs mlp-xavier),
    /// depth-dropout (mlp-xavier, deep-xavier, deep-dropout: train and test accuracy) or
    /// batchnorm (mlp vs mlp-batchnorm). Its runs measure train accuracy; it writes
    /// GROUP.png and GROUP.md. Without it, --experiments are compared.
    #[arg(value_name = "GROUP", conflicts_with = "experiments")]
    group: Option<String>,
    /// Comma-separated experiments.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "softmax,softmax-normal,mlp,mlp-sigmoid,deep-relu,deep-sigmoid"
    )]
    experiments: Vec<String>,
    /// Where the runs and the comparison charts go (default: a new `runs/compare-<time>`).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[command(flatten)]
    common: CommonArgs,
}

/// The learning-rate schedule and weight decay; `None` when not given.
#[derive(Debug, Args)]
struct ScheduleArgs {
    /// Learning-rate scheduler NAME[:key=value,...] with PyTorch's option names: step
    /// (step_size, gamma), multistep (milestones=5;12;20, gamma), exponential (gamma), cosine
    /// (t_max, eta_min), linear (start_factor, end_factor, total_iters), onecycle (max_lr,
    /// total_steps [default: epochs × batches], pct_start, ...; steps per batch), plateau
    /// (factor, patience, ...; fed the epoch's cost) [default: none].
    #[arg(long, value_name = "NAME[:K=V,...]")]
    scheduler: Option<String>,
    /// Weight decay of the weights; biases form a parameter group without weight decay
    /// [default: the optimizer's, for every parameter].
    #[arg(long, value_name = "X")]
    weight_decay: Option<f32>,
}

impl ScheduleArgs {
    /// `config` with the options given applied.
    fn apply(&self, config: TrainConfig) -> TrainConfig {
        TrainConfig {
            scheduler: self.scheduler.clone().or(config.scheduler),
            weight_decay: self.weight_decay.or(config.weight_decay),
            ..config
        }
    }
}

impl CommonArgs {
    /// `base` with every option given on the command line applied, validated.
    fn apply(&self, base: TrainConfig) -> Result<TrainConfig> {
        let base = self.schedule.apply(base);
        let config = TrainConfig {
            epochs: self.epochs.unwrap_or(base.epochs),
            batch_size: self.batch_size.unwrap_or(base.batch_size),
            lr: self.lr.unwrap_or(base.lr),
            optimizer: match &self.optimizer {
                Some(name) => name.to_ascii_lowercase(),
                None => base.optimizer,
            },
            init: match &self.init {
                Some(name) => InitScheme::parse(name)?,
                None => base.init,
            },
            seed: self.seed.unwrap_or(base.seed),
            dataset: self.dataset.clone().unwrap_or(base.dataset),
            data_dir: self.data_dir.clone().or(base.data_dir),
            device: match &self.device {
                Some(name) => DeviceChoice::parse(name)?,
                None => base.device,
            },
            train_limit: self.train_limit.or(base.train_limit),
            test_limit: self.test_limit.or(base.test_limit),
            train_accuracy: self.train_accuracy || base.train_accuracy,
            overwrite: self.overwrite,
            ..base
        };
        config.validate()?;
        Ok(config)
    }

    /// A new run's configuration: the seed's defaults and the options given.
    fn config(&self, experiment: Experiment, out: Option<PathBuf>) -> Result<TrainConfig> {
        self.apply(TrainConfig {
            experiment,
            out,
            ..TrainConfig::default()
        })
    }

    fn output(&self) -> OutputOptions {
        OutputOptions {
            quiet: self.quiet,
            json: self.json,
        }
    }
}

/// Runs the command line `args` (without the program name's special meaning: `args[0]` is it).
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Some(Command::List) => {
            for e in Experiment::ALL {
                println!("{:<15} {}", e.name(), e.description());
            }
            Ok(())
        }
        Some(Command::Compare(args)) => compare(&args),
        Some(Command::CompareOptimizers(args)) => compare_optimizers(&args),
        Some(Command::OptimizerPaths(args)) => {
            crate::optimizer_paths::draw_paths(&args.out, args.steps)?;
            println!("chart: {}", args.out.display());
            Ok(())
        }
        Some(Command::Download(args)) => download(&args),
        None => {
            let args = cli.train;
            let experiment = args
                .experiment
                .or(args.experiment_positional)
                .map(|name| Experiment::parse(&name))
                .transpose()?;
            let output = args.common.output();
            match args.resume {
                // The run's own configuration, with the options given on top: train_on refuses
                // the ones that may not change, listing them.
                Some(dir) => {
                    let resume = Resume::new(dir);
                    let saved = resume.saved_config()?;
                    let config = args.common.apply(TrainConfig {
                        experiment: experiment.unwrap_or(saved.experiment),
                        out: args.out,
                        ..saved
                    })?;
                    train(config, Some(&resume), output).map(|_| ())
                }
                None => {
                    let experiment = experiment.unwrap_or(Experiment::Mlp);
                    let config = args.common.config(experiment, args.out)?;
                    train(config, None, output).map(|_| ())
                }
            }
        }
    }
}

/// Trains on the device the configuration names.
pub fn train(
    config: TrainConfig,
    resume: Option<&Resume>,
    output: OutputOptions,
) -> Result<Summary> {
    match config.device {
        DeviceChoice::Cpu => train_on(&Cpu, config, resume, output),
        #[cfg(feature = "wgpu")]
        DeviceChoice::Wgpu | DeviceChoice::Auto => {
            crate::device::train_on_gpu(config, resume, output)
        }
        #[cfg(not(feature = "wgpu"))]
        DeviceChoice::Wgpu => Err(crate::Error::Device(crate::NO_GPU_BACKEND.to_string())),
        #[cfg(not(feature = "wgpu"))]
        DeviceChoice::Auto => {
            eprintln!(
                "note: --device auto: {}; training on the CPU",
                crate::NO_GPU_BACKEND
            );
            train_on(&Cpu, config, resume, output)
        }
    }
}

/// Trains `mlp` with each runner of the race and writes its table and chart.
fn compare_optimizers(args: &RaceArgs) -> Result<()> {
    use crate::optimizer_race::{select, write_race};
    for (option, given) in [
        ("--optimizer", args.common.optimizer.is_some()),
        ("--lr", args.common.lr.is_some()),
    ] {
        if given {
            return Err(crate::Error::InvalidOption {
                option,
                message: "compare-optimizers gives each optimizer its customary learning rate; \
                          choose runners with --optimizers"
                    .into(),
            });
        }
    }
    let runners = select(&args.optimizers)?;
    let out = match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(crate::io_at(dir))?;
            dir.clone()
        }
        None => crate::run_dir::create_unique(Path::new("runs"), "optimizers")?,
    };
    let mut results = Vec::with_capacity(runners.len());
    for runner in runners {
        let config = TrainConfig {
            optimizer: runner.optimizer.into(),
            lr: runner.lr,
            ..args
                .common
                .config(Experiment::Mlp, Some(out.join(runner.optimizer)))?
        };
        if !args.common.quiet {
            println!("== {} (lr {})", runner.label, runner.lr);
        }
        results.push((runner, train(config, None, args.common.output())?));
    }
    let written = write_race(&out, &results)?;
    if !args.common.json {
        println!("\n{}", crate::optimizer_race::race_table(&results));
        for path in written {
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

fn download(args: &DownloadArgs) -> Result<()> {
    let kind: ember_data::DatasetKind = args.dataset.parse()?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("data").join(kind.name()));
    let report =
        ember_data::download_dataset(kind, &dir, &ember_data::DownloadOptions::for_dataset(kind))?;
    for file in &report.files {
        let how = match &file.outcome {
            ember_data::FileOutcome::AlreadyPresent => "already present".to_string(),
            ember_data::FileOutcome::Downloaded { url, .. } => format!("downloaded from {url}"),
        };
        println!(
            "{}: {} bytes, md5 {} ({how})",
            file.path.display(),
            file.bytes,
            file.md5
        );
    }
    Ok(())
}

fn compare(args: &CompareArgs) -> Result<()> {
    if let Some(group) = &args.group {
        return compare_group(CompareGroup::find(group)?, args);
    }
    let experiments = args
        .experiments
        .iter()
        .map(|e| Experiment::parse(e.trim()))
        .collect::<Result<Vec<_>>>()?;
    let out = match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(crate::io_at(dir))?;
            dir.clone()
        }
        None => crate::run_dir::create_unique(Path::new("runs"), "compare")?,
    };
    let mut summaries = Vec::new();
    for experiment in experiments {
        let config = args
            .common
            .config(experiment, Some(out.join(experiment.name())))?;
        if !args.common.quiet {
            println!("== {} ({})", experiment.name(), experiment.description());
        }
        summaries.push(train(config, None, args.common.output())?);
    }
    let written = draw_comparison(&out, &summaries)?;
    let table = comparison_table(&summaries);
    ember_nn::state_dict::write_atomic(&out.join("compare.md"), table.as_bytes())?;
    if !args.common.json {
        println!("\n{table}");
        for path in written {
            println!("chart: {}", path.display());
        }
    }
    Ok(())
}

/// Trains a group's experiments (train accuracy on) into `--out` (default: a new
/// `runs/compare-<group>-<time>`) and writes its chart and table there.
fn compare_group(group: &CompareGroup, args: &CompareArgs) -> Result<()> {
    let experiments = group.parse_experiments()?;
    let out = match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(crate::io_at(dir))?;
            dir.clone()
        }
        None => {
            crate::run_dir::create_unique(Path::new("runs"), &format!("compare-{}", group.name))?
        }
    };
    let mut summaries = Vec::new();
    for experiment in experiments {
        let config = TrainConfig {
            train_accuracy: true,
            ..args
                .common
                .config(experiment, Some(out.join(experiment.name())))?
        };
        if !args.common.quiet {
            println!("== {} ({})", experiment.name(), experiment.description());
        }
        summaries.push(train(config, None, args.common.output())?);
    }
    let written = group.write(&out, &summaries)?;
    if !args.common.json {
        println!("\n{}", group.table(&summaries));
        for path in written {
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

/// A Markdown table of each run's first and last cost, accuracy and first/last-layer gradient
/// norms in epoch 1.
pub fn comparison_table(summaries: &[Summary]) -> String {
    let mut out = String::from(
        "| experiment | epoch-1 cost | last cost | test accuracy | epoch-1 grad norm, first layer | last layer |\n|---|---|---|---|---|---|\n",
    );
    for s in summaries {
        let first = s.epochs.first();
        let last = s.epochs.last();
        let norms = first.map(|m| m.grad_norms.clone()).unwrap_or_default();
        out.push_str(&format!(
            "| `{}` | {:.4} | {:.4} | {:.4} | {:.3} | {:.3} |\n",
            s.experiment,
            first.map_or(f64::NAN, |m| m.cost),
            last.map_or(f64::NAN, |m| m.cost),
            s.test_accuracy,
            norms.first().copied().unwrap_or(f64::NAN),
            norms.last().copied().unwrap_or(f64::NAN),
        ));
    }
    out
}

fn draw_comparison(dir: &Path, summaries: &[Summary]) -> Result<Vec<PathBuf>> {
    let loss = dir.join("compare_loss.png");
    let series: Vec<Series> = summaries
        .iter()
        .map(|s| Series {
            label: s.experiment.clone(),
            points: s.epochs.iter().map(|m| (m.epoch as f64, m.cost)).collect(),
        })
        .collect();
    line_chart(
        &loss,
        "training cost per epoch",
        Axes {
            x: "epoch",
            y: "cost (log scale)",
        },
        &series,
        true,
    )?;
    // The vanishing gradient: epoch 1's mean weight-gradient norm of each layer, from the input
    // (layer 1) to the output, for every run with more than one layer.
    let norms = dir.join("compare_grad_norms.png");
    let series: Vec<Series> = summaries
        .iter()
        .filter(|s| s.layers.len() > 1)
        .filter_map(|s| {
            let first = s.epochs.first()?;
            Some(Series {
                label: s.experiment.clone(),
                points: first
                    .grad_norms
                    .iter()
                    .enumerate()
                    .map(|(i, &g)| ((i + 1) as f64, g))
                    .collect(),
            })
        })
        .collect();
    line_chart(
        &norms,
        "epoch 1: mean weight-gradient norm by layer (input → output)",
        Axes {
            x: "layer",
            y: "mean ||dL/dW|| (log scale)",
        },
        &series,
        true,
    )?;
    // Test accuracy per epoch (e.g. `--experiments mlp,cnn`: what the convolutions buy).
    let accuracy = dir.join("compare_accuracy.png");
    let series: Vec<Series> = summaries
        .iter()
        .map(|s| Series {
            label: s.experiment.clone(),
            points: s
                .epochs
                .iter()
                .map(|m| (m.epoch as f64, m.test_accuracy))
                .collect(),
        })
        .collect();
    line_chart(
        &accuracy,
        "test accuracy per epoch",
        Axes {
            x: "epoch",
            y: "test accuracy",
        },
        &series,
        false,
    )?;
    Ok(vec![loss, norms, accuracy])
}
