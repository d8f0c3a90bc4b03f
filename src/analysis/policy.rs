//! The policy language: a validated model of key policies and IAM identity policies, and the
//! parser that builds it from JSON text.
//!
//! Two kinds of problem come out of parsing. Input that is not a policy at all (invalid JSON,
//! a number where an action list belongs) is a [`PolicyError`]: the caller stops and names the
//! place. Input that is a policy but one AWS would reject (both `Action` and `NotAction`, an
//! unknown `Effect`, a key policy statement without a principal, over 32 KB) is a [`Finding`]
//! with a stable id; the statement concerned is marked invalid and takes no part in evaluation.

use serde::Serialize;
use serde_json::Value;

use super::json::{Json, Obj, Val, View};

use super::condition::{Clause, Operator};
use super::locate::{json_error, locate, Index, Pointer, Position};
use super::principal::PrincipalEntry;
pub use super::reference::{PolicyKind, StatementRef};
use super::rules::{
    Finding, Rule, ACTION_AND_NOT_ACTION, BAD_EFFECT, BAD_OPERATOR, BAD_VERSION, DUPLICATE_SID,
    EMPTY_LIST, INVALID_PRINCIPAL, NOT_PRINCIPAL_WITH_ALLOW, NO_ACTION, NO_PRINCIPAL, NO_RESOURCE,
    NO_STATEMENTS, PRINCIPAL_AND_NOT_PRINCIPAL, PRINCIPAL_IN_IDENTITY_POLICY,
    RESOURCE_AND_NOT_RESOURCE, TOO_LARGE, UNIQUE_ID_PRINCIPAL, UNKNOWN_ELEMENT,
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
    pub patterns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// Position in the `Statement` array (0 for a lone statement object).
    pub index: usize,
    pub sid: Option<String>,
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
    let (policy, inner) = with_json(parse_tree(text)?.root(), text, kind, name, true)?;
    Ok(PolicyDocument {
        text: inner.unwrap_or_else(|| text.to_string()),
        policy,
    })
}

/// Builds the policy from a document already parsed as JSON (`text` is its source, for
/// positions; with `locate` false, findings carry pointers only, which is cheaper when the
/// caller places them itself).
pub fn parse_value(
    value: &Value,
    text: &str,
    kind: PolicyKind,
    name: &str,
    locate: bool,
) -> Result<Policy, PolicyError> {
    Parser {
        text,
        kind,
        findings: Vec::new(),
        index: std::cell::OnceCell::new(),
        locate,
    }
    .policy(Json::from_value(value).root(), name)
}

/// Parses a policy document, or the output of `aws kms get-key-policy`
/// (`{"Policy": "<document as a string>", "PolicyName": "default"}`).
pub fn parse_policy(text: &str, kind: PolicyKind, name: &str) -> Result<Policy, PolicyError> {
    parse_with_text(text, kind, name).map(|(p, _)| p)
}

/// [`parse_policy`] with findings carrying JSON pointers only (no line and column): for a
/// caller that places them in its own file, such as `check`.
pub fn parse_policy_unplaced(
    text: &str,
    kind: PolicyKind,
    name: &str,
) -> Result<Policy, PolicyError> {
    with_json(parse_tree(text)?.root(), text, kind, name, false).map(|(p, _)| p)
}

/// The policy, and the embedded document's text when `text` was `get-key-policy` output.
fn parse_with_text(
    text: &str,
    kind: PolicyKind,
    name: &str,
) -> Result<(Policy, Option<String>), PolicyError> {
    with_json(parse_tree(text)?.root(), text, kind, name, true)
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

fn with_json(
    value: Val<'_, '_>,
    text: &str,
    kind: PolicyKind,
    name: &str,
    place: bool,
) -> Result<(Policy, Option<String>), PolicyError> {
    let embedded = value
        .as_object()
        .filter(|m| !m.contains_key("Statement"))
        .and_then(|m| m.get("Policy"));
    if let Some(inner) = embedded {
        let ptr = Pointer::root().key("Policy");
        let at = locate(text, &ptr);
        let View::Str(doc) = inner.view() else {
            return Err(PolicyError {
                message: format!(
                    "`Policy` should be the key policy as a JSON string, found {}",
                    inner.type_name()
                ),
                pointer: ptr,
                position: at,
            });
        };
        let mut policy = parse_policy(doc, kind, name).map_err(|e| PolicyError {
            message: format!(
                "in the policy embedded in `Policy`{}: {}",
                e.position
                    .map(|p| format!(" (its line {}, column {})", p.line, p.column))
                    .unwrap_or_default(),
                e.message
            ),
            pointer: ptr.clone(),
            position: at,
        })?;
        policy.embedded_at = at;
        return Ok((policy, Some(doc.to_string())));
    }
    Parser {
        text,
        kind,
        findings: Vec::new(),
        index: std::cell::OnceCell::new(),
        locate: place,
    }
    .policy(value, name)
    .map(|p| (p, None))
}

/// The policy file's text as JSON, with syntax errors placed (an empty file says so).
pub fn parse_json(text: &str) -> Result<Value, PolicyError> {
    check_not_empty(text)?;
    serde_json::from_str(text).map_err(|e| syntax_error(&e))
}

/// The same, as the borrowing tree the parser reads.
fn parse_tree(text: &str) -> Result<Json<'_>, PolicyError> {
    check_not_empty(text)?;
    Json::parse(text).map_err(|e| syntax_error(&e))
}

fn check_not_empty(text: &str) -> Result<(), PolicyError> {
    if text.trim().is_empty() {
        return Err(PolicyError {
            message: "the file is empty: expected a JSON policy document".into(),
            pointer: Pointer::root(),
            position: None,
        });
    }
    Ok(())
}

fn syntax_error(e: &serde_json::Error) -> PolicyError {
    {
        let (message, position) = json_error(e);
        PolicyError {
            message: format!("invalid JSON: {message}"),
            pointer: Pointer::root(),
            position,
        }
    }
}

struct Parser<'t> {
    text: &'t str,
    kind: PolicyKind,
    findings: Vec<Finding>,
    /// Positions of the text's values, built once, when the first finding needs one.
    index: std::cell::OnceCell<Index>,
    /// Whether findings get a line and column.
    locate: bool,
}

/// Where the parser is in the document, built on the stack as it descends; a [`Pointer`]
/// (which allocates) is made only for a finding, an error or a statement's place.
#[derive(Debug, Clone, Copy)]
enum Path<'p> {
    Root,
    At(&'p Pointer),
    Key(&'p Path<'p>, &'p str),
    Index(&'p Path<'p>, usize),
}

impl<'p> Path<'p> {
    fn key<'q>(&'q self, k: &'q str) -> Path<'q> {
        Path::Key(self, k)
    }

    fn index(&'p self, i: usize) -> Path<'p> {
        Path::Index(self, i)
    }

    fn pointer(&self) -> Pointer {
        let mut steps = Vec::new();
        let mut at = self;
        let base = loop {
            match at {
                Path::Root => break Pointer::root(),
                Path::At(p) => break (*p).clone(),
                Path::Key(parent, k) => {
                    steps.push(super::locate::Step::Key((*k).to_string()));
                    at = parent;
                }
                Path::Index(parent, i) => {
                    steps.push(super::locate::Step::Index(*i));
                    at = parent;
                }
            }
        };
        let mut out = base;
        out.0.extend(steps.into_iter().rev());
        out
    }
}

impl Parser<'_> {
    fn error(&self, ptr: &Path<'_>, message: String) -> PolicyError {
        PolicyError {
            message,
            position: locate(self.text, &ptr.pointer()),
            pointer: ptr.pointer(),
        }
    }

    fn wrong_type(&self, ptr: &Path<'_>, expected: &str, found: Val<'_, '_>) -> PolicyError {
        self.error(
            ptr,
            format!("expected {expected}, found {}", found.type_name()),
        )
    }

    fn finding(&mut self, rule: &'static Rule, ptr: &Path<'_>, message: String) {
        let mut f = Finding::new(rule, message);
        let pointer = ptr.pointer().to_string();
        if self.locate {
            f.position = self
                .index
                .get_or_init(|| Index::new(self.text))
                .position(self.text, &pointer);
        }
        f.pointer = Some(pointer);
        self.findings.push(f);
    }

    fn string(&self, v: Val<'_, '_>, ptr: &Path<'_>) -> Result<String, PolicyError> {
        match v.view() {
            View::Str(s) => Ok(s.to_string()),
            _ => Err(self.wrong_type(ptr, "a string", v)),
        }
    }

    /// A string or an array of strings.
    fn strings(&mut self, v: Val<'_, '_>, ptr: &Path<'_>) -> Result<Vec<String>, PolicyError> {
        match v.view() {
            View::Str(s) => Ok(vec![s.to_string()]),
            View::Array(items) => {
                if items.is_empty() {
                    self.finding(
                        EMPTY_LIST,
                        ptr,
                        "the list is empty: it matches nothing".into(),
                    );
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| match item.view() {
                        View::Str(s) => Ok(s.to_string()),
                        _ => Err(self.wrong_type(&ptr.index(i), "a string", item)),
                    })
                    .collect()
            }
            _ => Err(self.wrong_type(ptr, "a string or an array of strings", v)),
        }
    }

    fn policy(mut self, value: Val<'_, '_>, name: &str) -> Result<Policy, PolicyError> {
        let root = Path::Root;
        let View::Object(map) = value.view() else {
            return Err(self.wrong_type(&root, "a policy document (a JSON object)", value));
        };
        let size = self.text.len();
        if self.kind == PolicyKind::Key && size > KEY_POLICY_MAX_BYTES {
            self.finding(
                TOO_LARGE,
                &root,
                format!("the policy is {size} bytes; KMS accepts at most {KEY_POLICY_MAX_BYTES}"),
            );
        }
        let mut version = None;
        for (k, v) in map.iter() {
            let ptr = root.key(k);
            match k {
                "Version" => {
                    let s = self.string(v, &ptr)?;
                    if s != "2012-10-17" && s != "2008-10-17" {
                        self.finding(
                            BAD_VERSION,
                            &ptr,
                            format!("`{s}` is not a policy language version (use `2012-10-17`)"),
                        );
                    }
                    version = Some(s);
                }
                "Id" => {
                    self.string(v, &ptr)?;
                }
                "Statement" => {}
                other => self.finding(
                    UNKNOWN_ELEMENT,
                    &ptr,
                    format!("`{other}` is not a policy element; AWS rejects the policy"),
                ),
            }
        }
        let st_ptr = root.key("Statement");
        let statements = match map.get("Statement") {
            None => {
                self.finding(NO_STATEMENTS, &root, "the policy has no `Statement`".into());
                Vec::new()
            }
            Some(v) if v.as_object().is_some() => {
                vec![self.statement(v.as_object().expect("an object"), 0, st_ptr)?]
            }
            Some(v) if v.is_array() => {
                let View::Array(items) = v.view() else {
                    unreachable!("an array")
                };
                if items.is_empty() {
                    self.finding(NO_STATEMENTS, &st_ptr, "`Statement` is empty".into());
                }
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let ptr = st_ptr.index(i);
                    match item.view() {
                        View::Object(obj) => out.push(self.statement(obj, i, ptr)?),
                        _ => {
                            return Err(self.wrong_type(&ptr, "a statement (a JSON object)", item))
                        }
                    }
                }
                out
            }
            Some(other) => {
                return Err(self.wrong_type(
                    &st_ptr,
                    "a statement object or an array of statements",
                    other,
                ))
            }
        };
        let mut seen = std::collections::HashSet::with_capacity(statements.len());
        for s in &statements {
            if let Some(sid) = s.sid.as_deref().filter(|s| !s.is_empty()) {
                if !seen.insert(sid) {
                    let at = Path::At(&s.pointer);
                    let ptr = at.key("Sid");
                    self.finding(
                        DUPLICATE_SID,
                        &ptr,
                        format!("Sid `{sid}` is used by more than one statement"),
                    );
                }
            }
        }
        Ok(Policy {
            kind: self.kind,
            name: name.to_string(),
            version,
            statements,
            findings: self.findings,
            size,
            embedded_at: None,
        })
    }

    fn statement(
        &mut self,
        obj: Obj<'_, '_>,
        index: usize,
        ptr: Path<'_>,
    ) -> Result<Statement, PolicyError> {
        let mut valid = true;
        let mut sid = None;
        let mut effect = None;
        let mut principal: Option<PrincipalBlock> = None;
        let mut actions: Option<Patterns> = None;
        let mut resources: Option<Patterns> = None;
        let mut conditions = Vec::new();

        for (k, v) in obj.iter() {
            let p = ptr.key(k);
            match k {
                "Sid" => sid = Some(self.string(v, &p)?),
                "Effect" => {
                    let e = self.string(v, &p)?;
                    effect = Some(match e.as_str() {
                        "Allow" => Effect::Allow,
                        "Deny" => Effect::Deny,
                        _ => {
                            self.finding(
                                BAD_EFFECT,
                                &p,
                                format!("`Effect` must be `Allow` or `Deny`, not `{e}`"),
                            );
                            valid = false;
                            Effect::Invalid(e)
                        }
                    });
                }
                "Principal" | "NotPrincipal" => {
                    let negated = k == "NotPrincipal";
                    if principal.is_some() {
                        self.finding(
                            PRINCIPAL_AND_NOT_PRINCIPAL,
                            &ptr,
                            "a statement cannot have both `Principal` and `NotPrincipal`".into(),
                        );
                        valid = false;
                    }
                    let (entries, ok) = self.principal(v, &p)?;
                    valid &= ok;
                    principal = Some(PrincipalBlock { negated, entries });
                }
                "Action" | "NotAction" => {
                    if actions.is_some() {
                        self.finding(
                            ACTION_AND_NOT_ACTION,
                            &ptr,
                            "a statement cannot have both `Action` and `NotAction`".into(),
                        );
                        valid = false;
                    }
                    actions = Some(Patterns {
                        negated: k == "NotAction",
                        patterns: self.strings(v, &p)?,
                    });
                }
                "Resource" | "NotResource" => {
                    if resources.is_some() {
                        self.finding(
                            RESOURCE_AND_NOT_RESOURCE,
                            &ptr,
                            "a statement cannot have both `Resource` and `NotResource`".into(),
                        );
                        valid = false;
                    }
                    resources = Some(Patterns {
                        negated: k == "NotResource",
                        patterns: self.strings(v, &p)?,
                    });
                }
                "Condition" => {
                    let (c, ok) = self.conditions(v, &p)?;
                    conditions = c;
                    valid &= ok;
                }
                other => {
                    self.finding(
                        UNKNOWN_ELEMENT,
                        &p,
                        format!("`{other}` is not a statement element; AWS rejects the policy"),
                    );
                }
            }
        }

        let effect = match effect {
            Some(e) => e,
            None => {
                self.finding(BAD_EFFECT, &ptr, "the statement has no `Effect`".into());
                valid = false;
                Effect::Invalid(String::new())
            }
        };
        if actions.is_none() {
            self.finding(
                NO_ACTION,
                &ptr,
                "the statement has neither `Action` nor `NotAction`; KMS rejects such statements"
                    .into(),
            );
            valid = false;
        }
        if resources.is_none() {
            self.finding(
                NO_RESOURCE,
                &ptr,
                "the statement has neither `Resource` nor `NotResource`; KMS rejects such statements".into(),
            );
            valid = false;
        }
        match (self.kind, &principal) {
            (PolicyKind::Key | PolicyKind::ResourceControl, None) => {
                self.finding(
                    NO_PRINCIPAL,
                    &ptr,
                    if self.kind == PolicyKind::Key {
                        "a key policy statement needs a `Principal` or `NotPrincipal`".into()
                    } else {
                        "a resource control policy statement needs a `Principal` (`\"*\"`)".into()
                    },
                );
                valid = false;
            }
            (PolicyKind::Identity, Some(_)) => {
                self.finding(
                    PRINCIPAL_IN_IDENTITY_POLICY,
                    &ptr,
                    "an IAM identity policy statement cannot name a principal".into(),
                );
                valid = false;
            }
            (_, Some(PrincipalBlock { negated: true, .. })) if effect == Effect::Allow => {
                self.finding(
                    NOT_PRINCIPAL_WITH_ALLOW,
                    &ptr.key("NotPrincipal"),
                    "`NotPrincipal` with `Allow` allows everyone but the listed principals".into(),
                );
            }
            _ => {}
        }
        Ok(Statement {
            index,
            sid,
            effect,
            principal,
            actions,
            resources,
            conditions,
            pointer: ptr.pointer(),
            valid,
        })
    }

    /// Parses a `Principal` value; the flag is false when AWS would reject it.
    fn principal(
        &mut self,
        v: Val<'_, '_>,
        ptr: &Path<'_>,
    ) -> Result<(Vec<PrincipalEntry>, bool), PolicyError> {
        let map = match v.view() {
            View::Str("*") => return Ok((vec![PrincipalEntry::Everyone], true)),
            View::Str(s) => {
                self.finding(
                    INVALID_PRINCIPAL,
                    ptr,
                    format!(
                        "a principal given as a string must be `*`; write {{\"AWS\": \"{s}\"}}"
                    ),
                );
                return Ok((vec![PrincipalEntry::Invalid(s.to_string())], false));
            }
            View::Object(map) => map,
            _ => return Err(self.wrong_type(ptr, "`*` or an object such as {\"AWS\": ...}", v)),
        };
        let mut entries = Vec::new();
        let mut ok = true;
        for (kind, vals) in map.iter() {
            let p = ptr.key(kind);
            let values = self.strings(vals, &p)?;
            for (i, val) in values.iter().enumerate() {
                let vp = if vals.is_array() { p.index(i) } else { p };
                let entry = match kind {
                    "AWS" => PrincipalEntry::from_aws_value(val),
                    "Service" => PrincipalEntry::Service(val.clone()),
                    "Federated" => PrincipalEntry::Federated(val.clone()),
                    "CanonicalUser" => PrincipalEntry::CanonicalUser(val.clone()),
                    other => {
                        self.finding(
                            INVALID_PRINCIPAL,
                            &p,
                            format!("`{other}` is not a principal type (AWS, Service, Federated, CanonicalUser)"),
                        );
                        ok = false;
                        PrincipalEntry::Invalid(val.clone())
                    }
                };
                match &entry {
                    PrincipalEntry::UniqueId(id) => self.finding(
                        UNIQUE_ID_PRINCIPAL,
                        &vp,
                        format!(
                            "`{id}` is the unique id of a deleted principal; it matches nobody, and KMS rejects a new policy that names it"
                        ),
                    ),
                    PrincipalEntry::Invalid(s) if kind == "AWS" => {
                        self.finding(
                            INVALID_PRINCIPAL,
                            &vp,
                            format!("`{s}` is not a valid AWS principal (an account id, or a user, role, or session ARN without wildcards)"),
                        );
                    }
                    _ => {}
                }
                entries.push(entry);
            }
        }
        Ok((entries, ok))
    }

    fn conditions(
        &mut self,
        v: Val<'_, '_>,
        ptr: &Path<'_>,
    ) -> Result<(Vec<Clause>, bool), PolicyError> {
        let View::Object(ops) = v.view() else {
            return Err(self.wrong_type(ptr, "an object of condition operators", v));
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (op_name, keys) in ops.iter() {
            let op_ptr = ptr.key(op_name);
            let View::Object(keys_obj) = keys.view() else {
                return Err(self.wrong_type(&op_ptr, "an object of condition keys", keys));
            };
            let operator = Operator::parse(op_name);
            if operator.is_none() {
                self.finding(
                    BAD_OPERATOR,
                    &op_ptr,
                    format!("`{op_name}` is not a condition operator"),
                );
                ok = false;
            }
            for (key, vals) in keys_obj.iter() {
                let kp = op_ptr.key(key);
                let values = self.condition_values(vals, &kp)?;
                if let Some(operator) = operator {
                    out.push(Clause {
                        operator_name: op_name.to_string(),
                        operator,
                        key: key.to_string(),
                        values,
                    });
                }
            }
        }
        Ok((out, ok))
    }

    fn condition_values(
        &mut self,
        v: Val<'_, '_>,
        ptr: &Path<'_>,
    ) -> Result<Vec<String>, PolicyError> {
        let scalar = |this: &Self, p: &Path<'_>, v: Val<'_, '_>| -> Result<String, PolicyError> {
            match v.view() {
                View::Str(s) => Ok(s.to_string()),
                View::Bool(b) => Ok(b.to_string()),
                View::Number(n) => Ok(n.to_string()),
                _ => Err(this.wrong_type(p, "a string, number or boolean", v)),
            }
        };
        match v.view() {
            View::Array(items) => {
                if items.is_empty() {
                    self.finding(
                        EMPTY_LIST,
                        ptr,
                        "the list of condition values is empty".into(),
                    );
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(i, it)| scalar(self, &ptr.index(i), it))
                    .collect()
            }
            _ => Ok(vec![scalar(self, ptr, v)?]),
        }
    }
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
