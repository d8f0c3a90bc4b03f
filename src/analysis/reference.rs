//! Typed references to the things decisions and findings are about. A statement is named by
//! its policy and its index (two statements may share a Sid), and carries the label people
//! see; the JSON shows the label where a list of statements is expected.

use serde::{Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    Key,
    /// An IAM identity policy, or a policy that reads like one: a permissions boundary, a
    /// session policy, a service control policy (no `Principal` element).
    Identity,
    /// A resource control policy of AWS Organizations: a resource policy (its `Principal`
    /// is required) that limits, and never grants.
    ResourceControl,
}

/// Which statement of which policy. In JSON, everywhere: `{"policy", "index", "sid",
/// "label"}` (`sid` absent when the statement has none).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatementRef {
    /// `key-policy`, or the identity policy's name.
    pub policy: String,
    pub policy_kind: PolicyKind,
    pub index: usize,
    pub sid: Option<String>,
    /// The label shown in lists of deciding statements: the Sid (or `#INDEX`), prefixed with
    /// `POLICY:` for identity policies. Derived from the fields above, once.
    pub label: String,
}

impl StatementRef {
    /// The label of a statement: its `Sid`, or `#INDEX` when it has none.
    pub fn label_of(sid: Option<&str>, index: usize) -> String {
        match sid {
            Some(s) if !s.is_empty() => s.to_string(),
            _ => format!("#{index}"),
        }
    }

    pub fn new(policy: &str, kind: PolicyKind, index: usize, sid: Option<&str>) -> StatementRef {
        let label = StatementRef::label_of(sid, index);
        StatementRef {
            policy: policy.to_string(),
            policy_kind: kind,
            index,
            sid: sid.map(str::to_string),
            label: match kind {
                PolicyKind::Key => label,
                PolicyKind::Identity | PolicyKind::ResourceControl => format!("{policy}:{label}"),
            },
        }
    }

    /// Whether this is a statement of the key policy.
    pub fn in_key_policy(&self) -> bool {
        self.policy_kind == PolicyKind::Key
    }
}

impl Serialize for StatementRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("policy", &self.policy)?;
        m.serialize_entry("index", &self.index)?;
        if let Some(sid) = &self.sid {
            m.serialize_entry("sid", sid)?;
        }
        m.serialize_entry("label", &self.label)?;
        m.end()
    }
}

impl std::fmt::Display for StatementRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label)
    }
}

/// Serialises a list of statement references as their labels (`["Sid", "#2"]`), the shape
/// of `deciding_statements`, `via` and `statements` in the JSON outputs.
pub fn serialize_labels<S: Serializer>(refs: &[StatementRef], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(refs.iter().map(|r| r.label.as_str()))
}

/// Joins the labels of statement references with `, ` for messages.
pub fn labels(refs: &[StatementRef]) -> String {
    let v: Vec<&str> = refs.iter().map(|r| r.label.as_str()).collect();
    v.join(", ")
}

/// Keeps the first of each reference, in order.
pub fn dedup<T: PartialEq>(v: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(v.len());
    for s in v {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}
