//! Principal classes: sets of principals described by conditions rather than named one by
//! one ("roles whose ARN matches `role/ops-*`", "IAM users", "principals tagged
//! `team=security`"). A recovery is possible for whoever can create or tag such a principal.
//!
//! Each requirement of an alternative, for one kind of IAM principal (a user, or a role
//! session), is judged against every principal of that kind in the account:
//! - it holds for all of them, or it only excludes some (a negated match, an absent tag:
//!   a principal without the attribute qualifies): it singles nobody out;
//! - it holds for none of them: the alternative is impossible for that kind;
//! - it includes some: the alternative describes a class.
//!
//! Patterns are compared exactly (`pattern::prefix_relation`), with the same segment rules as
//! the evaluator's `ArnLike`. Source for the keys' values: IAM User Guide, "AWS global
//! condition context keys" (`aws:PrincipalArn` of a role session is the role's ARN;
//! `aws:username` exists for IAM users only; `aws:PrincipalTag/*` holds the principal's tags).

use serde::Serialize;

use super::condition::{Base, Operator};
use super::condition_keys::{role, Role};
use super::eval::{Alternative, Requirement, RequirementKind};
use super::pattern::{prefix_relation, wildcard_match, Relation};

/// A kind of IAM principal that a person can create and give IAM policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An IAM user (`aws:PrincipalType` `User`).
    User,
    /// A session of an IAM role (`aws:PrincipalType` `AssumedRole`).
    Role,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Role, Kind::User];

    /// `aws:PrincipalType` for this kind.
    pub fn principal_type(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Role => "AssumedRole",
        }
    }

    /// What `aws:PrincipalArn` starts with for this kind in `account`.
    pub fn arn_prefix(self, partition: &str, account: &str) -> String {
        match self {
            Kind::User => format!("arn:{partition}:iam::{account}:user/"),
            Kind::Role => format!("arn:{partition}:iam::{account}:role/"),
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Kind::User => "IAM users",
            Kind::Role => "sessions of IAM roles",
        }
    }
}

/// A set of principals described by conditions, and what it takes to become one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrincipalClass {
    pub kind: Kind,
    /// In words: "sessions of IAM roles of 111122223333 for which: aws:PrincipalArn matches ...".
    pub description: String,
    /// The conditions that single the class out, in words.
    pub conditions: Vec<String>,
    /// What it takes to become one.
    pub how: String,
}

/// How an alternative stands for one kind of principal.
#[derive(Debug, Clone, PartialEq)]
pub enum Standing {
    /// Any principal of the kind meets it (perhaps after arranging MFA, an address...).
    Generic,
    /// Only the principals these requirements describe.
    Class(Vec<Requirement>),
    /// No principal of the kind ever meets it.
    Impossible,
    /// It rests on something kmsdoctor cannot judge for a class (a session name, a key it
    /// does not know).
    Unclassified,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum One {
    Generic,
    Include,
    Impossible,
    Unclassified,
}

fn complement(r: Relation) -> Relation {
    match r {
        Relation::All => Relation::None,
        Relation::None => Relation::All,
        Relation::Some => Relation::Some,
    }
}

/// `ArnLike`/`ArnEquals`: six colon-separated parts, each a wildcard of its own (as the
/// evaluator matches them), against `prefix` + a non-empty rest.
fn arn_relation(pattern: &str, prefix: &str) -> Relation {
    if pattern == "*" {
        return Relation::All;
    }
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let f: Vec<&str> = prefix.splitn(6, ':').collect();
    if p.len() != 6 || f.len() != 6 {
        return Relation::None;
    }
    if (0..5).any(|i| !wildcard_match(p[i], f[i], false)) {
        return Relation::None;
    }
    prefix_relation(p[5], f[5], false)
}

/// The relation of a positive match of `values` (OR) with the principals of the kind.
fn positive_relation(base: Base, values: &[String], prefix: &str) -> Option<Relation> {
    let one = |v: &String| -> Relation {
        match base {
            Base::StringLike => prefix_relation(v, prefix, false),
            Base::ArnLike | Base::ArnEquals => arn_relation(v, prefix),
            Base::StringEquals | Base::StringEqualsIgnoreCase => {
                let starts = if base == Base::StringEquals {
                    v.starts_with(prefix)
                } else {
                    v.to_lowercase().starts_with(&prefix.to_lowercase())
                };
                if starts && v.len() > prefix.len() {
                    Relation::Some
                } else {
                    Relation::None
                }
            }
            _ => Relation::Some,
        }
    };
    let rels: Vec<Relation> = values.iter().map(one).collect();
    Some(if rels.contains(&Relation::All) {
        Relation::All
    } else if rels.iter().all(|r| *r == Relation::None) {
        Relation::None
    } else {
        Relation::Some
    })
}

/// The positive form of a (possibly negated) base operator.
fn positive_of(base: Base) -> Option<(Base, bool)> {
    Some(match base {
        Base::StringEquals | Base::StringLike | Base::ArnEquals | Base::ArnLike => (base, false),
        Base::StringEqualsIgnoreCase => (base, false),
        Base::StringNotEquals => (Base::StringEquals, true),
        Base::StringNotEqualsIgnoreCase => (Base::StringEqualsIgnoreCase, true),
        Base::StringNotLike => (Base::StringLike, true),
        Base::ArnNotEquals => (Base::ArnEquals, true),
        Base::ArnNotLike => (Base::ArnLike, true),
        _ => return None,
    })
}

fn judge(r: &Requirement, kind: Kind, partition: &str, account: &str) -> One {
    match r.kind {
        RequirementKind::IamPolicy | RequirementKind::Resource => return One::Generic,
        RequirementKind::Session => return One::Unclassified,
        RequirementKind::Condition => {}
    }
    let Some(key) = r.key.as_deref() else {
        return One::Unclassified;
    };
    match role(key) {
        Some(Role::Arrangeable | Role::Account | Role::Key | Role::Time) => return One::Generic,
        Some(Role::Principal) => {}
        _ => return One::Unclassified,
    }
    let Some(op) = r.operator.as_deref().and_then(Operator::parse) else {
        return One::Unclassified;
    };
    let lower = key.to_ascii_lowercase();
    if lower.starts_with("aws:principaltag/") {
        // A principal without the tag qualifies when the requirement holds for an absent key.
        let absent_qualifies = match op.base {
            Base::Null => r.values.iter().any(|v| v.eq_ignore_ascii_case("true")),
            b => match positive_of(b) {
                Some((_, negated_op)) => negated_op || op.if_exists,
                None => return One::Unclassified,
            },
        } != r.negated;
        return if absent_qualifies {
            One::Generic
        } else {
            One::Include
        };
    }
    let prefix = match lower.as_str() {
        "aws:principalarn" => kind.arn_prefix(partition, account),
        "aws:username" if kind == Kind::User => String::new(),
        // Unique ids: `AIDA...` for a user, `AROA...:SESSION` for a role session (IAM User
        // Guide, "Unique identifiers"); never the account id, which is the root user's.
        "aws:userid" => match kind {
            Kind::User => "AIDA".to_string(),
            Kind::Role => "AROA".to_string(),
        },
        _ => return One::Unclassified,
    };
    // The key is always present for the kind: IfExists and the set operators change nothing.
    let (relation, exclusion) = match op.base {
        Base::Null => {
            let want_absent = r.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            (
                if want_absent {
                    Relation::None
                } else {
                    Relation::All
                },
                false,
            )
        }
        b => {
            let Some((positive, negated_op)) = positive_of(b) else {
                return One::Unclassified;
            };
            let Some(rel) = positive_relation(positive, &r.values, &prefix) else {
                return One::Unclassified;
            };
            if negated_op {
                (complement(rel), true)
            } else {
                (rel, false)
            }
        }
    };
    let (relation, exclusion) = if r.negated {
        (complement(relation), !exclusion)
    } else {
        (relation, exclusion)
    };
    match relation {
        Relation::All => One::Generic,
        Relation::None => One::Impossible,
        Relation::Some if exclusion => One::Generic,
        Relation::Some => One::Include,
    }
}

/// How an alternative stands for principals of `kind` in `account`.
pub fn standing(alt: &Alternative, kind: Kind, partition: &str, account: &str) -> Standing {
    let mut includes = Vec::new();
    let mut unclassified = false;
    for r in &alt.all_of {
        match judge(r, kind, partition, account) {
            One::Generic => {}
            One::Include => includes.push(r.clone()),
            One::Impossible => return Standing::Impossible,
            One::Unclassified => unclassified = true,
        }
    }
    if unclassified {
        Standing::Unclassified
    } else if includes.is_empty() {
        Standing::Generic
    } else {
        Standing::Class(includes)
    }
}

/// A requirement in words, without a double negation: `not (X is not V)` reads `X is V`.
fn phrase(r: &Requirement) -> String {
    let positive = r
        .operator
        .as_deref()
        .and_then(Operator::parse)
        .and_then(|op| positive_of(op.base).map(|(b, negated_op)| (op, b, negated_op)))
        .filter(|(_, _, negated_op)| *negated_op && r.negated);
    match (positive, &r.key) {
        (Some((op, base, _)), Some(key)) => super::condition::describe(&super::condition::Clause {
            operator_name: base.name().into(),
            operator: Operator {
                set: op.set,
                base,
                if_exists: false,
            },
            key: key.into(),
            values: r.values.iter().map(Into::into).collect(),
        }),
        _ => r.text.clone(),
    }
}

/// Whether the requirements name principals one by one (literal ARNs in `aws:PrincipalArn`
/// conditions): those are named administrators, not a class.
pub fn names_principals(includes: &[Requirement]) -> bool {
    !includes.is_empty()
        && includes.iter().all(|r| {
            r.key
                .as_deref()
                .is_some_and(|k| k.eq_ignore_ascii_case("aws:PrincipalArn"))
                && r.values.iter().all(|v| !v.contains(['*', '?']))
                && r.operator
                    .as_deref()
                    .and_then(Operator::parse)
                    .and_then(|op| positive_of(op.base))
                    .is_some_and(|(_, negated_op)| negated_op == r.negated)
        })
}

/// The class the requirements of a [`Standing::Class`] describe.
pub fn class_of(kind: Kind, account: &str, includes: &[Requirement]) -> PrincipalClass {
    let conditions: Vec<String> = includes.iter().map(phrase).collect();
    let mut how: Vec<String> = Vec::new();
    for r in includes {
        let key = r.key.as_deref().unwrap_or_default().to_ascii_lowercase();
        let step = if key == "aws:principalarn" {
            match kind {
                Kind::Role => {
                    "create a role whose ARN meets it (iam:CreateRole), or use one that exists"
                }
                Kind::User => {
                    "create a user whose ARN meets it (iam:CreateUser), or use one that exists"
                }
            }
        } else if key == "aws:username" {
            "create a user whose name meets it (iam:CreateUser), or use one that exists"
        } else if key.starts_with("aws:principaltag/") {
            match kind {
                Kind::Role => "tag a role so that it meets it (iam:TagRole)",
                Kind::User => "tag a user so that it meets it (iam:TagUser)",
            }
        } else {
            "arrange a principal that meets it"
        };
        if !how.iter().any(|h| h == step) {
            how.push(step.to_string());
        }
    }
    PrincipalClass {
        kind,
        description: if conditions.is_empty() {
            format!("any of the {} of {account}", kind.plural())
        } else {
            format!(
                "{} of {account} for which {}",
                kind.plural(),
                conditions.join(" and ")
            )
        },
        conditions,
        how: if how.is_empty() {
            match kind {
                Kind::Role => {
                    "assume a role of the account (create one with iam:CreateRole if need be)"
                        .into()
                }
                Kind::User => {
                    "use an IAM user of the account (create one with iam:CreateUser if need be)"
                        .into()
                }
            }
        } else {
            how.join("; ")
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(key: &str, op: &str, values: &[&str], negated: bool) -> Alternative {
        Alternative {
            all_of: vec![Requirement {
                kind: RequirementKind::Condition,
                text: format!("{key} {op} {values:?}"),
                key: Some(key.into()),
                operator: Some(op.into()),
                values: values.iter().map(|v| v.to_string()).collect(),
                negated,
            }],
            via: vec![],
        }
    }

    const A: &str = "111122223333";

    fn role(alt: &Alternative) -> Standing {
        standing(alt, Kind::Role, "aws", A)
    }

    #[test]
    fn a_role_pattern_is_a_class_of_roles_and_impossible_for_users() {
        let a = req(
            "aws:PrincipalArn",
            "ArnLike",
            &["arn:aws:iam::111122223333:role/ops-*"],
            false,
        );
        assert!(matches!(role(&a), Standing::Class(_)));
        assert_eq!(standing(&a, Kind::User, "aws", A), Standing::Impossible);
    }

    #[test]
    fn excluding_some_principals_singles_nobody_out() {
        // From a Deny when aws:PrincipalArn matches role/contractor-*: not (matches).
        let a = req(
            "aws:PrincipalArn",
            "ArnLike",
            &["arn:aws:iam::111122223333:role/contractor-*"],
            true,
        );
        assert_eq!(role(&a), Standing::Generic);
        // Sparing only KeyAdmin-* roles (Deny when ArnNotLike): the survivors are a class.
        let b = req(
            "aws:PrincipalArn",
            "ArnNotLike",
            &["arn:aws:iam::111122223333:role/KeyAdmin-*"],
            true,
        );
        assert!(matches!(role(&b), Standing::Class(_)));
    }

    #[test]
    fn every_role_matches_role_star() {
        let a = req(
            "aws:PrincipalArn",
            "ArnLike",
            &["arn:aws:iam::111122223333:role/*"],
            false,
        );
        assert_eq!(role(&a), Standing::Generic);
        let other = req(
            "aws:PrincipalArn",
            "ArnLike",
            &["arn:aws:iam::444455556666:role/*"],
            false,
        );
        assert_eq!(role(&other), Standing::Impossible);
    }

    #[test]
    fn tags_and_user_names() {
        let tagged = req(
            "aws:PrincipalTag/team",
            "StringEquals",
            &["security"],
            false,
        );
        assert!(matches!(role(&tagged), Standing::Class(_)));
        let not_contractor = req(
            "aws:PrincipalTag/team",
            "StringEquals",
            &["contractor"],
            true,
        );
        assert_eq!(role(&not_contractor), Standing::Generic);
        let not_root = req("aws:userid", "StringEquals", &["111122223333"], true);
        assert_eq!(role(&not_root), Standing::Generic);
        let alice = req("aws:username", "StringEquals", &["alice"], false);
        assert!(matches!(
            standing(&alice, Kind::User, "aws", A),
            Standing::Class(_)
        ));
        let c = class_of(Kind::User, A, &alice.all_of);
        assert!(c.how.contains("iam:CreateUser"), "{}", c.how);
    }
}
