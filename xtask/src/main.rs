//! `cargo xtask <command>`: the project's automation, in Rust rather than shell snippets.
//!
//! - `ci`: `lint` in this work tree, then `clean-clone`: the test suite runs once, in a clone of
//!   `HEAD` with nothing beside it;
//! - `lint`: format check, clippy with `-D warnings`, the vendored fixtures against
//!   `../shared` (`fixtures`) and the documentation with `-D warnings` (`doc`);
//! - `clean-clone`: clones `HEAD` into an empty temporary directory and runs `test`,
//!   `outside` and `package` there;
//! - `test`: `cargo test --workspace`, the seed's examples on 300 samples (`examples`), and the
//!   builds without default features (`features`);
//! - `outside`: a program outside the workspace, depending on `ember-dl` by path, trains a
//!   model on another thread;
//! - `fixtures`, `examples`, `features`, `doc`, `package`: one step of the above each;
//! - `train [ARGS]`: builds the trainer in release mode and runs it with `ARGS`;
//! - `compare [ARGS]`: trains several experiments and draws them on shared charts;
//!   `compare optimizers [ARGS]`: the optimizer race (the seed's `mlp` with ten optimizers, a
//!   loss chart and a table); `compare optimizer-paths [--steps N] [--out FILE]`: the
//!   optimizers' paths on the Rosenbrock function over its contours;
//! - `download [--dataset mnist|fashion-mnist] [--dir DIR]`: fetches and verifies a data set;
//! - `bench`: runs the benchmarks and writes `docs/BENCHMARKS.md`;
//! - `test-aarch64`: cross-builds the workspace for aarch64 and runs `ember-cpu`'s tests
//!   under qemu;
//! - `conformance`: runs the GPU-vs-CPU conformance suite and writes `docs/CONFORMANCE.md`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod aarch64;
mod bench;
mod clean_clone;
mod conformance;
mod examples;
mod features;
mod fixtures;
mod outside;

const USAGE: &str = "usage: cargo xtask <ci | lint | clean-clone | test | outside | fixtures | examples | features \
                     | doc | package [ARGS] \
                     | train [ARGS] | compare [ARGS] | download [ARGS] | bench | test-aarch64 | conformance>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "ci" => ci(),
        "lint" => lint(),
        "clean-clone" => clean_clone::run(),
        "test" => test(),
        "outside" => outside::run(),
        "fixtures" => fixtures::check(),
        "examples" => examples::run(),
        "features" => features::check(),
        "doc" => doc(),
        "package" => package(rest),
        "train" => trainer(rest),
        "compare" => compare(rest),
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

/// `compare optimizers [ARGS]` runs the optimizer race, `compare optimizer-paths [ARGS]` draws
/// the optimizers' paths on the Rosenbrock function; anything else is the trainer's `compare`.
fn compare(rest: &[String]) -> Result<(), String> {
    match rest.split_first() {
        Some((group, args)) if group == "optimizers" => {
            trainer(&prefixed("compare-optimizers", args))
        }
        Some((group, args)) if group == "optimizer-paths" => {
            trainer(&prefixed("optimizer-paths", args))
        }
        _ => trainer(&prefixed("compare", rest)),
    }
}

fn prefixed(first: &str, rest: &[String]) -> Vec<String> {
    std::iter::once(first.to_string())
        .chain(rest.iter().cloned())
        .collect()
}

/// The workspace root (the parent of `xtask/`). Read from the `CARGO_MANIFEST_DIR` that
/// `cargo run` sets, so a binary built from another checkout sharing the target directory
/// still works on this one.
pub fn root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// This build's target directory: `CARGO_TARGET_DIR` if set, else the workspace's `target/`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                root().join(dir)
            }
        }
        None => root().join("target"),
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

/// Runs `cmd` and returns its stdout, failing with its description and stderr if it does not
/// succeed.
pub fn output_of(mut cmd: Command) -> Result<String, String> {
    let shown = format!("{cmd:?}");
    eprintln!("xtask: running {shown}");
    let out = cmd
        .output()
        .map_err(|e| format!("cannot start {shown}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{shown} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
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

/// What CI runs: the checks of this work tree, then the test suite once, in a clean clone.
fn ci() -> Result<(), String> {
    lint()?;
    clean_clone::run()
}

/// Format, lints, fixtures and documentation of this work tree (no tests).
fn lint() -> Result<(), String> {
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
    fixtures::check()?;
    doc()
}

/// The whole test suite (which also builds every example), the seed's examples, and the builds
/// without default features.
fn test() -> Result<(), String> {
    let mut test = cargo();
    test.args(["test", "--workspace"]);
    run_command(test)?;
    examples::run()?;
    features::check()
}

/// The API documentation of the workspace's crates, every rustdoc warning an error.
fn doc() -> Result<(), String> {
    let mut doc = cargo();
    doc.args(["doc", "--workspace", "--no-deps"])
        .env("RUSTDOCFLAGS", "-D warnings");
    run_command(doc)
}

/// The workspace's packages with `publish = false`: nothing to package.
const UNPUBLISHED: [&str; 3] = ["ember-tests", "ember-examples", "xtask"];

/// `cargo package --workspace ARGS`: every publishable crate packaged and built against its
/// packaged neighbours (in a clone of `HEAD`: `clean-clone`; here, `--allow-dirty` if the
/// work tree has changes).
fn package(args: &[String]) -> Result<(), String> {
    let mut package = cargo();
    package.args(["package", "--workspace"]);
    for unpublished in UNPUBLISHED {
        package.args(["--exclude", unpublished]);
    }
    package.args(args);
    run_command(package)
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
