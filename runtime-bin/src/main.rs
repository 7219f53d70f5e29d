//! `berth`: a daemonless, runc-compatible OCI runtime. Each command is a thin layer over
//! libcontainer; this file only parses arguments, sets up logging and prints errors.

mod cli;
mod commands;
mod logging;
mod parse;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let log = logging::init(&cli.global);
    let code = match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            log.error(&e);
            1
        }
    };
    std::process::exit(code);
}
