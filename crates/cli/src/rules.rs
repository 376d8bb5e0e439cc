//! `healthcode rules ...`: owned by the colour-rules work (issue 3).

use std::process::ExitCode;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum RulesCommand {}

pub fn run(cmd: RulesCommand) -> ExitCode {
    match cmd {}
}
