//! What an evaluation produces: the decision, the requirements of a conditional one, and
//! the record of how each statement matched. The evaluator (`mod.rs`) and the statement
//! matcher (`matching.rs`) both write these.

use serde::Serialize;

use crate::analysis::condition::{self, Clause, Truth};
use crate::analysis::policy::Effect;
use crate::analysis::principal::PrincipalMatch;
use crate::analysis::reference::{serialize_labels, StatementRef};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allowed,
    ImplicitDeny,
    ExplicitDeny,
    Conditional,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::ImplicitDeny => "implicit_deny",
            Decision::ExplicitDeny => "explicit_deny",
            Decision::Conditional => "conditional",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequirementKind {
    /// A condition clause must hold for the request.
    Condition,
    /// An IAM identity policy of the caller must allow the action.
    IamPolicy,
    /// The key's ARN must match a `Resource` pattern.
    Resource,
    /// The request must come from one particular role session.
    Session,
}

/// Something the request must satisfy; `text` says it in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Requirement {
    pub kind: RequirementKind,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// True when the requirement is that this must *not* hold (it comes from a Deny).
    pub negated: bool,
}

impl Requirement {
    pub(super) fn from_clause(c: &Clause) -> Requirement {
        Requirement {
            kind: RequirementKind::Condition,
            text: condition::describe(c),
            key: Some(c.key.to_string()),
            operator: Some(c.operator_name.to_string()),
            values: c.values.iter().map(|v| v.to_string()).collect(),
            negated: false,
        }
    }

    pub(super) fn plain(kind: RequirementKind, text: String, values: Vec<String>) -> Requirement {
        Requirement {
            kind,
            text,
            key: None,
            operator: None,
            values,
            negated: false,
        }
    }

    /// Whether `other` is this requirement negated, without building the negation's words:
    /// a condition's words follow from its key, operator and values.
    pub(crate) fn contradicts(&self, other: &Requirement) -> bool {
        if self.kind == RequirementKind::Condition && other.kind == RequirementKind::Condition {
            self.negated != other.negated
                && self.key == other.key
                && self.operator == other.operator
                && self.values == other.values
        } else {
            *other == self.negate()
        }
    }

    pub(crate) fn negate(&self) -> Requirement {
        let mut r = self.clone();
        r.negated = !r.negated;
        // A condition is said from its clause both ways: held (`describe`), or not held
        // without a double negation (`describe_not`).
        let clause = match (&self.key, &self.operator) {
            (Some(k), Some(o)) if self.kind == RequirementKind::Condition => {
                condition::Operator::parse(o).map(|operator| Clause {
                    operator_name: o.as_str().into(),
                    operator,
                    key: k.as_str().into(),
                    values: self.values.iter().map(|v| v.as_str().into()).collect(),
                })
            }
            _ => None,
        };
        let worded = clause.as_ref().and_then(|c| {
            if r.negated {
                condition::describe_not(c)
            } else {
                Some(condition::describe(c))
            }
        });
        r.text = match worded {
            Some(t) => t,
            None => match self.text.strip_prefix("not (") {
                Some(inner) if self.negated => inner.trim_end_matches(')').to_string(),
                _ => format!("not ({})", self.text),
            },
        };
        r
    }
}

/// How one element of a statement (principal, action, resource) relates to the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ElementMatch {
    pub result: Truth,
    #[serde(rename = "match", skip_serializing_if = "Option::is_none")]
    pub principal_match: Option<PrincipalMatch>,
    pub explanation: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConditionRecord {
    pub operator: String,
    pub key: String,
    pub values: Vec<String>,
    pub result: Truth,
    pub explanation: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every element matches: the statement applies to the request.
    Applies,
    DoesNotApply,
    /// Applies if the statement's requirements hold.
    AppliesIf,
    /// AWS would reject the statement; it took no part.
    Invalid,
}

/// One statement's match record: what matched, what did not, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementRecord {
    pub statement: StatementRef,
    pub effect: Effect,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<ElementMatch>,
    pub action: Option<ElementMatch>,
    pub resource: Option<ElementMatch>,
    pub conditions: Vec<ConditionRecord>,
    /// When the outcome is `applies_if`: what must hold.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requirements: Vec<Requirement>,
}

/// One way the request can be allowed: all requirements hold. `via` names the statements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alternative {
    pub all_of: Vec<Requirement>,
    #[serde(serialize_with = "serialize_labels")]
    pub via: Vec<StatementRef>,
}

impl Alternative {
    /// Each alternative's requirements in words (`A and B`), empty ones left out: what the
    /// reports and the plan say a principal needs.
    pub fn words(alternatives: &[Alternative]) -> Vec<String> {
        alternatives
            .iter()
            .map(|alt| {
                alt.all_of
                    .iter()
                    .map(|r| r.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" and ")
            })
            .filter(|s| !s.is_empty())
            .collect()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub decision: Decision,
    /// Ids of the statements that decided: the Denies for `explicit_deny`, the Allows (and
    /// for `conditional` the Denies whose conditions are unknown) otherwise.
    #[serde(serialize_with = "serialize_labels")]
    pub deciding_statements: Vec<StatementRef>,
    /// For `conditional`: any one alternative suffices.
    pub requirements: Vec<Alternative>,
    pub notes: Vec<String>,
    pub statements: Vec<StatementRecord>,
}

/// Whether to write explanations (which cost allocations) into match records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Detail {
    Explain,
    Quiet,
}

impl Detail {
    pub(super) fn say(self, f: impl FnOnce() -> String) -> String {
        match self {
            Detail::Explain => f(),
            Detail::Quiet => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(key: &str, op: &str, value: &str) -> Requirement {
        Requirement {
            kind: RequirementKind::Condition,
            text: format!("{key} {op} {value}"),
            key: Some(key.into()),
            operator: Some(op.into()),
            values: vec![value.into()],
            negated: false,
        }
    }

    /// A requirement and its negation contradict; any other difference does not.
    #[test]
    fn a_requirement_contradicts_its_negation_only() {
        let r = cond("aws:PrincipalTag/team", "StringEquals", "security");
        assert!(r.contradicts(&r.negate()));
        assert!(r.negate().contradicts(&r));
        assert!(!r.contradicts(&r));
        let other_key = cond("aws:PrincipalTag/unit", "StringEquals", "security").negate();
        let other_op = cond("aws:PrincipalTag/team", "StringLike", "security").negate();
        let other_value = cond("aws:PrincipalTag/team", "StringEquals", "dev").negate();
        for o in [&other_key, &other_op, &other_value] {
            assert!(!r.contradicts(o), "{o:?}");
        }
        // A requirement of another kind is compared with its negation's words.
        let iam = Requirement::plain(
            RequirementKind::IamPolicy,
            "an IAM policy allows".into(),
            vec![],
        );
        assert!(iam.contradicts(&iam.negate()));
        assert!(!iam.contradicts(&r.negate()));
        assert!(!r.contradicts(&iam.negate()));
    }
}
