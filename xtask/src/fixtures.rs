//! `cargo xtask fixtures`: checks that the PyTorch fixtures vendored in `tests/fixtures/pytorch/`
//! are byte-for-byte the reference copies in `../shared/fixtures/pytorch/`, while that folder
//! exists beside the repository (it does not in a plain clone, and then there is nothing to
//! check). A reference file missing from the vendored copy is an error too: copy it in and
//! describe it in the vendored `README.md`.

use std::path::Path;

use crate::root;

/// The vendored copy, relative to the workspace root.
pub const VENDORED: &str = "tests/fixtures/pytorch";
/// The reference copies, relative to the workspace root.
const SHARED: &str = "../shared/fixtures/pytorch";
/// Files that are the project's own in the vendored folder (not copies).
const OWN_FILES: [&str; 2] = ["README.md", "generate.py"];

/// Compares every reference file with its vendored copy.
pub fn check() -> Result<(), String> {
    let shared = root().join(SHARED);
    if !shared.is_dir() {
        eprintln!(
            "xtask: {} does not exist; nothing to compare the vendored fixtures with",
            shared.display()
        );
        return Ok(());
    }
    let vendored = root().join(VENDORED);
    let mut problems = Vec::new();
    let mut compared = 0;
    for entry in read_dir_sorted(&shared)? {
        let name = entry
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if OWN_FILES.contains(&name) || !entry.is_file() {
            continue;
        }
        let copy = vendored.join(name);
        let reference = read(&entry)?;
        match std::fs::read(&copy) {
            Ok(bytes) if bytes == reference => compared += 1,
            Ok(_) => problems.push(format!(
                "{} differs from {}",
                copy.display(),
                entry.display()
            )),
            Err(_) => problems.push(format!(
                "{} is missing: copy {} there and describe it in {VENDORED}/README.md",
                copy.display(),
                entry.display()
            )),
        }
    }
    if problems.is_empty() {
        eprintln!(
            "xtask: {compared} vendored fixtures equal {}",
            shared.display()
        );
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<std::path::PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut paths = entries
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    paths.sort();
    Ok(paths)
}
