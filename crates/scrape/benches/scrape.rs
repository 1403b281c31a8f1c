//! Scrape benchmark (filled in below).
fn main() {}
