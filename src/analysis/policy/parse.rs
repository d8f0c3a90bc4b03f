//! The exact parser: every input, every finding, every error with its place.

use super::{
    Clause, Effect, Patterns, Policy, PolicyError, PolicyKind, PrincipalBlock, Statement, Text,
    KEY_POLICY_MAX_BYTES,
};
use crate::analysis::condition::Operator;
use crate::analysis::json::{Items, Json, Obj, Val, View};
use crate::analysis::locate::{json_error, locate, Index, Pointer, Step};
use crate::analysis::principal::PrincipalEntry;
use crate::analysis::rules::{
    Finding, Rule, ACTION_AND_NOT_ACTION, BAD_EFFECT, BAD_OPERATOR, BAD_VERSION, DUPLICATE_SID,
    EMPTY_LIST, INVALID_PRINCIPAL, NOT_PRINCIPAL_WITH_ALLOW, NO_ACTION, NO_PRINCIPAL, NO_RESOURCE,
    NO_STATEMENTS, PRINCIPAL_AND_NOT_PRINCIPAL, PRINCIPAL_IN_IDENTITY_POLICY,
    RESOURCE_AND_NOT_RESOURCE, TOO_LARGE, UNIQUE_ID_PRINCIPAL, UNKNOWN_ELEMENT,
};
use serde_json::Value;

pub(super) fn with_json(
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
        // The embedded document by this parser too (the one-pass reader reads the same
        // policy, and the way in through it would make the two call each other).
        let embedded = parse_tree(doc)
            .and_then(|tree| with_json(tree.root(), doc, kind, name, true))
            .map(|(p, _)| p);
        let mut policy = embedded.map_err(|e| PolicyError {
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
    policy(value, text, kind, name, place).map(|p| (p, None))
}

/// The policy of a parsed document (`text` is its source, for positions; `locate`: whether
/// findings get a line and column).
pub(super) fn policy(
    value: Val<'_, '_>,
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
    .policy(value, name)
}

/// The policy file's text as JSON, with syntax errors placed (an empty file says so).
pub fn parse_json(text: &str) -> Result<Value, PolicyError> {
    check_not_empty(text)?;
    serde_json::from_str(text).map_err(|e| syntax_error(&e))
}

/// The same, as the borrowing tree the parser reads.
pub(super) fn parse_tree(text: &str) -> Result<Json<'_>, PolicyError> {
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

/// A checked string or array of strings (see [`Parser::string_list`]).
#[derive(Clone, Copy)]
enum StrList<'t, 'a> {
    One(&'t str),
    Many(Items<'t, 'a>),
}

impl<'t> StrList<'t, '_> {
    fn len(self) -> usize {
        match self {
            StrList::One(_) => 1,
            StrList::Many(items) => items.len(),
        }
    }

    /// Each string, with its index when the value is an array.
    fn iter(self) -> impl Iterator<Item = (&'t str, Option<usize>)> {
        let (one, many) = match self {
            StrList::One(s) => (Some((s, None)), None),
            StrList::Many(items) => (None, Some(items)),
        };
        one.into_iter().chain(
            many.into_iter()
                .flat_map(|items| items.iter())
                .enumerate()
                .map(|(i, v)| (v.as_str().unwrap_or_default(), Some(i))),
        )
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
                    steps.push(Step::Key((*k).into()));
                    at = parent;
                }
                Path::Index(parent, i) => {
                    steps.push(Step::Index(*i));
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
        let steps = ptr.pointer();
        f.in_statement = steps.statement_index();
        let pointer = steps.to_string();
        if self.locate {
            f.position = self
                .index
                .get_or_init(|| Index::new(self.text))
                .position(self.text, &pointer);
        }
        f.pointer = Some(pointer);
        self.findings.push(f);
    }

    fn string<'v>(&self, v: Val<'v, '_>, ptr: &Path<'_>) -> Result<&'v str, PolicyError> {
        match v.view() {
            View::Str(s) => Ok(s),
            _ => Err(self.wrong_type(ptr, "a string", v)),
        }
    }

    /// A string or an array of strings.
    fn strings(&mut self, v: Val<'_, '_>, ptr: &Path<'_>) -> Result<Vec<Text>, PolicyError> {
        let list = self.string_list(v, ptr)?;
        let mut out = Vec::with_capacity(list.len());
        out.extend(list.iter().map(|(s, _)| Text::from(s)));
        Ok(out)
    }

    /// A string or an array of strings, checked, for reading without copies.
    fn string_list<'t, 'a>(
        &mut self,
        v: Val<'t, 'a>,
        ptr: &Path<'_>,
    ) -> Result<StrList<'t, 'a>, PolicyError> {
        match v.view() {
            View::Str(s) => Ok(StrList::One(s)),
            View::Array(items) => {
                if items.is_empty() {
                    self.finding(
                        EMPTY_LIST,
                        ptr,
                        "the list is empty: it matches nothing".into(),
                    );
                }
                for (i, item) in items.iter().enumerate() {
                    if item.as_str().is_none() {
                        return Err(self.wrong_type(&ptr.index(i), "a string", item));
                    }
                }
                Ok(StrList::Many(items))
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
                    version = Some(s.to_string());
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
                "Sid" => sid = Some(Text::from(self.string(v, &p)?)),
                "Effect" => {
                    let e = self.string(v, &p)?;
                    effect = Some(match e {
                        "Allow" => Effect::Allow,
                        "Deny" => Effect::Deny,
                        _ => {
                            self.finding(
                                BAD_EFFECT,
                                &p,
                                format!("`Effect` must be `Allow` or `Deny`, not `{e}`"),
                            );
                            valid = false;
                            Effect::Invalid(e.to_string())
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
                "the statement has neither `Action` nor `NotAction`: it has no effect (KMS accepts the policy, but the statement grants and denies nothing)"
                    .into(),
            );
            valid = false;
        }
        if resources.is_none() {
            self.finding(
                NO_RESOURCE,
                &ptr,
                "the statement has neither `Resource` nor `NotResource`: it has no effect (KMS accepts the policy, but the statement grants and denies nothing)".into(),
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
                return Ok((vec![PrincipalEntry::Invalid(Text::from(s))], false));
            }
            View::Object(map) => map,
            _ => return Err(self.wrong_type(ptr, "`*` or an object such as {\"AWS\": ...}", v)),
        };
        let mut entries = Vec::new();
        let mut ok = true;
        for (kind, vals) in map.iter() {
            let p = ptr.key(kind);
            let values = self.string_list(vals, &p)?;
            entries.reserve(values.len());
            for (val, i) in values.iter() {
                let vp = match i {
                    Some(i) => p.index(i),
                    None => p,
                };
                let entry = match kind {
                    "AWS" => PrincipalEntry::from_aws_value(val),
                    "Service" => PrincipalEntry::Service(Text::from(val)),
                    "Federated" => PrincipalEntry::Federated(Text::from(val)),
                    "CanonicalUser" => PrincipalEntry::CanonicalUser(Text::from(val)),
                    other => {
                        self.finding(
                            INVALID_PRINCIPAL,
                            &p,
                            format!("`{other}` is not a principal type (AWS, Service, Federated, CanonicalUser)"),
                        );
                        ok = false;
                        PrincipalEntry::Invalid(Text::from(val))
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
                        operator_name: Text::from(op_name),
                        operator,
                        key: Text::from(key),
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
    ) -> Result<Vec<Text>, PolicyError> {
        let scalar = |this: &Self, p: &Path<'_>, v: Val<'_, '_>| -> Result<Text, PolicyError> {
            match v.view() {
                View::Str(s) => Ok(Text::from(s)),
                View::Bool(b) => Ok(Text::from(if b { "true" } else { "false" })),
                View::Number(n) => Ok(Text::from(n.to_string())),
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
