//! `ember-train`: see `ember-train --help`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    ember_train::allocator::keep_freed_memory();
    if let Err(e) = ember_cpu::check_environment() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    keep_driver_noise_out();
    let cli = ember_train::cli::Cli::parse();
    match ember_train::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Mesa's Vulkan device-selection layer connects to Wayland to order the GPUs, and on a machine
/// without a display prints `error: XDG_RUNTIME_DIR is invalid or not set`, which reads like
/// an Ember error. Ember orders adapters itself (`ember_wgpu::adapter`), so the layer is turned
/// off the way Mesa documents (`NODEVICE_SELECT=1`), unless the user set the variable.
fn keep_driver_noise_out() {
    const LAYER_OFF: &str = "NODEVICE_SELECT";
    if std::env::var_os(LAYER_OFF).is_none() {
        // SAFETY: the first statement of `main`: no other thread exists yet that could read
        // the environment concurrently.
        unsafe { std::env::set_var(LAYER_OFF, "1") };
    }
}
