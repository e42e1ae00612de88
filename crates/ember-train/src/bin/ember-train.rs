//! `ember-train`: see `ember-train --help`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    if let Err(e) = ember_tensor::check_environment() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let cli = ember_train::cli::Cli::parse();
    match ember_train::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
