//! `cargo xtask test-aarch64`: cross-builds the workspace for aarch64 and runs `ember-cpu`'s
//! tests (the NEON GEMM kernel among them) under qemu, so ARM code is tested on an x86 machine.
//!
//! Needs the Rust target (`rustup target add aarch64-unknown-linux-gnu`), a cross linker
//! (Debian's `gcc-aarch64-linux-gnu`) and user-mode qemu (`qemu-user`). If the target cannot be
//! installed (no network), the step reports why and is skipped; with it installed, a failing
//! build or test fails the command.

use std::process::Command;

use crate::{cargo, run_command};

const TARGET: &str = "aarch64-unknown-linux-gnu";
const LINKER: &str = "aarch64-linux-gnu-gcc";
const RUNNER: &str = "qemu-aarch64 -L /usr/aarch64-linux-gnu";

/// Entry point of `cargo xtask test-aarch64`.
pub fn run() -> Result<(), String> {
    if !target_installed()? {
        let mut add = Command::new("rustup");
        add.args(["target", "add", TARGET]);
        if let Err(e) = run_command(add) {
            eprintln!(
                "xtask: SKIPPED the aarch64 tests: the Rust target {TARGET} is not installed and \
                 `rustup target add {TARGET}` failed ({e})"
            );
            return Ok(());
        }
    }
    for (tool, package) in [
        (LINKER, "gcc-aarch64-linux-gnu"),
        ("qemu-aarch64", "qemu-user"),
    ] {
        if Command::new(tool).arg("--version").output().is_err() {
            return Err(format!(
                "`{tool}` is missing: install Debian's `{package}` (see .ci/run)"
            ));
        }
    }
    let cross = |args: &[&str]| {
        let mut cmd = cargo();
        cmd.args(args)
            .args(["--target", TARGET])
            .env("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER", LINKER)
            .env("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER", RUNNER);
        cmd
    };
    // Every crate of the workspace, binaries and libraries (tests are built only for
    // ember-cpu, below: running the others under qemu adds minutes and no ARM-specific code).
    run_command(cross(&["build", "--workspace"]))?;
    run_command(cross(&["test", "-p", "ember-cpu"]))
}

/// Whether rustup lists the target as installed (`true` without rustup: the toolchain may have
/// it built in, and the build will say if not).
fn target_installed() -> Result<bool, String> {
    match Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
    {
        Ok(out) => Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.trim() == TARGET)),
        Err(_) => Ok(true),
    }
}
