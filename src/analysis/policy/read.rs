//! The way into the policy model: a clean policy is read in one pass (`fast`), anything else
//! by the exact parser (`parse`).

use serde_json::Value;

use super::fast::parse_clean;
use super::parse::{parse_tree, with_json};
use super::{Policy, PolicyDocument, PolicyError, PolicyKind};
use crate::analysis::json::Json;

/// The embedded document of `get-key-policy` output: `Policy` of an object without
/// `Statement`. The one place that recognises that shape.
pub fn embedded_policy(v: &Value) -> Option<&Value> {
    let map = v.as_object()?;
    if map.contains_key("Statement") {
        return None;
    }
    map.get("Policy")
}

/// Parses a key policy (document or `get-key-policy` output) into a [`PolicyDocument`].
pub fn parse_document(
    text: &str,
    kind: PolicyKind,
    name: &str,
) -> Result<PolicyDocument, PolicyError> {
    let (policy, inner) = parse_text(text, kind, name, true)?;
    Ok(PolicyDocument {
        text: inner.unwrap_or_else(|| text.to_string()),
        policy,
    })
}

/// Parses a policy document, or the output of `aws kms get-key-policy`
/// (`{"Policy": "<document as a string>", "PolicyName": "default"}`).
pub fn parse_policy(text: &str, kind: PolicyKind, name: &str) -> Result<Policy, PolicyError> {
    parse_text(text, kind, name, true).map(|(p, _)| p)
}

/// [`parse_policy`] with findings carrying JSON pointers only (no line and column): for a
/// caller that places them in its own file, such as `check`.
pub fn parse_policy_unplaced(
    text: &str,
    kind: PolicyKind,
    name: &str,
) -> Result<Policy, PolicyError> {
    parse_text(text, kind, name, false).map(|(p, _)| p)
}

/// [`parse_policy_unplaced`] of a document (with a `Statement`) already read as the parser's
/// tree: for a caller that built the tree to tell what the text is.
pub fn parse_tree_unplaced(
    tree: &Json<'_>,
    text: &str,
    kind: PolicyKind,
    name: &str,
) -> Result<Policy, PolicyError> {
    with_json(tree.root(), text, kind, name, false).map(|(p, _)| p)
}

/// [`parse_policy`] by the exact parser alone, without the one-pass reader: the reference
/// the property tests hold [`parse_clean`] to.
pub fn parse_policy_exact(text: &str, kind: PolicyKind, name: &str) -> Result<Policy, PolicyError> {
    with_json(parse_tree(text)?.root(), text, kind, name, true).map(|(p, _)| p)
}

/// The policy, and the embedded document's text when `text` was `get-key-policy` output.
/// A clean policy is read in one pass; anything else by the exact parser.
fn parse_text(
    text: &str,
    kind: PolicyKind,
    name: &str,
    place: bool,
) -> Result<(Policy, Option<String>), PolicyError> {
    if let Some(policy) = parse_clean(text, kind, name) {
        return Ok((policy, None));
    }
    with_json(parse_tree(text)?.root(), text, kind, name, place)
}

/// [`parse_document`] of a document the caller has parsed as JSON already (with
/// [`parse_json`]); `text` is its source, for positions.
pub fn document_from_value(
    value: &Value,
    text: &str,
    kind: PolicyKind,
    name: &str,
) -> Result<PolicyDocument, PolicyError> {
    let (policy, inner) = with_json(Json::from_value(value).root(), text, kind, name, true)?;
    Ok(PolicyDocument {
        text: inner.unwrap_or_else(|| text.to_string()),
        policy,
    })
}
