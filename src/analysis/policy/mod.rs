//! The policy language: a validated model of key policies and IAM identity policies, and the
//! parser that builds it from JSON text.
//!
//! Two kinds of problem come out of parsing. Input that is not a policy at all (invalid JSON,
//! a number where an action list belongs) is a [`PolicyError`]: the caller stops and names the
//! place. Input that is a policy but one AWS would reject (both `Action` and `NotAction`, an
//! unknown `Effect`, a key policy statement without a principal, over 32 KB) is a [`Finding`]
//! with a stable id; the statement concerned is marked invalid and takes no part in evaluation.
//!
//! This file holds the model. `parse` is the parser, exact for every input; `fast` reads the
//! common clean policy (no finding, no escape, no repeated key) in one pass, and hands
//! anything else to `parse`; `read` is the way in, which tries them in that order.

pub mod diff;
mod fast;
mod parse;
mod read;

use serde::Serialize;

use super::condition::Clause;
use super::locate::{Pointer, Position};
use super::principal::PrincipalEntry;
pub use super::reference::{PolicyKind, StatementRef};
use super::rules::Finding;
pub use super::text::Text;
pub use fast::parse_clean;
pub use parse::parse_json;
pub use read::{
    document_from_value, embedded_policy, parse_document, parse_policy, parse_policy_exact,
    parse_policy_unplaced, parse_tree_unplaced,
};

/// The size limit KMS puts on a key policy.
pub const KEY_POLICY_MAX_BYTES: usize = 32 * 1024;

/// A file that is not a policy: what is wrong, and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct PolicyError {
    pub message: String,
    pub pointer: Pointer,
    /// Line and column in the text given to the parser.
    pub position: Option<Position>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
    /// An `Effect` AWS does not know; the statement is invalid.
    Invalid(String),
}

impl Effect {
    /// As written in a policy: `Allow`, `Deny`, or the unknown value itself.
    pub fn as_str(&self) -> &str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
            Effect::Invalid(e) => e,
        }
    }
}

impl Serialize for Effect {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// `Principal` or `NotPrincipal`.
#[derive(Debug, Clone, PartialEq)]
pub struct PrincipalBlock {
    pub negated: bool,
    pub entries: Vec<PrincipalEntry>,
}

/// `Action`/`NotAction` or `Resource`/`NotResource`: wildcard patterns, possibly negated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patterns {
    pub negated: bool,
    pub patterns: Vec<Text>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// Position in the `Statement` array (0 for a lone statement object).
    pub index: usize,
    pub sid: Option<Text>,
    pub effect: Effect,
    pub principal: Option<PrincipalBlock>,
    pub actions: Option<Patterns>,
    pub resources: Option<Patterns>,
    pub conditions: Vec<Clause>,
    /// Where the statement is in the document (`locate` turns it into a line and column;
    /// done on demand, as locating every statement eagerly would cost a scan each).
    pub pointer: Pointer,
    /// False when AWS would reject the statement: it takes no part in evaluation.
    pub valid: bool,
}

impl Statement {
    /// The id shown for this statement: its `Sid`, or `#INDEX`.
    pub fn label(&self) -> String {
        StatementRef::label_of(self.sid.as_deref(), self.index)
    }

    /// Whether `Action` (or `NotAction`) covers `action` (`kms:PutKeyPolicy`).
    pub fn covers_action(&self, action: &str) -> bool {
        self.actions.as_ref().is_some_and(|a| {
            let hit = a
                .patterns
                .iter()
                .any(|p| super::pattern::wildcard_match(p, action, true));
            hit != a.negated
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub kind: PolicyKind,
    /// A short name for references: `key-policy`, or the identity policy's file stem.
    pub name: String,
    pub version: Option<String>,
    pub statements: Vec<Statement>,
    pub findings: Vec<Finding>,
    /// Size of the policy document in bytes.
    pub size: usize,
    /// Set when the document came embedded in a `get-key-policy` reply: the position of its
    /// `Policy` string in the file. Positions in findings are inside the embedded document.
    pub embedded_at: Option<Position>,
}

impl Policy {
    /// The valid Allow statements with a `Principal` element (not `NotPrincipal`), each with
    /// its principals: who the policy names to let in.
    pub fn allows_by_principal(&self) -> impl Iterator<Item = (&Statement, &PrincipalBlock)> {
        self.statements
            .iter()
            .filter(|s| s.valid && s.effect == Effect::Allow)
            .filter_map(|s| Some((s, s.principal.as_ref().filter(|b| !b.negated)?)))
    }

    /// The reference to one of this policy's statements.
    pub fn statement_ref(&self, s: &Statement) -> StatementRef {
        StatementRef::new(&self.name, self.kind, s.index, s.sid.as_deref())
    }

    /// Policy variables are expanded only under `"Version": "2012-10-17"`.
    pub fn variables_enabled(&self) -> bool {
        self.version.as_deref() == Some("2012-10-17")
    }
}

/// A policy document with its text: the document itself, unwrapped from `get-key-policy`
/// output when it came so. Evidence parses a key policy once into this; the diagnosis and
/// the repair work from it.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDocument {
    pub text: String,
    pub policy: Policy,
}

/// What a policy document reads as, from its elements (IAM User Guide, "Policies and
/// permissions in IAM": identity-based and resource-based policies; Organizations User Guide,
/// "RCP syntax": RCPs deny only, to the principal `*`). `check` judges key policies and
/// skips the others in a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    KeyPolicy,
    /// No statement names a principal: an IAM identity policy, a permissions boundary, a
    /// session policy or a service control policy.
    IdentityPolicy,
    /// A role's trust policy (`sts:AssumeRole...`).
    TrustPolicy,
    /// A resource control policy: Deny statements for the principal `*`, scoped to the
    /// organization or to other services' actions.
    ResourceControlPolicy,
    /// Another service's resource policy (a bucket's, a topic's): no KMS action.
    OtherResourcePolicy,
}

impl DocumentKind {
    /// A short name, for counts: `n` of them.
    pub fn short(self, n: usize) -> &'static str {
        match (self, n == 1) {
            (DocumentKind::KeyPolicy, true) => "key policy",
            (DocumentKind::KeyPolicy, false) => "key policies",
            (DocumentKind::IdentityPolicy, true) => "identity policy or SCP",
            (DocumentKind::IdentityPolicy, false) => "identity policies or SCPs",
            (DocumentKind::TrustPolicy, true) => "trust policy",
            (DocumentKind::TrustPolicy, false) => "trust policies",
            (DocumentKind::ResourceControlPolicy, true) => "RCP",
            (DocumentKind::ResourceControlPolicy, false) => "RCPs",
            (DocumentKind::OtherResourcePolicy, true) => "other service's policy",
            (DocumentKind::OtherResourcePolicy, false) => "other services' policies",
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            DocumentKind::KeyPolicy => "a key policy",
            DocumentKind::IdentityPolicy => {
                "an IAM identity policy, boundary, session policy or SCP (no statement names a Principal)"
            }
            DocumentKind::TrustPolicy => "a role trust policy (sts:AssumeRole)",
            DocumentKind::ResourceControlPolicy => "a resource control policy",
            DocumentKind::OtherResourcePolicy => "another service's resource policy (no KMS action)",
        }
    }
}

/// Condition keys that scope a statement to an organization: what RCPs are written with.
const ORG_KEYS: &[&str] = &[
    "aws:principalorgid",
    "aws:resourceorgid",
    "aws:sourceorgid",
    "aws:principalorgpaths",
    "aws:resourceorgpaths",
    "aws:sourceorgpaths",
];

/// What `policy` reads as (see [`DocumentKind`]).
pub fn document_kind(policy: &Policy) -> DocumentKind {
    let st = &policy.statements;
    if !st.is_empty() && st.iter().all(|s| s.principal.is_none()) {
        return DocumentKind::IdentityPolicy;
    }
    let actions = || {
        st.iter()
            .filter_map(|s| s.actions.as_ref())
            .filter(|a| !a.negated)
            .flat_map(|a| a.patterns.iter())
    };
    let starts = |a: &str, p: &str| {
        a.len() >= p.len() && a.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
    };
    if actions().any(|a| starts(a, "sts:assumerole")) {
        return DocumentKind::TrustPolicy;
    }
    let kms_or_all = |a: &str| a == "*" || starts(a, "kms:") || a.starts_with("*:");
    let other_service = actions().any(|a| !kms_or_all(a));
    let deny_everyone = st.iter().all(|s| {
        s.principal.as_ref().is_some_and(|p| {
            !p.negated
                && p.entries
                    .iter()
                    .all(|e| matches!(e, PrincipalEntry::Everyone))
        }) && (s.effect == Effect::Deny
            || s.actions
                .as_ref()
                .is_some_and(|a| a.patterns.iter().any(|x| x == "*")))
    });
    let org_scoped = st
        .iter()
        .flat_map(|s| s.conditions.iter())
        .any(|c| ORG_KEYS.iter().any(|k| c.key.eq_ignore_ascii_case(k)));
    let any_deny = st.iter().any(|s| s.effect == Effect::Deny);
    if deny_everyone && any_deny && (org_scoped || other_service) {
        return DocumentKind::ResourceControlPolicy;
    }
    if actions().next().is_some() && !actions().any(|a| kms_or_all(a)) {
        return DocumentKind::OtherResourcePolicy;
    }
    DocumentKind::KeyPolicy
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Policy, PolicyError> {
        parse_policy(text, PolicyKind::Key, "key-policy")
    }

    fn ids(p: &Policy) -> Vec<&str> {
        p.findings.iter().map(|f| f.id()).collect()
    }

    #[test]
    fn parses_single_statement_object_and_scalars() {
        let p = parse(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}}"#).unwrap();
        assert_eq!(p.statements.len(), 1);
        let s = &p.statements[0];
        assert!(s.valid);
        assert_eq!(s.label(), "#0");
        assert_eq!(s.actions.as_ref().unwrap().patterns, vec!["kms:*"]);
        assert!(p.findings.is_empty());
        assert!(p.variables_enabled());
    }

    #[test]
    fn reads_get_key_policy_output() {
        let inner = r#"{"Version":"2012-10-17","Statement":[{"Sid":"x","Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}]}"#;
        let wrapped = serde_json::json!({"Policy": inner, "PolicyName": "default"}).to_string();
        let p = parse(&wrapped).unwrap();
        assert_eq!(p.statements[0].label(), "x");
        assert!(p.embedded_at.is_some());
        let bad = serde_json::json!({"Policy": "{\"Statement\": [1]}"}).to_string();
        let e = parse(&bad).unwrap_err();
        assert!(e.message.contains("embedded"), "{}", e.message);
        assert!(parse(r#"{"Policy": 5}"#)
            .unwrap_err()
            .message
            .contains("JSON string"));
    }

    #[test]
    fn wrong_types_are_errors_with_place() {
        let text = "{\n  \"Statement\": [\n    {\"Effect\": \"Allow\", \"Action\": 5}\n  ]\n}";
        let e = parse(text).unwrap_err();
        assert_eq!(e.pointer.to_string(), "/Statement/0/Action");
        assert_eq!(
            e.position,
            Some(Position {
                line: 3,
                column: 35
            })
        );
        assert!(e.message.contains("found a number"));
        assert!(parse("").unwrap_err().message.contains("empty"));
        assert!(parse("[]").unwrap_err().message.contains("JSON object"));
        let e = parse("{\"Statement\": [}").unwrap_err();
        assert!(e.message.starts_with("invalid JSON"));
        assert_eq!(e.position.map(|p| p.line), Some(1));
        assert!(parse(r#"{"Statement":"x"}"#).is_err());
        assert!(
            parse(r#"{"Statement":[{"Effect":"Allow","Condition":{"Bool":{"k":{"a":1}}}}]}"#)
                .is_err()
        );
        assert!(parse(r#"{"Statement":[{"Effect":"Allow","Principal":5}]}"#).is_err());
        assert!(parse(r#"{"Statement":[{"Sid":["a"]}]}"#).is_err());
    }

    #[test]
    fn structural_problems_are_findings() {
        let p = parse(r#"{"Statement":[
            {"Effect":"Allow","Principal":"*","Action":"kms:*","NotAction":"kms:Decrypt","Resource":"*"},
            {"Effect":"Maybe","Principal":"*","Action":"kms:*","Resource":"*"},
            {"Effect":"Allow","Action":"kms:*","Resource":"*"},
            {"Effect":"Allow","Principal":{"AWS":"AROAEXAMPLEEXAMPLE01"},"Action":"kms:*"},
            {"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEqualz":{"a":"b"}}},
            {"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*","Extra":1}
        ]}"#)
        .unwrap();
        assert_eq!(
            ids(&p),
            vec!["KD101", "KD105", "KD106", "KD113", "KD104", "KD112", "KD109"]
        );
        let valid: Vec<bool> = p.statements.iter().map(|s| s.valid).collect();
        assert_eq!(valid, vec![false, false, false, false, false, true]);
        assert!(p.findings.iter().all(|f| f.position.is_some()));
    }

    #[test]
    fn size_limit_and_missing_statement() {
        let big = format!(
            r#"{{"Statement":[{{"Sid":"{}","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}]}}"#,
            "x".repeat(KEY_POLICY_MAX_BYTES)
        );
        assert_eq!(ids(&parse(&big).unwrap()), vec!["KD108"]);
        assert_eq!(
            ids(&parse(r#"{"Version":"2012-10-17"}"#).unwrap()),
            vec!["KD114"]
        );
        // The limit is a key policy limit only.
        assert!(parse_policy(
            &big.replace(r#""Principal":"*","#, ""),
            PolicyKind::Identity,
            "i"
        )
        .unwrap()
        .findings
        .is_empty());
    }
}
