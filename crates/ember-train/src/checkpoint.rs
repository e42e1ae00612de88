//! The checkpoint written after every epoch: model (parameters and buffers, such as BatchNorm's
//! running statistics, in their dtypes), optimizer state, epoch, the run's configuration and
//! metrics so far, in one safetensors file written atomically.
//!
//! The data loader's shuffle for epoch `e` is a pure function of `(seed, e)`, so the seed and
//! the completed epoch are the whole random state a resumed run needs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ember_nn::state_dict::{StateDict, load_safetensors, save_safetensors};
use ember_nn::{Module, Sequential, StateTensor};
use ember_optim::{AnyOptimizer, LrScheduler, Optimizer};
use ember_tensor::Backend;

use crate::metrics::EpochMetrics;
use crate::{Error, Result, TrainConfig};

/// File name of the checkpoint inside a run directory.
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
/// File name of the final model (PyTorch names only, loadable by `safetensors.torch`).
pub const MODEL_FILE: &str = "model.safetensors";

/// The `format` tag of the checkpoints this version writes and reads.
pub const FORMAT: &str = "ember-checkpoint-1";

const MODEL_PREFIX: &str = "model.";
const OPTIMIZER_PREFIX: &str = "optimizer.";

/// What a checkpoint restores besides tensors.
#[derive(Debug, Clone)]
pub struct Resumed {
    /// The run's configuration.
    pub config: TrainConfig,
    /// Epochs completed.
    pub epoch: usize,
    /// Their metrics.
    pub history: Vec<EpochMetrics>,
}

/// Writes the checkpoint of a run after `epoch` completed epochs (with the scheduler's
/// position, if the run has one).
pub fn save<B: Backend>(
    dir: &Path,
    model: &Sequential<B>,
    optimizer: &AnyOptimizer<B>,
    scheduler: Option<&LrScheduler>,
    config: &TrainConfig,
    epoch: usize,
    history: &[EpochMetrics],
) -> Result<PathBuf> {
    let mut tensors: Vec<(String, StateTensor<B>)> = model
        .state_dict()
        .into_iter()
        .map(|(n, t)| (format!("{MODEL_PREFIX}{n}"), t))
        .collect();
    let (optim_tensors, optim_meta) = optimizer.state_tensors();
    tensors.extend(
        optim_tensors
            .into_iter()
            .map(|(n, t)| (format!("{OPTIMIZER_PREFIX}{n}"), StateTensor::F32(t))),
    );
    let mut metadata: BTreeMap<String, String> = optim_meta
        .into_iter()
        .map(|(k, v)| (format!("{OPTIMIZER_PREFIX}{k}"), v))
        .collect();
    metadata.extend(crate::schedule::scheduler_metadata(scheduler));
    metadata.insert("format".into(), FORMAT.into());
    metadata.insert("epoch".into(), epoch.to_string());
    metadata.insert("seed".into(), config.seed.to_string());
    metadata.insert(
        "config".into(),
        serde_json::to_string(config).unwrap_or_default(),
    );
    metadata.insert(
        "history".into(),
        serde_json::to_string(history).unwrap_or_default(),
    );
    let path = dir.join(CHECKPOINT_FILE);
    save_safetensors(&path, &tensors, &metadata)?;
    Ok(path)
}

fn resume_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Resume {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Reads a run directory's checkpoint: its configuration and progress.
pub fn read(dir: &Path) -> Result<(StateDict, Resumed)> {
    let path = dir.join(CHECKPOINT_FILE);
    if !path.exists() {
        return Err(resume_error(
            &path,
            "no checkpoint there; --resume takes the run directory of an earlier run",
        ));
    }
    let dict = load_safetensors(&path)?;
    let get = |key: &str| {
        dict.metadata
            .get(key)
            .ok_or_else(|| resume_error(&path, format!("metadata `{key}` is missing")))
    };
    let format = get("format")?;
    if format != FORMAT {
        return Err(resume_error(
            &path,
            format!("its format is `{format}`, this Ember reads `{FORMAT}`"),
        ));
    }
    let config: TrainConfig = serde_json::from_str(get("config")?)
        .map_err(|e| resume_error(&path, format!("bad `config`: {e}")))?;
    config
        .validate()
        .map_err(|e| resume_error(&path, format!("its configuration is invalid: {e}")))?;
    let epoch: usize = get("epoch")?
        .parse()
        .map_err(|e| resume_error(&path, format!("bad `epoch`: {e}")))?;
    let history: Vec<EpochMetrics> = serde_json::from_str(get("history")?)
        .map_err(|e| resume_error(&path, format!("bad `history`: {e}")))?;
    check_history(epoch, &history).map_err(|message| resume_error(&path, message))?;
    Ok((
        dict,
        Resumed {
            config,
            epoch,
            history,
        },
    ))
}

/// A checkpoint is written after epoch `epoch` completed, so its history holds exactly epochs
/// 1 to `epoch`.
fn check_history(epoch: usize, history: &[EpochMetrics]) -> std::result::Result<(), String> {
    if epoch == 0 {
        return Err("`epoch` is 0, but a checkpoint is only written after an epoch".into());
    }
    if history.len() != epoch {
        return Err(format!(
            "`epoch` is {epoch} but the history holds {} epochs",
            history.len()
        ));
    }
    if let Some((i, m)) = history.iter().enumerate().find(|(i, m)| m.epoch != i + 1) {
        return Err(format!(
            "history entry {} is for epoch {}, expected {}",
            i + 1,
            m.epoch,
            i + 1
        ));
    }
    Ok(())
}

/// Splits a checkpoint into the model's and the optimizer's state dicts.
fn split(dict: &StateDict, prefix: &str) -> StateDict {
    StateDict {
        path: dict.path.clone(),
        tensors: dict
            .tensors
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(prefix).map(|k| (k.to_string(), v.clone())))
            .collect(),
        metadata: dict
            .metadata
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(prefix).map(|k| (k.to_string(), v.clone())))
            .collect(),
    }
}

/// Loads the model and optimizer state of a checkpoint.
pub fn restore<B: Backend>(
    dict: &StateDict,
    model: &Sequential<B>,
    optimizer: &mut AnyOptimizer<B>,
) -> Result<()> {
    ember_nn::state_dict::load_module(model, &split(dict, MODEL_PREFIX))?;
    optimizer.load_state(&split(dict, OPTIMIZER_PREFIX))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::metrics::EpochMetrics;

    /// A resumed run's history (costs, accuracies, seconds) is the one the run wrote, bit for
    /// bit: serde_json's default float parser may miss the last bit of an f64.
    #[test]
    fn the_history_reads_back_bit_for_bit() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut history = Vec::new();
        for epoch in 1..=2000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let cost = (state >> 11) as f64 / (1u64 << 53) as f64;
            history.push(EpochMetrics {
                epoch,
                cost,
                test_accuracy: cost / 3.0,
                train_accuracy: Some(cost / 7.0),
                seconds: cost * 300.0,
                grad_norms: vec![cost / 11.0],
                lr: cost / 13.0,
            });
        }
        let text = serde_json::to_string(&history).unwrap();
        let back: Vec<EpochMetrics> = serde_json::from_str(&text).unwrap();
        for (a, b) in history.iter().zip(&back) {
            assert_eq!(a.cost.to_bits(), b.cost.to_bits(), "epoch {}", a.epoch);
        }
        assert_eq!(history, back);
    }
}
