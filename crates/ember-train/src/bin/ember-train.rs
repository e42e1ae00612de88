//! `ember-train`: see `ember-train --help`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = ember_train::cli::Cli::parse();
    match ember_train::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
