//! Choosing the adapter: the backends `WGPU_BACKEND` names (validated), then the best device
//! type among the adapters found — a discrete GPU before an integrated one, a software
//! rasteriser on the CPU (Mesa's lavapipe/llvmpipe) last, and only if the caller accepts one.

use crate::error::{Error, Result};

/// The environment variable that narrows the backends wgpu looks at.
pub const BACKEND_ENV: &str = "WGPU_BACKEND";

/// The names `WGPU_BACKEND` accepts (wgpu's own spellings), each with its backend.
const BACKEND_NAMES: &[(&str, wgpu::Backends)] = &[
    ("vulkan", wgpu::Backends::VULKAN),
    ("vk", wgpu::Backends::VULKAN),
    ("gl", wgpu::Backends::GL),
    ("gles", wgpu::Backends::GL),
    ("opengl", wgpu::Backends::GL),
    ("metal", wgpu::Backends::METAL),
    ("mtl", wgpu::Backends::METAL),
    ("dx12", wgpu::Backends::DX12),
    ("d3d12", wgpu::Backends::DX12),
    ("webgpu", wgpu::Backends::BROWSER_WEBGPU),
];

/// Parses a comma-separated list of backend names, as `WGPU_BACKEND` holds. Unlike wgpu's own
/// parser, an unknown or empty name is an error instead of being dropped.
pub fn parse_backends(list: &str) -> Result<wgpu::Backends> {
    let mut backends = wgpu::Backends::empty();
    for name in list.split(',') {
        let name = name.trim().to_ascii_lowercase();
        let found = BACKEND_NAMES.iter().find(|(known, _)| *known == name);
        match found {
            Some((_, backend)) => backends |= *backend,
            None => {
                return Err(Error::InvalidBackendList {
                    variable: BACKEND_ENV,
                    value: list.to_string(),
                    name,
                    known: BACKEND_NAMES
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
    }
    Ok(backends)
}

/// The backends `WGPU_BACKEND` names, or `None` when it is unset.
pub fn backends_from_env() -> Result<Option<wgpu::Backends>> {
    match std::env::var(BACKEND_ENV) {
        Ok(list) => parse_backends(&list).map(Some),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(raw)) => Err(Error::InvalidBackendList {
            variable: BACKEND_ENV,
            value: raw.to_string_lossy().into_owned(),
            name: raw.to_string_lossy().into_owned(),
            known: "ASCII backend names".into(),
        }),
    }
}

/// Preference of a device type: lower is better. `power` decides between discrete and
/// integrated GPUs; a CPU adapter always comes last.
fn rank(device_type: wgpu::DeviceType, power: wgpu::PowerPreference) -> u8 {
    match (device_type, power) {
        (wgpu::DeviceType::IntegratedGpu, wgpu::PowerPreference::LowPower) => 0,
        (wgpu::DeviceType::DiscreteGpu, _) => 0,
        (wgpu::DeviceType::IntegratedGpu, _) => 1,
        (wgpu::DeviceType::VirtualGpu, _) => 2,
        (wgpu::DeviceType::Other, _) => 3,
        (wgpu::DeviceType::Cpu, _) => 4,
    }
}

/// The best adapter on `backends`. With `allow_cpu` false, an adapter that runs on the CPU is
/// refused with [`Error::CpuAdapterOnly`], which names it.
pub(crate) fn choose(
    instance: &wgpu::Instance,
    backends: wgpu::Backends,
    power: wgpu::PowerPreference,
    allow_cpu: bool,
) -> Result<wgpu::Adapter> {
    let mut adapters = pollster::block_on(instance.enumerate_adapters(backends));
    adapters.sort_by_key(|a| rank(a.get_info().device_type, power));
    let Some(best) = adapters.into_iter().next() else {
        // wgpu explains an empty list (e.g. no Vulkan loader) only through request_adapter.
        let message =
            match pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: power,
                ..Default::default()
            })) {
                Err(e) => e.to_string(),
                Ok(_) => "no adapter was enumerated".to_string(),
            };
        return Err(Error::NoAdapter { message });
    };
    let info = best.get_info();
    if info.device_type == wgpu::DeviceType::Cpu && !allow_cpu {
        return Err(Error::CpuAdapterOnly {
            adapter: format!("{} ({:?})", info.name, info.backend),
        });
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_lists_are_parsed_and_unknown_names_are_refused() {
        assert_eq!(parse_backends("vulkan").unwrap(), wgpu::Backends::VULKAN);
        assert_eq!(
            parse_backends(" Vulkan, gl ").unwrap(),
            wgpu::Backends::VULKAN | wgpu::Backends::GL
        );
        let err = parse_backends("bogus").unwrap_err().to_string();
        assert!(err.contains("WGPU_BACKEND"), "{err}");
        assert!(err.contains("`bogus`"), "{err}");
        assert!(err.contains("vulkan, vk, gl"), "{err}");
        // wgpu's parser turns "vulkan,bogus" into Vulkan alone and "" into no backend at all.
        assert!(parse_backends("vulkan,bogus").is_err());
        assert!(parse_backends("").is_err());
    }

    #[test]
    fn a_cpu_adapter_ranks_last() {
        use wgpu::DeviceType::*;
        let high = wgpu::PowerPreference::HighPerformance;
        let mut types = [Cpu, Other, IntegratedGpu, VirtualGpu, DiscreteGpu];
        types.sort_by_key(|t| rank(*t, high));
        assert_eq!(types, [DiscreteGpu, IntegratedGpu, VirtualGpu, Other, Cpu]);
        assert!(rank(IntegratedGpu, wgpu::PowerPreference::LowPower) < rank(Cpu, high));
    }
}
