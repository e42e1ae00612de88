//! The error type of the trainer.

use std::path::PathBuf;

/// Everything that stops a training run, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] ember_tensor::Error),
    /// Recording or differentiating failed.
    #[error(transparent)]
    Autodiff(#[from] ember_autodiff::Error),
    /// Building, saving or loading the model failed.
    #[error(transparent)]
    Nn(#[from] ember_nn::Error),
    /// The optimizer failed.
    #[error(transparent)]
    Optim(#[from] ember_optim::Error),
    /// Loading or downloading the data failed.
    #[error(transparent)]
    Data(#[from] ember_data::Error),
    /// An unknown experiment name.
    #[error("unknown experiment `{name}`; the experiments are: {known}")]
    UnknownExperiment {
        /// The name given.
        name: String,
        /// The names that exist.
        known: String,
    },
    /// An unknown value of an option.
    #[error("unknown {option} `{value}`; choose one of: {known}")]
    UnknownChoice {
        /// The option.
        option: &'static str,
        /// The value given.
        value: String,
        /// The accepted values.
        known: String,
    },
    /// An option with a value outside its range.
    #[error("invalid {option}: {message}")]
    InvalidOption {
        /// The option.
        option: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The loss or a gradient norm became NaN or infinite, or the loss exploded.
    #[error(
        "the {quantity} became {value:e} at epoch {epoch}, step {step}; training stopped (lower the learning rate?). {}",
        last_checkpoint_note(.checkpoint.as_deref())
    )]
    Diverged {
        /// What diverged: `loss` or `gradient norm`.
        quantity: &'static str,
        /// The epoch (1-based).
        epoch: usize,
        /// The step within the epoch (1-based).
        step: usize,
        /// The value.
        value: f32,
        /// The last checkpoint written, if an epoch completed.
        checkpoint: Option<PathBuf>,
    },
    /// A configuration under which training would take no step or measure nothing.
    #[error("nothing to train: {0}")]
    NothingToTrain(String),
    /// `--out` names a directory that holds another run.
    #[error(
        "{dir} already holds a run; choose another --out, continue it with --resume {dir}, or pass --overwrite to delete its files first",
        dir = .dir.display()
    )]
    RunExists {
        /// The directory.
        dir: PathBuf,
    },
    /// Options given with `--resume` that disagree with the run's own configuration.
    #[error(
        "cannot resume {dir} with a different configuration:\n  {}\nOnly --epochs, --lr, --device, --data-dir, --quiet and --json may change on resume.",
        .conflicts.join("\n  "),
        dir = .dir.display()
    )]
    ResumeConflicts {
        /// The run directory.
        dir: PathBuf,
        /// One line per conflicting option: the value asked for and the run's.
        conflicts: Vec<String>,
    },
    /// The GPU backend could not be used.
    #[error("device: {0}")]
    Device(String),
    /// Reading or writing a run file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A checkpoint to resume from is not usable.
    #[error("cannot resume from {path}: {message}")]
    Resume {
        /// The checkpoint.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Drawing a chart failed.
    #[error("chart {path}: {message}")]
    Chart {
        /// The image.
        path: PathBuf,
        /// The drawing library's message.
        message: String,
    },
}

fn last_checkpoint_note(checkpoint: Option<&std::path::Path>) -> String {
    match checkpoint {
        Some(path) => format!("The last good checkpoint is {}", path.display()),
        None => "No epoch completed, so there is no checkpoint to resume from".into(),
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Maps an I/O error to [`Error::Io`] for `path`.
pub(crate) fn io_at(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}
