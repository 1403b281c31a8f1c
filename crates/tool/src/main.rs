//! `beacontool`: command-line checks and inspection for Beacon.
//!
//! Subcommands are thin: each calls into the library crate that owns the
//! work and prints its result, so the same logic serves the server too.

use clap::Parser;

/// Command-line tools for Beacon.
#[derive(Debug, Parser)]
#[command(name = "beacontool", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
