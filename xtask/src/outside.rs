//! `cargo xtask outside`: what a user's own program sees. A new crate outside the workspace
//! depends on `ember-dl` by path, builds a model, moves it into `std::thread::spawn`, trains it
//! there and checks that its cost fell. It uses this workspace's `Cargo.lock` (the same
//! versions) and target directory (the same compiled dependencies).

use std::path::Path;
use std::process::Command;

use crate::{root, run_command, target_dir};

/// The user's program.
const MAIN: &str = r#"use ember_dl::prelude::*;

fn main() -> ember_dl::Result<()> {
    let mut rng = seeded_rng(11);
    let model = Sequential::new()
        .append(Linear::new(16, 32, &mut rng, &Cpu)?)
        .append(ReLU)
        .append(Dropout::new(0.1)?)
        .append(Linear::new(32, 4, &mut rng, &Cpu)?);
    let x = Tensor::rand_uniform([64, 16], -1.0, 1.0, &mut rng, &Cpu)?;
    let labels: Vec<f32> = x
        .to_vec()?
        .chunks(16)
        .map(|row| (row[0] > 0.0) as u8 as f32 + 2.0 * (row[1] > 0.0) as u8 as f32)
        .collect();
    let y = Tensor::from_vec(labels, [64], &Cpu)?;
    let trainer = std::thread::spawn(move || -> ember_dl::Result<(Sequential, Vec<f32>)> {
        let mut optimizer = Adam::new(model.named_parameters(), AdamConfig::default())?;
        let mut costs = Vec::new();
        for _ in 0..200 {
            let cost = CrossEntropyLoss::default().forward(&model.call(&Var::constant(x.clone()))?, &y)?;
            optimizer.zero_grad();
            cost.backward()?;
            optimizer.step()?;
            costs.push(cost.value().to_scalar()?);
        }
        Ok((model, costs))
    });
    let (model, costs) = trainer.join().expect("the training thread panicked")?;
    let (first, last) = (costs[0], costs[costs.len() - 1]);
    println!("trained on another thread: cost {first:.4} -> {last:.4}, {} parameters", model.num_parameters());
    assert!(last < first / 2.0, "the cost should fall: {first} -> {last}");
    Ok(())
}
"#;

/// Writes the crate into a temporary directory, runs it, removes it.
pub fn run() -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("ember-outside-{}", std::process::id()));
    let result = write_and_run(&dir);
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        eprintln!("xtask: could not remove {}: {e}", dir.display());
    }
    result
}

fn write_and_run(dir: &Path) -> Result<(), String> {
    let facade = root().join("crates").join("ember-dl");
    let manifest = format!(
        "[package]\nname = \"ember-outside\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
         publish = false\n\n[dependencies]\nember-dl = {{ path = {facade:?} }}\n\n\
         # The workspace's profiles, so the compiled dependencies are shared.\n\
         [profile.dev]\nopt-level = 1\n\n[profile.dev.package.\"*\"]\nopt-level = 3\n\n\
         [workspace]\n"
    );
    let write = |path: &Path, text: &str| {
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    std::fs::create_dir_all(dir.join("src"))
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    write(&dir.join("Cargo.toml"), &manifest)?;
    write(&dir.join("src").join("main.rs"), MAIN)?;
    let lock = root().join("Cargo.lock");
    std::fs::copy(&lock, dir.join("Cargo.lock"))
        .map_err(|e| format!("cannot copy {}: {e}", lock.display()))?;
    let mut run = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    run.current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .args(["run", "--quiet"]);
    run_command(run)
}
