//! The YAML layer: parses a document into a tree of positioned nodes, then
//! decodes typed configuration out of it and encodes it back.
//!
//! Why not `#[derive(Deserialize)]`: Prometheus inlines its HTTP client
//! settings into several sections (serde's `flatten` loses positions and
//! cannot be combined with `deny_unknown_fields`), and every error, including
//! a regex that does not compile or a timeout longer than its interval, must
//! point at `line:col`. So `serde-saphyr` (with its limits against alias
//! bombs and deep nesting) builds a [`Node`] tree, and each config section
//! lists its fields once in [`Section::fields`], a method that both the
//! decoder and the encoder walk.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_saphyr::{MessageFormatter, Spanned};

use crate::{Error, Result};

/// The largest configuration file Beacon reads, in bytes. Real configs are a
/// few kilobytes; generated ones with thousands of jobs stay far below this.
pub const CONFIG_FILE_MAX_BYTES: u64 = 64 << 20;
/// The most YAML nodes one document may hold (after alias expansion).
pub const YAML_NODES_MAX: usize = 2_000_000;
/// The deepest nesting of mappings and sequences accepted.
pub const YAML_DEPTH_MAX: usize = 64;
/// The most parser events (scalars, mapping and sequence starts and ends)
/// one document may produce, counting alias replays: this is what stops a
/// "billion laughs" alias bomb long before it exhausts memory.
pub const YAML_EVENTS_MAX: usize = 1_000_000;

/// A position in the source: 1-based line and column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Pos {
    pub line: u32,
    pub col: u32,
}

/// One YAML node with the place it was written. Scalars YAML resolved to
/// a number or boolean also keep their source text, because a string field
/// reads `version: 1.10` or `enabled: yes` as written, like Go's decoder.
#[derive(Debug)]
pub(crate) struct Node {
    pub value: Kind,
    pub pos: Pos,
    pub raw: Option<String>,
}

/// What a node holds. Scalars keep the type YAML resolved them to, so an
/// integer field can reject `"5"` while a string field accepts `5`.
#[derive(Debug)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// The tree as serde-saphyr delivers it, before positions are resolved.
#[derive(Debug)]
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Raw;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        d.deserialize_any(KindVisitor)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(b))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::UInt(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
        let mut v = Vec::new();
        while let Some(x) = a.next_element()? {
            v.push(x);
        }
        Ok(Raw::Seq(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
        let mut v = Vec::new();
        while let Some(k) = a.next_key()? {
            let val = a.next_value()?;
            v.push((k, val));
        }
        Ok(Raw::Map(v))
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

pub(crate) fn pos(n: &Node) -> Pos {
    n.pos
}

/// Resolves positions and, for numbers and booleans, the source text.
fn resolve(sp: Spanned<Raw>, text: &str) -> Node {
    let pos = Pos {
        line: sp.referenced.line() as u32,
        col: sp.referenced.column() as u32,
    };
    // An alias's `referenced` span is the `*name` token; `defined` is the
    // anchored value it stands for.
    let span = sp.defined.span();
    let raw = || {
        let start = span.byte_offset()? as usize;
        let len = span.byte_len()? as usize;
        text.get(start..start.checked_add(len)?).map(str::to_owned)
    };
    let (value, raw) = match sp.value {
        Raw::Null => (Kind::Null, None),
        Raw::Bool(v) => (Kind::Bool(v), raw()),
        Raw::Int(v) => (Kind::Int(v), raw()),
        Raw::UInt(v) => (Kind::UInt(v), raw()),
        Raw::Float(v) => (Kind::Float(v), raw()),
        Raw::Str(v) => (Kind::Str(v), None),
        Raw::Seq(items) => (
            Kind::Seq(items.into_iter().map(|i| resolve(i, text)).collect()),
            None,
        ),
        Raw::Map(entries) => (
            Kind::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (resolve(k, text), resolve(v, text)))
                    .collect(),
            ),
            None,
        ),
    };
    Node { value, pos, raw }
}

/// Parses a whole document. An empty document (or one holding only
/// comments) is a null node, as in Prometheus where it yields the defaults.
pub(crate) fn parse(text: &str, origin: &str) -> Result<Node> {
    parse_with_limit(text, YAML_NODES_MAX).map_err(|(line, col, msg)| Error::At {
        origin: origin.to_owned(),
        line,
        col,
        msg,
    })
}

/// [`parse`] with a node budget of the caller's choosing; errors are
/// `(line, col, message)`.
pub(crate) fn parse_with_limit(text: &str, nodes_max: usize) -> Result<Node, (u32, u32, String)> {
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Ok(Node {
            value: Kind::Null,
            pos: Pos::default(),
            raw: None,
        });
    }
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_nodes: nodes_max,
            max_depth: YAML_DEPTH_MAX,
            max_events: YAML_EVENTS_MAX,
        },
        with_snippet: false,
    };
    let tree = serde_saphyr::from_str_with_options::<Spanned<Raw>>(text, options).map_err(|e| {
        let loc = e.location();
        let msg = serde_saphyr::DefaultMessageFormatter.format_message(&e);
        (
            loc.map_or(0, |l| l.line() as u32),
            loc.map_or(0, |l| l.column() as u32),
            explain_budget(strip_location(&msg), nodes_max),
        )
    })?;
    Ok(resolve(tree, text))
}

/// Says in words which limit a "budget breached" message is about.
fn explain_budget(msg: String, nodes_max: usize) -> String {
    if msg.starts_with("budget breached") {
        return format!(
            "document exceeds the YAML parser's limits (nesting depth {YAML_DEPTH_MAX}, \
             {YAML_EVENTS_MAX} events, {nodes_max} nodes, counting alias expansion): {msg}"
        );
    }
    msg
}

/// serde-saphyr prefixes some messages with "line L column C: "; the
/// position is already part of our error, so drop the duplicate.
fn strip_location(msg: &str) -> String {
    let m = msg.trim_start_matches("error: ");
    // The library's hint about its own options means nothing to an operator.
    let m = m.split(", set DuplicateKeyPolicy").next().unwrap_or(m);
    if let Some(rest) = m.strip_prefix("line ")
        && let Some(idx) = rest.find(": ")
        && rest[..idx].contains("column")
    {
        return rest[idx + 2..].to_owned();
    }
    m.to_owned()
}

/// Decoding context: where the document came from and how to resolve
/// relative file names.
#[derive(Debug, Clone)]
pub(crate) struct Cx {
    pub origin: String,
    /// The directory relative `*_file` paths are joined with; `None` keeps
    /// them as written (documents that did not come from a file).
    pub dir: Option<std::path::PathBuf>,
}

impl Cx {
    pub fn err(&self, at: Pos, msg: impl Into<String>) -> Error {
        Error::At {
            origin: self.origin.clone(),
            line: at.line,
            col: at.col,
            msg: msg.into(),
        }
    }

    /// Joins a relative path with the config file's directory, as
    /// Prometheus's `JoinDir` does; empty and absolute paths stay unchanged.
    pub fn join(&self, path: &str) -> String {
        match &self.dir {
            Some(dir) if !path.is_empty() && !std::path::Path::new(path).is_absolute() => {
                dir.join(path).to_string_lossy().into_owned()
            }
            _ => path.to_owned(),
        }
    }
}

/// The output tree `to_yaml` serialises.
#[derive(Debug, Clone)]
pub(crate) enum Out {
    Str(String),
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Seq(Vec<Out>),
    Map(Vec<(String, Out)>),
}

impl Serialize for Out {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Out::Str(v) => s.serialize_str(v),
            Out::Bool(v) => s.serialize_bool(*v),
            Out::Int(v) => s.serialize_i64(*v),
            Out::UInt(v) => s.serialize_u64(*v),
            Out::Float(v) => s.serialize_f64(*v),
            Out::Seq(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    seq.serialize_element(i)?;
                }
                seq.end()
            }
            Out::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// A value that can be decoded from a node and encoded back.
pub(crate) trait Value: Sized {
    fn decode(n: &Node, cx: &Cx) -> Result<Self>;
    fn encode(&self) -> Out;
    /// Whether the encoder leaves this value out (Go's `omitempty`).
    fn omit(&self) -> bool {
        false
    }
}

/// A YAML mapping with named fields: a configuration section.
pub(crate) trait Section: Sized + Clone {
    /// How errors name the section ("scrape config", "tls_config").
    const NAME: &'static str;
    /// The value before any field is read (Prometheus's defaults).
    fn initial() -> Self;
    /// Names every field once; the decoder and encoder both walk it.
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()>;
    /// Checks and fills in defaults after decoding; `at` is the mapping.
    fn validate(&mut self, _cx: &Cx, _at: Pos) -> Result<()> {
        Ok(())
    }
    /// Keys that Prometheus knows but Beacon does not implement, and why.
    fn unsupported(_key: &str) -> Option<String> {
        None
    }
}

/// What walks a section's fields.
pub(crate) trait Fields {
    fn field<T: Value>(&mut self, name: &'static str, slot: &mut T) -> Result<()>;
    /// Like `field`, but the encoder writes it even when empty, because an
    /// empty value differs from the default (`replacement: ""`).
    fn keep<T: Value>(&mut self, name: &'static str, slot: &mut T) -> Result<()>;
    /// An older spelling of a field: read, never written.
    fn alias<T: Value>(&mut self, name: &'static str, slot: &mut T) -> Result<()>;
    /// Fields of another section written inline, at the same level.
    fn inline<S: Section>(&mut self, section: &mut S) -> Result<()>;
    /// Whether the named key was present in the input (decoder only).
    fn present(&self, name: &str) -> bool;
}

/// Reads one mapping's fields and remembers which keys were used.
pub(crate) struct Decoder<'a> {
    cx: &'a Cx,
    entries: &'a [(Node, Node)],
    used: Vec<bool>,
}

impl Fields for Decoder<'_> {
    fn field<T: Value>(&mut self, name: &'static str, slot: &mut T) -> Result<()> {
        for (i, (k, v)) in self.entries.iter().enumerate() {
            if matches!(&k.value, Kind::Str(s) if s == name) {
                self.used[i] = true;
                // As in Go's YAML decoder, an explicit null sets the zero
                // value (each `decode` maps null to it), not the default.
                *slot = T::decode(v, self.cx)?;
            }
        }
        Ok(())
    }

    fn keep<T: Value>(&mut self, name: &'static str, slot: &mut T) -> Result<()> {
        self.field(name, slot)
    }

    fn alias<T: Value>(&mut self, name: &'static str, slot: &mut T) -> Result<()> {
        self.field(name, slot)
    }

    fn inline<S: Section>(&mut self, section: &mut S) -> Result<()> {
        section.fields(self)
    }

    fn present(&self, name: &str) -> bool {
        self.entries
            .iter()
            .any(|(k, _)| matches!(&k.value, Kind::Str(s) if s == name))
    }
}

/// Decodes a section from a mapping node, rejecting unknown keys.
pub(crate) fn decode_section<S: Section>(n: &Node, cx: &Cx) -> Result<S> {
    let mut section = S::initial();
    let empty = [];
    let entries: &[(Node, Node)] = match &n.value {
        Kind::Map(e) => e,
        Kind::Null => &empty,
        other => {
            return Err(cx.err(
                pos(n),
                format!(
                    "expected a mapping for {}, got {}",
                    S::NAME,
                    kind_name(other)
                ),
            ));
        }
    };
    let mut d = Decoder {
        cx,
        entries,
        used: vec![false; entries.len()],
    };
    section.fields(&mut d)?;
    for (i, (k, _)) in entries.iter().enumerate() {
        if d.used[i] {
            continue;
        }
        let name = scalar_text(k, cx).unwrap_or_else(|_| kind_name(&k.value).to_owned());
        let msg = S::unsupported(&name).unwrap_or_else(|| {
            let hint = suggest::<S>(&name)
                .map(|s| format!(" (did you mean {s}?)"))
                .unwrap_or_default();
            format!("field {name} not found in {}{hint}", S::NAME)
        });
        return Err(cx.err(pos(k), msg));
    }
    section.validate(cx, pos(n))?;
    Ok(section)
}

/// Collects the names a section accepts, for spelling suggestions.
struct Names(Vec<&'static str>);

impl Fields for Names {
    fn field<T: Value>(&mut self, name: &'static str, _: &mut T) -> Result<()> {
        self.0.push(name);
        Ok(())
    }
    fn keep<T: Value>(&mut self, name: &'static str, _: &mut T) -> Result<()> {
        self.0.push(name);
        Ok(())
    }
    fn alias<T: Value>(&mut self, _: &'static str, _: &mut T) -> Result<()> {
        Ok(())
    }
    fn inline<S: Section>(&mut self, section: &mut S) -> Result<()> {
        section.fields(self)
    }
    fn present(&self, _: &str) -> bool {
        false
    }
}

/// The accepted field closest to a misspelt one, if it is close: at most
/// two edits apart (and fewer than the name's length).
fn suggest<S: Section>(unknown: &str) -> Option<&'static str> {
    let mut names = Names(Vec::new());
    S::initial().fields(&mut names).ok()?;
    let limit = 2.min(unknown.chars().count().saturating_sub(1));
    names
        .0
        .into_iter()
        .map(|n| (edit_distance(unknown, n), n))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// Levenshtein distance, counting a swap of neighbours as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// Writes a section's fields into an output mapping.
pub(crate) struct Encoder {
    pub entries: Vec<(String, Out)>,
}

impl Fields for Encoder {
    fn field<T: Value>(&mut self, name: &'static str, slot: &mut T) -> Result<()> {
        if !slot.omit() {
            self.entries.push((name.to_owned(), slot.encode()));
        }
        Ok(())
    }

    fn keep<T: Value>(&mut self, name: &'static str, slot: &mut T) -> Result<()> {
        self.entries.push((name.to_owned(), slot.encode()));
        Ok(())
    }

    fn alias<T: Value>(&mut self, _name: &'static str, _slot: &mut T) -> Result<()> {
        Ok(())
    }

    fn inline<S: Section>(&mut self, section: &mut S) -> Result<()> {
        section.fields(self)
    }

    fn present(&self, _name: &str) -> bool {
        false
    }
}

pub(crate) fn encode_section<S: Section>(s: &S) -> Out {
    let mut e = Encoder {
        entries: Vec::new(),
    };
    // The encoder never fails; `fields` takes `&mut` only for the decoder.
    let _ = s.clone().fields(&mut e);
    Out::Map(e.entries)
}

/// Serialises an output tree as YAML.
pub(crate) fn to_string(out: &Out) -> String {
    serde_saphyr::to_string(out).unwrap_or_else(|e| format!("# error encoding config: {e}\n"))
}

pub(crate) fn kind_name(k: &Kind) -> &'static str {
    match k {
        Kind::Null => "null",
        Kind::Bool(_) => "a boolean",
        Kind::Int(_) | Kind::UInt(_) => "an integer",
        Kind::Float(_) => "a number",
        Kind::Str(_) => "a string",
        Kind::Seq(_) => "a sequence",
        Kind::Map(_) => "a mapping",
    }
}

fn type_err(n: &Node, cx: &Cx, want: &str) -> Error {
    // Quote the offending scalar so the operator sees what was read.
    let shown = match &n.value {
        Kind::Seq(_) | Kind::Map(_) | Kind::Null => String::new(),
        _ => format!(" {:?}", scalar_text(n, cx).unwrap_or_default()),
    };
    cx.err(
        pos(n),
        format!(
            "cannot unmarshal {}{shown} into {want}",
            kind_name(&n.value)
        ),
    )
}

/// The text of a scalar: strings as written, numbers and booleans as YAML
/// resolved them (Go's YAML decoder also accepts `5` for a string field).
pub(crate) fn scalar_text(n: &Node, cx: &Cx) -> Result<String> {
    if let Some(raw) = &n.raw {
        return Ok(raw.clone());
    }
    match &n.value {
        Kind::Str(s) => Ok(s.clone()),
        Kind::Int(v) => Ok(v.to_string()),
        Kind::UInt(v) => Ok(v.to_string()),
        Kind::Float(v) => Ok(v.to_string()),
        Kind::Bool(v) => Ok(v.to_string()),
        Kind::Null => Ok(String::new()),
        _ => Err(type_err(n, cx, "a string")),
    }
}

impl Value for String {
    fn decode(n: &Node, cx: &Cx) -> Result<Self> {
        scalar_text(n, cx)
    }
    fn encode(&self) -> Out {
        Out::Str(self.clone())
    }
    fn omit(&self) -> bool {
        self.is_empty()
    }
}

impl Value for bool {
    fn decode(n: &Node, cx: &Cx) -> Result<Self> {
        match &n.value {
            Kind::Bool(b) => Ok(*b),
            Kind::Null => Ok(false),
            _ => Err(type_err(n, cx, "a boolean")),
        }
    }
    fn encode(&self) -> Out {
        Out::Bool(*self)
    }
}

impl Value for u64 {
    fn decode(n: &Node, cx: &Cx) -> Result<Self> {
        match &n.value {
            Kind::UInt(v) => Ok(*v),
            Kind::Int(v) if *v >= 0 => Ok(*v as u64),
            Kind::Null => Ok(0),
            _ => Err(type_err(n, cx, "an unsigned integer")),
        }
    }
    fn encode(&self) -> Out {
        Out::UInt(*self)
    }
    fn omit(&self) -> bool {
        *self == 0
    }
}

impl Value for i64 {
    fn decode(n: &Node, cx: &Cx) -> Result<Self> {
        match &n.value {
            Kind::Int(v) => Ok(*v),
            Kind::UInt(v) if *v <= i64::MAX as u64 => Ok(*v as i64),
            Kind::Null => Ok(0),
            _ => Err(type_err(n, cx, "an integer")),
        }
    }
    fn encode(&self) -> Out {
        Out::Int(*self)
    }
    fn omit(&self) -> bool {
        *self == 0
    }
}

impl Value for f64 {
    fn decode(n: &Node, cx: &Cx) -> Result<Self> {
        match &n.value {
            Kind::Float(v) => Ok(*v),
            Kind::Null => Ok(0.0),
            Kind::Int(v) => Ok(*v as f64),
            Kind::UInt(v) => Ok(*v as f64),
            _ => Err(type_err(n, cx, "a number")),
        }
    }
    fn encode(&self) -> Out {
        Out::Float(*self)
    }
    fn omit(&self) -> bool {
        *self == 0.0
    }
}

impl Value for beacon_model::PromDuration {
    fn decode(n: &Node, cx: &Cx) -> Result<Self> {
        if matches!(n.value, Kind::Null) {
            return Ok(beacon_model::PromDuration(0));
        }
        let s = scalar_text(n, cx)?;
        beacon_model::parse_duration_ms(&s)
            .map(beacon_model::PromDuration)
            .map_err(|_| cx.err(pos(n), format!("not a valid duration string: {s:?}")))
    }
    fn encode(&self) -> Out {
        Out::Str(self.to_string())
    }
    fn omit(&self) -> bool {
        self.0 == 0
    }
}

impl<T: Value> Value for Option<T> {
    fn decode(n: &Node, cx: &Cx) -> Result<Self> {
        if matches!(n.value, Kind::Null) {
            return Ok(None);
        }
        T::decode(n, cx).map(Some)
    }
    fn encode(&self) -> Out {
        match self {
            Some(v) => v.encode(),
            None => Out::Str(String::new()),
        }
    }
    fn omit(&self) -> bool {
        self.is_none()
    }
}

impl<T: Value> Value for Vec<T> {
    fn decode(n: &Node, cx: &Cx) -> Result<Self> {
        match &n.value {
            Kind::Seq(items) => items.iter().map(|i| T::decode(i, cx)).collect(),
            Kind::Null => Ok(Vec::new()),
            _ => Err(type_err(n, cx, "a sequence")),
        }
    }
    fn encode(&self) -> Out {
        Out::Seq(self.iter().map(Value::encode).collect())
    }
    fn omit(&self) -> bool {
        self.is_empty()
    }
}

impl<T: Value> Value for BTreeMap<String, T> {
    fn decode(n: &Node, cx: &Cx) -> Result<Self> {
        let entries = match &n.value {
            Kind::Map(entries) => entries,
            Kind::Null => return Ok(BTreeMap::new()),
            _ => return Err(type_err(n, cx, "a mapping")),
        };
        let mut out = BTreeMap::new();
        for (k, v) in entries {
            out.insert(scalar_text(k, cx)?, T::decode(v, cx)?);
        }
        Ok(out)
    }
    fn encode(&self) -> Out {
        Out::Map(self.iter().map(|(k, v)| (k.clone(), v.encode())).collect())
    }
    fn omit(&self) -> bool {
        self.is_empty()
    }
}

/// Every section is a value: a mapping decoded with unknown keys rejected.
impl<S: Section> Value for S {
    fn decode(n: &Node, cx: &Cx) -> Result<Self> {
        decode_section(n, cx)
    }
    fn encode(&self) -> Out {
        encode_section(self)
    }
}

/// Where a section was written, kept for errors found after decoding.
/// Equality ignores it: moving a job down a line does not change the job.
#[derive(Debug, Clone, Copy, Default)]
pub struct Source {
    pub(crate) pos: Pos,
}

impl Source {
    /// 1-based line and column of the section in its file (0:0 if built in code).
    pub fn line_col(&self) -> (u32, u32) {
        (self.pos.line, self.pos.col)
    }
}

impl PartialEq for Source {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_kinds() {
        let n = parse("a: 1\nb: [x, 'y']\nc: ~\n", "t.yml").unwrap();
        let Kind::Map(e) = &n.value else { panic!() };
        assert_eq!(e.len(), 3);
        assert_eq!(pos(&e[1].1), Pos { line: 2, col: 4 });
        assert!(matches!(e[0].1.value, Kind::UInt(1)));
        assert!(matches!(e[2].1.value, Kind::Null));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("a: 1\na: 2\n", "t.yml").unwrap_err();
        assert_eq!(err.position(), Some((2, 1)), "{err}");
        assert!(err.to_string().starts_with("t.yml:2:1: duplicate"), "{err}");
        let err = parse("a: [1, 2\nb: 3\n", "t.yml").unwrap_err();
        assert_eq!(err.position().map(|p| p.0), Some(2), "{err}");
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut doc = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for name in 'b'..='k' {
            let refs = vec![format!("*{prev}"); 10].join(", ");
            doc.push_str(&format!("{name}: &{name} [{refs}]\n"));
            prev = name;
        }
        assert!(parse(&doc, "bomb.yml").is_err());
    }

    #[test]
    fn empty_document_is_null() {
        assert!(matches!(
            parse("# only a comment\n\n", "e").unwrap().value,
            Kind::Null
        ));
    }
}
