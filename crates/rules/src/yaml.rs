//! Rule files are read through the configuration's positioned YAML tree
//! (`beacon_config::tree`), so every rule-file error can point at the
//! offending key or value and scalars keep the text that was written.

pub(crate) use beacon_config::tree::{TextKind as Kind, TextNode as Node};

/// The most nodes one rule file may hold after alias expansion.
pub const YAML_NODES_MAX: usize = 1_000_000;

/// Parses one document; an empty one (or only comments) is a null node.
/// Errors are `(line, col, message)`.
pub(crate) fn parse(text: &str) -> Result<Node, (u32, u32, String)> {
    beacon_config::tree::parse_text_tree(text, YAML_NODES_MAX)
}
