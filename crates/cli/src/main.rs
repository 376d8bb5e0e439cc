//! The `healthcode` command.
//!
//! Exit status: 0 success (or a valid code), 1 an invalid code or a failed
//! check, 2 a usage error or bad input. Errors are one line on stderr.

mod rules;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "healthcode", version, about = "Health-code platform: issue, verify and explain colour-coded health codes / 健康码平台")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluate and validate colour rules (CertLogic) / 颜色规则
    #[command(subcommand)]
    Rules(rules::RulesCommand),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Rules(cmd) => rules::run(cmd),
    }
}
