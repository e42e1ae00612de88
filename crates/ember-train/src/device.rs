//! Picking the GPU backend.

use ember_tensor::{Backend, Cpu};
use ember_wgpu::Wgpu;

use crate::{DeviceChoice, Error, OutputOptions, Result, Resume, TrainConfig, metrics::Summary};

/// The wgpu backend on the preferred adapter (`WGPU_BACKEND` narrows the choice), or an error
/// carrying wgpu's explanation of why there is none.
pub fn gpu_backend() -> Result<Wgpu> {
    Wgpu::new().map_err(|e| Error::Device(e.to_string()))
}

/// Trains on the wgpu backend; with `--device auto` and no adapter, on the CPU after a one-line
/// notice.
pub fn train_on_gpu(
    config: TrainConfig,
    resume: Option<&Resume>,
    output: OutputOptions,
) -> Result<Summary> {
    match gpu_backend() {
        Ok(gpu) => {
            if !output.quiet && !output.json {
                eprintln!("device: {}", gpu.name());
            }
            crate::train_on(&gpu, config, resume, output)
        }
        Err(e) if config.device == DeviceChoice::Auto => {
            eprintln!("note: no GPU available ({e}); training on the CPU");
            crate::train_on(&Cpu, config, resume, output)
        }
        Err(e) => Err(e),
    }
}
