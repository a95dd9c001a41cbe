//! A YAML (and JSON) document as a tree whose every node knows where it was
//! written, so policy diagnostics can point at the exact line and column.
//!
//! Built from `saphyr-parser` events rather than a serde deserializer: serde
//! loses positions, and the lint must report unknown keys and bad values with
//! their spans. Hostile input is bounded here: nesting depth, the number of
//! nodes (aliases are expanded by copying, so `billion laughs` documents hit
//! the node budget instead of exhausting memory) and the input size. JSON is
//! read by the same parser (YAML 1.2 is a superset of JSON), so JSON policies
//! get the same spans.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};

/// Largest policy file read, in bytes.
pub const MAX_INPUT_BYTES: usize = 4 << 20;
/// Deepest nesting of mappings and sequences accepted.
pub const MAX_DEPTH: usize = 64;
/// Most nodes a document may expand to, aliases included.
pub const MAX_NODES: usize = 200_000;

/// A position in the source: 1-based line, 1-based column (in characters),
/// and the character offset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
    pub offset: usize,
}

/// Where a node starts and ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

/// A node of the document tree.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

/// The value of a node. Scalars keep their text; whether they were quoted
/// decides if `null`/`true` are keywords or strings.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar {
        text: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    /// Keys in file order; keys are scalars (a non-scalar key is a syntax error here).
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub text: String,
    pub span: Span,
}

/// Why a document could not be read as a tree.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    pub message: String,
    pub at: Pos,
    /// `duplicate-key`, `too-large` or `syntax`.
    pub code: &'static str,
}

impl Node {
    /// The scalar text when this is a plain or quoted scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// True for `null`, `~` or an empty plain scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, quoted: false } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// A word describing the node's kind, for messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Scalar { .. } if self.is_null() => "null",
            Value::Scalar { .. } => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// Converts to JSON (scalars typed as YAML 1.2 core schema does).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Scalar { text, quoted: true } => serde_json::Value::String(text.clone()),
            Value::Scalar { text, quoted: false } => match text.as_str() {
                "" | "~" | "null" | "Null" | "NULL" => serde_json::Value::Null,
                "true" | "True" | "TRUE" => true.into(),
                "false" | "False" | "FALSE" => false.into(),
                t => t
                    .parse::<i64>()
                    .map(serde_json::Value::from)
                    .or_else(|_| t.parse::<f64>().map(serde_json::Value::from))
                    .unwrap_or_else(|_| serde_json::Value::String(t.to_owned())),
            },
            Value::Seq(items) => items.iter().map(Node::to_json).collect(),
            Value::Map(entries) => entries.iter().map(|(k, v)| (k.text.clone(), v.to_json())).collect(),
        }
    }
}

fn pos(m: saphyr_parser::Marker) -> Pos {
    Pos {
        line: m.line(),
        column: m.col() + 1,
        offset: m.index(),
    }
}

enum Frame {
    Seq {
        items: Vec<Node>,
        start: Pos,
        anchor: usize,
        size: usize,
    },
    Map {
        entries: Vec<(Key, Node)>,
        pending: Option<Key>,
        start: Pos,
        anchor: usize,
        size: usize,
    },
}

/// Parses one document. An empty input is an empty mapping's worth of
/// nothing: `Ok(None)`.
pub fn parse(source: &str) -> Result<Option<Node>, SyntaxError> {
    if source.len() > MAX_INPUT_BYTES {
        return Err(SyntaxError {
            message: format!("file is larger than {MAX_INPUT_BYTES} bytes"),
            at: Pos::default(),
            code: "too-large",
        });
    }
    let mut parser = Parser::new_from_str(source);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, (Node, usize)> = HashMap::new();
    let mut nodes = 0usize;
    let mut root: Option<Node> = None;
    let mut documents = 0;
    let syntax = |message: String, at: Pos| SyntaxError {
        message,
        at,
        code: "syntax",
    };
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| syntax(e.info().to_owned(), pos(*e.marker())))?;
        let start = pos(span.start);
        let end = pos(span.end);
        let is_alias = matches!(event, Event::Alias(_));
        let finished: Option<(Node, usize, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => None,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(syntax("a policy file holds exactly one YAML document".into(), start));
                }
                None
            }
            Event::Scalar(text, style, anchor, _tag) => {
                let node = Node {
                    value: Value::Scalar {
                        text: text.into_owned(),
                        quoted: !matches!(style, ScalarStyle::Plain),
                    },
                    span: Span { start, end },
                };
                Some((node, anchor, 1))
            }
            Event::Alias(id) => {
                let (node, size) = anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| syntax("alias to an unknown anchor".into(), start))?;
                Some((node, 0, size))
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(syntax(format!("nesting deeper than {MAX_DEPTH} levels"), start));
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq {
                        items: Vec::new(),
                        start,
                        anchor,
                        size: 1,
                    }
                } else {
                    Frame::Map {
                        entries: Vec::new(),
                        pending: None,
                        start,
                        anchor,
                        size: 1,
                    }
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq {
                    items,
                    start,
                    anchor,
                    size,
                }) => Some((
                    Node {
                        value: Value::Seq(items),
                        span: Span { start, end },
                    },
                    anchor,
                    size,
                )),
                Some(Frame::Map {
                    entries,
                    start,
                    anchor,
                    size,
                    ..
                }) => Some((
                    Node {
                        value: Value::Map(entries),
                        span: Span { start, end },
                    },
                    anchor,
                    size,
                )),
                None => return Err(syntax("unbalanced document".into(), start)),
            },
        };
        let Some((node, anchor, size)) = finished else {
            continue;
        };
        // Containers were paid for child by child; aliases pay for every node they copy.
        let cost = match &node.value {
            Value::Scalar { .. } => 1,
            _ if is_alias => size,
            _ => 1,
        };
        nodes = nodes.saturating_add(cost);
        if nodes > MAX_NODES {
            return Err(SyntaxError {
                message: format!(
                    "document expands to more than {MAX_NODES} nodes (aliases count each time they are used)"
                ),
                at: start,
                code: "too-large",
            });
        }
        if anchor > 0 {
            anchors.insert(anchor, (node.clone(), size));
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, size: total, .. }) => {
                *total = total.saturating_add(size);
                items.push(node);
            }
            Some(Frame::Map {
                entries,
                pending,
                size: total,
                ..
            }) => match pending.take() {
                Some(key) => {
                    *total = total.saturating_add(size);
                    entries.push((key, node));
                }
                None => {
                    let Value::Scalar { text, .. } = node.value else {
                        return Err(syntax("mapping keys must be plain strings".into(), node.span.start));
                    };
                    if let Some((first, _)) = entries.iter().find(|(k, _)| k.text == text) {
                        return Err(SyntaxError {
                            message: format!("duplicate key {text:?} (first at line {})", first.span.start.line),
                            at: node.span.start,
                            code: "duplicate-key",
                        });
                    }
                    *pending = Some(Key { text, span: node.span });
                }
            },
        }
    }
    Ok(root)
}
