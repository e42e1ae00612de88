//! `cargo xtask conformance`: runs the GPU-vs-CPU conformance table on the machine's GPU adapter
//! and writes `docs/CONFORMANCE.md` from its results.
//!
//! The table and the report renderer live in `ember_tests::conformance`; this runs the test
//! `conformance_report` of `tests/conformance.rs`, which writes the report to the path in
//! `EMBER_CONFORMANCE_REPORT` (atomically) and fails if a case fails, after writing it.
//! `EMBER_REQUIRE_GPU=1` makes a missing adapter an error instead of a skip. `WGPU_BACKEND`
//! (e.g. `vulkan`) is passed through to choose the adapter.

use std::process::Command;

/// Where the report goes, relative to the workspace root.
const REPORT: &str = "docs/CONFORMANCE.md";

/// Runs the conformance suite and writes `docs/CONFORMANCE.md`.
pub fn run() -> Result<(), String> {
    let root = crate::root();
    let report = root.join(REPORT);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    command
        .current_dir(&root)
        .args([
            "test",
            "-p",
            "ember-tests",
            "--test",
            "conformance",
            "--",
            "--exact",
            "conformance_report",
            "--nocapture",
        ])
        .env("EMBER_CONFORMANCE_REPORT", &report)
        .env("EMBER_REQUIRE_GPU", "1");
    let shown = format!("{command:?}");
    eprintln!("xtask: running {shown}");
    let status = command
        .status()
        .map_err(|e| format!("cannot start {shown}: {e}"))?;
    if !report.is_file() {
        return Err(format!(
            "{shown} ({status}) did not write {}",
            report.display()
        ));
    }
    if !status.success() {
        return Err(format!(
            "some conformance cases failed ({status}); see {}",
            report.display()
        ));
    }
    eprintln!("xtask: wrote {}", report.display());
    Ok(())
}
