//! `cargo xtask examples`: runs the seed's three example programs on the first few hundred
//! training samples and checks that they print the seed's lines:
//!
//! ```text
//! Epoch: 0001 cost = 0.538957388      (15 of them, numbered 0001..0015)
//! Learning finished
//! Accuracy: 0.8911
//! ```
//!
//! and the same lines as the trainer (`ember-train EXPERIMENT --train-limit 300`): the examples
//! use the trainer's seed, initialisation and batch order, so every digit agrees. Then
//! `custom_op`, whose op of its own must pass its gradient check and train.
//!
//! `cargo test --workspace` builds every example and the trainer; this runs those binaries as
//! built (nothing is rebuilt), so it comes after the tests (`cargo xtask test`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{output_of, root, target_dir};

/// The seed's programs as `examples/` names them, with the trainer's name for the experiment.
const SEED_EXAMPLES: [(&str, &str); 3] = [
    ("softmax_normal", "softmax-normal"),
    ("softmax", "softmax"),
    ("mlp", "mlp"),
];
/// Training samples each run uses.
const TRAIN_LIMIT: &str = "300";
/// Epochs the seed's programs train for.
const EPOCHS: usize = 15;

/// Runs each seed example, checks its output's format and compares it with the trainer's.
pub fn run() -> Result<(), String> {
    let built = target_dir().join("debug");
    let runs = std::env::temp_dir().join(format!("ember-example-runs-{}", std::process::id()));
    let result = SEED_EXAMPLES.iter().try_for_each(|&(name, experiment)| {
        let mut example = binary(&built.join("examples").join(name))?;
        example.args(["--train-limit", TRAIN_LIMIT]);
        let example = output_of(example)?;
        check_seed_lines(&example).map_err(|e| format!("example `{name}`: {e}\n{example}"))?;
        let out = runs.join(name);
        let mut trainer = binary(&built.join("ember-train"))?;
        trainer
            .arg(experiment)
            .args(["--train-limit", TRAIN_LIMIT, "--out"])
            .arg(&out);
        let trainer = output_of(trainer)?;
        if trainer != example {
            return Err(format!(
                "example `{name}` and `ember-train {experiment}` differ:\n{example}\n---\n{trainer}"
            ));
        }
        eprintln!("xtask: example `{name}` printed the seed's lines, the same as the trainer");
        Ok(())
    });
    let _ = std::fs::remove_dir_all(&runs);
    result?;
    custom_op(&built)
}

/// Runs `custom_op`, whose SiLU must pass its gradient check and train: its first line names
/// the check, and the test accuracy after three epochs beats chance.
fn custom_op(built: &Path) -> Result<(), String> {
    let mut example = binary(&built.join("examples").join("custom_op"))?;
    example.args(["--train-limit", TRAIN_LIMIT]);
    let out = output_of(example)?;
    let lines: Vec<&str> = out.lines().collect();
    let checked = lines
        .first()
        .is_some_and(|l| l.starts_with("gradcheck silu: 20 elements"));
    let accuracy = lines
        .last()
        .and_then(|l| l.rsplit_once("test accuracy "))
        .and_then(|(_, a)| a.parse::<f64>().ok());
    match (checked, accuracy) {
        (true, Some(a)) if lines.len() == 4 && a > 0.3 => {
            eprintln!("xtask: example `custom_op` passed its gradient check and trained ({a})");
            Ok(())
        }
        _ => Err(format!(
            "example `custom_op`: expected its gradient check and three epochs beating chance:\n{out}"
        )),
    }
}

/// A command for a binary that `cargo test --workspace` built, run in the workspace root.
fn binary(path: &Path) -> Result<Command, String> {
    if !path.is_file() {
        return Err(format!(
            "{} is missing: run `cargo test --workspace` first (`cargo xtask test` does)",
            path.display()
        ));
    }
    let mut command = Command::new(PathBuf::from(path));
    command.current_dir(root());
    Ok(command)
}

/// Checks the seed's format: `Epoch: NNNN cost = D.DDDDDDDDD` for epochs 1..=15, then
/// `Learning finished`, then `Accuracy: D.DDDD`.
fn check_seed_lines(stdout: &str) -> Result<(), String> {
    let lines: Vec<&str> = stdout.lines().collect();
    if lines.len() != EPOCHS + 2 {
        return Err(format!(
            "expected {} lines, got {}",
            EPOCHS + 2,
            lines.len()
        ));
    }
    for (i, line) in lines[..EPOCHS].iter().enumerate() {
        let prefix = format!("Epoch: {:04} cost = ", i + 1);
        let cost = line
            .strip_prefix(&prefix)
            .ok_or_else(|| format!("line {} should start with {prefix:?}: {line:?}", i + 1))?;
        if !is_decimal(cost, 9) {
            return Err(format!(
                "line {}: the cost needs 9 decimals: {line:?}",
                i + 1
            ));
        }
    }
    if lines[EPOCHS] != "Learning finished" {
        return Err(format!(
            "expected `Learning finished`, got {:?}",
            lines[EPOCHS]
        ));
    }
    let accuracy = lines[EPOCHS + 1].strip_prefix("Accuracy: ");
    if !accuracy.is_some_and(|a| {
        is_decimal(a, 4) && a.parse::<f64>().is_ok_and(|v| (0.0..=1.0).contains(&v))
    }) {
        return Err(format!(
            "expected `Accuracy: D.DDDD` (0 to 1), got {:?}",
            lines[EPOCHS + 1]
        ));
    }
    Ok(())
}

/// `digits.decimals` with exactly `decimals` digits after the point.
fn is_decimal(text: &str, decimals: usize) -> bool {
    match text.split_once('.') {
        Some((whole, fraction)) => {
            !whole.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && fraction.len() == decimals
                && fraction.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed_output(cost: &str, accuracy: &str) -> String {
        let mut out: String = (1..=EPOCHS)
            .map(|e| format!("Epoch: {e:04} cost = {cost}\n"))
            .collect();
        out.push_str(&format!("Learning finished\nAccuracy: {accuracy}\n"));
        out
    }

    #[test]
    fn accepts_the_seed_format() {
        assert_eq!(
            check_seed_lines(&seed_output("0.538957388", "0.8911")),
            Ok(())
        );
    }

    #[test]
    fn rejects_other_formats() {
        assert!(check_seed_lines(&seed_output("0.53895", "0.8911")).is_err());
        assert!(check_seed_lines(&seed_output("0.538957388", "89.11")).is_err());
        assert!(check_seed_lines(&seed_output("NaN", "0.8911")).is_err());
        let missing_line = seed_output("0.538957388", "0.8911").replace("Learning finished\n", "");
        assert!(check_seed_lines(&missing_line).is_err());
        let misnumbered =
            seed_output("0.538957388", "0.8911").replace("Epoch: 0002", "Epoch: 0003");
        assert!(check_seed_lines(&misnumbered).is_err());
    }
}
