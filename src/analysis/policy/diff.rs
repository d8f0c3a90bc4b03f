//! What changes from one policy text to another, statement by statement (by `Sid`, or
//! `#INDEX` without one): what `fix` would change and what each version of a key policy
//! changed (`history`).

use serde::Serialize;
use serde_json::Value;

use crate::analysis::reference::StatementRef;

/// One statement's change, by its label (`Sid`, or `#INDEX` without one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementChange {
    pub statement: String,
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    /// The statement before (removed, changed) and after (added, changed), as compact JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// The statements of a policy text by label, in order.
fn statements(text: &str) -> Vec<(String, Value)> {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    let list = match v.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    list.into_iter()
        .enumerate()
        .map(|(i, s)| {
            let label = StatementRef::label_of(s.get("Sid").and_then(Value::as_str), i);
            (label, s)
        })
        .collect()
}

/// What changes from `before` to `after`, statement by statement.
pub fn diff(before: &str, after: &str) -> Vec<StatementChange> {
    let old = statements(before);
    let new = statements(after);
    let mut out = Vec::new();
    for (label, s) in &old {
        match new.iter().find(|(l, _)| l == label) {
            None => out.push(StatementChange {
                statement: label.clone(),
                change: "removed",
                before: Some(s.to_string()),
                after: None,
            }),
            Some((_, n)) if n != s => out.push(StatementChange {
                statement: label.clone(),
                change: "changed",
                before: Some(s.to_string()),
                after: Some(n.to_string()),
            }),
            Some(_) => {}
        }
    }
    for (label, s) in &new {
        if !old.iter().any(|(l, _)| l == label) {
            out.push(StatementChange {
                statement: label.clone(),
                change: "added",
                before: None,
                after: Some(s.to_string()),
            });
        }
    }
    out
}
