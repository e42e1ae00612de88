//! The progress bar on stderr (hidden when stderr is not a terminal, or with `--quiet`).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar over one epoch's steps showing the running loss and samples per second.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar, drawn only if `enabled` and stderr is a terminal.
    pub fn new(enabled: bool) -> Self {
        let bar = enabled.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) =
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Progress { bar }
    }

    /// Starts an epoch of `steps` steps.
    pub fn start_epoch(&self, epoch: usize, epochs: usize, steps: usize) {
        if let Some(bar) = &self.bar {
            bar.reset();
            bar.set_length(steps as u64);
            bar.set_position(0);
            bar.set_prefix(format!("epoch {epoch}/{epochs}"));
        }
    }

    /// Reports progress within the epoch.
    pub fn update(&self, step: usize, running_loss: f64, samples_per_second: f64) {
        if let Some(bar) = &self.bar {
            bar.set_position(step as u64);
            bar.set_message(format!(
                "loss {running_loss:.4}, {samples_per_second:.0} samples/s"
            ));
        }
    }

    /// Removes the bar before a line is printed.
    pub fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
