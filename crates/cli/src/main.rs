//! The `healthcode` command.
//!
//! Exit status: 0 success (or a valid code), 1 an invalid code or a failed
//! check, 2 a usage error or bad input. Errors are one line on stderr,
//! never a backtrace.

mod args;
mod audit;
mod bench;
mod checkpoint;
mod db;
mod demo;
mod demo_channels;
mod demo_checkpoint;
mod demo_itinerary;
mod demo_oversight;
mod demo_server;
mod demo_venues;
mod federation;
mod import;
mod issue;
mod keys;
mod lifecycle;
mod rotate;
mod rules;
mod serve;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "healthcode",
    version,
    about = "Health-code platform: issue, verify and explain colour-coded health codes / 健康码平台：签发、核验并解释健康码",
    max_term_width = 100
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the demo server: SQLite, DEMO keys, people of every colour / 运行演示服务器
    Demo(serve::ServeArgs),
    /// Write the offline demo: DEMO keys, trust list, codes of every colour, a static page / 生成离线演示
    DemoFiles(demo::DemoArgs),
    /// Run the server / 运行服务器
    Serve(serve::ServeArgs),
    /// Issue a signed health code / 签发健康码
    Issue(issue::IssueArgs),
    /// Verify a code offline: a code string, "-" for stdin, or a PNG/JPEG picture / 离线核验健康码
    Verify(verify::VerifyArgs),
    /// Generate issuer keys, build trust and revocation lists / 密钥、信任列表与撤销列表
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Register, list and disable channels (partner apps' API clients) / 渠道管理
    #[command(subcommand)]
    Channels(federation::ChannelsCommand),
    /// Import, list and refresh other deployments' trust lists / 信任列表（互认）
    #[command(subcommand)]
    Trust(federation::TrustCommand),
    /// Measure verification and issuance speed on this machine / 测量本机核验与签发速度
    Bench(bench::BenchArgs),
    /// Evaluate and validate colour rules (CertLogic) / 颜色规则
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// Delete data past its retention (as the server does every few minutes) / 按保存期限删除数据
    Purge(lifecycle::PurgeArgs),
    /// Shut a service down and delete its personal data; service status / 停止服务、删除个人数据
    #[command(subcommand)]
    Service(lifecycle::ServiceCommand),
    /// Check the hash-chained audit log / 校验审计哈希链
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Import carriers' stay records or risk areas (CSV or NDJSON) / 导入运营商停留记录或中高风险地区
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Carrier accounts for the stay-upload API / 运营商接口账户
    #[command(subcommand)]
    Carrier(import::CarrierCommand),
}

fn main() -> ExitCode {
    // A bug must still end in one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: internal error{location}; please report it / 内部错误，请报告");
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Demo(a) => serve::demo(a),
        Command::DemoFiles(a) => demo::run(a),
        Command::Serve(a) => serve::serve(a),
        Command::Issue(a) => issue::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Keys(cmd) => keys::run(cmd),
        Command::Channels(cmd) => federation::channels(cmd),
        Command::Trust(cmd) => federation::trust(cmd),
        Command::Bench(a) => bench::run(a),
        Command::Rules(cmd) => return rules::run(cmd),
        Command::Purge(a) => lifecycle::purge(a),
        Command::Service(cmd) => lifecycle::run(cmd),
        Command::Audit(cmd) => audit::run(cmd),
        Command::Import(cmd) => import::run(cmd),
        Command::Carrier(cmd) => import::run_carrier(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", error_line(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line, each cause once (library errors
/// often repeat their source in their own message).
fn error_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}
