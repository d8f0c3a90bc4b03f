//! The evaluator: decides a request `(caller, action, resource, context)` against a key policy
//! and, optionally, the caller's IAM identity policies, by KMS's rules:
//!
//! - a key policy statement that names the caller (or `*`) allows by itself within the key's
//!   account; one that names the caller's *account* only delegates: IAM policies must allow
//!   too (the root user needs none);
//! - a caller from another account needs the key policy *and* its own IAM policies, and only
//!   for the operations KMS allows across accounts;
//! - account-wide operations (ListKeys, CreateKey...) and alias resources are IAM's alone;
//! - an explicit Deny in any policy wins.
//!
//! Evaluation is three-valued: a condition on a key the context does not know yields "applies
//! if ...". The decision is then `conditional`, with the alternatives that would allow the
//! request, each a list of requirements that must all hold.

use super::context::Lookup;
use super::policy::{Effect, Policy};
use super::principal::{Caller, PrincipalMatch};
use super::reference::dedup;
pub use super::reference::StatementRef;

/// The most alternatives a conditional decision lists.
pub(crate) const MAX_ALTERNATIVES: usize = 64;

mod matching;
mod outcome;
mod request;

use matching::statement_record;
use outcome::Detail;
pub use outcome::{
    Alternative, ConditionRecord, Decision, ElementMatch, Evaluation, Outcome, Requirement,
    RequirementKind, StatementRecord,
};
pub use request::{Request, Resource, ResourceError};

/// Whether an alternative is reached, and under what.
struct Candidate {
    reqs: Vec<Requirement>,
    via: Vec<StatementRef>,
}

/// Evaluates `req`. `identity` is `None` when the caller's IAM policies are not known: where
/// IAM must allow, that becomes a requirement. `Some(&[])` means the caller has no IAM policy.
pub fn evaluate(
    req: &Request,
    key_policy: Option<&Policy>,
    identity: Option<&[Policy]>,
) -> Evaluation {
    evaluate_with(req, key_policy, identity, Detail::Explain)
}

/// Like [`evaluate`], without the words: explanations in the match records are left empty.
/// For callers that evaluate many requests and need only decisions and requirements.
pub fn decide(
    req: &Request,
    key_policy: Option<&Policy>,
    identity: Option<&[Policy]>,
) -> Evaluation {
    evaluate_with(req, key_policy, identity, Detail::Quiet)
}

fn evaluate_with(
    req: &Request,
    key_policy: Option<&Policy>,
    identity: Option<&[Policy]>,
    detail: Detail,
) -> Evaluation {
    let op = req.operation;
    let mut notes = req.context_notes.clone();
    // A session ARN does not show its role's path: against a condition naming the role's
    // ARN with a path, aws:PrincipalArn (taken without one) is not known.
    let path_unknown;
    let ctx = match path_sensitive(req, key_policy, identity) {
        Some(role) => {
            notes.push(format!(
                "the session ARN does not show the path of role {role}, which the policy names with one: aws:PrincipalArn is taken as unknown"
            ));
            let mut c = req.context.clone();
            c.set_unknown("aws:PrincipalArn");
            path_unknown = c;
            &path_unknown
        }
        None => &req.context,
    };

    let caller_account = req.caller.account();
    let is_service = matches!(req.caller, Caller::Service { .. });
    let cross_account = !is_service && caller_account != Some(req.key_account.as_str());
    let key_governed =
        op.is_none_or(|o| o.key_resource) && matches!(req.resource, Resource::Key(_));

    let mut records = Vec::new();
    let mut allows: Vec<Candidate> = Vec::new();
    let mut denies: Vec<Candidate> = Vec::new();
    let mut definite_denies: Vec<StatementRef> = Vec::new();
    let mut delegations: Vec<Candidate> = Vec::new();

    if key_governed {
        match key_policy {
            Some(policy) => {
                for s in &policy.statements {
                    let Some((rec, principal_kind)) = statement_record(policy, s, req, ctx, detail)
                    else {
                        continue;
                    };
                    collect(
                        &rec,
                        principal_kind,
                        &mut allows,
                        &mut denies,
                        &mut definite_denies,
                        &mut delegations,
                    );
                    records.push(rec);
                }
            }
            None => notes.push("no key policy was given: no statement allows anyone".into()),
        }
    } else if matches!(req.resource, Resource::Alias(_)) {
        notes.push("a key policy controls its key, never an alias: only IAM policies can allow access to an alias".into());
    } else {
        notes.push(format!(
            "{} is an account-wide operation: no key policy governs it, only IAM policies",
            req.action
        ));
    }

    // The IAM side: alternatives under which the caller's identity policies allow.
    let mut iam_allows: Vec<Candidate> = Vec::new();
    let iam_known = identity.is_some();
    // Unknown IAM side (`None`): filled in below, only if some alternative needs IAM.
    if let Some(policies) = identity {
        for policy in policies {
            for s in &policy.statements {
                let Some((rec, _)) = statement_record(policy, s, req, ctx, detail) else {
                    continue;
                };
                sort_limiting(&rec, &mut iam_allows, &mut denies, &mut definite_denies);
                records.push(rec);
            }
        }
    }
    let unknown_iam = || Candidate {
        reqs: vec![Requirement::plain(
            RequirementKind::IamPolicy,
            format!(
                "an IAM policy of {} allows {} on {}",
                req.caller, req.action, req.resource
            ),
            vec![],
        )],
        via: vec![],
    };

    // Root users and service principals have no IAM policies to consult.
    let needs_iam_for =
        |delegated: bool| !req.caller.is_root() && !is_service && (delegated || cross_account);

    let mut alternatives: Vec<Candidate> = Vec::new();
    if key_governed {
        for (cand, delegated) in allows
            .into_iter()
            .map(|c| (c, false))
            .chain(delegations.into_iter().map(|c| (c, true)))
        {
            if needs_iam_for(delegated) {
                if !iam_known && iam_allows.is_empty() {
                    iam_allows.push(unknown_iam());
                }
                for iam in &iam_allows {
                    alternatives.push(Candidate {
                        reqs: cand.reqs.iter().chain(&iam.reqs).cloned().collect(),
                        via: cand.via.iter().chain(&iam.via).cloned().collect(),
                    });
                }
            } else {
                alternatives.push(cand);
            }
        }
    } else if !req.caller.is_root() && !is_service {
        if !iam_known {
            iam_allows.push(unknown_iam());
        }
        alternatives = iam_allows;
    } else if req.caller.is_root() {
        // The root user may do anything in its own account that no key policy governs.
        alternatives.push(Candidate {
            reqs: vec![],
            via: vec![],
        });
    }

    if cross_account && key_governed {
        if let Some(o) = op.filter(|o| !o.cross_account) {
            notes.push(format!(
                "kms:{} cannot be used across accounts: the caller's account {} does not own the key (account {})",
                o.name,
                caller_account.unwrap_or("?"),
                req.key_account
            ));
            alternatives.clear();
        }
    }
    // AWS managed aliases (`alias/aws/...`) are reserved: nobody, whatever the policies, can
    // create, update or delete one (KMS Developer Guide, "Aliases in AWS KMS").
    if let Resource::Alias(a) = &req.resource {
        let reserved = a
            .split_once(":alias/")
            .is_some_and(|(_, name)| name.starts_with("aws/"));
        let changes_alias =
            op.is_some_and(|o| matches!(o.name, "CreateAlias" | "UpdateAlias" | "DeleteAlias"));
        if reserved && changes_alias {
            notes.push(format!(
                "{} is an AWS managed alias: names beginning alias/aws/ are reserved, and nobody can create, update or delete them",
                a
            ));
            alternatives.clear();
            denies.clear();
        }
    }
    let (decision, deciding, requirements) = combine(alternatives, denies, definite_denies);
    if !iam_known
        && requirements.iter().any(|a| {
            a.all_of
                .iter()
                .any(|r| r.kind == RequirementKind::IamPolicy)
        })
    {
        notes.push("the caller's IAM policies were not given: where IAM must allow, that is listed as a requirement (pass --identity-policy to evaluate them)".into());
    }
    Evaluation {
        decision,
        deciding_statements: deciding,
        requirements,
        notes,
        statements: records,
    }
}

/// Evaluates `req` against one layer of policies that limit and never delegate: a level of
/// service or resource control policies, a permissions boundary, session policies, or the
/// caller's identity policies on their own. Allow statements are the ways through, Deny
/// statements block. With `full_access`, the layer lets everything through that it does not
/// deny (an RCP level: `RCPFullAWSAccess` is attached everywhere and cannot be detached).
/// How the layers combine is `chain.rs`'s business.
pub fn evaluate_layer(req: &Request, policies: &[&Policy], full_access: bool) -> Evaluation {
    let mut records = Vec::new();
    let mut allows: Vec<Candidate> = Vec::new();
    let mut denies: Vec<Candidate> = Vec::new();
    let mut definite_denies: Vec<StatementRef> = Vec::new();
    if full_access {
        allows.push(Candidate {
            reqs: vec![],
            via: vec![],
        });
    }
    for policy in policies {
        for s in &policy.statements {
            let Some((rec, _)) = statement_record(policy, s, req, &req.context, Detail::Explain)
            else {
                continue;
            };
            sort_limiting(&rec, &mut allows, &mut denies, &mut definite_denies);
            records.push(rec);
        }
    }
    let (decision, deciding, requirements) = combine(allows, denies, definite_denies);
    Evaluation {
        decision,
        deciding_statements: deciding,
        requirements,
        notes: vec![],
        statements: records,
    }
}

/// Files a statement of a policy that does not delegate (identity policies, a guardrail
/// layer) that applies, or may: an Allow is a way through, a Deny blocks (for certain, or
/// under its requirements).
fn sort_limiting(
    rec: &StatementRecord,
    allows: &mut Vec<Candidate>,
    denies: &mut Vec<Candidate>,
    definite_denies: &mut Vec<StatementRef>,
) {
    if !matches!(rec.outcome, Outcome::Applies | Outcome::AppliesIf) {
        return;
    }
    let cand = Candidate {
        reqs: rec.requirements.clone(),
        via: vec![rec.statement.clone()],
    };
    match rec.effect {
        Effect::Allow => allows.push(cand),
        _ if rec.outcome == Outcome::Applies => definite_denies.push(rec.statement.clone()),
        _ => denies.push(cand),
    }
}

/// For a role session, whether a condition on `aws:PrincipalArn` in the policies names the
/// session's role with a path (`role/team/NAME`): the session ARN cannot tell it.
fn path_sensitive(
    req: &Request,
    key_policy: Option<&Policy>,
    identity: Option<&[Policy]>,
) -> Option<String> {
    let Caller::Role {
        name,
        session: Some(_),
        account,
        partition,
        ..
    } = &req.caller
    else {
        return None;
    };
    if req.context.has("aws:PrincipalArn")
        && !matches!(req.context.lookup("aws:PrincipalArn"), Lookup::Values(v) if v.first().is_some_and(|a| a.ends_with(&format!("role/{name}"))))
    {
        // The caller gave aws:PrincipalArn itself.
        return None;
    }
    let names_pathed = |v: &str| {
        super::aws_ids::Arn::parse(v).is_some_and(|a| {
            a.service == "iam"
                && (a.account == account || a.account.contains(['*', '?']))
                && a.resource.starts_with("role/")
                && a.resource.matches('/').count() >= 2
                && a.resource
                    .rsplit('/')
                    .next()
                    .is_some_and(|n| n == name || n.contains(['*', '?']))
        })
    };
    let policies = key_policy.into_iter().chain(identity.into_iter().flatten());
    for p in policies {
        for s in &p.statements {
            for c in &s.conditions {
                if c.key.eq_ignore_ascii_case("aws:PrincipalArn")
                    && c.values.iter().any(|v| names_pathed(v))
                {
                    return Some(format!("arn:{partition}:iam::{account}:role/.../{name}"));
                }
            }
        }
    }
    None
}

fn collect(
    rec: &StatementRecord,
    principal_kind: Option<PrincipalMatch>,
    allows: &mut Vec<Candidate>,
    denies: &mut Vec<Candidate>,
    definite_denies: &mut Vec<StatementRef>,
    delegations: &mut Vec<Candidate>,
) {
    // An Allow naming the account delegates to IAM; everything else sorts as in any policy.
    if rec.effect == Effect::Allow
        && principal_kind == Some(PrincipalMatch::Account)
        && matches!(rec.outcome, Outcome::Applies | Outcome::AppliesIf)
    {
        delegations.push(Candidate {
            reqs: rec.requirements.clone(),
            via: vec![rec.statement.clone()],
        });
    } else {
        sort_limiting(rec, allows, denies, definite_denies);
    }
}

fn combine(
    alternatives: Vec<Candidate>,
    unknown_denies: Vec<Candidate>,
    definite_denies: Vec<StatementRef>,
) -> (Decision, Vec<StatementRef>, Vec<Alternative>) {
    if !definite_denies.is_empty() {
        return (Decision::ExplicitDeny, dedup(definite_denies), vec![]);
    }
    if alternatives.is_empty() {
        return (Decision::ImplicitDeny, vec![], vec![]);
    }
    let unconditional: Vec<&Candidate> =
        alternatives.iter().filter(|a| a.reqs.is_empty()).collect();
    if !unconditional.is_empty() && unknown_denies.is_empty() {
        let via = unconditional
            .iter()
            .flat_map(|a| a.via.iter().cloned())
            .collect();
        return (Decision::Allowed, dedup(via), vec![]);
    }
    // Conditional: (OR of alternatives) AND, for each unknown Deny, NOT (its requirements),
    // written out as alternatives (disjunctive normal form).
    let mut dnf: Vec<Candidate> = if unconditional.is_empty() {
        alternatives
    } else {
        vec![Candidate {
            reqs: vec![],
            via: unconditional
                .iter()
                .flat_map(|a| a.via.iter().cloned())
                .collect(),
        }]
    };
    for deny in &unknown_denies {
        let mut next = Vec::new();
        // Each of the Deny's requirements negated once, not once per alternative.
        let negated: Vec<Requirement> = deny.reqs.iter().map(Requirement::negate).collect();
        for alt in &dnf {
            for neg in &negated {
                let mut reqs = alt.reqs.clone();
                if !reqs.contains(neg) {
                    reqs.push(neg.clone());
                }
                next.push(Candidate {
                    reqs,
                    via: alt.via.iter().chain(&deny.via).cloned().collect(),
                });
                if next.len() >= MAX_ALTERNATIVES {
                    break;
                }
            }
        }
        dnf = next;
    }
    // An alternative that requires both something and its negation can never hold.
    dnf.retain(|a| {
        !a.reqs
            .iter()
            .any(|r| a.reqs.iter().any(|o| r.contradicts(o)))
    });
    if dnf.is_empty() {
        return (Decision::ImplicitDeny, vec![], vec![]);
    }
    let deciding = dedup(dnf.iter().flat_map(|a| a.via.iter().cloned()).collect());
    let mut out: Vec<Alternative> = Vec::new();
    for a in dnf {
        let alt = Alternative {
            all_of: a.reqs,
            via: dedup(a.via),
        };
        if !out.contains(&alt) {
            out.push(alt);
        }
    }
    (Decision::Conditional, deciding, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::context::Context;
    use crate::analysis::policy::{parse_policy, PolicyKind};

    fn request(action: &str) -> Request {
        Request::new(
            Caller::parse("arn:aws:iam::111122223333:role/Admin").unwrap(),
            action.into(),
            Resource::Key(Some(
                "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                    .into(),
            )),
            "111122223333".into(),
            Context::open(),
        )
    }

    fn policy(statements: &str) -> Policy {
        parse_policy(
            &format!(r#"{{"Version":"2012-10-17","Statement":[{statements}]}}"#),
            PolicyKind::Key,
            "key-policy",
        )
        .unwrap()
    }

    const DELEGATION: &str = r#"{"Sid":"Root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}"#;

    /// The mutation run's survivors in `combine` and `evaluate_with` (issue 23): a Deny with
    /// two conditions is escaped by failing either (two alternatives, not one), and the note
    /// that IAM was not given is said exactly when it was not and IAM must allow.
    #[test]
    fn each_condition_of_a_deny_is_a_way_around_it_and_the_iam_note_is_exact() {
        let deny = r#"{"Sid":"Guard","Effect":"Deny","Principal":"*","Action":"kms:PutKeyPolicy","Resource":"*",
            "Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"},"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}"#;
        let p = policy(&format!("{DELEGATION},{deny}"));
        let e = decide(&request("kms:PutKeyPolicy"), Some(&p), None);
        assert_eq!(e.decision, Decision::Conditional, "{e:?}");
        assert!(e.requirements.len() >= 2, "{:?}", e.requirements);
        assert!(
            e.notes
                .iter()
                .any(|n| n.contains("IAM policies were not given")),
            "{:?}",
            e.notes
        );
        // The caller's IAM policies known (an admin policy): no such note.
        let admin = parse_policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
            PolicyKind::Identity,
            "admin",
        )
        .unwrap();
        let e = decide(
            &request("kms:PutKeyPolicy"),
            Some(&p),
            Some(std::slice::from_ref(&admin)),
        );
        assert!(
            !e.notes
                .iter()
                .any(|n| n.contains("IAM policies were not given")),
            "{:?}",
            e.notes
        );
    }
}
