//! One statement against one request: whether its principal, action and resource match
//! (with `NotPrincipal`'s identity-by-identity rule), and how its conditions evaluate.

use super::outcome::{
    ConditionRecord, Detail, ElementMatch, Outcome, Requirement, RequirementKind, StatementRecord,
};
use super::request::Request;
use crate::analysis::condition::{self, Truth};
use crate::analysis::context::{Context, Lookup};
use crate::analysis::pattern::{key_arn_relation, wildcard_match, Relation};
use crate::analysis::policy::{Patterns, Policy, Statement};
use crate::analysis::principal::{Caller, PrincipalMatch};
use crate::analysis::reference::PolicyKind;
use crate::analysis::variables::{substitute, Substituted};

/// Evaluates one statement against the request: its match record, and for key policy
/// statements how the principal matched. In quiet mode a statement that does not apply
/// gives `None` as soon as one element fails, and records carry no condition details.
pub(super) fn statement_record(
    policy: &Policy,
    s: &Statement,
    req: &Request,
    ctx: &Context,
    detail: Detail,
) -> Option<(StatementRecord, Option<PrincipalMatch>)> {
    let quiet = detail == Detail::Quiet;
    let effect = || s.effect.clone();
    if !s.valid {
        if quiet {
            return None;
        }
        let rec = StatementRecord {
            statement: policy.statement_ref(s),
            effect: effect(),
            outcome: Outcome::Invalid,
            principal: None,
            action: None,
            resource: None,
            conditions: vec![],
            requirements: vec![],
        };
        return Some((rec, None));
    }
    let mut reqs: Vec<Requirement> = Vec::new();

    // Cheapest and most selective first, so that quiet mode stops early.
    let action = match_action(s.actions.as_ref(), &req.action, detail);
    if quiet && action.result == Truth::False {
        return None;
    }
    let (principal, principal_kind) = match (&s.principal, policy.kind) {
        (Some(block), PolicyKind::Key | PolicyKind::ResourceControl) => {
            let (m, kind, req_opt) = match_principal(block, &req.caller, detail);
            reqs.extend(req_opt);
            (Some(m), kind)
        }
        _ => (None, None),
    };
    if quiet && principal.as_ref().is_some_and(|p| p.result == Truth::False) {
        return None;
    }
    let (resource, res_req) = match_resource(s.resources.as_ref(), policy, req, ctx, detail);
    if quiet && resource.result == Truth::False {
        return None;
    }
    reqs.extend(res_req);

    let mut conditions = Vec::with_capacity(if quiet { 0 } else { s.conditions.len() });
    let mut cond_truth = Truth::True;
    for c in &s.conditions {
        let o = condition::evaluate(c, ctx, policy.variables_enabled(), !quiet);
        match o.truth {
            Truth::False if quiet => return None,
            Truth::False => cond_truth = Truth::False,
            Truth::Unknown => {
                if cond_truth == Truth::True {
                    cond_truth = Truth::Unknown;
                }
                reqs.push(Requirement::from_clause(c));
            }
            Truth::True => {}
        }
        if !quiet {
            conditions.push(ConditionRecord {
                operator: c.operator_name.to_string(),
                key: c.key.to_string(),
                values: c.values.iter().map(|v| v.to_string()).collect(),
                result: o.truth,
                explanation: o.explanation,
            });
        }
    }

    let parts = [
        principal.as_ref().map_or(Truth::True, |p| p.result),
        action.result,
        resource.result,
        cond_truth,
    ];
    let outcome = if parts.contains(&Truth::False) {
        Outcome::DoesNotApply
    } else if parts.contains(&Truth::Unknown) {
        Outcome::AppliesIf
    } else {
        Outcome::Applies
    };
    if outcome != Outcome::AppliesIf {
        reqs.clear();
    }
    let rec = StatementRecord {
        statement: policy.statement_ref(s),
        effect: effect(),
        outcome,
        principal,
        action: Some(action),
        resource: Some(resource),
        conditions,
        requirements: reqs,
    };
    Some((rec, principal_kind))
}

fn match_principal(
    block: &crate::analysis::policy::PrincipalBlock,
    caller: &Caller,
    detail: Detail,
) -> (ElementMatch, Option<PrincipalMatch>, Option<Requirement>) {
    let rank = |m: PrincipalMatch| match m {
        PrincipalMatch::Direct => 4,
        PrincipalMatch::Everyone => 3,
        PrincipalMatch::Account => 2,
        PrincipalMatch::OneSession => 1,
        PrincipalMatch::None => 0,
    };
    let mut best = PrincipalMatch::None;
    let mut best_entry = None;
    for e in &block.entries {
        let m = e.matches(caller);
        if rank(m) > rank(best) {
            best = m;
            best_entry = Some(e);
        }
    }
    if block.negated {
        return match_not_principal(block, caller, detail);
    }
    let shown = || {
        best_entry
            .map(|e| e.normalized(caller.partition()))
            .unwrap_or_default()
    };
    let (result, explanation, req) = match best {
        PrincipalMatch::Direct => (
            Truth::True,
            detail.say(|| format!("`{}` names the caller", shown())),
            None,
        ),
        PrincipalMatch::Everyone => (
            Truth::True,
            detail.say(|| "`*` names everyone".to_string()),
            None,
        ),
        PrincipalMatch::Account => (
            Truth::True,
            detail.say(|| {
                format!(
                    "`{}` is the caller's account: IAM policies decide (the root user needs none)",
                    shown()
                )
            }),
            None,
        ),
        PrincipalMatch::OneSession => (
            Truth::Unknown,
            detail.say(|| format!("`{}` names one session of the caller's role", shown())),
            Some(Requirement::plain(
                RequirementKind::Session,
                format!("the request is made by the session {}", shown()),
                vec![shown()],
            )),
        ),
        PrincipalMatch::None => (
            Truth::False,
            detail.say(|| {
                let deleted = block
                    .entries
                    .iter()
                    .any(|e| matches!(e, crate::analysis::principal::PrincipalEntry::UniqueId(_)));
                format!(
                    "no principal entry names {caller} or its account{}",
                    if deleted {
                        " (unique ids of deleted principals match nobody)"
                    } else {
                        ""
                    }
                )
            }),
            None,
        ),
    };
    (
        ElementMatch {
            result,
            principal_match: Some(best),
            explanation,
        },
        Some(best),
        req,
    )
}

/// `NotPrincipal` (with Deny): the statement applies to everyone the list does not exclude.
/// AWS checks the caller's identities in turn (IAM User Guide, "AWS JSON policy elements:
/// NotPrincipal"): the account, then the user; or the account, the role, and the
/// assumed-role session. A caller is excluded only when every one of them is listed: a
/// session whose own ARN is not listed is not excluded, whatever the role.
fn match_not_principal(
    block: &crate::analysis::policy::PrincipalBlock,
    caller: &Caller,
    detail: Detail,
) -> (ElementMatch, Option<PrincipalMatch>, Option<Requirement>) {
    use crate::analysis::principal::PrincipalEntry;
    let everyone = block.entries.contains(&PrincipalEntry::Everyone);
    let lists = |arn: &str| {
        everyone
            || block
                .entries
                .iter()
                .any(|e| matches!(e, PrincipalEntry::Arn { arn: a, .. } if a == arn))
    };
    let account_listed = everyone
        || block
            .entries
            .iter()
            .any(|e| matches!(e.matches(caller), PrincipalMatch::Account));
    let mut requirement = None;
    let (excluded, why) = match caller {
        // A service principal is one identity, with no account to check.
        Caller::Service { name } => {
            let listed = everyone
                || block.entries.iter().any(
                    |e| matches!(e, PrincipalEntry::Service(s) if s.eq_ignore_ascii_case(name)),
                );
            (Truth::from(listed), String::new())
        }
        Caller::Root { .. } => (Truth::from(account_listed), String::new()),
        Caller::User { arn, .. } | Caller::FederatedUser { arn, .. } => {
            (Truth::from(account_listed && lists(arn)), String::new())
        }
        Caller::Role {
            arn: role_arn,
            session,
            name,
            ..
        } => {
            // The role is listed by its ARN; a session ARN does not show the role's path, so
            // a listed role ARN with a path counts when its name is the role's.
            let role_listed = lists(role_arn)
                || block.entries.iter().any(|e| match e {
                    PrincipalEntry::Arn { arn, .. } => crate::analysis::aws_ids::Arn::parse(arn)
                        .zip(crate::analysis::aws_ids::Arn::parse(role_arn))
                        .is_some_and(|(a, r)| {
                            a.service == "iam"
                                && a.account == r.account
                                && a.resource.starts_with("role/")
                                && a.resource.rsplit('/').next() == Some(name.as_str())
                                && session.is_some()
                        }),
                    _ => false,
                });
            match session {
                Some(s) => (
                    Truth::from(account_listed && role_listed && lists(s)),
                    String::new(),
                ),
                None if account_listed && role_listed => {
                    // Any session of the role: excluded only for the sessions listed.
                    let sessions: Vec<String> = block
                        .entries
                        .iter()
                        .filter_map(|e| match e {
                            PrincipalEntry::Arn { arn, .. }
                                if crate::analysis::principal::is_session_of(arn, role_arn) =>
                            {
                                Some(arn.to_string())
                            }
                            _ => None,
                        })
                        .collect();
                    if everyone {
                        (Truth::True, String::new())
                    } else if sessions.is_empty() {
                        (
                            Truth::False,
                            "NotPrincipal lists the role and its account but none of its sessions: every session is denied".to_string(),
                        )
                    } else {
                        requirement = Some(
                            Requirement::plain(
                                RequirementKind::Session,
                                format!(
                                    "the request is made by the session {}",
                                    sessions.join(" or ")
                                ),
                                sessions,
                            )
                            .negate(),
                        );
                        (Truth::Unknown, String::new())
                    }
                }
                None => (Truth::False, String::new()),
            }
        }
    };
    let result = match excluded {
        Truth::True => Truth::False,
        Truth::False => Truth::True,
        Truth::Unknown => Truth::Unknown,
    };
    let explanation = detail.say(|| {
        if !why.is_empty() {
            return why.clone();
        }
        match excluded {
            Truth::True => format!("NotPrincipal lists {caller} and its account: excluded"),
            Truth::Unknown => format!(
                "NotPrincipal excludes only the listed sessions of {caller}: it applies to the others"
            ),
            Truth::False if !account_listed => format!(
                "NotPrincipal does not list the account of {caller}, so it still applies to it"
            ),
            Truth::False => format!(
                "NotPrincipal does not list {caller} itself (for a role session: the role and the session), so it still applies to it"
            ),
        }
    });
    (
        ElementMatch {
            result,
            principal_match: None,
            explanation,
        },
        None,
        requirement,
    )
}

fn match_action(patterns: Option<&Patterns>, action: &str, detail: Detail) -> ElementMatch {
    let Some(p) = patterns else {
        return ElementMatch {
            result: Truth::False,
            principal_match: None,
            explanation: detail.say(|| "no Action".into()),
        };
    };
    let hit = p
        .patterns
        .iter()
        .find(|pat| wildcard_match(pat, action, true));
    let result = if p.negated != hit.is_some() {
        Truth::True
    } else {
        Truth::False
    };
    let explanation = detail.say(|| match (p.negated, hit) {
        (false, Some(h)) => format!("`{h}` matches {action}"),
        (false, None) => format!("no Action matches {action}"),
        (true, Some(h)) => format!("NotAction `{h}` excludes {action}"),
        (true, None) => format!("NotAction does not list {action}, so the statement covers it"),
    });
    ElementMatch {
        result,
        principal_match: None,
        explanation,
    }
}

fn match_resource(
    patterns: Option<&Patterns>,
    policy: &Policy,
    req: &Request,
    ctx: &Context,
    detail: Detail,
) -> (ElementMatch, Option<Requirement>) {
    let resource = &req.resource;
    let Some(p) = patterns else {
        return (
            ElementMatch {
                result: Truth::False,
                principal_match: None,
                explanation: detail.say(|| "no Resource".into()),
            },
            None,
        );
    };
    let target = resource.arn();
    // The key's ARN not known (a policy checked before its key exists): a pattern is judged
    // against every key ARN the key's account could have, in its region when known.
    let region = match ctx.lookup("aws:RequestedRegion") {
        Lookup::Values([r]) => Some(r.as_str()),
        _ => None,
    };
    let mut never: Vec<String> = Vec::new();
    let mut hit: Option<&str> = None;
    let mut unknown: Vec<String> = Vec::new();
    for pat in &p.patterns {
        if pat == "*" {
            hit = Some(pat);
            break;
        }
        let expanded: std::borrow::Cow<'_, str> =
            if policy.variables_enabled() && pat.contains("${") {
                match substitute(pat, ctx) {
                    Substituted::Value(v) => v.into(),
                    Substituted::Unresolvable => continue,
                    Substituted::Unknown(_) => {
                        unknown.push(pat.to_string());
                        continue;
                    }
                }
            } else {
                pat.as_str().into()
            };
        if expanded == "*" {
            hit = Some(pat);
            break;
        }
        match target {
            Some(t) if wildcard_match(&expanded, t, false) => {
                hit = Some(pat);
                break;
            }
            Some(_) => {}
            None => {
                match key_arn_relation(&expanded, req.caller.partition(), &req.key_account, region)
                {
                    Relation::All => {
                        hit = Some(pat);
                        break;
                    }
                    Relation::None => never.push(expanded.into_owned()),
                    Relation::Some => unknown.push(expanded.into_owned()),
                }
            }
        }
    }
    let target_shown = target.unwrap_or("the key");
    let word = if p.negated { "NotResource" } else { "Resource" };
    let matched = match (hit, unknown.is_empty()) {
        (Some(_), _) => Truth::True,
        (None, true) => Truth::False,
        (None, false) => Truth::Unknown,
    };
    let explanation = detail.say(|| match hit {
        Some(h) => format!("{word} `{h}` matches {target_shown}"),
        None if unknown.is_empty() && target.is_none() && !never.is_empty() => format!(
            "{word} {} cannot match a key of account {}",
            never.join(", "),
            req.key_account
        ),
        None if unknown.is_empty() => format!("no {word} matches {target_shown}"),
        None => format!(
            "{word} {} may match the key; its ARN is not known",
            unknown.join(", ")
        ),
    });
    let result = match (p.negated, matched) {
        (false, t) => t,
        (true, Truth::True) => Truth::False,
        (true, Truth::False) => Truth::True,
        (true, Truth::Unknown) => Truth::Unknown,
    };
    let req = (result == Truth::Unknown).then(|| {
        let text = format!("the key's ARN matches {}", unknown.join(" or "));
        let r = Requirement::plain(RequirementKind::Resource, text, unknown.clone());
        if p.negated {
            r.negate()
        } else {
            r
        }
    });
    (
        ElementMatch {
            result,
            principal_match: None,
            explanation,
        },
        req,
    )
}
