//! `beacontool`: command-line checks and inspection for Beacon, in the
//! spirit of `promtool`.
//!
//! Subcommands are thin: each calls into the library crate that owns the
//! work and prints its result, so the server and the tool agree.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

/// Command-line tools for Beacon.
#[derive(Debug, Parser)]
#[command(name = "beacontool", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check files for validity.
    #[command(subcommand)]
    Check(CheckCommand),
    /// PromQL helpers.
    #[command(subcommand)]
    Promql(PromqlCommand),
    /// Run PromQL test scripts (Prometheus's `.test` format).
    #[command(name = "promql-test")]
    PromqlTest {
        /// A skip list: `<file>:<line> <reason>` per line.
        #[arg(long)]
        skip: Option<PathBuf>,
        /// The script files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Inspect a TSDB data directory.
    #[command(subcommand)]
    Tsdb(TsdbCommand),
}

#[derive(Debug, Subcommand)]
enum CheckCommand {
    /// Lint metrics in the text exposition format read from standard input.
    Metrics,
    /// Check prometheus.yml files (strict: unknown keys are errors).
    Config {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Check rule files (recording and alerting rules).
    Rules {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Check web.config.yml files (TLS and basic auth).
    WebConfig {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum PromqlCommand {
    /// Print a PromQL expression in canonical format.
    Format { expr: String },
}

#[derive(Debug, Subcommand)]
enum TsdbCommand {
    /// List the blocks of a data directory.
    List { dir: PathBuf },
    /// Show series and label cardinality.
    Analyze {
        dir: PathBuf,
        /// Analyse this block only (its ULID).
        #[arg(long)]
        block: Option<String>,
        /// How many entries each top list shows.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Print samples as `labels value timestamp` lines.
    Dump {
        dir: PathBuf,
        /// Start of the range, milliseconds.
        #[arg(long, default_value_t = i64::MIN / 2)]
        min_time: i64,
        /// End of the range, milliseconds.
        #[arg(long, default_value_t = i64::MAX / 2)]
        max_time: i64,
        /// A series selector, e.g. `{job="node"}`.
        #[arg(long = "match", default_value = "{__name__=~\".+\"}")]
        selector: String,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("beacontool: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Check(c) => check(c),
        Command::Promql(PromqlCommand::Format { expr }) => {
            let out = beacon_promql::format_query(&expr).map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{out}");
            Ok(ExitCode::SUCCESS)
        }
        Command::PromqlTest { skip, files } => promql_test(skip, &files),
        Command::Tsdb(t) => tsdb(t),
    }
}

fn check(c: CheckCommand) -> Result<ExitCode> {
    let mut failed = false;
    match c {
        CheckCommand::Metrics => {
            let mut input = Vec::new();
            std::io::stdin()
                .read_to_end(&mut input)
                .context("reading metrics from standard input")?;
            for p in beacon_exposition::check_metrics(&input) {
                println!("{p}");
                failed = true;
            }
        }
        CheckCommand::Config { files } => {
            for f in files {
                match beacon_config::Config::load(&f) {
                    Ok(cfg) => {
                        println!(
                            "SUCCESS: {} is valid prometheus config file syntax",
                            f.display()
                        );
                        failed |= !check_config_rule_files(&cfg.rule_files);
                    }
                    Err(e) => {
                        println!("FAILED: {e}");
                        failed = true;
                    }
                }
            }
        }
        CheckCommand::Rules { files } => {
            let paths: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            failed |= !check_rule_files(&paths);
        }
        CheckCommand::WebConfig { files } => {
            for f in files {
                match beacon_config::web::WebConfig::load(&f) {
                    Ok(_) => println!("{} SUCCESS", f.display()),
                    Err(e) => {
                        println!("{} FAILED: {e}", f.display());
                        failed = true;
                    }
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Expands a configuration's `rule_files` globs and checks every file, as
/// `promtool check config` does. True when all are valid.
fn check_config_rule_files(patterns: &[String]) -> bool {
    let mut paths = Vec::new();
    for p in patterns {
        match beacon_config::glob::glob(p) {
            Ok(found) => paths.extend(found.iter().map(|f| f.display().to_string())),
            Err(e) => {
                println!("  FAILED: rule_files pattern {p:?}: {e}");
                return false;
            }
        }
    }
    println!("  SUCCESS: {} rule files found", paths.len());
    if paths.is_empty() {
        return true;
    }
    println!();
    check_rule_files(&paths)
}

/// `check rules`: one verdict per file in promtool's words. True when all
/// are valid.
fn check_rule_files(paths: &[String]) -> bool {
    let mut ok = true;
    for (file, verdict) in beacon_rules::check_files(paths, beacon_rules::ParseOptions::default()) {
        println!("Checking {file}");
        match verdict {
            Ok(summary) => println!("  SUCCESS: {} rules found", summary.rules),
            Err(e) => {
                println!("  FAILED:\n{e}");
                ok = false;
            }
        }
        println!();
    }
    ok
}

fn promql_test(skip: Option<PathBuf>, files: &[PathBuf]) -> Result<ExitCode> {
    let skips = match skip {
        Some(p) => beacon_promqltest::SkipList::load(&p).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => beacon_promqltest::SkipList::empty(),
    };
    let summary = beacon_promqltest::run_files(files, &skips);
    beacon_promqltest::print_summary(&summary, &mut std::io::stdout().lock())
        .context("writing the summary")?;
    Ok(if summary.all_passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn tsdb(t: TsdbCommand) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match t {
        TsdbCommand::List { dir } => beacon_tsdb::tool::list_blocks(&dir, &mut out)?,
        TsdbCommand::Analyze { dir, block, limit } => {
            beacon_tsdb::tool::analyze(&dir, block.as_deref(), limit, &mut out)?
        }
        TsdbCommand::Dump {
            dir,
            min_time,
            max_time,
            selector,
        } => {
            let matchers =
                match beacon_promql::parse(&selector).map_err(|e| anyhow::anyhow!("{e}"))? {
                    beacon_promql::Expr::Vector(v) => v.matchers,
                    _ => bail!(
                        "--match must be a series selector like {{job=\"node\"}}, got {selector:?}"
                    ),
                };
            beacon_tsdb::tool::dump(&dir, min_time, max_time, &matchers, &mut out)?;
        }
    }
    out.flush().context("writing output")?;
    Ok(ExitCode::SUCCESS)
}
