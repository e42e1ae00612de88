//! Which GEMM kernel runs: detected once for the CPU found, or forced with `EMBER_GEMM`.

use super::packed::PackedKernel;
use ember_tensor::{Error, Result};

/// A GEMM kernel. [`Kernel::detected`] is the fastest this CPU runs; `EMBER_GEMM=<name>` forces
/// another (for benchmarks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// x86-64 with AVX-512F: 12×32 tiles in 24 zmm registers.
    Avx512,
    /// x86-64 with AVX2 and FMA: 6×16 tiles in 12 ymm registers.
    Avx2,
    /// aarch64 (NEON is part of its baseline): 6×16 tiles in 24 q registers.
    Neon,
    /// The `matrixmultiply` crate, single-threaded: the last resort, and the engine Ember used
    /// before its own kernels.
    Matrixmultiply,
}

impl Kernel {
    /// Every kernel, fastest first: the order detection tries them in.
    pub const ALL: [Kernel; 4] = [
        Kernel::Avx512,
        Kernel::Avx2,
        Kernel::Neon,
        Kernel::Matrixmultiply,
    ];

    /// The kernel's name, as `EMBER_GEMM` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Avx512 => "avx512",
            Kernel::Avx2 => "avx2",
            Kernel::Neon => "neon",
            Kernel::Matrixmultiply => "matrixmultiply",
        }
    }

    /// Whether this CPU runs the kernel (detected once per kernel).
    pub fn available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => {
                static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
                *AVAILABLE.get_or_init(super::avx512::available)
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
                *AVAILABLE.get_or_init(super::avx2::available)
            }
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => super::neon::available(),
            Kernel::Matrixmultiply => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The kernels this CPU runs, fastest first.
    pub fn available_kernels() -> Vec<Kernel> {
        Kernel::ALL.into_iter().filter(|k| k.available()).collect()
    }

    /// The fastest kernel this CPU runs.
    pub fn detected() -> Kernel {
        Kernel::available_kernels()
            .first()
            .copied()
            .unwrap_or(Kernel::Matrixmultiply)
    }

    /// The kernel [`super::gemm`] uses: `EMBER_GEMM`'s, or [`Kernel::detected`]. Fails if
    /// `EMBER_GEMM` names no kernel, or one this CPU cannot run.
    pub fn selected() -> Result<Kernel> {
        Ok(crate::environment::settings()?
            .gemm
            .unwrap_or_else(Kernel::detected))
    }

    /// The kernel called `name` (as `EMBER_GEMM` takes it), if this CPU runs it; the error names
    /// `variable` and lists the kernels this CPU runs.
    pub(crate) fn parse(variable: &'static str, name: &str) -> Result<Kernel> {
        let allowed = || format!("the kernels this CPU runs are {}", runnable_names());
        match Kernel::ALL.into_iter().find(|k| k.name() == name) {
            Some(kernel) if kernel.available() => Ok(kernel),
            Some(kernel) => Err(Error::Environment {
                variable,
                value: name.to_string(),
                problem: format!("this CPU cannot run the {} kernel", kernel.name()),
                allowed: allowed(),
            }),
            None => Err(Error::Environment {
                variable,
                value: name.to_string(),
                problem: "no GEMM kernel has this name".to_string(),
                allowed: allowed(),
            }),
        }
    }

    /// The packed kernel's routines, `None` for `matrixmultiply`; fails if this CPU cannot
    /// run the kernel.
    pub(super) fn packed(self) -> Result<Option<&'static PackedKernel>> {
        if !self.available() {
            return Err(Error::InvalidArgument {
                op: "gemm",
                message: format!(
                    "this CPU cannot run the {} kernel (it runs: {})",
                    self.name(),
                    runnable_names()
                ),
            });
        }
        Ok(match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => Some(&super::avx512::KERNEL),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => Some(&super::avx2::KERNEL),
            #[cfg(target_arch = "aarch64")]
            Kernel::Neon => Some(&super::neon::KERNEL),
            _ => None,
        })
    }
}

/// The names of the kernels this CPU runs, fastest first, comma-separated.
fn runnable_names() -> String {
    let names: Vec<&str> = Kernel::available_kernels()
        .iter()
        .map(|k| k.name())
        .collect();
    names.join(", ")
}

impl std::fmt::Display for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How a product runs: which kernel, and whether it may use the second thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Engine {
    /// The kernel.
    pub kernel: Kernel,
    /// Whether large products are split between the caller and the helper thread of
    /// [`crate::parallel`] (`matrixmultiply` always runs on one).
    pub two_threads: bool,
}

impl Engine {
    /// What [`super::gemm`] uses: [`Kernel::selected`] on two threads.
    pub fn selected() -> Result<Engine> {
        Ok(Engine {
            kernel: Kernel::selected()?,
            two_threads: true,
        })
    }
}
