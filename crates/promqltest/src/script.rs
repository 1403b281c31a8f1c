//! Reading a test script into commands: `load`/`load_with_nhcb` blocks,
//! `clear`, and `eval` blocks with their expectations.
//!
//! Lines are trimmed; a `#` line counts as empty, and an empty line ends a
//! block. Like upstream, the whole file is parsed before anything runs, so
//! a syntax error anywhere fails the file. Eval expressions are *not*
//! parsed here: a PromQL parse error then fails only its own eval, which
//! keeps a parser gap from hiding a whole file's results.

use std::sync::LazyLock;

use beacon_model::{Labels, parse_duration_ms};
use regex::Regex;

use crate::error::{Error, Result};
use crate::series::{
    LineError, SeriesLine, Slot, StartTimes, is_st_line, parse_series_line, parse_st_line, unescape,
};

/// One command of a script.
#[derive(Debug, Clone)]
pub enum Command {
    Clear { line: usize },
    Load(Load),
    Eval(Box<Eval>),
}

/// A `load <step>` or `load_with_nhcb <step>` block.
#[derive(Debug, Clone)]
pub struct Load {
    pub line: usize,
    pub step_ms: i64,
    pub with_nhcb: bool,
    pub series: Vec<LoadSeries>,
}

/// One series of a load block, with its optional start-time offsets.
#[derive(Debug, Clone)]
pub struct LoadSeries {
    pub line: usize,
    pub labels: Labels,
    pub slots: Vec<Slot>,
    pub start_offsets: Option<Vec<Option<i64>>>,
}

/// How an eval is queried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalKind {
    Instant {
        at_ms: i64,
    },
    Range {
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    },
}

/// A message expectation: anything, an exact text, or a Go RE2 pattern
/// matched anywhere in the text.
#[derive(Debug, Clone)]
pub enum Pattern {
    Any,
    Msg(String),
    /// The compiled pattern and its source text.
    Regex(Regex, String),
}

impl Pattern {
    /// Does `text` satisfy this expectation?
    pub fn matches(&self, text: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Msg(m) => m == text,
            Pattern::Regex(r, _) => r.is_match(text),
        }
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pattern::Any => f.write_str("anything"),
            Pattern::Msg(m) => write!(f, "message {m:?}"),
            Pattern::Regex(_, src) => write!(f, "pattern {src:?}"),
        }
    }
}

/// What an eval expects of one annotation kind (warnings or infos).
#[derive(Debug, Clone, Default)]
pub struct AnnotationExpect {
    /// `eval_warn`/`eval_info`: at least one must come back.
    pub required: bool,
    /// `expect warn …` lines: each must match an annotation and every
    /// annotation must match one of them.
    pub patterns: Vec<Pattern>,
    /// `expect no_warn`: none may come back.
    pub none: bool,
}

/// An expected result series.
#[derive(Debug, Clone)]
pub struct ExpectedSeries {
    pub line: usize,
    pub labels: Labels,
    pub slots: Vec<Slot>,
}

/// An `eval` block.
#[derive(Debug, Clone)]
pub struct Eval {
    pub line: usize,
    pub expr: String,
    pub kind: EvalKind,
    /// Set when the query must fail.
    pub fail: Option<Pattern>,
    pub warn: AnnotationExpect,
    pub info: AnnotationExpect,
    pub ordered: bool,
    /// `expect range vector from a to b step s`: (a, b, s) in ms.
    pub range_vector: Option<(i64, i64, i64)>,
    pub expected_string: Option<String>,
    pub expected_scalar: Option<f64>,
    pub expected: Vec<ExpectedSeries>,
}

impl Eval {
    fn new(line: usize, expr: &str, kind: EvalKind) -> Eval {
        Eval {
            line,
            expr: expr.to_owned(),
            kind,
            fail: None,
            warn: AnnotationExpect::default(),
            info: AnnotationExpect::default(),
            ordered: false,
            range_vector: None,
            expected_string: None,
            expected_scalar: None,
            expected: Vec::new(),
        }
    }

    /// The header as written, for reports.
    pub fn header(&self) -> String {
        match self.kind {
            EvalKind::Instant { at_ms } => format!(
                "eval instant at {} {}",
                beacon_model::format_duration_ms(at_ms),
                self.expr
            ),
            EvalKind::Range {
                start_ms,
                end_ms,
                step_ms,
            } => format!(
                "eval range from {} to {} step {} {}",
                beacon_model::format_duration_ms(start_ms),
                beacon_model::format_duration_ms(end_ms),
                beacon_model::format_duration_ms(step_ms),
                self.expr
            ),
        }
    }
}

/// A parsed script.
#[derive(Debug, Clone, Default)]
pub struct Script {
    pub commands: Vec<Command>,
}

impl Script {
    /// The eval commands, in file order.
    pub fn evals(&self) -> impl Iterator<Item = &Eval> {
        self.commands.iter().filter_map(|c| match c {
            Command::Eval(e) => Some(&**e),
            _ => None,
        })
    }
}

fn perr<T>(line: usize, col: usize, msg: impl Into<String>) -> Result<T> {
    Err(Error::Parse {
        line,
        col,
        msg: msg.into(),
    })
}

fn at_line(line: usize, e: LineError) -> Error {
    Error::Parse {
        line,
        col: e.col,
        msg: e.msg,
    }
}

fn duration(s: &str, line: usize, what: &str) -> Result<i64> {
    parse_duration_ms(s).or_else(|_| perr(line, 1, format!("invalid {what} {s:?}")))
}

/// The trimmed lines of a script, comments blanked, numbered from 1.
fn lines(input: &str) -> Vec<(usize, &str)> {
    input
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let l = l.trim();
            (i + 1, if l.starts_with('#') { "" } else { l })
        })
        .collect()
}

/// Counts eval headers the way the format counts test cases; used to size
/// a file's denominator when it cannot be parsed.
pub fn count_eval_headers(input: &str) -> usize {
    lines(input)
        .iter()
        .filter(|(_, l)| {
            l.split_ascii_whitespace()
                .next()
                .is_some_and(|w| w.to_ascii_lowercase().starts_with("eval"))
        })
        .count()
}

/// Parses a whole script.
pub fn parse_script(input: &str) -> Result<Script> {
    let lines = lines(input);
    let mut script = Script::default();
    let mut i = 0;
    while i < lines.len() {
        let (no, l) = lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let word = l
            .split_ascii_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let end = block_end(&lines, i);
        let block = &lines[i..end];
        // How many lines the command used: `clear` is one line, and an eval
        // body stops early at a scalar or `expected_fail_*` line, after
        // which the next line is read as a new command.
        let (cmd, used) = if word == "clear" {
            (Command::Clear { line: no }, 1)
        } else if word.starts_with("load") {
            (Command::Load(parse_load(block)?), block.len())
        } else if word.starts_with("eval") {
            let (eval, used) = parse_eval(block)?;
            (Command::Eval(Box::new(eval)), used)
        } else {
            return perr(no, 1, format!("invalid command {l:?}"));
        };
        i += used;
        script.commands.push(cmd);
    }
    Ok(script)
}

fn block_end(lines: &[(usize, &str)], start: usize) -> usize {
    let mut end = start + 1;
    while end < lines.len() && !lines[end].1.is_empty() {
        end += 1;
    }
    end
}

static LOAD_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^load(_with_nhcb)?\s+(\S+)$").expect("static regex"));

fn parse_load(block: &[(usize, &str)]) -> Result<Load> {
    let (no, header) = block[0];
    let Some(caps) = LOAD_RE.captures(header) else {
        return perr(
            no,
            1,
            "invalid load command (expected 'load[_with_nhcb] <step>')",
        );
    };
    let mut load = Load {
        line: no,
        step_ms: duration(&caps[2], no, "step")?,
        with_nhcb: caps.get(1).is_some(),
        series: Vec::new(),
    };
    let mut pending: Option<(usize, StartTimes)> = None;
    let mut default_st: Option<Vec<Option<i64>>> = None;
    for &(no, l) in &block[1..] {
        if is_st_line(l) {
            if let Some((pno, _)) = pending {
                return perr(pno, 1, "@st line has no following sample line");
            }
            let st = parse_st_line(l).map_err(|e| at_line(no, e))?;
            if st.labels.is_empty() {
                default_st = Some(st.offsets);
            } else {
                pending = Some((no, st));
            }
            continue;
        }
        let SeriesLine { labels, slots } = parse_series_line(l).map_err(|e| at_line(no, e))?;
        let start_offsets =
            start_offsets(pending.take(), default_st.as_deref(), &labels, slots.len())?;
        load.series.push(LoadSeries {
            line: no,
            labels,
            slots,
            start_offsets,
        });
    }
    if let Some((pno, _)) = pending {
        return perr(pno, 1, "@st line has no following sample line");
    }
    Ok(load)
}

/// The start-time offsets of a sample line: from the `@st` line just
/// before it (which must name the same series and cover as many slots), or
/// from a standalone `@st` line earlier in the block, cycled.
fn start_offsets(
    pending: Option<(usize, StartTimes)>,
    default: Option<&[Option<i64>]>,
    labels: &Labels,
    slots: usize,
) -> Result<Option<Vec<Option<i64>>>> {
    let Some((pno, st)) = pending else {
        return Ok(default
            .filter(|d| !d.is_empty())
            .map(|d| (0..slots).map(|i| d[i % d.len()]).collect()));
    };
    if st.labels != *labels {
        return perr(
            pno,
            1,
            "@st metric does not match the following sample line",
        );
    }
    if st.offsets.len() != slots {
        return perr(
            pno,
            1,
            format!(
                "@st line has {} values but the sample line has {slots}",
                st.offsets.len()
            ),
        );
    }
    Ok(Some(st.offsets))
}

static INSTANT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+at\s+(\S+)\s+(.+)$")
        .expect("static regex")
});
static RANGE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)\s+(.+)$",
    )
    .expect("static regex")
});
static EXPECT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$")
        .expect("static regex")
});
static RANGE_VECTOR_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^expect range vector\s+from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)$")
        .expect("static regex")
});

fn parse_header(no: usize, header: &str) -> Result<(Eval, Option<String>)> {
    if let Some(c) = INSTANT_RE.captures(header) {
        let at_ms = duration(&c[2], no, "evaluation time")?;
        let eval = Eval::new(no, &c[3], EvalKind::Instant { at_ms });
        return Ok((eval, c.get(1).map(|m| m.as_str().to_owned())));
    }
    if let Some(c) = RANGE_RE.captures(header) {
        let start_ms = duration(&c[2], no, "start time")?;
        let end_ms = duration(&c[3], no, "end time")?;
        let step_ms = duration(&c[4], no, "step")?;
        if end_ms < start_ms {
            return perr(
                no,
                1,
                format!("end time {} is before start time {}", &c[3], &c[2]),
            );
        }
        if step_ms <= 0 {
            return perr(no, 1, "range step must be positive");
        }
        let kind = EvalKind::Range {
            start_ms,
            end_ms,
            step_ms,
        };
        return Ok((
            Eval::new(no, &c[5], kind),
            c.get(1).map(|m| m.as_str().to_owned()),
        ));
    }
    perr(
        no,
        1,
        "invalid eval command (expected 'eval[_fail|_warn|_info|_ordered] instant at <time> <expr>' \
         or 'eval[_fail|_warn|_info] range from <start> to <end> step <step> <expr>')",
    )
}

/// Parses an eval block; returns it and the number of lines it used.
fn parse_eval(block: &[(usize, &str)]) -> Result<(Eval, usize)> {
    let (no, header) = block[0];
    let (mut eval, modifier) = parse_header(no, header)?;
    let deprecated_fail = modifier.as_deref() == Some("fail");
    match modifier.as_deref() {
        Some("fail") => eval.fail = Some(Pattern::Any),
        Some("warn") => eval.warn.required = true,
        Some("info") => eval.info.required = true,
        Some("ordered") => eval.ordered = true,
        _ => {}
    }
    for (n, &(no, l)) in block.iter().enumerate().skip(1) {
        if deprecated_fail {
            if let Some(m) = l.strip_prefix("expected_fail_message") {
                eval.fail = Some(Pattern::Msg(m.trim().to_owned()));
                return Ok((eval, n + 1));
            }
            if let Some(p) = l.strip_prefix("expected_fail_regexp") {
                eval.fail = Some(go_regex(p.trim(), no)?);
                return Ok((eval, n + 1));
            }
        }
        if l.starts_with("expect range vector") {
            let Some(c) = RANGE_VECTOR_RE.captures(l) else {
                return perr(no, 1, format!("invalid range vector definition {l:?}"));
            };
            let (a, b) = (duration(&c[1], no, "start")?, duration(&c[2], no, "end")?);
            if b < a {
                return perr(no, 1, "range vector end is before its start");
            }
            eval.range_vector = Some((a, b, duration(&c[3], no, "step")?));
            eval.kind = EvalKind::Instant { at_ms: b };
            continue;
        }
        if let Some(s) = l.strip_prefix("expect string") {
            eval.expected_string = Some(go_string_literal(s.trim(), no)?);
            continue;
        }
        if l.split_ascii_whitespace().next() == Some("expect") {
            parse_expect(&mut eval, l, no)?;
            continue;
        }
        if let Some(v) = parse_scalar(l) {
            eval.expected_scalar = Some(v);
            return Ok((eval, n + 1));
        }
        let SeriesLine { labels, slots } = parse_series_line(l).map_err(|e| at_line(no, e))?;
        let instant = matches!(eval.kind, EvalKind::Instant { .. });
        if slots.len() > 1 && instant && eval.range_vector.is_none() {
            return perr(
                no,
                1,
                "an instant eval expects one value per series (use 'expect range vector' for more)",
            );
        }
        eval.expected.push(ExpectedSeries {
            line: no,
            labels,
            slots,
        });
    }
    Ok((eval, block.len()))
}

fn go_regex(pattern: &str, no: usize) -> Result<Pattern> {
    match beacon_model::regex::compile_unanchored(pattern) {
        Ok(re) => Ok(Pattern::Regex(re, pattern.to_owned())),
        Err(e) => perr(no, 1, format!("invalid regex {pattern:?}: {e}")),
    }
}

fn go_string_literal(s: &str, no: usize) -> Result<String> {
    let bad = || {
        perr(
            no,
            1,
            "'expect string' needs a correctly quoted string literal",
        )
    };
    if s.len() < 2 {
        return bad();
    }
    if let Some(raw) = s.strip_prefix('`').and_then(|r| r.strip_suffix('`')) {
        return Ok(raw.to_owned());
    }
    match s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(body) => unescape(body).or_else(|_| bad()),
        None => bad(),
    }
}

fn parse_expect(eval: &mut Eval, l: &str, no: usize) -> Result<()> {
    let Some(c) = EXPECT_RE.captures(l) else {
        return perr(
            no,
            1,
            format!("invalid expect line {l:?} (expected 'expect <type> [msg|regex: <text>]')"),
        );
    };
    let pattern = match (c.get(2).map(|m| m.as_str()), c.get(3)) {
        (Some("msg"), Some(t)) => Pattern::Msg(t.as_str().trim().to_owned()),
        (Some(_), Some(t)) => go_regex(t.as_str().trim(), no)?,
        _ => Pattern::Any,
    };
    match &c[1] {
        "ordered" => eval.ordered = true,
        "fail" => {
            if eval.fail.is_some() {
                return perr(no, 1, "at most one 'expect fail' line per eval");
            }
            eval.fail = Some(pattern);
        }
        "warn" => eval.warn.patterns.push(pattern),
        "info" => eval.info.patterns.push(pattern),
        "no_warn" => eval.warn.none = true,
        _ => eval.info.none = true,
    }
    for (kind, a) in [("warn", &eval.warn), ("info", &eval.info)] {
        if a.none && !a.patterns.is_empty() {
            return perr(
                no,
                1,
                format!("'expect {kind}' and 'expect no_{kind}' cannot be combined"),
            );
        }
    }
    Ok(())
}

/// A bare-number result line, read like Go's `ParseInt(s, 0, 64)` (so
/// `0x1f`, `0o17`, `0b101` and leading-zero octal work) with a float
/// fallback (`1.5`, `1e3`, `Inf`, `NaN`).
pub fn parse_scalar(s: &str) -> Option<f64> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = digits.to_ascii_lowercase();
    let int = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(b) = lower.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|b| b.is_ascii_digit())
    {
        i64::from_str_radix(&lower[1..], 8).ok()
    } else if !lower.is_empty() && lower.bytes().all(|b| b.is_ascii_digit()) {
        lower.parse::<i64>().ok()
    } else {
        None
    };
    if let Some(i) = int {
        let v = i as f64;
        return Some(if neg { -v } else { v });
    }
    // Rust's float syntax is Go's minus hex floats and underscores, which
    // no script uses; `inf`, `infinity` and `nan` match in any case.
    let ok = !lower.is_empty()
        && lower
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-'))
        || matches!(lower.as_str(), "inf" | "infinity" | "nan");
    if !ok {
        return None;
    }
    s.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{format_float, format_slots};

    fn describe_annotations(kind: &str, a: &AnnotationExpect, out: &mut Vec<String>) {
        if a.required {
            out.push(format!("{kind}:required"));
        }
        if a.none {
            out.push(format!("no_{kind}"));
        }
        for p in &a.patterns {
            out.push(format!("{kind}:{p}"));
        }
    }

    fn describe_eval(e: &Eval) -> String {
        let mut parts = vec![format!("eval@{} {:?} {:?}", e.line, e.kind, e.expr)];
        if let Some(p) = &e.fail {
            parts.push(format!("fail:{p}"));
        }
        describe_annotations("warn", &e.warn, &mut parts);
        describe_annotations("info", &e.info, &mut parts);
        if e.ordered {
            parts.push("ordered".into());
        }
        if let Some(rv) = e.range_vector {
            parts.push(format!("range_vector:{rv:?}"));
        }
        if let Some(s) = &e.expected_string {
            parts.push(format!("string:{s:?}"));
        }
        if let Some(v) = e.expected_scalar {
            parts.push(format!("scalar:{}", format_float(v)));
        }
        for s in &e.expected {
            parts.push(format!(
                "{}@{} {}",
                s.labels,
                s.line,
                format_slots(&s.slots)
            ));
        }
        parts.join(" | ")
    }

    /// Parses a script and describes its commands one per line, or the error.
    fn check(input: &str, expected: &str) {
        let got = match parse_script(input) {
            Ok(s) => s
                .commands
                .iter()
                .map(|c| match c {
                    Command::Clear { line } => format!("clear@{line}"),
                    Command::Load(l) => {
                        let series: Vec<String> = l
                            .series
                            .iter()
                            .map(|s| {
                                let st = s
                                    .start_offsets
                                    .as_ref()
                                    .map(|o| format!(" st={o:?}"))
                                    .unwrap_or_default();
                                format!("{}@{} {}{st}", s.labels, s.line, format_slots(&s.slots))
                            })
                            .collect();
                        format!(
                            "load@{} step={} nhcb={} [{}]",
                            l.line,
                            l.step_ms,
                            l.with_nhcb,
                            series.join("; ")
                        )
                    }
                    Command::Eval(e) => describe_eval(e),
                })
                .collect::<Vec<_>>()
                .join("\n"),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expected, "input:\n{input}");
    }

    #[test]
    fn blocks_and_comments() {
        check(
            "# header\nload 5m\n  a{x=\"1\"} 0+1x2\n\tb 1 _ 3\n# comment ends the block\nCLEAR\nload_with_nhcb 1m\n  c_bucket{le=\"1\"} 1\n",
            "load@2 step=300000 nhcb=false [a{x=\"1\"}@3 0 1 2; b@4 1 _ 3]\nclear@6\nload@7 step=60000 nhcb=true [c_bucket{le=\"1\"}@8 1]",
        );
    }

    #[test]
    fn eval_headers() {
        check(
            "eval instant at 1h30m sum(x)\n  {} 3\n\neval range from 0 to 10m step 1m x\n  x 1 2 _ 4\n",
            "eval@1 Instant { at_ms: 5400000 } \"sum(x)\" | {}@2 3\neval@4 Range { start_ms: 0, end_ms: 600000, step_ms: 60000 } \"x\" | x@5 1 2 _ 4",
        );
        check(
            "eval_fail instant at 0 a\n\neval_warn range from 0 to 1m step 30s b\n\neval_info instant at 1m c\n\neval_ordered instant at 1m sort(d)\n  d 1\n",
            "eval@1 Instant { at_ms: 0 } \"a\" | fail:anything\neval@3 Range { start_ms: 0, end_ms: 60000, step_ms: 30000 } \"b\" | warn:required\neval@5 Instant { at_ms: 60000 } \"c\" | info:required\neval@7 Instant { at_ms: 60000 } \"sort(d)\" | ordered | d@8 1",
        );
        check(
            "eval_fail instant at 0 a\n  expected_fail_message bad thing\n",
            "eval@1 Instant { at_ms: 0 } \"a\" | fail:message \"bad thing\"",
        );
        check(
            "eval_fail instant at 0 a\n  expected_fail_regexp bad.*\n",
            "eval@1 Instant { at_ms: 0 } \"a\" | fail:pattern \"bad.*\"",
        );
    }

    #[test]
    fn expect_lines() {
        check(
            "eval instant at 0 a\n  expect fail msg: vector cannot contain metrics with the same labelset\n",
            "eval@1 Instant { at_ms: 0 } \"a\" | fail:message \"vector cannot contain metrics with the same labelset\"",
        );
        check(
            "eval instant at 0 a\n  expect fail regex: same label(set)?\n  expect no_warn\n  expect info\n  expect info msg: PromQL info: x (1:1)\n",
            "eval@1 Instant { at_ms: 0 } \"a\" | fail:pattern \"same label(set)?\" | no_warn | info:anything | info:message \"PromQL info: x (1:1)\"",
        );
        check(
            "eval instant at 0 a\n  expect warn regex: x\\d+\n  expect no_info\n  expect ordered\n  a 1\n",
            "eval@1 Instant { at_ms: 0 } \"a\" | warn:pattern \"x\\\\d+\" | no_info | ordered | a@5 1",
        );
        check(
            "eval instant at 0 \"a\"\n  expect string \"a\\tb\"\n\neval instant at 0 `b`\n  expect string `raw\\n`\n",
            "eval@1 Instant { at_ms: 0 } \"\\\"a\\\"\" | string:\"a\\tb\"\neval@4 Instant { at_ms: 0 } \"`b`\" | string:\"raw\\\\n\"",
        );
        check(
            "eval instant at 0 x[1m]\n  expect range vector from 10s to 1m step 10s\n  x 1 2 3 4 5 6\n",
            "eval@1 Instant { at_ms: 60000 } \"x[1m]\" | range_vector:(10000, 60000, 10000) | x@3 1 2 3 4 5 6",
        );
    }

    #[test]
    fn scalar_results() {
        check(
            "eval instant at 0 1\n  0x1f\n",
            "eval@1 Instant { at_ms: 0 } \"1\" | scalar:31",
        );
        check(
            "eval instant at 0 1\n  -1.5e3\n",
            "eval@1 Instant { at_ms: 0 } \"1\" | scalar:-1500",
        );
        check(
            "eval instant at 0 1\n  010\n",
            "eval@1 Instant { at_ms: 0 } \"1\" | scalar:8",
        );
        check(
            "eval instant at 0 1\n  +Inf\n",
            "eval@1 Instant { at_ms: 0 } \"1\" | scalar:+Inf",
        );
        check(
            "eval instant at 0 1\n  NaN\n",
            "eval@1 Instant { at_ms: 0 } \"1\" | scalar:NaN",
        );
        // A scalar line ends the block: what follows is a new command.
        check(
            "eval instant at 0 1\n  1\n  foo 2\n",
            "error: line 3:1: invalid command \"foo 2\"",
        );
    }

    #[test]
    fn start_time_lines_attach_to_the_next_series() {
        check(
            "load 1m\n  a@st _ -30s\n  a 1 2\n  b 1 2\n",
            "load@1 step=60000 nhcb=false [a@3 1 2 st=[None, Some(-30000)]; b@4 1 2]",
        );
        check(
            "load 1m\n  @st -1s\n  a 1 2\n",
            "load@1 step=60000 nhcb=false [a@3 1 2 st=[Some(-1000), Some(-1000)]]",
        );
        check(
            "load 1m\n  a@st _ -30s\n  b 1 2\n",
            "error: line 2:1: @st metric does not match the following sample line",
        );
        check(
            "load 1m\n  a@st _\n  a 1 2\n",
            "error: line 2:1: @st line has 1 values but the sample line has 2",
        );
        check(
            "load 1m\n  a@st _\n",
            "error: line 2:1: @st line has no following sample line",
        );
    }

    #[test]
    fn errors_carry_line_numbers() {
        check(
            "\n\nfrobnicate 5m\n",
            "error: line 3:1: invalid command \"frobnicate 5m\"",
        );
        check(
            "load\n",
            "error: line 1:1: invalid load command (expected 'load[_with_nhcb] <step>')",
        );
        check("load 5x\n", "error: line 1:1: invalid step \"5x\"");
        check(
            "load 1m\n  a 1\n  b{ 2\n",
            "error: line 3:4: expected a label name or '}'",
        );
        check(
            "eval instant at -5m x\n",
            "error: line 1:1: invalid evaluation time \"-5m\"",
        );
        check(
            "eval instant x\n",
            "error: line 1:1: invalid eval command (expected 'eval[_fail|_warn|_info|_ordered] instant at <time> <expr>' or 'eval[_fail|_warn|_info] range from <start> to <end> step <step> <expr>')",
        );
        check(
            "eval range from 5m to 1m step 1m x\n",
            "error: line 1:1: end time 1m is before start time 5m",
        );
        check(
            "eval_ordered range from 0 to 1m step 1m x\n",
            "error: line 1:1: invalid eval command (expected 'eval[_fail|_warn|_info|_ordered] instant at <time> <expr>' or 'eval[_fail|_warn|_info] range from <start> to <end> step <step> <expr>')",
        );
        check(
            "eval instant at 0 x\n  x 1 2\n",
            "error: line 2:1: an instant eval expects one value per series (use 'expect range vector' for more)",
        );
        check(
            "eval instant at 0 x\n  expect bogus\n",
            "error: line 2:1: invalid expect line \"expect bogus\" (expected 'expect <type> [msg|regex: <text>]')",
        );
        check(
            "eval instant at 0 x\n  expect warn\n  expect no_warn\n",
            "error: line 3:1: 'expect warn' and 'expect no_warn' cannot be combined",
        );
        check(
            "eval instant at 0 x\n  expect fail\n  expect fail msg: a\n",
            "error: line 3:1: at most one 'expect fail' line per eval",
        );
        check(
            "eval instant at 0 x\n  expect fail regex: (\n",
            "error: line 2:1: invalid regex \"(\": invalid regular expression \"(\": unclosed group",
        );
        check(
            "eval instant at 0 x\n  expect string nope\n",
            "error: line 2:1: 'expect string' needs a correctly quoted string literal",
        );
        check(
            "eval instant at 0 x\n  expect range vector from 1m to 0 step 1s\n",
            "error: line 2:1: range vector end is before its start",
        );
    }
}
