//! `cargo xtask <command>`: the project's automation, in Rust rather than shell snippets.
//!
//! - `ci`: format check, clippy with `-D warnings`, and the whole test suite (what CI runs);
//! - `train [ARGS]`: builds the trainer in release mode and runs it with `ARGS`;
//! - `compare [ARGS]`: trains several experiments and draws them on shared charts;
//! - `download [--dataset mnist|fashion-mnist] [--dir DIR]`: fetches and verifies a data set;
//! - `bench`: runs the benchmarks and writes `docs/BENCHMARKS.md`;
//! - `test-aarch64`: cross-builds the workspace for aarch64 and runs `ember-tensor`'s tests
//!   under qemu;
//! - `conformance`: runs the GPU-vs-CPU conformance suite and writes `docs/CONFORMANCE.md`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod aarch64;
mod bench;
mod conformance;

const USAGE: &str = "usage: cargo xtask <ci | train [ARGS] | compare [ARGS] | download [ARGS] | bench | test-aarch64 | conformance>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "ci" => ci(),
        "train" => trainer(rest),
        "compare" => trainer(&prefixed("compare", rest)),
        "download" => trainer(&prefixed("download", rest)),
        "bench" => bench::run(rest),
        "test-aarch64" => aarch64::run(),
        "conformance" => conformance(),
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn prefixed(first: &str, rest: &[String]) -> Vec<String> {
    std::iter::once(first.to_string())
        .chain(rest.iter().cloned())
        .collect()
}

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Where cargo puts build outputs: `CARGO_TARGET_DIR` (relative to the workspace root) if set,
/// else `target/` in the workspace root.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root().join(dir),
        _ => root().join("target"),
    }
}

/// The release build of one of the workspace's binaries.
pub fn release_binary(name: &str) -> PathBuf {
    target_dir().join("release").join(name)
}

/// `cargo` (the one running this xtask), started in the workspace root.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// Runs `cmd`, failing with its description if it does not succeed.
pub fn run_command(mut cmd: Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    eprintln!("xtask: running {shown}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

fn ci() -> Result<(), String> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run_command(fmt)?;
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    run_command(clippy)?;
    let mut test = cargo();
    test.args(["test", "--workspace"]);
    run_command(test)
}

/// Builds `ember-train` in release mode and runs it with `args` from the workspace root.
fn trainer(args: &[String]) -> Result<(), String> {
    let mut build = cargo();
    build.args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "ember-train",
        "--bin",
        "ember-train",
    ]);
    run_command(build)?;
    let mut train = Command::new(release_binary("ember-train"));
    train.current_dir(root()).args(args);
    run_command(train)
}

fn conformance() -> Result<(), String> {
    conformance::run()
}
