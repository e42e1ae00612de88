//! # ember-train
//!
//! The trainer behind `cargo xtask train`: the seed's experiments by name ([`Experiment`]),
//! the seed's loop and log lines, metrics (`metrics.csv`, `summary.json`), PNG charts of the loss
//! and of per-layer gradient norms, a checkpoint after every epoch, and `--resume`.
//!
//! **In the stack:** the top: it uses every other Ember crate and picks the backend at the
//! edge (`--device cpu | wgpu | auto`).
//!
//! ```
//! use ember_train::{Experiment, InitScheme};
//! use ember_nn::Module;
//! use ember_cpu::Cpu;
//!
//! let model = Experiment::Mlp.build(InitScheme::Default, 777, &Cpu)?;
//! assert_eq!(model.num_parameters(), 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10);
//! assert!(Experiment::parse("resnet").unwrap_err().to_string().contains("deep-sigmoid"));
//! # Ok::<(), ember_train::Error>(())
//! ```

#![warn(missing_docs)]

pub mod allocator;
pub mod charts;
pub mod checkpoint;
pub mod cli;
pub mod compare_groups;
mod config;
#[cfg(feature = "wgpu")]
mod device;
mod error;
mod experiment;
pub mod metrics;
pub mod optimizer_paths;
pub mod optimizer_race;
mod progress;
pub mod run_dir;
pub mod schedule;
mod trainer;

pub use config::{DeviceChoice, TrainConfig};
#[cfg(feature = "wgpu")]
pub use device::{AutoDevice, choose_auto_device, gpu_backend};

/// Why `--device wgpu` fails in a build without the `wgpu` feature.
pub const NO_GPU_BACKEND: &str =
    "this build of ember-train has no GPU backend (its `wgpu` feature is off); use --device cpu";
pub(crate) use error::io_at;
pub use error::{Error, Result};
pub use experiment::{Experiment, InitScheme};
pub use metrics::{EpochMetrics, Summary};
pub use trainer::{OutputOptions, Resume, train_on};
