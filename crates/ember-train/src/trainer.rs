//! The training loop, generic over the backend: the seed's loop (zero_grad, forward, cost,
//! backward, step), with losses read back in windows, per-layer gradient norms accumulated on
//! the device, a checkpoint after every epoch, and a NaN guard.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ember_autodiff::{NoGradGuard, Var};
use ember_data::{DataLoader, Dataset, IMAGE_BYTES, InMemoryDataset, load_train_test, locate};
use ember_nn::{CrossEntropyLoss, Module, Sequential};
use ember_optim::{AnyOptimizer, Optimizer};
use ember_tensor::{Backend, Tensor};

use crate::metrics::{EpochMetrics, Summary};
use crate::progress::Progress;
use crate::{Error, Result, TrainConfig, charts, checkpoint, io_at};

/// Losses are read back from the device once per this many steps (and at the end of an epoch).
const LOSS_READ_WINDOW: usize = 20;
/// Samples per forward pass when measuring test accuracy.
const EVAL_BATCH: usize = 1000;

/// How the run reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputOptions {
    /// No progress bar and no per-epoch lines; only the final accuracy.
    pub quiet: bool,
    /// Print the summary as JSON on stdout instead of the seed's lines.
    pub json: bool,
}

/// The run directory's files are written here; `runs/<experiment>-<UTC time>` by default.
pub fn default_run_dir(config: &TrainConfig) -> PathBuf {
    PathBuf::from("runs").join(format!("{}-{}", config.experiment.name(), utc_timestamp()))
}

/// `YYYYMMDD-HHMMSS` in UTC.
fn utc_timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Continuing an earlier run from its last checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Resume {
    /// The earlier run's directory.
    pub dir: PathBuf,
    /// Train until this epoch (default: the earlier run's own epoch count).
    pub epochs: Option<usize>,
    /// A new learning rate from the resumed epoch on (default: the earlier run's).
    pub lr: Option<f32>,
}

/// Trains on `backend` as `config` says, or continues the run `resume` names (whose saved
/// configuration then replaces `config`, except for the overrides `resume` carries).
pub fn train_on<B: Backend>(
    backend: &B,
    mut config: TrainConfig,
    resume: Option<&Resume>,
    output: OutputOptions,
) -> Result<Summary> {
    let resumed = match resume {
        Some(r) => {
            let (dict, resumed) = checkpoint::read(&r.dir)?;
            config = resumed.config.clone();
            config.epochs = r.epochs.unwrap_or(config.epochs).max(resumed.epoch);
            config.lr = r.lr.unwrap_or(config.lr);
            config.out = Some(r.dir.clone());
            Some((dict, resumed))
        }
        None => None,
    };
    config.validate()?;
    let kind = config.dataset_kind()?;
    let dir = locate(kind, config.data_dir.as_deref(), !output.quiet)?;
    let data = load_train_test(kind, &dir, config.train_limit, config.test_limit)?;

    let model = config.experiment.build(config.init, config.seed, backend)?;
    let mut optimizer =
        AnyOptimizer::by_name(&config.optimizer, model.named_parameters(), config.lr)?;
    let run_dir = config
        .out
        .clone()
        .unwrap_or_else(|| default_run_dir(&config));
    std::fs::create_dir_all(&run_dir).map_err(io_at(&run_dir))?;

    let (history, first_epoch) = match &resumed {
        Some((dict, r)) => {
            checkpoint::restore(dict, &model, &mut optimizer)?;
            optimizer.set_lr(config.lr);
            (r.history.clone(), r.epoch + 1)
        }
        None => (Vec::new(), 1),
    };
    let layers: Vec<String> = model
        .named_parameters()
        .into_iter()
        .filter(|(n, _)| n.ends_with("weight"))
        .map(|(n, _)| n)
        .collect();
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

    let loader = DataLoader::new(&data.train, config.batch_size)?
        .shuffle(true)
        .drop_last(true)
        .seed(config.seed);
    let progress = Progress::new(!output.quiet && !output.json);
    let mut stdout = std::io::stdout().lock();
    let mut last_checkpoint = match first_epoch {
        1 => "none (no epoch completed)".to_string(),
        _ => run_dir
            .join(checkpoint::CHECKPOINT_FILE)
            .display()
            .to_string(),
    };
    for epoch in first_epoch..=config.epochs {
        progress.start_epoch(epoch, config.epochs, loader.len());
        let started = Instant::now();
        let (cost, grad_norms) = train_epoch(
            backend,
            &model,
            &mut optimizer,
            &loader,
            epoch,
            &progress,
            &last_checkpoint,
        )?;
        let seconds = started.elapsed().as_secs_f64();
        let test_accuracy = evaluate(backend, &model, &data.test)?;
        progress.clear();
        let metrics = EpochMetrics {
            epoch,
            cost,
            test_accuracy,
            seconds,
            grad_norms,
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
            &config,
            epoch,
            &summary.epochs,
        )?;
        last_checkpoint = path.display().to_string();
        summary.test_accuracy = test_accuracy;
        summary.peak_rss_mib = crate::metrics::peak_rss_mib();
        crate::metrics::write_files(&run_dir, &summary)?;
    }
    ember_nn::state_dict::save_module(&model, run_dir.join(checkpoint::MODEL_FILE))?;
    charts::draw_run(&run_dir, &summary)?;
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
    Ok(summary)
}

/// One epoch of the seed's loop; returns the mean batch loss and each layer's mean
/// weight-gradient norm.
fn train_epoch<B: Backend>(
    backend: &B,
    model: &Sequential<B>,
    optimizer: &mut AnyOptimizer<B>,
    loader: &DataLoader<'_, InMemoryDataset>,
    epoch: usize,
    progress: &Progress,
    last_checkpoint: &str,
) -> Result<(f64, Vec<f64>)> {
    let loss_fn = CrossEntropyLoss::default();
    let weights: Vec<Var<B>> = model
        .named_parameters()
        .into_iter()
        .filter(|(n, _)| n.ends_with("weight"))
        .map(|(_, p)| p)
        .collect();
    let mut norm_sums: Vec<Option<Tensor<B>>> = vec![None; weights.len()];
    let mut batch = loader.new_batch();
    let mut labels: Vec<f32> = Vec::with_capacity(loader.batch_size());
    let mut batches = loader.epoch(epoch as u64 - 1);
    let mut pending: Vec<Tensor<B>> = Vec::with_capacity(LOSS_READ_WINDOW);
    let (mut cost_sum, mut read, mut step) = (0.0f64, 0usize, 0usize);
    let started = Instant::now();
    let total = loader.len();
    while batches.next_into(&mut batch) {
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
        for (w, sum) in weights.iter().zip(norm_sums.iter_mut()) {
            if let Some(g) = w.grad() {
                let norm = g.sum_squares()?.sqrt()?;
                *sum = Some(match sum.take() {
                    Some(s) => s.add(&norm)?,
                    None => norm,
                });
            }
        }
        optimizer.step()?;
        pending.push(cost.value());

        if pending.len() == LOSS_READ_WINDOW || step == total {
            for t in pending.drain(..) {
                read += 1;
                let value = t.to_scalar()?;
                if !value.is_finite() {
                    return Err(Error::NonFiniteLoss {
                        epoch,
                        step: read,
                        value,
                        checkpoint: last_checkpoint.to_string(),
                    });
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

/// Test accuracy: the share of samples whose largest logit is their label, computed without
/// recording gradients, 1,000 samples per forward pass.
pub fn evaluate<B: Backend, M: Module<B> + ?Sized, D: Dataset + ?Sized>(
    backend: &B,
    model: &M,
    data: &D,
) -> Result<f64> {
    let _no_grad = NoGradGuard::new();
    let loader = DataLoader::new(data, EVAL_BATCH)?;
    let mut batch = loader.new_batch();
    let mut batches = loader.epoch(0);
    let mut correct = 0usize;
    while batches.next_into(&mut batch) {
        // The batch's pixels move into the tensor (no copy on the CPU); the loader allocates
        // the next batch's.
        let x = Tensor::from_vec(
            std::mem::take(&mut batch.images),
            [batch.len, IMAGE_BYTES],
            backend,
        )?;
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
    Ok(correct as f64 / data.len().max(1) as f64)
}
