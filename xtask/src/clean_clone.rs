//! `cargo xtask clean-clone`: what a new user gets. Clones the committed `HEAD` into a fresh
//! temporary directory with nothing beside it (so `../shared` does not exist there), then runs
//! the test suite, the seed examples and the feature builds there (`cargo xtask test`), a
//! program outside the workspace on the facade (`cargo xtask outside`), and packages every
//! publishable crate (`cargo xtask package`: `cargo package --workspace`, each crate built
//! against its packaged neighbours). The clone shares this build's target directory, so only
//! the workspace's own crates are rebuilt. It tests what is committed: uncommitted changes are
//! named, and left out.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::{root, run_command, target_dir};

/// Clones, tests and packages; prints how long each part took.
pub fn run() -> Result<(), String> {
    let parent = std::env::temp_dir().join(format!("ember-clean-clone-{}", std::process::id()));
    let result = clone_and_check(&parent);
    // The clone is scratch space whatever happened; a failure to remove it is only reported.
    if let Err(e) = std::fs::remove_dir_all(&parent) {
        eprintln!("xtask: could not remove {}: {e}", parent.display());
    }
    result
}

fn clone_and_check(parent: &Path) -> Result<(), String> {
    warn_if_uncommitted();
    std::fs::create_dir_all(parent)
        .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let clone = parent.join("ember");
    let mut git = Command::new("git");
    git.arg("clone").arg("--quiet").arg(root()).arg(&clone);
    run_command(git)?;
    let beside = clone.join("../shared");
    if beside.exists() {
        return Err(format!("{} exists beside the clone", beside.display()));
    }
    let target_dir = target_dir();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let steps: [&[&str]; 3] = [
        &["xtask", "test"],
        &["xtask", "outside"],
        &["xtask", "package"],
    ];
    for args in steps {
        let started = Instant::now();
        let mut command = Command::new(&cargo);
        command
            .current_dir(&clone)
            .env("CARGO_TARGET_DIR", &target_dir)
            .args(args);
        run_command(command)?;
        eprintln!(
            "xtask: clean clone: `cargo {}` took {:.0} s",
            args.join(" "),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Says so when the work tree differs from `HEAD`: the clone tests `HEAD` only.
fn warn_if_uncommitted() {
    let mut status = Command::new("git");
    status
        .current_dir(root())
        .args(["status", "--porcelain", "--untracked-files=no"]);
    if let Ok(out) = status.output()
        && !out.stdout.is_empty()
    {
        eprintln!(
            "xtask: note: the work tree has uncommitted changes; the clean clone tests HEAD \
             without them (`cargo xtask test` tests the work tree):\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
