//! The positioned YAML tree `prometheus.yml` is read through, for other
//! YAML file formats (rule files) that need `line:col` in their errors.
//!
//! Scalars are kept as the text that was written — numbers and booleans
//! too — because Go's decoder reads `expr: 1.0` into a string field as
//! written, not as the value YAML resolved it to.

use crate::yaml::{self, Kind};

/// One positioned node (1-based line and column; 0 for an empty document).
#[derive(Debug, Clone)]
pub struct TextNode {
    pub kind: TextKind,
    pub line: u32,
    pub col: u32,
}

/// What a node holds.
#[derive(Debug, Clone)]
pub enum TextKind {
    Null,
    Scalar(String),
    Seq(Vec<TextNode>),
    Map(Vec<(TextNode, TextNode)>),
}

impl TextNode {
    /// A short word for error messages ("mapping", "sequence", ...).
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            TextKind::Null => "null",
            TextKind::Scalar(_) => "scalar",
            TextKind::Seq(_) => "sequence",
            TextKind::Map(_) => "mapping",
        }
    }
}

/// Parses one document with the same parser budget as the configuration,
/// except for the node count, which the caller bounds. An empty document
/// (or only comments) is a null node. Errors are `(line, col, message)`.
pub fn parse_text_tree(text: &str, nodes_max: usize) -> Result<TextNode, (u32, u32, String)> {
    yaml::parse_with_limit(text, nodes_max).map(text_node)
}

fn text_node(n: yaml::Node) -> TextNode {
    let kind = match n.value {
        Kind::Null => TextKind::Null,
        Kind::Str(s) => TextKind::Scalar(s),
        Kind::Bool(_) | Kind::Int(_) | Kind::UInt(_) | Kind::Float(_) => {
            TextKind::Scalar(n.raw.unwrap_or_default())
        }
        Kind::Seq(items) => TextKind::Seq(items.into_iter().map(text_node).collect()),
        Kind::Map(entries) => TextKind::Map(
            entries
                .into_iter()
                .map(|(k, v)| (text_node(k), text_node(v)))
                .collect(),
        ),
    };
    TextNode {
        kind,
        line: n.pos.line,
        col: n.pos.col,
    }
}
