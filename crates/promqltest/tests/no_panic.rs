//! The script, series and skip-list parsers must never panic, whatever the
//! input: random text, and random splices of the notation's own pieces
//! (which reach much deeper into the grammar than random bytes do).

use std::path::Path;

use beacon_promqltest::series::{parse_series_line, parse_st_line};
use beacon_promqltest::{SkipList, parse_script};
use proptest::prelude::*;

/// Fragments of real scripts, spliced at random.
const PIECES: &[&str] = &[
    "load 1m\n",
    "load_with_nhcb 5m\n",
    "eval instant at 5m ",
    "eval range from 0 to 1m step 30s ",
    "eval_fail ",
    "clear\n",
    "\n",
    "  ",
    "expect fail msg: x\n",
    "expect warn regex: (\n",
    "expect range vector from 1m to 0 step 1s\n",
    "expect string \"\\u00",
    "{",
    "}",
    "{{",
    "}}",
    "[",
    "]",
    "\"",
    "'",
    "`",
    "\\",
    "é",
    "x",
    "_",
    "_x",
    "+",
    "-",
    "1",
    "0x",
    "e",
    "Inf",
    "NaN",
    "stale",
    "schema:",
    "buckets:[",
    "offset:-",
    "custom_values:",
    "counter_reset_hint:",
    "foo{a=\"b\"}",
    "@st ",
    "=",
    ",",
    "#",
    "99999999999999999999",
    ":",
    "\t",
];

fn spliced() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parsers_never_panic_on_spliced_input(s in spliced()) {
        let _ = parse_script(&s);
        for line in s.lines() {
            let _ = parse_series_line(line.trim());
            let _ = parse_st_line(line.trim());
        }
        let _ = SkipList::parse(&s, Path::new("skip.txt"));
    }

    #[test]
    fn parsers_never_panic_on_random_text(s in "\\PC{0,200}") {
        let _ = parse_script(&s);
        let _ = parse_series_line(&s);
        let _ = parse_st_line(&s);
    }
}
