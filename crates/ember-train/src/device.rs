//! Picking the GPU backend.

use crate::{DeviceChoice, Error, OutputOptions, Result, Resume, TrainConfig, metrics::Summary};

/// Trains on the wgpu backend; with `--device auto` and no adapter, on the CPU after a notice.
pub fn train_on_gpu(
    mut config: TrainConfig,
    resume: Option<&Resume>,
    output: OutputOptions,
) -> Result<Summary> {
    let reason = "this build has no wgpu backend".to_string();
    if config.device == DeviceChoice::Auto {
        eprintln!("note: no GPU ({reason}); training on the CPU");
        config.device = DeviceChoice::Cpu;
        return crate::train_on(&ember_tensor::Cpu, config, resume, output);
    }
    Err(Error::Device(reason))
}

/// The wgpu backend, if this build and this machine have one.
pub fn gpu_backend() -> Result<ember_tensor::Cpu> {
    Err(Error::Device("this build has no wgpu backend".into()))
}
