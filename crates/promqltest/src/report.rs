//! Skip lists, running many files, and the printed summary the CLI and the
//! conformance test show: failures with their diffs, skipped evals, a
//! `name: passed/total` line per file, `total: passed/total`, and the
//! closing `N passed, N failed` line.
//!
//! A skip list is the only way to skip an eval. Each line is
//! `<file>:<line> <reason>`, keyed by the script's file name and the eval
//! header's line; the reason is mandatory so that every skip says why.
//! `#` starts a comment line.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::runner::{FileReport, Outcome, RunOptions, file_name, run_file_with};

/// Evals to skip, by file name and eval header line, with their reasons.
#[derive(Debug, Clone, Default)]
pub struct SkipList {
    entries: BTreeMap<(String, usize), String>,
}

impl SkipList {
    /// No skips.
    pub fn empty() -> SkipList {
        SkipList::default()
    }

    /// Reads a skip-list file.
    pub fn load(path: &Path) -> Result<SkipList> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        SkipList::parse(&text, path)
    }

    /// Parses skip-list text; `path` is only used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<SkipList> {
        let mut entries = BTreeMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |msg: &str| Error::SkipList {
                path: path.to_owned(),
                line: i + 1,
                msg: msg.to_owned(),
            };
            let (key, reason) = line
                .split_once(char::is_whitespace)
                .ok_or_else(|| bad("a reason is required after '<file>:<line>'"))?;
            let reason = reason.trim();
            if reason.is_empty() {
                return Err(bad("a reason is required after '<file>:<line>'"));
            }
            let (file, no) = key
                .rsplit_once(':')
                .ok_or_else(|| bad("expected '<file>:<line>'"))?;
            let no: usize = no
                .parse()
                .map_err(|_| bad("the line number is not a number"))?;
            if file.is_empty() || no == 0 {
                return Err(bad(
                    "expected '<file>:<line>' with a file name and a line from 1",
                ));
            }
            if entries
                .insert((file.to_owned(), no), reason.to_owned())
                .is_some()
            {
                return Err(bad("this eval is listed twice"));
            }
        }
        Ok(SkipList { entries })
    }

    /// The skips of one file, by line.
    pub fn for_file(&self, name: &str) -> BTreeMap<usize, String> {
        self.entries
            .iter()
            .filter(|((f, _), _)| f == name)
            .map(|((_, l), r)| (*l, r.clone()))
            .collect()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is skipped.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn keys(&self) -> impl Iterator<Item = &(String, usize)> {
        self.entries.keys()
    }
}

/// The results of several files.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub files: Vec<FileReport>,
    /// Skip entries that matched no eval of the files run (`file:line`).
    pub unused_skips: Vec<String>,
}

impl Summary {
    /// Evals that passed.
    pub fn passed(&self) -> usize {
        self.files.iter().map(FileReport::passed).sum()
    }

    /// Evals that failed.
    pub fn failed(&self) -> usize {
        self.files.iter().map(FileReport::failed).sum()
    }

    /// Evals that were skipped.
    pub fn skipped(&self) -> usize {
        self.files.iter().map(FileReport::skipped).sum()
    }

    /// All evals.
    pub fn total(&self) -> usize {
        self.files.iter().map(FileReport::total).sum()
    }

    /// Files that could not be read or parsed.
    pub fn file_errors(&self) -> usize {
        self.files.iter().filter(|f| f.error.is_some()).count()
    }

    /// True when every file ran and no eval failed.
    pub fn all_passed(&self) -> bool {
        self.failed() == 0 && self.file_errors() == 0
    }
}

/// Runs every file with the default options.
pub fn run_files(paths: &[PathBuf], skips: &SkipList) -> Summary {
    run_files_with(paths, skips, &RunOptions::default())
}

/// Runs every file; skip entries are matched by file name.
pub fn run_files_with(paths: &[PathBuf], skips: &SkipList, opts: &RunOptions) -> Summary {
    let mut summary = Summary::default();
    let mut used = BTreeSet::new();
    for path in paths {
        let name = file_name(path);
        let report = run_file_with(path, opts, &skips.for_file(&name));
        for e in &report.evals {
            used.insert((name.clone(), e.line));
        }
        summary.files.push(report);
    }
    let names: BTreeSet<String> = summary.files.iter().map(|f| f.name.clone()).collect();
    summary.unused_skips = skips
        .keys()
        .filter(|k| names.contains(&k.0) && !used.contains(*k))
        .map(|(f, l)| format!("{f}:{l}"))
        .collect();
    summary
}

/// Lines of one failure's account that are printed; the rest is counted.
/// A wrong answer on a large result would otherwise bury the others.
pub const FAILURE_LINES_MAX: usize = 40;

fn indent(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = lines
        .iter()
        .take(FAILURE_LINES_MAX)
        .map(|l| format!("    {l}"))
        .collect();
    if lines.len() > FAILURE_LINES_MAX {
        out.push(format!(
            "    … {} more lines",
            lines.len() - FAILURE_LINES_MAX
        ));
    }
    out.join("\n")
}

/// Writes the failures (with diffs), the skipped evals, and the counts.
pub fn print_summary(summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
    print_failures(summary, out)?;
    print_counts(summary, out)
}

/// Writes the failures (with diffs), the skipped evals and unused skip
/// entries, without the counts.
pub fn print_failures(summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
    for f in &summary.files {
        if let Some(e) = &f.error {
            writeln!(out, "FAIL {}: {e}", f.name)?;
        }
        for e in &f.evals {
            match &e.outcome {
                Outcome::Passed => {}
                Outcome::Failed(why) => {
                    writeln!(out, "FAIL {}:{}: {}", f.name, e.line, e.header)?;
                    writeln!(out, "{}", indent(why))?;
                }
                Outcome::Skipped { reason, now_passes } => {
                    let note = if *now_passes {
                        " [passes now: remove the skip]"
                    } else {
                        ""
                    };
                    writeln!(
                        out,
                        "SKIP {}:{}: {} ({reason}){note}",
                        f.name, e.line, e.header
                    )?;
                }
            }
        }
    }
    for s in &summary.unused_skips {
        writeln!(out, "unused skip entry: {s} (no eval starts on that line)")?;
    }
    let kinds = failure_kinds(summary);
    if !kinds.is_empty() {
        let parts: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
        writeln!(out, "failures by kind: {}", parts.join(", "))?;
    }
    Ok(())
}

/// Sorts a failure into a coarse kind by how the runner worded it, so that
/// a run's failures can be sized up at a glance.
pub fn failure_kind(why: &str) -> &'static str {
    // The extra runs' prefixes come first: they wrap the other wordings.
    const KINDS: [(&str, &str); 10] = [
        ("in range mode", "range mode differs"),
        ("with @ pinned", "@-pinned run differs"),
        ("the expression does not parse", "parse error"),
        ("engine panicked", "panic"),
        ("no answer within", "timeout"),
        ("not run:", "not run"),
        ("unexpected error", "unexpected error"),
        ("expected an error", "missing error"),
        ("annotation", "annotations"),
        ("expected no ", "annotations"),
    ];
    let first = why.lines().next().unwrap_or("");
    KINDS
        .iter()
        .find(|(needle, _)| first.contains(needle))
        .map_or("wrong result", |(_, kind)| kind)
}

/// How many failures of each kind, most frequent first.
pub fn failure_kinds(summary: &Summary) -> Vec<(&'static str, usize)> {
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for f in &summary.files {
        for e in &f.evals {
            if let Outcome::Failed(why) = &e.outcome {
                *counts.entry(failure_kind(why)).or_default() += 1;
            }
        }
    }
    let mut v: Vec<_> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v
}

/// Writes only the counts: one line per file, the total and the closing
/// line.
pub fn print_counts(summary: &Summary, out: &mut dyn Write) -> io::Result<()> {
    for f in &summary.files {
        let skipped = match f.skipped() {
            0 => String::new(),
            n => format!(" ({n} skipped)"),
        };
        writeln!(out, "{}: {}/{}{skipped}", f.name, f.passed(), f.total())?;
    }
    writeln!(out, "total: {}/{}", summary.passed(), summary.total())?;
    let mut extra = String::new();
    if summary.skipped() > 0 {
        extra.push_str(&format!(", {} skipped", summary.skipped()));
    }
    if summary.file_errors() > 0 {
        extra.push_str(&format!(", {} files not run", summary.file_errors()));
    }
    writeln!(
        out,
        "{} passed, {} failed{extra}",
        summary.passed(),
        summary.failed()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let got = match SkipList::parse(input, Path::new("skip.txt")) {
            Ok(s) => s
                .entries
                .iter()
                .map(|((f, l), r)| format!("{f}:{l}={r}"))
                .collect::<Vec<_>>()
                .join(";"),
            Err(e) => e.to_string(),
        };
        assert_eq!(got, expected);
    }

    #[test]
    fn failures_are_sorted_into_kinds() {
        for (why, kind) in [
            ("value of {} (line 3): expected 1, got 2", "wrong result"),
            ("missing: x 1 (line 4)", "wrong result"),
            ("expected info annotations, got none", "annotations"),
            ("unexpected warn annotation \"w\"", "annotations"),
            ("expected no warn annotations, got: [\"w\"]", "annotations"),
            ("unexpected error: boom", "unexpected error"),
            (
                "expected an error matching anything, but the query succeeded",
                "missing error",
            ),
            (
                "in range mode (T-1m to T+1m, step 1m): unexpected error: x",
                "range mode differs",
            ),
            (
                "with @ pinned, `x @ 1.000` evaluated at t=0ms: missing: x 1",
                "@-pinned run differs",
            ),
            ("engine panicked: index out of bounds", "panic"),
            ("no answer within 5s (timed out)", "timeout"),
            (
                "the expression does not parse: 1:1: parse error: x",
                "parse error",
            ),
            ("not run: an earlier load failed: x", "not run"),
        ] {
            assert_eq!(failure_kind(why), kind, "{why}");
        }
    }

    #[test]
    fn long_failures_are_cut() {
        let text: Vec<String> = (0..FAILURE_LINES_MAX + 5).map(|i| i.to_string()).collect();
        let out = indent(&text.join("\n"));
        assert_eq!(out.lines().count(), FAILURE_LINES_MAX + 1);
        assert!(out.ends_with("    … 5 more lines"), "{out}");
        assert_eq!(indent("a\nb"), "    a\n    b");
    }

    #[test]
    fn skip_list_entries_need_reasons() {
        check(
            "# comment\n\nfunctions.test:12 needs info()\n a.test:3   two words \n",
            "a.test:3=two words;functions.test:12=needs info()",
        );
        check(
            "a.test:3",
            "skip.txt:1: bad skip entry: a reason is required after '<file>:<line>'",
        );
        check(
            "a.test 3 x",
            "skip.txt:1: bad skip entry: expected '<file>:<line>'",
        );
        check(
            "a.test:x y",
            "skip.txt:1: bad skip entry: the line number is not a number",
        );
        check(
            "a.test:0 y",
            "skip.txt:1: bad skip entry: expected '<file>:<line>' with a file name and a line from 1",
        );
        check(
            "a:1 x\na:1 y",
            "skip.txt:2: bad skip entry: this eval is listed twice",
        );
    }
}
