//! Rule files: `groups: [{name, interval, query_offset, limit, labels,
//! rules: [...]}]`, read strictly like `promtool check rules`.
//!
//! Decoding rejects unknown keys and wrong kinds with `file:line:col`;
//! validation then collects every semantic problem (empty or repeated group
//! names, rules that are both or neither recording and alerting, bad names,
//! expressions that do not parse, templates that do not parse) in
//! promtool's wording, so operators see the messages they know.

use std::collections::BTreeMap;
use std::path::Path;

use beacon_model::{NameValidation, parse_duration_ms};

use crate::error::{Error, Result};
use crate::template::Template;
use crate::yaml::{self, Kind, Node};

/// The largest rule file Beacon reads, in bytes. Real files are kilobytes;
/// generated ones with thousands of rules stay far below this.
pub const RULE_FILE_MAX_BYTES: u64 = 64 << 20;

/// One rule group as written in a file, after validation.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSpec {
    /// The file the group came from (as given, after glob expansion).
    pub file: String,
    pub name: String,
    /// `interval`; `None` means the global evaluation interval.
    pub interval_ms: Option<i64>,
    /// `query_offset`; `None` means the global rule query offset.
    pub query_offset_ms: Option<i64>,
    /// Most alerts or series one rule may produce (0: no limit).
    pub limit: usize,
    /// Labels added to every rule of the group (rule labels win).
    pub labels: BTreeMap<String, String>,
    pub rules: Vec<RuleSpec>,
}

/// Whether a rule records a series or raises alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    Recording,
    Alerting,
}

/// One rule as written.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSpec {
    pub kind: RuleKind,
    /// The `record` or `alert` name.
    pub name: String,
    pub expr: String,
    pub for_ms: i64,
    pub keep_firing_for_ms: i64,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// Which names rules may use.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParseOptions {
    pub name_validation: NameValidation,
}

/// What `check_files` reports for a good file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckSummary {
    pub groups: usize,
    pub rules: usize,
}

impl std::fmt::Display for CheckSummary {
    /// promtool's success line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SUCCESS: {} rules found", self.rules)
    }
}

const GROUP_KEYS: &[&str] = &[
    "name",
    "interval",
    "query_offset",
    "limit",
    "labels",
    "rules",
];
const RULE_KEYS: &[&str] = &[
    "record",
    "alert",
    "expr",
    "for",
    "keep_firing_for",
    "labels",
    "annotations",
];

/// A group while decoding, with the positions validation reports.
struct RawGroup {
    spec: GroupSpec,
    at: (u32, u32),
    rules: Vec<RawRule>,
}

/// A rule while decoding: fields as written plus their positions.
#[derive(Default)]
struct RawRule {
    record: Option<String>,
    alert: Option<String>,
    expr: String,
    for_ms: i64,
    keep_firing_for_ms: i64,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    at: (u32, u32),
    record_at: Option<(u32, u32)>,
    alert_at: Option<(u32, u32)>,
    expr_at: Option<(u32, u32)>,
}

struct Decoder<'a> {
    file: &'a str,
}

impl Decoder<'_> {
    fn err(&self, n: &Node, msg: impl Into<String>) -> Error {
        Error::Yaml {
            file: self.file.to_owned(),
            line: n.line,
            col: n.col,
            msg: msg.into(),
        }
    }

    /// The entries of a mapping whose keys must all be in `known`.
    fn mapping<'n>(
        &self,
        n: &'n Node,
        what: &str,
        known: &[&str],
    ) -> Result<Vec<(&'n str, &'n Node)>> {
        let entries = match &n.kind {
            Kind::Map(e) => e,
            Kind::Null => return Ok(Vec::new()),
            _ => {
                return Err(self.err(
                    n,
                    format!("expected a mapping for {what}, got a {}", n.kind_name()),
                ));
            }
        };
        let mut out: Vec<(&str, &Node)> = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            let key = self.string(k)?;
            if !known.is_empty() && !known.contains(&key.as_str()) {
                return Err(self.err(k, format!("field {key} not found in {what}")));
            }
            if out.iter().any(|(seen, _)| *seen == key) {
                return Err(self.err(k, format!("mapping key {key:?} already defined")));
            }
            let Kind::Scalar(s) = &k.kind else {
                unreachable!("string() accepted a scalar")
            };
            out.push((s.as_str(), v));
        }
        Ok(out)
    }

    fn string(&self, n: &Node) -> Result<String> {
        match &n.kind {
            Kind::Scalar(s) => Ok(s.clone()),
            Kind::Null => Ok(String::new()),
            _ => Err(self.err(n, format!("expected a string, got a {}", n.kind_name()))),
        }
    }

    fn duration(&self, n: &Node) -> Result<i64> {
        let s = self.string(n)?;
        if s.is_empty() {
            return Ok(0);
        }
        parse_duration_ms(&s)
            .map_err(|_| self.err(n, format!("not a valid duration string: {s:?}")))
    }

    fn string_map(&self, n: &Node, what: &str) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for (k, v) in self.mapping(n, what, &[])? {
            out.insert(k.to_owned(), self.string(v)?);
        }
        Ok(out)
    }

    fn file(&self, root: &Node) -> Result<Vec<RawGroup>> {
        let mut groups = Vec::new();
        for (k, v) in self.mapping(root, "rule groups", &["groups"])? {
            debug_assert_eq!(k, "groups");
            match &v.kind {
                Kind::Null => {}
                Kind::Seq(items) => {
                    for g in items {
                        groups.push(self.group(g)?);
                    }
                }
                _ => {
                    return Err(self.err(
                        v,
                        format!("expected a sequence of groups, got a {}", v.kind_name()),
                    ));
                }
            }
        }
        Ok(groups)
    }

    fn group(&self, n: &Node) -> Result<RawGroup> {
        let mut g = RawGroup {
            spec: GroupSpec {
                file: self.file.to_owned(),
                name: String::new(),
                interval_ms: None,
                query_offset_ms: None,
                limit: 0,
                labels: BTreeMap::new(),
                rules: Vec::new(),
            },
            at: (n.line, n.col),
            rules: Vec::new(),
        };
        if !matches!(n.kind, Kind::Map(_)) {
            return Err(self.err(
                n,
                format!("expected a mapping for rule group, got a {}", n.kind_name()),
            ));
        }
        for (k, v) in self.mapping(n, "rule group", GROUP_KEYS)? {
            match k {
                "name" => g.spec.name = self.string(v)?,
                "interval" => g.spec.interval_ms = Some(self.duration(v)?).filter(|d| *d != 0),
                "query_offset" => g.spec.query_offset_ms = Some(self.duration(v)?),
                "limit" => {
                    let s = self.string(v)?;
                    g.spec.limit = s.parse().map_err(|_| {
                        self.err(
                            v,
                            format!("limit must be a non-negative integer, got {s:?}"),
                        )
                    })?;
                }
                "labels" => g.spec.labels = self.string_map(v, "group labels")?,
                _ => match &v.kind {
                    Kind::Null => {}
                    Kind::Seq(items) => {
                        for r in items {
                            g.rules.push(self.rule(r)?);
                        }
                    }
                    _ => {
                        return Err(self.err(
                            v,
                            format!("expected a sequence of rules, got a {}", v.kind_name()),
                        ));
                    }
                },
            }
        }
        Ok(g)
    }

    fn rule(&self, n: &Node) -> Result<RawRule> {
        if !matches!(n.kind, Kind::Map(_)) {
            return Err(self.err(
                n,
                format!("expected a mapping for rule, got a {}", n.kind_name()),
            ));
        }
        let mut r = RawRule {
            at: (n.line, n.col),
            ..RawRule::default()
        };
        for (k, v) in self.mapping(n, "rule", RULE_KEYS)? {
            let at = Some((v.line, v.col));
            match k {
                "record" => (r.record, r.record_at) = (Some(self.string(v)?), at),
                "alert" => (r.alert, r.alert_at) = (Some(self.string(v)?), at),
                "expr" => (r.expr, r.expr_at) = (self.string(v)?, at),
                "for" => r.for_ms = self.duration(v)?,
                "keep_firing_for" => r.keep_firing_for_ms = self.duration(v)?,
                "labels" => r.labels = self.string_map(v, "rule labels")?,
                _ => r.annotations = self.string_map(v, "rule annotations")?,
            }
        }
        Ok(r)
    }
}

/// Problems with the label and annotation names of a rule or group.
fn check_names(
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
    opts: ParseOptions,
    out: &mut Vec<String>,
) {
    for k in labels.keys() {
        if !opts.name_validation.label_name(k) || k == beacon_model::METRIC_NAME {
            out.push(format!("invalid label name: {k}"));
        }
    }
    for k in annotations.keys() {
        if !opts.name_validation.label_name(k) {
            out.push(format!("invalid annotation name: {k}"));
        }
    }
}

/// A validation problem and the `line:col` it points at, if any.
type Problem = (Vec<(u32, u32)>, String);

fn pos(p: Option<(u32, u32)>) -> Vec<(u32, u32)> {
    p.into_iter().collect()
}

/// Validates one rule.
fn validate_rule(r: &RawRule, opts: ParseOptions) -> Vec<Problem> {
    let mut errs: Vec<Problem> = Vec::new();
    let record = r.record.as_deref().unwrap_or("");
    let alert = r.alert.as_deref().unwrap_or("");
    if !record.is_empty() && !alert.is_empty() {
        // Like promtool, point at both keys.
        let both = r.record_at.into_iter().chain(r.alert_at).collect();
        errs.push((both, "only one of 'record' and 'alert' must be set".into()));
    }
    if record.is_empty() && alert.is_empty() {
        errs.push((
            pos(Some(r.at)),
            "one of 'record' or 'alert' must be set".into(),
        ));
    }
    if r.expr.is_empty() {
        errs.push((
            pos(r.expr_at.or(Some(r.at))),
            "field 'expr' must be set in rule".into(),
        ));
    } else if let Err(e) = beacon_promql::parse(&r.expr) {
        errs.push((pos(r.expr_at), format!("could not parse expression: {e}")));
    }
    if !record.is_empty() {
        let at = r.record_at;
        if !r.annotations.is_empty() {
            errs.push((
                pos(at),
                "invalid field 'annotations' in recording rule".into(),
            ));
        }
        if r.for_ms != 0 {
            errs.push((pos(at), "invalid field 'for' in recording rule".into()));
        }
        if r.keep_firing_for_ms != 0 {
            errs.push((
                pos(at),
                "invalid field 'keep_firing_for' in recording rule".into(),
            ));
        }
        if !opts.name_validation.metric_name(record) {
            errs.push((pos(at), format!("invalid recording rule name: {record}")));
        }
        // A UTF-8 name may hold braces, but that is almost always a selector
        // pasted into the wrong field.
        if record.contains(['{', '}']) {
            errs.push((
                pos(at),
                format!(
                    "braces present in the recording rule name; should it be in expr?: {record}"
                ),
            ));
        }
    }
    let mut names = Vec::new();
    check_names(&r.labels, &r.annotations, opts, &mut names);
    errs.extend(names.into_iter().map(|m| (Vec::new(), m)));
    if !alert.is_empty() {
        let name = format!("__alert_{alert}");
        for (what, map) in [("label", &r.labels), ("annotation", &r.annotations)] {
            for (k, v) in map {
                if let Err(e) = Template::parse(&name, v) {
                    errs.push((pos(None), format!("{what} {k:?}: {e}")));
                }
            }
        }
    }
    errs
}

/// Validates groups and turns them into specs, or lists every problem.
fn validate(file: &str, groups: Vec<RawGroup>, opts: ParseOptions) -> Result<Vec<GroupSpec>> {
    let mut errs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        let (l, c) = g.at;
        if g.spec.name.is_empty() {
            errs.push(format!("{l}:{c}: Groupname must not be empty"));
        }
        if !seen.insert(g.spec.name.clone()) {
            errs.push(format!(
                "{l}:{c}: groupname: \"{}\" is repeated in the same file",
                g.spec.name
            ));
        }
        check_names(&g.spec.labels, &BTreeMap::new(), opts, &mut errs);
        let mut spec = g.spec;
        for (i, r) in g.rules.into_iter().enumerate() {
            let name = r
                .alert
                .clone()
                .filter(|a| !a.is_empty())
                .or(r.record.clone())
                .unwrap_or_default();
            for (at, e) in validate_rule(&r, opts) {
                let pos: String = at.iter().map(|(l, c)| format!("{l}:{c}: ")).collect();
                errs.push(format!(
                    "{pos}group {:?}, rule {}, {:?}: {e}",
                    spec.name,
                    i + 1,
                    name
                ));
            }
            let kind = if r.alert.as_deref().is_some_and(|a| !a.is_empty()) {
                RuleKind::Alerting
            } else {
                RuleKind::Recording
            };
            spec.rules.push(RuleSpec {
                kind,
                name,
                expr: r.expr,
                for_ms: r.for_ms,
                keep_firing_for_ms: r.keep_firing_for_ms,
                labels: r.labels,
                annotations: r.annotations,
            });
        }
        out.push(spec);
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(Error::Invalid {
            file: file.to_owned(),
            errors: errs,
        })
    }
}

/// Parses and validates a rule file's text; `file` names it in errors.
pub fn parse_str(text: &str, file: &str, opts: ParseOptions) -> Result<Vec<GroupSpec>> {
    let root = yaml::parse(text).map_err(|(line, col, msg)| Error::Yaml {
        file: file.to_owned(),
        line,
        col,
        msg,
    })?;
    let groups = Decoder { file }.file(&root)?;
    validate(file, groups, opts)
}

/// Reads, parses and validates one rule file.
pub fn parse_file(path: &Path, opts: ParseOptions) -> Result<Vec<GroupSpec>> {
    let file = path.to_string_lossy().into_owned();
    let io = |e: std::io::Error| Error::Io {
        file: file.clone(),
        msg: e.to_string(),
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > RULE_FILE_MAX_BYTES {
        return Err(Error::TooLarge {
            file,
            size,
            limit: RULE_FILE_MAX_BYTES,
        });
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    parse_str(&text, &file, opts)
}

/// Expands `rule_files` patterns into the files they match, in order,
/// each file once.
pub fn expand_globs(patterns: &[String]) -> Result<Vec<String>> {
    let mut files: Vec<String> = Vec::new();
    for p in patterns {
        let matched = beacon_config::glob::glob(p).map_err(|msg| Error::Glob {
            pattern: p.clone(),
            msg,
        })?;
        for m in matched {
            let m = m.to_string_lossy().into_owned();
            if !files.contains(&m) {
                files.push(m);
            }
        }
    }
    Ok(files)
}

/// Loads every group from the files `patterns` match; the first bad file
/// fails the whole load (a reload then keeps the old rules).
pub fn load_files(patterns: &[String], opts: ParseOptions) -> Result<Vec<GroupSpec>> {
    let mut groups = Vec::new();
    for f in expand_globs(patterns)? {
        groups.extend(parse_file(Path::new(&f), opts)?);
    }
    Ok(groups)
}

/// `promtool check rules`: each file's group and rule counts, or its errors.
pub fn check_files(paths: &[String], opts: ParseOptions) -> Vec<(String, Result<CheckSummary>)> {
    paths
        .iter()
        .map(|p| {
            let res = parse_file(Path::new(p), opts).map(|groups| CheckSummary {
                groups: groups.len(),
                rules: groups.iter().map(|g| g.rules.len()).sum(),
            });
            (p.clone(), res)
        })
        .collect()
}
