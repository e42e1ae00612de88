//! The training loop, generic over the backend: the seed's loop (zero_grad, forward, cost,
//! backward, step), with losses read back in windows, per-layer gradient norms accumulated on
//! the device, a checkpoint after every epoch, and a NaN guard.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ember_autodiff::Var;
use ember_data::{
    DataLoader, Dataset, IMAGE_BYTES, InMemoryDataset, TrainTest, load_train_test, locate,
};
use ember_nn::{CrossEntropyLoss, Module, Sequential, evaluate};
use ember_optim::{AnyOptimizer, LrScheduler, Optimizer};
use ember_tensor::{Backend, Tensor};

use crate::metrics::{EpochMetrics, Summary};
use crate::progress::Progress;
use crate::{Error, Result, TrainConfig, charts, checkpoint, io_at, run_dir, schedule};

/// Losses are read back from the device once per this many steps (and at the end of an epoch).
const LOSS_READ_WINDOW: usize = 20;
/// A cross-entropy above this has diverged even while finite: ln 10 ≈ 2.3 is a guess, and a
/// loss of 1e6 means the right class scores a million below the best (divergent runs climb to
/// 1e19 and beyond without ever turning NaN).
const DIVERGED_LOSS: f32 = 1e6;
/// How the run reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputOptions {
    /// No progress bar and no per-epoch lines; only the final accuracy.
    pub quiet: bool,
    /// Print the summary as JSON on stdout instead of the seed's lines.
    pub json: bool,
}

/// Continuing an earlier run from its last checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Resume {
    /// The earlier run's directory.
    pub dir: PathBuf,
}

impl Resume {
    /// Continues the run in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Resume { dir: dir.into() }
    }

    /// The configuration the run was started with, as its checkpoint stores it: the starting
    /// point of the configuration to resume with.
    /// Its `out` is this directory, wherever the run was when it started.
    pub fn saved_config(&self) -> Result<TrainConfig> {
        let mut config = checkpoint::read(&self.dir)?.1.config;
        config.out = Some(self.dir.clone());
        Ok(config)
    }
}

/// Trains on `backend` as `config` says, or continues the run `resume` names. A resumed run
/// keeps its configuration: `config` may differ from the saved one only in epochs (not fewer
/// than completed), learning rate, device and data directory (`None`: the saved one); any other
/// difference is [`Error::ResumeConflicts`], listing each.
pub fn train_on<B: Backend>(
    backend: &B,
    mut config: TrainConfig,
    resume: Option<&Resume>,
    output: OutputOptions,
) -> Result<Summary> {
    config.validate()?;
    let resumed = match resume {
        Some(r) => {
            let (dict, resumed) = checkpoint::read(&r.dir)?;
            let conflicts = resumed.config.resume_conflicts(&config, &r.dir);
            if !conflicts.is_empty() {
                return Err(Error::ResumeConflicts {
                    dir: r.dir.clone(),
                    conflicts,
                });
            }
            if config.epochs < resumed.epoch {
                return Err(Error::InvalidOption {
                    option: "--epochs",
                    message: format!(
                        "{} is fewer than the {} epochs the run in {} already completed",
                        config.epochs,
                        resumed.epoch,
                        r.dir.display()
                    ),
                });
            }
            if config.data_dir.is_none() {
                config.data_dir = resumed.config.data_dir.clone();
            }
            config.out = Some(r.dir.clone());
            Some((dict, resumed))
        }
        None => None,
    };
    let kind = config.dataset_kind()?;
    let dir = locate(kind, config.data_dir.as_deref(), !output.quiet)?;
    let data = load_train_test(kind, &dir, config.train_limit, config.test_limit)?;
    // Stored absolute, so the run can be resumed from any working directory.
    config.data_dir = Some(std::path::absolute(&dir).map_err(io_at(&dir))?);
    let loader = DataLoader::new(&data.train, config.batch_size)?
        .shuffle(true)
        .drop_last(true)
        .seed(config.seed);
    check_trainable(&data, &loader)?;

    let run_dir = match (&resumed, &config.out) {
        (Some(_), Some(dir)) => {
            run_dir::remove_stale_temp_files(dir)?;
            dir.clone()
        }
        (_, Some(dir)) => {
            run_dir::prepare_fresh(dir, config.overwrite)?;
            dir.clone()
        }
        (_, None) => run_dir::create_unique(Path::new("runs"), config.experiment.name())?,
    };
    config.out = Some(run_dir.clone());

    let mut model = config.experiment.build(config.init, config.seed, backend)?;
    let mut optimizer = schedule::build_optimizer(&config, &model)?;
    let mut scheduler = schedule::build_scheduler(&mut config, &mut optimizer, loader.len())?;
    let (history, first_epoch) = match &resumed {
        Some((dict, r)) => {
            checkpoint::restore(dict, &model, &mut optimizer)?;
            optimizer.set_lr(config.lr);
            schedule::restore_scheduler(dict, scheduler.as_mut(), &mut optimizer)?;
            (r.history.clone(), r.epoch + 1)
        }
        None => (Vec::new(), 1),
    };
    let layers: Vec<String> = layer_weights(&model).into_iter().map(|(n, _)| n).collect();
    let mut summary = Summary {
        experiment: config.experiment.name().into(),
        dataset: kind.name().into(),
        device: backend.name(),
        config: config.clone(),
        parameters: model.num_parameters(),
        layers,
        test_accuracy: history.last().map_or(0.0, |m| m.test_accuracy),
        epochs: history,
        run_dir: run_dir.display().to_string(),
        peak_rss_mib: 0.0,
    };

    let progress = Progress::new(!output.quiet && !output.json);
    let mut stdout = std::io::stdout().lock();
    let mut last_checkpoint = (first_epoch > 1).then(|| run_dir.join(checkpoint::CHECKPOINT_FILE));
    for epoch in first_epoch..=config.epochs {
        progress.start_epoch(epoch, config.epochs, loader.len());
        let started = Instant::now();
        model.set_training(true);
        let lr = f64::from(optimizer.lr());
        let (cost, grad_norms) = train_epoch(
            backend,
            &model,
            (&mut optimizer, scheduler.as_mut()),
            &loader,
            epoch,
            &progress,
            last_checkpoint.as_deref(),
        )?;
        if let Some(s) = scheduler.as_mut().filter(|s| !s.steps_per_batch()) {
            // ReduceLROnPlateau is fed the epoch's cost; the others ignore it.
            s.step(&mut optimizer, Some(cost))?;
        }
        let seconds = started.elapsed().as_secs_f64();
        // The experiments take flat samples (a CNN starts with its own `Unflatten`).
        let test_accuracy = evaluate(&mut model, &data.test, &[IMAGE_BYTES], backend)?;
        let train_accuracy = config
            .train_accuracy
            .then(|| evaluate(&mut model, &data.train, &[IMAGE_BYTES], backend))
            .transpose()?;
        progress.clear();
        let metrics = EpochMetrics {
            epoch,
            cost,
            test_accuracy,
            train_accuracy,
            seconds,
            grad_norms,
            lr,
        };
        if !output.quiet && !output.json {
            writeln!(stdout, "Epoch: {epoch:04} cost = {cost:.9}")
                .map_err(io_at(Path::new("<stdout>")))?;
        }
        summary.epochs.push(metrics);
        let path = checkpoint::save(
            &run_dir,
            &model,
            &optimizer,
            scheduler.as_ref(),
            &config,
            epoch,
            &summary.epochs,
        )?;
        last_checkpoint = Some(path);
        summary.test_accuracy = test_accuracy;
        summary.peak_rss_mib = crate::metrics::peak_rss_mib();
        crate::metrics::write_files(&run_dir, &summary)?;
    }
    ember_nn::state_dict::save_module(&model, run_dir.join(checkpoint::MODEL_FILE))?;
    // The model, checkpoint and metrics are safe by now: a chart that cannot be drawn or
    // written is worth a warning, not a failed run.
    if let Err(e) = charts::draw_run(&run_dir, &summary) {
        eprintln!("warning: {e}; the model, checkpoint and metrics are saved");
    }
    let out = Path::new("<stdout>");
    if output.json {
        let json = serde_json::to_string_pretty(&summary).unwrap_or_default();
        writeln!(stdout, "{json}").map_err(io_at(out))?;
    } else {
        if !output.quiet {
            writeln!(stdout, "Learning finished").map_err(io_at(out))?;
        }
        writeln!(stdout, "Accuracy: {:.4}", summary.test_accuracy).map_err(io_at(out))?;
    }
    eprintln!("run directory: {}", run_dir.display());
    Ok(summary)
}

/// An error unless every epoch takes at least one step and the test set has a sample.
fn check_trainable(data: &TrainTest, loader: &DataLoader<'_, InMemoryDataset>) -> Result<()> {
    let (train, test, dir) = (data.train.len(), data.test.len(), data.dir.display());
    if train == 0 {
        return Err(Error::NothingToTrain(format!(
            "the training set is empty (the files in {dir}, cut by --train-limit)"
        )));
    }
    if loader.is_empty() {
        return Err(Error::NothingToTrain(format!(
            "batch {} > {train} samples with drop_last: no step per epoch; lower --batch-size \
             or raise --train-limit",
            loader.batch_size()
        )));
    }
    if test == 0 {
        return Err(Error::NothingToTrain(format!(
            "the test set is empty (the files in {dir}, cut by --test-limit), so there is no \
             accuracy to measure"
        )));
    }
    Ok(())
}

/// One epoch of the seed's loop (the model in training mode; a per-batch scheduler,
/// `OneCycleLR`, steps after every optimizer step); returns the mean batch loss and each layer's
/// mean weight-gradient norm.
fn train_epoch<B: Backend>(
    backend: &B,
    model: &Sequential<B>,
    (optimizer, mut scheduler): (&mut AnyOptimizer<B>, Option<&mut LrScheduler>),
    loader: &DataLoader<'_, InMemoryDataset>,
    epoch: usize,
    progress: &Progress,
    last_checkpoint: Option<&Path>,
) -> Result<(f64, Vec<f64>)> {
    let loss_fn = CrossEntropyLoss::default();
    let weights: Vec<Var<B>> = layer_weights(model).into_iter().map(|(_, p)| p).collect();
    let mut norm_sums: Vec<Option<Tensor<B>>> = vec![None; weights.len()];
    let mut batch = loader.new_batch();
    let mut labels: Vec<f32> = Vec::with_capacity(loader.batch_size());
    let mut batches = loader.epoch(epoch as u64 - 1);
    // Each step's loss and the sum of its layers' gradient norms, read back once per window;
    // the window's norms are summed on the device and read one by one only if that is not
    // finite.
    let mut pending: Vec<(Tensor<B>, Tensor<B>)> = Vec::with_capacity(LOSS_READ_WINDOW);
    let mut window_norm: Option<Tensor<B>> = None;
    let diverged = |quantity, step, value| Error::Diverged {
        quantity,
        epoch,
        step,
        value,
        checkpoint: last_checkpoint.map(Path::to_path_buf),
    };
    let (mut cost_sum, mut read, mut step) = (0.0f64, 0usize, 0usize);
    let started = Instant::now();
    let total = loader.len();
    // Every epoch has `total` steps, so the global step, which keys the dropout masks, is a
    // function of (epoch, step): a resumed run draws the masks of an uninterrupted one.
    let first_global_step = (epoch as u64 - 1) * total as u64;
    while batches.next_into(&mut batch) {
        model.set_random_step(first_global_step + step as u64);
        step += 1;
        labels.clear();
        labels.extend(batch.labels.iter().map(|&l| l as f32));
        // The batch's pixels move into the tensor (no copy on the CPU); the loader allocates
        // the next batch's.
        let x = Tensor::from_vec(
            std::mem::take(&mut batch.images),
            [batch.len, IMAGE_BYTES],
            backend,
        )?;
        let y = Tensor::from_slice(&labels, [batch.len], backend)?;

        optimizer.zero_grad();
        let cost = loss_fn.forward(&model.forward(&Var::constant(x))?, &y)?;
        cost.backward()?;
        let mut step_norm: Option<Tensor<B>> = None;
        for (w, sum) in weights.iter().zip(norm_sums.iter_mut()) {
            if let Some(g) = w.grad() {
                let norm = g.sum_squares()?.sqrt()?;
                step_norm = Some(add_to(step_norm.take(), &norm)?);
                *sum = Some(add_to(sum.take(), &norm)?);
            }
        }
        optimizer.step()?;
        if let Some(s) = scheduler.as_deref_mut().filter(|s| s.steps_per_batch()) {
            s.step(optimizer, None)?;
        }
        let step_norm = match step_norm {
            Some(n) => n,
            None => Tensor::zeros([], backend)?,
        };
        window_norm = Some(add_to(window_norm.take(), &step_norm)?);
        pending.push((cost.value(), step_norm));

        if pending.len() == LOSS_READ_WINDOW || step == total {
            let norms_finite = match window_norm.take() {
                Some(n) => n.to_scalar()?.is_finite(),
                None => true,
            };
            for (loss, norm) in pending.drain(..) {
                read += 1;
                let value = loss.to_scalar()?;
                if value.is_nan() || value.abs() > DIVERGED_LOSS {
                    return Err(diverged("loss", read, value));
                }
                if !norms_finite {
                    let norm = norm.to_scalar()?;
                    if !norm.is_finite() {
                        return Err(diverged("gradient norm", read, norm));
                    }
                }
                cost_sum += f64::from(value);
            }
            let rate =
                (step * loader.batch_size()) as f64 / started.elapsed().as_secs_f64().max(1e-9);
            progress.update(step, cost_sum / read.max(1) as f64, rate);
        }
    }
    let steps = step.max(1) as f64;
    let norms = norm_sums
        .into_iter()
        .map(|s| match s {
            Some(t) => t.to_scalar().map(|v| f64::from(v) / steps),
            None => Ok(0.0),
        })
        .collect::<ember_tensor::Result<Vec<f64>>>()?;
    Ok((cost_sum / steps, norms))
}

/// `sum + value`, or `value` for the first term.
fn add_to<B: Backend>(sum: Option<Tensor<B>>, value: &Tensor<B>) -> Result<Tensor<B>> {
    Ok(match sum {
        Some(s) => s.add(value)?,
        None => value.clone(),
    })
}

/// The weights whose gradient norms are recorded per layer: the matrices of linear layers and
/// the kernels of convolutions (rank 2 or more), not BatchNorm's per-channel scales.
fn layer_weights<B: Backend, M: Module<B> + ?Sized>(model: &M) -> Vec<(String, Var<B>)> {
    model
        .named_parameters()
        .into_iter()
        .filter(|(n, p)| n.ends_with("weight") && p.shape().dims().len() >= 2)
        .collect()
}
