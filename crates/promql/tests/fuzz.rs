//! Property tests: the parser never panics, and whatever it accepts prints
//! to a form that parses again to the same text.

use proptest::prelude::*;

/// Fragments that make random input look like PromQL often enough to reach
/// deep parser states.
const PIECES: &[&str] = &[
    "sum",
    "rate",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "5m",
    ":",
    "1m",
    "offset",
    "@",
    "start()",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "bool",
    "+",
    "-",
    "*",
    "/",
    "^",
    "==",
    ">",
    "and",
    "or",
    "unless",
    "foo",
    "bar",
    "\"x\"",
    "=",
    "=~",
    "!=",
    ",",
    "1.5",
    "0x1f",
    "Inf",
    "NaN",
    "topk",
    "histogram_quantile",
    "label_replace",
    "fill",
    "</",
    "anchored",
    "step()",
    "'",
    "`",
    "\\",
    "#",
    "\n",
    " ",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_never_panics_on_bytes(s in ".{0,64}") {
        let _ = beacon_promql::parse(&s);
    }

    #[test]
    fn parse_never_panics_on_fragments(idx in prop::collection::vec(0..PIECES.len(), 0..24)) {
        let s: String = idx.iter().map(|i| PIECES[*i]).collect::<Vec<_>>().join(" ");
        if let Ok(e) = beacon_promql::parse(&s) {
            let printed = e.to_string();
            let again = beacon_promql::parse(&printed)
                .unwrap_or_else(|err| panic!("{s:?} printed as {printed:?}, which fails: {err}"));
            prop_assert_eq!(again.to_string(), printed);
        }
    }
}
