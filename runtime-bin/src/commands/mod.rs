//! One file per command; each is argument handling plus a call into libcontainer.

mod console;
mod create;
mod delete;
mod events;
mod exec;
mod forward;
mod kill;
mod list;
mod pause;
mod ps;
mod relay;
mod run;
mod start;
mod state;
mod update;

use crate::cli::{Cli, Command};

/// Run the command; the result is the process's exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    let root = cli.global.root;
    match cli.command {
        Command::Create(a) => create::run(&root, a),
        Command::Start(a) => start::run(&root, a),
        Command::State(a) => state::run(&root, a),
        Command::Kill(a) => kill::run(&root, a),
        Command::Delete(a) => delete::run(&root, a),
        Command::Run(a) => run::run(&root, a),
        Command::List(a) => list::run(&root, a),
        Command::Pause(a) => pause::pause(&root, a),
        Command::Resume(a) => pause::resume(&root, a),
        Command::Ps(a) => ps::run(&root, a),
        Command::Events(a) => events::run(&root, a),
        Command::Update(a) => update::run(&root, a),
        Command::Exec(a) => exec::run(&root, a),
    }
}
