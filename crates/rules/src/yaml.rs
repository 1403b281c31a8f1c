//! A YAML document as a tree of nodes that remember their `line:col`, so
//! every rule-file error can point at the offending key or value.
//!
//! serde-saphyr parses (with its budget against alias bombs and deep
//! nesting); we keep only the shape and positions. Scalars keep their source
//! text, because Go's decoder reads `expr: 1.0` into a string field as
//! written, not as the float YAML resolved it to.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{MessageFormatter, Spanned};

/// The deepest nesting of mappings and sequences accepted.
pub const YAML_DEPTH_MAX: usize = 64;
/// The most parser events one document may produce, alias replays counted.
pub const YAML_EVENTS_MAX: usize = 1_000_000;
/// The most nodes one document may hold after alias expansion.
pub const YAML_NODES_MAX: usize = 1_000_000;

/// One positioned node.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: Kind,
    pub line: u32,
    pub col: u32,
}

/// What a node holds. Scalars are kept as text plus whether YAML saw a
/// null, so string fields accept numbers as Go does.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Null,
    Scalar(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A short word for error messages ("mapping", "sequence", ...).
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Scalar(_) => "scalar",
            Kind::Seq(_) => "sequence",
            Kind::Map(_) => "mapping",
        }
    }
}

#[derive(Debug)]
enum Raw {
    Null,
    Scalar(Option<String>),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
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
        d.deserialize_any(RawVisitor)
    }
    // Numbers and booleans take their text from the source span later.
    fn visit_bool<E>(self, _: bool) -> Result<Raw, E> {
        Ok(Raw::Scalar(None))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Raw, E> {
        Ok(Raw::Scalar(None))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Raw, E> {
        Ok(Raw::Scalar(None))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Raw, E> {
        Ok(Raw::Scalar(None))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Scalar(Some(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Scalar(Some(v)))
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
            v.push((k, a.next_value()?));
        }
        Ok(Raw::Map(v))
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

fn resolve(sp: Spanned<Raw>, text: &str) -> Node {
    let line = sp.referenced.line() as u32;
    let col = sp.referenced.column() as u32;
    let span = sp.defined.span();
    let source = || {
        let start = span.byte_offset()? as usize;
        let len = span.byte_len()? as usize;
        text.get(start..start.checked_add(len)?).map(str::to_owned)
    };
    let kind = match sp.value {
        Raw::Null => Kind::Null,
        Raw::Scalar(Some(s)) => Kind::Scalar(s),
        Raw::Scalar(None) => Kind::Scalar(source().unwrap_or_default()),
        Raw::Seq(items) => Kind::Seq(items.into_iter().map(|i| resolve(i, text)).collect()),
        Raw::Map(entries) => Kind::Map(
            entries
                .into_iter()
                .map(|(k, v)| (resolve(k, text), resolve(v, text)))
                .collect(),
        ),
    };
    Node { kind, line, col }
}

/// Parses one document; an empty one (or only comments) is a null node.
/// Errors are `(line, col, message)`.
pub(crate) fn parse(text: &str) -> Result<Node, (u32, u32, String)> {
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Ok(Node {
            kind: Kind::Null,
            line: 0,
            col: 0,
        });
    }
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_nodes: YAML_NODES_MAX,
            max_depth: YAML_DEPTH_MAX,
            max_events: YAML_EVENTS_MAX,
        },
        with_snippet: false,
    };
    match serde_saphyr::from_str_with_options::<Spanned<Raw>>(text, options) {
        Ok(tree) => Ok(resolve(tree, text)),
        Err(e) => {
            let (line, col) = e
                .location()
                .map_or((0, 0), |l| (l.line() as u32, l.column() as u32));
            let msg = serde_saphyr::DefaultMessageFormatter.format_message(&e);
            Err((line, col, without_location(&msg)))
        }
    }
}

/// serde-saphyr may prefix "line L column C: "; our errors carry it already.
fn without_location(msg: &str) -> String {
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
