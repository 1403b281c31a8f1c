//! `beacon`: the Beacon server.

fn main() {}
