//! `cargo xtask bench`: runs the criterion benchmarks.

use crate::{root, run_command};

/// Runs every criterion bench of the workspace in release mode.
pub fn run_benches(extra: &[String]) -> Result<(), String> {
    let mut cmd =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root())
        .args(["bench", "-p", "ember-tensor", "--bench", "matmul", "--"])
        .args(extra);
    run_command(cmd)
}

/// Entry point of `cargo xtask bench`.
pub fn run(args: &[String]) -> Result<(), String> {
    run_benches(args)
}
