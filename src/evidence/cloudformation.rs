//! CloudFormation templates: YAML (with short-form tags such as `!Sub`) read into JSON values
//! with the position of every value, and the intrinsic functions a key policy uses resolved
//! (`Ref`, `Fn::Sub`, `Fn::Join` for `AWS::AccountId`, `AWS::Partition`, `AWS::Region`);
//! what cannot be known becomes a `${Name}` placeholder. `Fn::If` takes one branch of every
//! condition at a time (a template is judged under each: its conditions' names are said), and
//! `AWS::NoValue` removes the value (CloudFormation User Guide, "Condition functions" and
//! "Pseudo parameters reference").

use std::collections::HashMap;

use serde_json::{Map, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::analysis::locate::{Pointer, Position};

/// A YAML document as JSON, with positions by JSON pointer (`/Resources/Key/Properties`).
#[derive(Debug, Clone, PartialEq)]
pub struct YamlDoc {
    pub value: Value,
    pub positions: HashMap<String, Position>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    pub message: String,
    pub position: Option<Position>,
}

enum Frame {
    Map {
        map: Map<String, Value>,
        key: Option<String>,
        tag: Option<String>,
    },
    Seq {
        items: Vec<Value>,
        tag: Option<String>,
    },
}

struct Builder {
    stack: Vec<Frame>,
    /// Pointer of the value being built, as steps.
    path: Vec<String>,
    root: Option<Value>,
    positions: HashMap<String, Position>,
    error: Option<YamlError>,
    documents: usize,
}

fn pos(m: &Marker) -> Position {
    Position {
        line: m.line(),
        column: m.col() + 1,
    }
}

fn pointer(path: &[String]) -> String {
    if path.is_empty() {
        return "/".into();
    }
    path.iter()
        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// A short-form CloudFormation tag as the long form's key: `!Sub` -> `Fn::Sub`.
fn long_form(tag: &str) -> Option<&'static str> {
    Some(match tag {
        "Ref" => "Ref",
        "Condition" => "Condition",
        "Sub" => "Fn::Sub",
        "Join" => "Fn::Join",
        "GetAtt" => "Fn::GetAtt",
        "If" => "Fn::If",
        "Select" => "Fn::Select",
        "Split" => "Fn::Split",
        "ImportValue" => "Fn::ImportValue",
        "Base64" => "Fn::Base64",
        "FindInMap" => "Fn::FindInMap",
        "GetAZs" => "Fn::GetAZs",
        "Cidr" => "Fn::Cidr",
        "Equals" => "Fn::Equals",
        "Not" => "Fn::Not",
        "And" => "Fn::And",
        "Or" => "Fn::Or",
        "Transform" => "Fn::Transform",
        _ => return None,
    })
}

fn tagged(tag: Option<String>, value: Value) -> Value {
    match tag.as_deref().and_then(long_form) {
        // `!GetAtt Resource.Attribute` is the short form of ["Resource", "Attribute"].
        Some("Fn::GetAtt") => {
            let v = match value {
                Value::String(s) => match s.split_once('.') {
                    Some((a, b)) => {
                        Value::Array(vec![Value::String(a.into()), Value::String(b.into())])
                    }
                    None => Value::String(s),
                },
                other => other,
            };
            Value::Object(Map::from_iter([("Fn::GetAtt".to_string(), v)]))
        }
        Some(name) => Value::Object(Map::from_iter([(name.to_string(), value)])),
        None => value,
    }
}

fn scalar(v: String, style: TScalarStyle) -> Value {
    if style != TScalarStyle::Plain {
        return Value::String(v);
    }
    match v.as_str() {
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        "null" | "Null" | "NULL" | "~" | "" => Value::Null,
        _ => {
            if let Ok(i) = v.parse::<i64>() {
                // Account ids and the like keep their leading zeros as strings.
                if !v.starts_with('0') || v == "0" {
                    return Value::Number(i.into());
                }
            }
            Value::String(v)
        }
    }
}

impl Builder {
    fn push_value(&mut self, v: Value) {
        match self.stack.last_mut() {
            None => self.root = Some(v),
            Some(Frame::Seq { items, .. }) => {
                items.push(v);
                self.path.pop();
            }
            Some(Frame::Map { map, key, .. }) => {
                if let Some(k) = key.take() {
                    map.insert(k, v);
                    self.path.pop();
                }
            }
        }
    }

    /// Where the next value goes: for a map with no pending key, the value is a key.
    fn is_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    fn enter(&mut self, m: &Marker) {
        // The next value's path: the pending key, or the next index.
        let step = match self.stack.last() {
            Some(Frame::Map { key: Some(k), .. }) => Some(k.clone()),
            Some(Frame::Seq { items, .. }) => Some(items.len().to_string()),
            _ => None,
        };
        if let Some(s) = step {
            self.path.push(s);
        }
        self.positions.insert(pointer(&self.path), pos(m));
    }
}

/// The deepest nesting read from a template. A key policy sits about ten levels down
/// (Resources, the key, Properties, KeyPolicy, Statement, a statement, Condition, an
/// operator, a key, its values); deeper documents are refused, so that neither time nor
/// stack grows with a hostile nesting.
pub const MAX_YAML_DEPTH: usize = 64;

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, m: Marker) {
        if self.error.is_some() {
            return;
        }
        if matches!(ev, Event::SequenceStart(..) | Event::MappingStart(..))
            && self.stack.len() >= MAX_YAML_DEPTH
        {
            self.error = Some(YamlError {
                message: format!(
                    "the YAML is nested more than {MAX_YAML_DEPTH} levels deep: not a template kmsdoctor reads"
                ),
                position: Some(pos(&m)),
            });
            return;
        }
        let tag_of = |t: &Option<yaml_rust2::parser::Tag>| t.as_ref().map(|t| t.suffix.clone());
        match ev {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    self.error = Some(YamlError {
                        message: "more than one YAML document: a template is one document".into(),
                        position: Some(pos(&m)),
                    });
                }
            }
            Event::Alias(_) => {
                self.error = Some(YamlError {
                    message: "YAML aliases (*name) are not supported in templates".into(),
                    position: Some(pos(&m)),
                });
            }
            Event::Scalar(v, style, _, tag) => {
                if self.is_key() {
                    if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                        *key = Some(v);
                    }
                    return;
                }
                self.enter(&m);
                let value = tagged(tag_of(&tag), scalar(v, style));
                self.push_value(value);
            }
            Event::SequenceStart(_, tag) => {
                if self.is_key() {
                    self.error = Some(YamlError {
                        message: "a sequence used as a mapping key".into(),
                        position: Some(pos(&m)),
                    });
                    return;
                }
                self.enter(&m);
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    tag: tag_of(&tag),
                });
            }
            Event::MappingStart(_, tag) => {
                if self.is_key() {
                    self.error = Some(YamlError {
                        message: "a mapping used as a mapping key".into(),
                        position: Some(pos(&m)),
                    });
                    return;
                }
                self.enter(&m);
                self.stack.push(Frame::Map {
                    map: Map::new(),
                    key: None,
                    tag: tag_of(&tag),
                });
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq { items, tag }) = self.stack.pop() {
                    self.push_value(tagged(tag, Value::Array(items)));
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map { map, tag, .. }) = self.stack.pop() {
                    self.push_value(tagged(tag, Value::Object(map)));
                }
            }
            _ => {}
        }
    }
}

/// How far into a line a node may start. The YAML parser recurses once per level of block
/// nesting, and block nesting needs columns (indentation, or `- ` per compact level): a line
/// whose nodes start further right than this is refused before parsing, in one pass, so that
/// no document can exhaust the stack. Real templates stay well under a hundred columns.
const MAX_NODE_COLUMN: usize = 1024;

/// The first line whose nodes start past [`MAX_NODE_COLUMN`], if any.
fn too_deep(text: &str) -> Option<YamlError> {
    for (i, line) in text.lines().enumerate() {
        let b = line.as_bytes();
        let mut col = 0;
        loop {
            while col < b.len() && (b[col] == b' ' || b[col] == b'\t') {
                col += 1;
            }
            // Block indicators open a level on the same line: `- `, `? `, `: `.
            if col + 1 < b.len()
                && matches!(b[col], b'-' | b'?' | b':')
                && matches!(b[col + 1], b' ' | b'\t')
            {
                col += 2;
                continue;
            }
            break;
        }
        if col > MAX_NODE_COLUMN {
            return Some(YamlError {
                message: format!(
                    "the YAML is nested too deep (a node starts at column {col}; kmsdoctor reads up to {MAX_NODE_COLUMN}): not a template"
                ),
                position: Some(Position {
                    line: i + 1,
                    column: 1,
                }),
            });
        }
    }
    None
}

/// Reads a YAML document into JSON with positions.
pub fn parse_yaml(text: &str) -> Result<YamlDoc, YamlError> {
    if let Some(e) = too_deep(text) {
        return Err(e);
    }
    let mut b = Builder {
        stack: Vec::new(),
        path: Vec::new(),
        root: None,
        positions: HashMap::new(),
        error: None,
        documents: 0,
    };
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut b, true).map_err(|e| YamlError {
        message: format!("invalid YAML: {}", e.info()),
        position: Some(pos(e.marker())),
    })?;
    if let Some(e) = b.error {
        return Err(e);
    }
    Ok(YamlDoc {
        value: b.root.unwrap_or(Value::Null),
        positions: b.positions,
    })
}

/// Values for the pseudo parameters a key policy uses.
#[derive(Debug, Clone)]
pub struct Pseudo {
    pub account: String,
    pub partition: String,
    pub region: String,
    /// Resource types by logical id, to resolve `Fn::GetAtt Role.Arn` to a role ARN.
    pub types: HashMap<String, String>,
    /// The branch `Fn::If` takes: every condition true, or every condition false.
    pub conditions: bool,
}

/// What `Ref AWS::NoValue` resolves to before it is removed (no template value holds it).
const NO_VALUE: &str = "\u{0}AWS::NoValue";

/// The names of the conditions `Fn::If` tests in a template fragment, each once, in order.
pub fn if_conditions(v: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::Array(a)) = m.get("Fn::If") {
                    if let Some(Value::String(c)) = a.first() {
                        if !out.contains(c) {
                            out.push(c.clone());
                        }
                    }
                }
                m.values().for_each(|x| walk(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut out);
    out
}

/// Resolves intrinsic functions in a template fragment, `AWS::NoValue` removed.
pub fn resolve(v: &Value, p: &Pseudo) -> Value {
    strip_no_value(resolve_raw(v, p))
}

/// Removes what resolved to `AWS::NoValue`: array items and object members.
fn strip_no_value(v: Value) -> Value {
    match v {
        Value::Array(a) => Value::Array(
            a.into_iter()
                .filter(|x| x.as_str() != Some(NO_VALUE))
                .map(strip_no_value)
                .collect(),
        ),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, x)| x.as_str() != Some(NO_VALUE))
                .map(|(k, x)| (k, strip_no_value(x)))
                .collect(),
        ),
        other => other,
    }
}

fn resolve_raw(v: &Value, p: &Pseudo) -> Value {
    let resolve = resolve_raw;
    match v {
        Value::Object(m) if m.len() == 1 => {
            let (k, arg) = m.iter().next().expect("one entry");
            match k.as_str() {
                "Ref" if arg.as_str() == Some("AWS::NoValue") => Value::String(NO_VALUE.into()),
                "Ref" => Value::String(reference(arg.as_str().unwrap_or_default(), p)),
                "Fn::If" => match arg.as_array().map(Vec::as_slice) {
                    Some([_, yes, no]) => resolve(if p.conditions { yes } else { no }, p),
                    _ => Value::String("${Fn::If}".into()),
                },
                "Fn::Sub" => Value::String(sub(arg, p)),
                "Fn::Join" => Value::String(join(arg, p)),
                "Fn::GetAtt" => {
                    let parts: Vec<String> = match arg {
                        Value::Array(a) => a.iter().map(|x| text(&resolve(x, p))).collect(),
                        other => text(other).split('.').map(str::to_string).collect(),
                    };
                    // The ARN of a role or user of the template: its name is chosen at deploy
                    // time, its account and kind are known.
                    let kind = match (
                        parts
                            .first()
                            .and_then(|l| p.types.get(l))
                            .map(String::as_str),
                        parts.get(1).map(String::as_str),
                    ) {
                        (Some("AWS::IAM::Role"), Some("Arn")) => Some("role"),
                        (Some("AWS::IAM::User"), Some("Arn")) => Some("user"),
                        _ => None,
                    };
                    match kind {
                        Some(k) => Value::String(format!(
                            "arn:{}:iam::{}:{k}/${{{}}}",
                            p.partition, p.account, parts[0]
                        )),
                        None => Value::String(format!("${{{}}}", parts.join("."))),
                    }
                }
                "Fn::ImportValue" => {
                    Value::String(format!("${{ImportValue:{}}}", text(&resolve(arg, p))))
                }
                "Fn::Select" | "Fn::FindInMap" | "Fn::Split" | "Fn::Base64" | "Fn::GetAZs"
                | "Fn::Cidr" => Value::String(format!("${{{k}}}")),
                _ => Value::Object(m.iter().map(|(k, v)| (k.clone(), resolve(v, p))).collect()),
            }
        }
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), resolve(v, p))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| resolve(x, p)).collect()),
        other => other.clone(),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn reference(name: &str, p: &Pseudo) -> String {
    match name {
        "AWS::AccountId" => p.account.clone(),
        "AWS::Partition" => p.partition.clone(),
        "AWS::Region" => p.region.clone(),
        "AWS::URLSuffix" => "amazonaws.com".into(),
        other => format!("${{{other}}}"),
    }
}

fn sub(arg: &Value, p: &Pseudo) -> String {
    let (template, vars) = match arg {
        Value::String(s) => (s.clone(), None),
        Value::Array(a) if !a.is_empty() => (text(&a[0]), a.get(1).and_then(Value::as_object)),
        other => (text(other), None),
    };
    let mut out = String::new();
    let mut rest = template.as_str();
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = &after[..end];
        rest = &after[end + 1..];
        if let Some(literal) = name.strip_prefix('!') {
            // `${!Literal}` writes `${Literal}`.
            out.push_str(&format!("${{{literal}}}"));
        } else if let Some(v) = vars.and_then(|m| m.get(name)) {
            out.push_str(&text(&resolve(v, p)));
        } else {
            out.push_str(&reference(name, p));
        }
    }
    out.push_str(rest);
    out
}

fn join(arg: &Value, p: &Pseudo) -> String {
    match arg {
        Value::Array(a) if a.len() == 2 => {
            let sep = text(&a[0]);
            match resolve(&a[1], p) {
                Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(&sep),
                other => text(&other),
            }
        }
        other => text(other),
    }
}

/// The position of the value at `ptr` (or of its nearest known parent) in a YAML document.
pub fn yaml_position(doc: &YamlDoc, ptr: &Pointer) -> Option<Position> {
    let mut p = ptr.clone();
    loop {
        if let Some(pos) = doc.positions.get(&p.to_string()) {
            return Some(*pos);
        }
        p.0.pop()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Version: '2012-10-17'
        Statement:
          - Sid: Enable IAM User Permissions
            Effect: Allow
            Principal:
              AWS: !Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:root
            Action: kms:*
            Resource: '*'
          - Sid: Admin
            Effect: Allow
            Principal:
              AWS: !Join ['', ['arn:aws:iam::', !Ref AWS::AccountId, ':role/', !Ref AdminRole]]
            Action: [kms:Put*, kms:Get*]
            Resource: '*'
            Condition:
              StringEquals:
                aws:PrincipalArn: !GetAtt AdminRole.Arn
";

    #[test]
    fn reads_short_form_tags_with_positions() {
        let doc = parse_yaml(TEMPLATE).unwrap();
        let stmt = &doc.value["Resources"]["Key"]["Properties"]["KeyPolicy"]["Statement"];
        assert_eq!(
            stmt[0]["Principal"]["AWS"]["Fn::Sub"],
            "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"
        );
        assert_eq!(
            stmt[1]["Condition"]["StringEquals"]["aws:PrincipalArn"]["Fn::GetAtt"][1],
            "Arn"
        );
        let p = Pointer::root()
            .key("Resources")
            .key("Key")
            .key("Properties")
            .key("KeyPolicy")
            .key("Statement")
            .index(1);
        assert_eq!(yaml_position(&doc, &p).map(|p| p.line), Some(15));
    }

    #[test]
    fn resolves_intrinsics() {
        let doc = parse_yaml(TEMPLATE).unwrap();
        let pseudo = Pseudo {
            account: "111122223333".into(),
            partition: "aws".into(),
            region: "us-east-1".into(),
            types: HashMap::from([("AdminRole".to_string(), "AWS::IAM::Role".to_string())]),
            conditions: true,
        };
        let policy = resolve(
            &doc.value["Resources"]["Key"]["Properties"]["KeyPolicy"],
            &pseudo,
        );
        assert_eq!(
            policy["Statement"][0]["Principal"]["AWS"],
            "arn:aws:iam::111122223333:root"
        );
        assert_eq!(
            policy["Statement"][1]["Principal"]["AWS"],
            "arn:aws:iam::111122223333:role/${AdminRole}"
        );
        assert_eq!(
            policy["Statement"][1]["Condition"]["StringEquals"]["aws:PrincipalArn"],
            "arn:aws:iam::111122223333:role/${AdminRole}"
        );
        let s = resolve(
            &serde_json::json!({"Fn::Sub": ["${A}-${!Literal}-${AWS::Region}", {"A": {"Ref": "AWS::AccountId"}}]}),
            &pseudo,
        );
        assert_eq!(s, "111122223333-${Literal}-us-east-1");
    }

    #[test]
    fn yaml_errors_have_positions() {
        let e = parse_yaml("Resources:\n  Key: [unclosed\n").unwrap_err();
        assert!(e.message.starts_with("invalid YAML"), "{}", e.message);
        assert!(e.position.is_some());
        assert!(parse_yaml("a: 1\n---\nb: 2\n")
            .unwrap_err()
            .message
            .contains("more than one"));
        assert!(parse_yaml("a: &x 1\nb: *x\n")
            .unwrap_err()
            .message
            .contains("aliases"));
    }
}
