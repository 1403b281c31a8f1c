//! Relabelling: `relabel_configs`, `metric_relabel_configs`,
//! `alert_relabel_configs` and `write_relabel_configs`, with Prometheus's
//! defaults, validation rules and semantics.
//!
//! [`process`] runs on the scrape hot path for every sample when metric
//! relabelling is configured, so it works on the input `Labels` until a rule
//! actually changes something and only then copies them into a builder;
//! `keep`/`drop` rules on one source label never allocate.

use std::fmt;

use beacon_model::{Labels, LabelsBuilder, NameValidation};
use md5::{Digest, Md5};

use crate::Result;
use crate::yaml::{Cx, Fields, Node, Out, Pos, Section, Source, Value, pos, scalar_text};

/// What a relabelling rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Action {
    /// Writes the expanded `replacement` into the expanded `target_label`.
    #[default]
    Replace,
    /// Drops the target unless the joined source values match `regex`.
    Keep,
    /// Drops the target when the joined source values match `regex`.
    Drop,
    /// Drops the target unless the joined source values equal `target_label`'s value.
    KeepEqual,
    /// Drops the target when the joined source values equal `target_label`'s value.
    DropEqual,
    /// Sets `target_label` to the md5 of the joined values modulo `modulus`.
    HashMod,
    /// Copies every label whose name matches `regex` to the expanded `replacement`.
    LabelMap,
    /// Removes every label whose name matches `regex`.
    LabelDrop,
    /// Removes every label whose name does not match `regex`.
    LabelKeep,
    /// Sets `target_label` to the lowercased joined values.
    Lowercase,
    /// Sets `target_label` to the uppercased joined values.
    Uppercase,
}

impl Action {
    const ALL: [(Action, &'static str); 11] = [
        (Action::Replace, "replace"),
        (Action::Keep, "keep"),
        (Action::Drop, "drop"),
        (Action::KeepEqual, "keepequal"),
        (Action::DropEqual, "dropequal"),
        (Action::HashMod, "hashmod"),
        (Action::LabelMap, "labelmap"),
        (Action::LabelDrop, "labeldrop"),
        (Action::LabelKeep, "labelkeep"),
        (Action::Lowercase, "lowercase"),
        (Action::Uppercase, "uppercase"),
    ];

    /// The name as written in YAML.
    pub fn as_str(self) -> &'static str {
        Action::ALL
            .iter()
            .find(|(a, _)| *a == self)
            .map_or("", |(_, n)| n)
    }

    /// Parses an action name; like Prometheus, case does not matter.
    pub fn parse(s: &str) -> Option<Action> {
        let lower = s.to_ascii_lowercase();
        Action::ALL
            .iter()
            .find(|(_, n)| *n == lower)
            .map(|(a, _)| *a)
    }

    fn needs_target(self) -> bool {
        matches!(
            self,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Value for Action {
    fn decode(n: &Node, cx: &Cx) -> Result<Self> {
        let s = scalar_text(n, cx)?;
        Action::parse(&s).ok_or_else(|| cx.err(pos(n), format!("unknown relabel action {s:?}")))
    }
    fn encode(&self) -> Out {
        Out::Str(self.as_str().to_owned())
    }
}

/// The default `regex`: matches anything and captures it as `$1`.
pub const DEFAULT_REGEX: &str = "(.*)";
/// The default `separator` between joined source label values.
pub const DEFAULT_SEPARATOR: &str = ";";
/// The default `replacement`.
pub const DEFAULT_REPLACEMENT: &str = "$1";

/// A relabel regex: Go RE2 syntax, fully anchored, `.` matching newline,
/// compared and printed by the pattern as written.
#[derive(Clone)]
pub struct Regex {
    pattern: String,
    re: regex::Regex,
}

impl Regex {
    /// Compiles `pattern` the way Prometheus compiles relabel regexes.
    pub fn new(pattern: &str) -> Result<Regex, String> {
        beacon_model::regex::compile_anchored(pattern)
            .map(|re| Regex {
                pattern: pattern.to_owned(),
                re,
            })
            .map_err(|e| e.to_string())
    }

    /// The pattern as written in the config.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether the whole of `s` matches.
    pub fn is_match(&self, s: &str) -> bool {
        self.re.is_match(s)
    }

    /// The compiled, anchored regex.
    pub fn regex(&self) -> &regex::Regex {
        &self.re
    }

    fn is_default(&self) -> bool {
        self.pattern == DEFAULT_REGEX
    }
}

impl Default for Regex {
    fn default() -> Self {
        Regex::new(DEFAULT_REGEX).unwrap_or_else(|e| unreachable!("default regex: {e}"))
    }
}

impl PartialEq for Regex {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl fmt::Debug for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Regex({:?})", self.pattern)
    }
}

impl Value for Regex {
    fn decode(n: &Node, cx: &Cx) -> Result<Self> {
        let s = scalar_text(n, cx)?;
        Regex::new(&s).map_err(|e| cx.err(pos(n), e))
    }
    fn encode(&self) -> Out {
        Out::Str(self.pattern.clone())
    }
}

/// One relabelling rule.
#[derive(Debug, Clone)]
pub struct RelabelConfig {
    pub source_labels: Vec<String>,
    pub separator: String,
    pub regex: Regex,
    pub modulus: u64,
    pub target_label: String,
    pub replacement: String,
    pub action: Action,
    /// Which label names a rewritten `target_label` may take; set from the
    /// scrape config's `metric_name_validation_scheme`.
    pub name_validation: NameValidation,
    /// Whether `source_labels` was written at all (even empty), which
    /// `labeldrop`/`labelkeep` forbid. Not part of equality.
    pub source_labels_given: bool,
    /// Where the rule was written (ignored by equality).
    pub source: Source,
}

impl PartialEq for RelabelConfig {
    fn eq(&self, o: &Self) -> bool {
        self.source_labels == o.source_labels
            && self.separator == o.separator
            && self.regex == o.regex
            && self.modulus == o.modulus
            && self.target_label == o.target_label
            && self.replacement == o.replacement
            && self.action == o.action
            && self.name_validation == o.name_validation
    }
}

impl Default for RelabelConfig {
    fn default() -> Self {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: DEFAULT_SEPARATOR.to_owned(),
            regex: Regex::default(),
            modulus: 0,
            target_label: String::new(),
            replacement: DEFAULT_REPLACEMENT.to_owned(),
            action: Action::Replace,
            name_validation: NameValidation::Utf8,
            source_labels_given: false,
            source: Source::default(),
        }
    }
}

impl Section for RelabelConfig {
    const NAME: &'static str = "relabel config";
    fn initial() -> Self {
        RelabelConfig::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        self.source_labels_given |= v.present("source_labels");
        v.field("source_labels", &mut self.source_labels)?;
        v.keep("separator", &mut self.separator)?;
        v.keep("regex", &mut self.regex)?;
        v.field("modulus", &mut self.modulus)?;
        v.field("target_label", &mut self.target_label)?;
        v.keep("replacement", &mut self.replacement)?;
        v.field("action", &mut self.action)
    }
    fn validate(&mut self, cx: &Cx, at: Pos) -> Result<()> {
        self.source = Source { pos: at };
        self.check(self.name_validation).map_err(|m| cx.err(at, m))
    }
}

/// Legacy-mode check for a label name that may hold `$1`/`${name}`
/// references: letters, digits, underscores and references, not starting
/// with a digit (Prometheus's `relabelTarget` pattern).
fn legacy_name_with_refs(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || b[0].is_ascii_digit() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'$' if b.get(i + 1) == Some(&b'{') => {
                let Some(end) = s[i + 2..].find('}') else {
                    return false;
                };
                let name = &s[i + 2..i + 2 + end];
                if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    return false;
                }
                i += end + 3;
            }
            b'$' => {
                let n = b[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .count();
                if n == 0 {
                    return false;
                }
                i += n + 1;
            }
            c if c.is_ascii_alphanumeric() || c == b'_' => i += 1,
            _ => return false,
        }
    }
    true
}

impl RelabelConfig {
    /// Re-checks the rule under the scheme of the section that uses it and
    /// adopts that scheme; errors point at the rule.
    pub(crate) fn check_in(&mut self, scheme: NameValidation, cx: &Cx) -> Result<()> {
        self.check(scheme).map_err(|m| cx.err(self.source.pos, m))?;
        self.name_validation = scheme;
        Ok(())
    }

    /// Checks the rule under a name validation scheme, as Prometheus does
    /// when it loads a config; the message matches Prometheus's.
    pub fn check(&self, scheme: NameValidation) -> Result<(), String> {
        let a = self.action;
        let t = &self.target_label;
        let with_refs = |s: &str| match scheme {
            NameValidation::Utf8 => !s.is_empty(),
            NameValidation::Legacy => legacy_name_with_refs(s),
        };
        if a == Action::HashMod && self.modulus == 0 {
            return Err("relabel configuration for hashmod requires non-zero modulus".into());
        }
        if a.needs_target() && t.is_empty() {
            return Err(format!(
                "relabel configuration for {a} action requires 'target_label' value"
            ));
        }
        let bad_target = match a {
            Action::Replace if t.contains('$') => !with_refs(t),
            Action::Replace
            | Action::Lowercase
            | Action::Uppercase
            | Action::KeepEqual
            | Action::DropEqual
            | Action::HashMod => !scheme.label_name(t),
            _ => false,
        };
        if bad_target {
            return Err(format!("{t:?} is invalid 'target_label' for {a} action"));
        }
        let equal_or_case = matches!(
            a,
            Action::Lowercase | Action::Uppercase | Action::KeepEqual | Action::DropEqual
        );
        if equal_or_case && self.replacement != DEFAULT_REPLACEMENT {
            return Err(format!("'replacement' can not be set for {a} action"));
        }
        if a == Action::LabelMap && !with_refs(&self.replacement) {
            return Err(format!(
                "{:?} is invalid 'replacement' for {a} action",
                self.replacement
            ));
        }
        if matches!(a, Action::KeepEqual | Action::DropEqual)
            && (!self.regex.is_default()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(format!(
                "{a} action requires only 'source_labels' and `target_label`, and no other fields"
            ));
        }
        if matches!(a, Action::LabelDrop | Action::LabelKeep)
            && (self.source_labels_given
                || !self.source_labels.is_empty()
                || !t.is_empty()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(format!(
                "{a} action requires only 'regex', and no other fields"
            ));
        }
        Ok(())
    }
}

/// The label set being relabelled: the input until the first change, then
/// a builder.
struct Work<'a> {
    orig: &'a Labels,
    built: Option<LabelsBuilder>,
}

impl Work<'_> {
    fn get(&self, name: &str) -> &str {
        match &self.built {
            Some(b) => b.get(name),
            None => self.orig.get(name),
        }
        .unwrap_or("")
    }

    fn builder(&mut self) -> &mut LabelsBuilder {
        let orig = self.orig;
        self.built.get_or_insert_with(|| orig.builder())
    }

    /// Sets a label; an empty value deletes it, as Prometheus's builder does.
    fn set(&mut self, name: &str, value: &str) {
        if self.get(name) == value {
            return;
        }
        if value.is_empty() {
            self.builder().del(name);
        } else {
            self.builder().set(name, value);
        }
    }

    /// Copies out the labels whose name satisfies `pick`; nothing is
    /// allocated when none does, the common case for `labeldrop`.
    fn matching(&self, pick: impl Fn(&str) -> bool) -> Vec<(String, String)> {
        let own = |(n, v): (&str, &str)| (n.to_owned(), v.to_owned());
        match &self.built {
            Some(b) => b
                .pairs()
                .filter(|(n, v)| !v.is_empty() && pick(n))
                .map(own)
                .collect(),
            None => self
                .orig
                .iter()
                .filter(|l| pick(l.name))
                .map(|l| own((l.name, l.value)))
                .collect(),
        }
    }

    /// Joins the source label values into `out`.
    fn join(&self, c: &RelabelConfig, out: &mut String) {
        out.clear();
        for (i, name) in c.source_labels.iter().enumerate() {
            if i > 0 {
                out.push_str(&c.separator);
            }
            out.push_str(self.get(name));
        }
    }
}

/// Applies `cfgs` in order. `None` means a rule dropped the label set.
pub fn process(labels: &Labels, cfgs: &[RelabelConfig]) -> Option<Labels> {
    if cfgs.is_empty() {
        return Some(labels.clone());
    }
    let mut w = Work {
        orig: labels,
        built: None,
    };
    let mut val = String::new();
    for c in cfgs {
        if !apply(c, &mut w, &mut val) {
            return None;
        }
    }
    Some(match w.built {
        Some(b) => b.build(),
        None => labels.clone(),
    })
}

/// Runs one rule; returns false when it drops the label set.
fn apply(c: &RelabelConfig, w: &mut Work<'_>, val: &mut String) -> bool {
    // Filters on a single source label read the value in place.
    if c.source_labels.len() == 1 {
        let v = w.get(&c.source_labels[0]);
        match c.action {
            Action::Keep => return c.regex.is_match(v),
            Action::Drop => return !c.regex.is_match(v),
            Action::KeepEqual => return w.get(&c.target_label) == v,
            Action::DropEqual => return w.get(&c.target_label) != v,
            _ => {}
        }
    }
    w.join(c, val);
    match c.action {
        Action::Keep => return c.regex.is_match(val),
        Action::Drop => return !c.regex.is_match(val),
        Action::KeepEqual => return w.get(&c.target_label) == val.as_str(),
        Action::DropEqual => return w.get(&c.target_label) != val.as_str(),
        Action::Replace => replace(c, w, val),
        Action::Lowercase => w.set(&c.target_label, &go_lowercase(val)),
        Action::Uppercase => w.set(&c.target_label, &go_uppercase(val)),
        Action::HashMod => {
            let hash = Md5::digest(val.as_bytes());
            let mut low = [0u8; 8];
            low.copy_from_slice(&hash[8..16]);
            let m = u64::from_be_bytes(low) % c.modulus.max(1);
            w.set(&c.target_label, &m.to_string());
        }
        Action::LabelMap => {
            for (name, value) in w.matching(|n| c.regex.is_match(n)) {
                if let Some(caps) = c.regex.re.captures(&name) {
                    let mut out = String::new();
                    expand(&c.regex.re, &caps, &c.replacement, &mut out);
                    if !out.is_empty() {
                        w.set(&out, &value);
                    }
                }
            }
        }
        Action::LabelDrop | Action::LabelKeep => {
            let drop_on_match = c.action == Action::LabelDrop;
            for (name, _) in w.matching(|n| c.regex.is_match(n) == drop_on_match) {
                w.builder().del(&name);
            }
        }
    }
    true
}

fn replace(c: &RelabelConfig, w: &mut Work<'_>, val: &str) {
    // Prometheus's fast path: a constant label needs no regex.
    if val.is_empty()
        && c.regex.is_default()
        && !c.target_label.contains('$')
        && !c.replacement.contains('$')
    {
        w.set(&c.target_label, &c.replacement);
        return;
    }
    let Some(caps) = c.regex.re.captures(val) else {
        return;
    };
    let mut target = String::new();
    expand(&c.regex.re, &caps, &c.target_label, &mut target);
    if !c.name_validation.label_name(&target) {
        return;
    }
    let mut res = String::new();
    expand(&c.regex.re, &caps, &c.replacement, &mut res);
    w.set(&target, &res);
}

/// Go's `strings.ToLower` maps each character by Unicode's one-to-one
/// (simple) mapping. Rust gives the full mapping; where that is longer, its
/// first character is the simple mapping (`İ` → `i`).
fn go_lowercase(s: &str) -> String {
    s.chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .collect()
}

/// Go's `strings.ToUpper`: where Rust's full mapping is longer than one
/// character (`ß` → `SS`) there is no simple mapping, so Go keeps the
/// character.
fn go_uppercase(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        })
        .collect()
}

/// Expands `$1`, `${1}`, `$name`, `${name}` and `$$` in `template` exactly
/// like Go's `Regexp.Expand`: a name runs as far as letters, digits and
/// underscores go (`$1x` is group `1x`), an unknown or unmatched group
/// expands to nothing, and a malformed reference is kept as text.
pub fn expand(re: &regex::Regex, caps: &regex::Captures<'_>, template: &str, out: &mut String) {
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        let Some((name, after)) = extract_ref(rest) else {
            out.push('$');
            continue;
        };
        rest = after;
        let group = match group_number(name) {
            Some(n) => caps.get(n),
            None => re
                .capture_names()
                .enumerate()
                .filter(|(_, n)| *n == Some(name))
                .find_map(|(i, _)| caps.get(i)),
        };
        if let Some(m) = group {
            out.push_str(m.as_str());
        }
    }
    out.push_str(rest);
}

/// Splits a reference name (`name` or `{name}`) off the text after `$`.
fn extract_ref(s: &str) -> Option<(&str, &str)> {
    let (braced, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let len: usize = body
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .map(char::len_utf8)
        .sum();
    if len == 0 {
        return None;
    }
    let name = &body[..len];
    if braced {
        let after = body[len..].strip_prefix('}')?;
        return Some((name, after));
    }
    Some((name, &body[len..]))
}

/// A reference is a group number when it is all ASCII digits without a
/// leading zero and below Go's bound of 1e8; otherwise it is a name.
fn group_number(name: &str) -> Option<usize> {
    if !name.bytes().all(|b| b.is_ascii_digit()) || (name.len() > 1 && name.starts_with('0')) {
        return None;
    }
    name.parse::<usize>().ok().filter(|n| *n < 100_000_000)
}

#[cfg(test)]
mod tests;
