//! Picking the GPU backend: `--device wgpu` takes any adapter, `--device auto` only a real GPU.

use ember_cpu::Cpu;
use ember_tensor::Backend;
use ember_wgpu::{Wgpu, WgpuOptions};

use crate::{DeviceChoice, Error, OutputOptions, Result, Resume, TrainConfig, metrics::Summary};

/// The wgpu backend on the best adapter (`WGPU_BACKEND` narrows the choice), a software one
/// such as lavapipe included, or an error carrying wgpu's explanation of why there is none.
pub fn gpu_backend() -> Result<Wgpu> {
    Wgpu::new().map_err(|e| Error::Device(e.to_string()))
}

/// What `--device auto` runs on.
#[derive(Debug)]
pub enum AutoDevice {
    /// A hardware GPU.
    Gpu(Wgpu),
    /// The CPU backend, and why not a GPU.
    Cpu {
        /// Why no GPU was taken.
        reason: String,
    },
}

/// `--device auto`: a hardware GPU if there is one. A software rasteriser (lavapipe, llvmpipe:
/// `wgpu::DeviceType::Cpu`) runs the same kernels many times slower than the CPU backend, so it
/// loses to the CPU. An invalid `WGPU_BACKEND` is an error, not a reason to fall back.
pub fn choose_auto_device() -> Result<AutoDevice> {
    let options = WgpuOptions {
        allow_cpu_adapter: false,
        ..WgpuOptions::default()
    };
    match Wgpu::with_options(&options) {
        Ok(gpu) => Ok(AutoDevice::Gpu(gpu)),
        Err(e @ ember_wgpu::Error::InvalidBackendList { .. }) => Err(Error::Device(e.to_string())),
        Err(e @ ember_wgpu::Error::CpuAdapterOnly { .. }) => Ok(AutoDevice::Cpu {
            reason: format!("{e}, slower than the CPU backend (--device wgpu uses it anyway)"),
        }),
        Err(e) => Ok(AutoDevice::Cpu {
            reason: format!("no GPU available ({e})"),
        }),
    }
}

/// Trains on the wgpu backend (`--device wgpu`), or as [`choose_auto_device`] decides
/// (`--device auto`), saying on stderr which device and why.
pub fn train_on_gpu(
    config: TrainConfig,
    resume: Option<&Resume>,
    output: OutputOptions,
) -> Result<Summary> {
    let gpu = match config.device {
        DeviceChoice::Auto => match choose_auto_device()? {
            AutoDevice::Gpu(gpu) => gpu,
            AutoDevice::Cpu { reason } => {
                eprintln!("note: --device auto: {reason}; training on the CPU");
                return crate::train_on(&Cpu, config, resume, output);
            }
        },
        _ => gpu_backend()?,
    };
    if !output.quiet && !output.json {
        eprintln!("device: {}", gpu.name());
    }
    crate::train_on(&gpu, config, resume, output)
}
