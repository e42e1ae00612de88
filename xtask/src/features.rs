//! `cargo xtask features`: the parts that are cargo features build and work without them.
//!
//! - `ember-data` without `download`: its unit tests pass (a missing file is
//!   `DownloaderNotBuilt`), and its dependency tree holds no TLS stack (rustls, ring);
//! - `ember-train` (library and binaries) and `ember-dl` build with no default feature (no
//!   wgpu, no charts, no downloader).

use crate::{cargo, output_of, run_command};

/// Crates a build without the downloader must not pull in.
const TLS_CRATES: [&str; 2] = ["rustls", "ring"];

/// Runs the checks; the first failure is the error.
pub fn check() -> Result<(), String> {
    let mut data_tests = cargo();
    data_tests.args(["test", "-p", "ember-data", "--no-default-features", "--lib"]);
    run_command(data_tests)?;

    let mut tree = cargo();
    tree.args([
        "tree",
        "-p",
        "ember-data",
        "--no-default-features",
        "--edges",
        "normal",
        "--prefix",
        "none",
    ]);
    let tree = output_of(tree)?;
    let pulled: Vec<&str> = tree
        .lines()
        .filter(|line| {
            let name = line.split_whitespace().next().unwrap_or_default();
            TLS_CRATES.contains(&name)
        })
        .collect();
    if !pulled.is_empty() {
        return Err(format!(
            "ember-data without its `download` feature still depends on {}",
            pulled.join(", ")
        ));
    }
    eprintln!("xtask: ember-data without `download` depends on none of {TLS_CRATES:?}");

    for (package, targets) in [
        ("ember-train", &["--lib", "--bins"][..]),
        ("ember-dl", &["--lib"][..]),
    ] {
        let mut build = cargo();
        build
            .args(["build", "-p", package, "--no-default-features"])
            .args(targets);
        run_command(build)?;
    }
    Ok(())
}
