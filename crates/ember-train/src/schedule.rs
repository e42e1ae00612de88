//! A run's optimizer and learning-rate schedule: parameter groups from the configuration
//! (`--weight-decay` applies to weights; biases form a group without weight decay, as is
//! customary), the scheduler parsed from `--scheduler NAME[:key=value,...]`, and the
//! scheduler's state in checkpoints, so a resumed run continues mid-schedule bit for bit.

use std::collections::BTreeMap;

use ember_nn::Module;
use ember_nn::state_dict::StateDict;
use ember_optim::{AnyOptimizer, LrScheduler, Optimizer, ParamGroup, SchedulerKind};
use ember_tensor::Backend;

use crate::{Result, TrainConfig};

/// The optimizer the configuration names: one group with the algorithm's default weight decay,
/// or, with `--weight-decay`, the weights with it and the biases without.
pub fn build_optimizer<B: Backend, M: Module<B> + ?Sized>(
    config: &TrainConfig,
    model: &M,
) -> Result<AnyOptimizer<B>> {
    let params = model.named_parameters();
    let groups = match config.weight_decay {
        None => vec![ParamGroup {
            params,
            lr: config.lr,
            weight_decay: None,
        }],
        Some(decay) => {
            let (biases, weights): (Vec<_>, Vec<_>) = params
                .into_iter()
                .partition(|(name, _)| name.ends_with("bias"));
            vec![
                ParamGroup {
                    params: weights,
                    lr: config.lr,
                    weight_decay: Some(decay),
                },
                ParamGroup {
                    params: biases,
                    lr: config.lr,
                    weight_decay: Some(0.0),
                },
            ]
        }
    };
    Ok(AnyOptimizer::with_groups(&config.optimizer, groups)?)
}

/// The scheduler the configuration names, if any. `OneCycleLR` without `total_steps` gets
/// `epochs × steps_per_epoch`, written into `config.scheduler` so the checkpoint keeps the
/// schedule the run started with.
pub fn build_scheduler<B: Backend>(
    config: &mut TrainConfig,
    optimizer: &mut AnyOptimizer<B>,
    steps_per_epoch: usize,
) -> Result<Option<LrScheduler>> {
    let Some(spec) = &config.scheduler else {
        return Ok(None);
    };
    let parsed = SchedulerKind::parse(spec)?;
    if let SchedulerKind::OneCycleLr {
        total_steps: None, ..
    } = parsed
    {
        let total = (config.epochs * steps_per_epoch) as u64;
        let separator = if spec.contains(':') { "," } else { ":" };
        config.scheduler = Some(format!("{spec}{separator}total_steps={total}"));
    }
    let kind = parsed.with_default_total_steps((config.epochs * steps_per_epoch) as u64);
    Ok(Some(LrScheduler::new(kind, optimizer)?))
}

/// The scheduler's entries of a checkpoint's metadata (none without a scheduler).
pub fn scheduler_metadata(scheduler: Option<&LrScheduler>) -> BTreeMap<String, String> {
    scheduler.map(LrScheduler::state).unwrap_or_default()
}

/// Restores the scheduler's position from a checkpoint and sets its lrs on the optimizer.
pub fn restore_scheduler<B: Backend>(
    dict: &StateDict,
    scheduler: Option<&mut LrScheduler>,
    optimizer: &mut AnyOptimizer<B>,
) -> Result<()> {
    if let Some(scheduler) = scheduler {
        scheduler.load_state(&dict.metadata, optimizer as &mut dyn Optimizer<B>)?;
    }
    Ok(())
}
