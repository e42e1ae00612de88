//! The environment variables that tune the CPU backend, read and checked once per process.
//!
//! - `EMBER_THREADS`: a whole number ≥ 1; `1` keeps the CPU backend on the calling thread, any
//!   larger number allows the second (Ember uses at most two). Unset: two where the machine has
//!   two logical CPUs.
//! - `EMBER_GEMM`: the name of a GEMM kernel this CPU runs (`avx512`, `avx2`, `neon`,
//!   `matrixmultiply`; see [`crate::gemm::Kernel`]), to compare kernels. Unset: the fastest.
//!
//! A bad value is an [`Error::Environment`] naming the variable, the value and what is allowed:
//! from [`check_environment`] (binaries call it first) and from every matrix product.

use std::sync::OnceLock;

use crate::gemm::Kernel;
use ember_tensor::{Error, Result};

/// The settings read from the environment (`None`: the variable is unset or empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// `EMBER_THREADS`.
    pub threads: Option<usize>,
    /// `EMBER_GEMM`.
    pub gemm: Option<Kernel>,
}

impl Settings {
    /// Parses the values of `EMBER_THREADS` and `EMBER_GEMM` (`None`: unset).
    pub fn parse(threads: Option<&str>, gemm: Option<&str>) -> Result<Settings> {
        let threads = match threads.map(str::trim).filter(|v| !v.is_empty()) {
            None => None,
            Some(value) => match value.parse::<usize>() {
                Ok(n) if n >= 1 => Some(n),
                _ => {
                    return Err(Error::Environment {
                        variable: "EMBER_THREADS",
                        value: value.to_string(),
                        problem: "it is not a whole number of at least 1".to_string(),
                        allowed: "use 1 (one thread) or 2 (two; larger numbers also mean two)"
                            .to_string(),
                    });
                }
            },
        };
        let gemm = match gemm.map(str::trim).filter(|v| !v.is_empty()) {
            None => None,
            Some(name) => Some(Kernel::parse("EMBER_GEMM", name)?),
        };
        Ok(Settings { threads, gemm })
    }
}

/// The settings of this process, read from the environment on first use.
pub(crate) fn settings() -> Result<Settings> {
    static SETTINGS: OnceLock<Result<Settings>> = OnceLock::new();
    SETTINGS
        .get_or_init(|| {
            let var = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
            Settings::parse(
                var("EMBER_THREADS").as_deref(),
                var("EMBER_GEMM").as_deref(),
            )
        })
        .clone()
}

/// Checks `EMBER_THREADS` and `EMBER_GEMM`: call it at the start of a program so that a bad value
/// stops it with a clear message before any work.
///
/// ```
/// ember_cpu::check_environment()?;
/// # Ok::<(), ember_tensor::Error>(())
/// ```
pub fn check_environment() -> Result<()> {
    settings().map(|_| ())
}
