//! Why a policy is not `ok` (KL201–KL205), the traps it holds whatever the verdict
//! (KL206, KL208, KL209), and what a change did to the delegation.

use super::delegation::{
    covers_recovery, delegates, names_account, principal_text, Setting, DELEGATION_SID,
    RECOVERY_ACTIONS,
};
use super::view::generic;
use crate::analysis::condition_keys::anyone_can_meet;
use crate::analysis::eval::{Alternative, Decision, Evaluation};
use crate::analysis::policy::{Effect, Policy, Statement};
use crate::analysis::principal::PrincipalEntry;
use crate::analysis::reference::{labels, StatementRef};
use crate::analysis::rules::{
    Finding, Subject, DELEGATION_CONDITIONED, DELEGATION_EXCLUDES, DELEGATION_MISSING,
    DELEGATION_NARROWED, DELEGATION_PRINCIPAL_CHANGED, DELEGATION_RESOURCE_MISMATCH,
    DELETED_PRINCIPALS, DENY_OVERRIDES, NOT_PRINCIPAL_DENY, OTHER_ACCOUNT_USE, REQUEST_ALIAS_NEVER,
};

/// Why a policy is not `ok`, read from the policy alone.
pub(super) fn why_not_ok(
    policy: &Policy,
    setting: &Setting<'_>,
    put_any: &Evaluation,
) -> Vec<Finding> {
    let account = setting.account;
    let mut out = Vec::new();
    if put_any.decision == Decision::ExplicitDeny {
        let mut f = Finding::new(
            DENY_OVERRIDES,
            format!(
                "Deny statement {} takes kms:PutKeyPolicy from the account's principals, whatever IAM policies allow",
                labels(&put_any.deciding_statements)
            ),
        );
        if let Some(s) = put_any.deciding_statements.first() {
            f = f.at_statement(s.clone());
        }
        out.push(f);
        return out;
    }
    let valid: Vec<_> = policy.statements.iter().filter(|s| s.valid).collect();
    let delegating: Vec<_> = valid.iter().filter(|s| delegates(s, account)).collect();
    if let Some(s) = valid
        .iter()
        .find(|s| s.sid.as_deref() == Some(DELEGATION_SID) && !delegates(s, account))
    {
        out.push(
            Finding::new(
                DELEGATION_PRINCIPAL_CHANGED,
                format!(
                    "statement `{DELEGATION_SID}` names {} instead of the account ({}): IAM policies no longer count",
                    principal_text(s, setting.partition()),
                    setting.root_arn()
                ),
            )
            .at_statement(policy.statement_ref(s)),
        );
    }
    if delegating.is_empty() {
        if out.is_empty() {
            out.push(Finding::new(
                DELEGATION_MISSING,
                format!(
                    "no statement allows the account principal {}: IAM policies cannot grant anyone access to this key",
                    setting.root_arn()
                ),
            ));
        }
        return out;
    }
    let covering: Vec<_> = delegating.iter().filter(|s| covers_recovery(s)).collect();
    if covering.is_empty() {
        // A `*` statement for other actions is not a narrowed delegation.
        let Some(s) = delegating.iter().find(|s| names_account(s, account)) else {
            if out.is_empty() {
                out.push(Finding::new(
                    DELEGATION_MISSING,
                    format!(
                        "no statement allows the account principal {} kms:PutKeyPolicy: IAM policies cannot grant anyone access to this key",
                        setting.root_arn()
                    ),
                ));
            }
            return out;
        };
        out.push(
            Finding::new(
                DELEGATION_NARROWED,
                format!(
                    "statement {} delegates to IAM only for {}: not kms:PutKeyPolicy and kms:GetKeyPolicy",
                    s.label(),
                    s.actions.as_ref().map(|a| a.patterns.join(", ")).unwrap_or_default()
                ),
            )
            .at_statement(policy.statement_ref(s)),
        );
        return out;
    }
    // The delegation is there and covers the actions, but for resources that are never this
    // key (a bucket's ARN, another account's keys): it grants nothing (IAM User Guide,
    // "IAM JSON policy elements: Resource"; in a key policy `*` means the key itself).
    if !covering.iter().any(|s| resource_can_match(s, setting)) {
        let s = covering[0];
        let resources = s
            .resources
            .as_ref()
            .map(|r| r.patterns.join(", "))
            .unwrap_or_default();
        out.push(
            Finding::new(
                DELEGATION_RESOURCE_MISMATCH,
                format!(
                    "statement {} delegates to IAM only on Resource {resources}, which is never this key: IAM policies cannot grant anyone access to it",
                    s.label()
                ),
            )
            .at_statement(policy.statement_ref(s)),
        );
        return out;
    }
    // The delegation is there and covers the actions: its conditions, or a Deny's, single
    // out principals.
    let mut allow_keys: Vec<String> = Vec::new();
    let mut deny_keys: Vec<String> = Vec::new();
    let mut denies: Vec<StatementRef> = Vec::new();
    for alt in put_any.requirements.iter().filter(|a| !generic(a)) {
        for r in &alt.all_of {
            let Some(k) = r.key.as_ref().filter(|k| !anyone_can_meet(k)) else {
                continue;
            };
            let keys = if r.negated {
                &mut deny_keys
            } else {
                &mut allow_keys
            };
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
        if alt.all_of.iter().any(|r| r.negated) {
            for via in &alt.via {
                let is_deny = via.in_key_policy()
                    && policy
                        .statements
                        .get(via.index)
                        .is_some_and(|st| st.effect == Effect::Deny);
                if is_deny && !denies.contains(via) {
                    denies.push(via.clone());
                }
            }
        }
    }
    let s = covering[0];
    if !deny_keys.is_empty() {
        let mut f = Finding::new(
            DENY_OVERRIDES,
            format!(
                "Deny statement {} takes kms:PutKeyPolicy from every principal but those singled out by {}",
                labels(&denies),
                deny_keys.join(", ")
            ),
        );
        if let Some(d) = denies.first() {
            f = f.at_statement(d.clone());
        }
        out.push(f);
    }
    if !allow_keys.is_empty() || deny_keys.is_empty() {
        let f = Finding::new(
            DELEGATION_CONDITIONED,
            if allow_keys.is_empty() {
                format!("statement {} delegates to IAM, but under conditions that no principal of the account can meet", s.label())
            } else {
                format!(
                    "statement {} delegates to IAM only for principals singled out by {}",
                    s.label(),
                    allow_keys.join(", ")
                )
            },
        );
        out.push(f.at_statement(policy.statement_ref(s)));
    }
    out
}

/// Known traps, whatever the verdict.
pub(super) fn traps(policy: &Policy, setting: &Setting<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for s in policy.statements.iter().filter(|s| s.valid) {
        let manages = RECOVERY_ACTIONS.iter().any(|a| s.covers_action(a));
        if manages
            && s.conditions
                .iter()
                .any(|c| c.key.eq_ignore_ascii_case("kms:RequestAlias"))
        {
            let f = Finding::new(
                REQUEST_ALIAS_NEVER,
                format!(
                    "statement {} conditions on kms:RequestAlias, which is never present for kms:PutKeyPolicy or kms:GetKeyPolicy: for them the {} can never apply",
                    s.label(),
                    if s.effect == Effect::Deny { "Deny" } else { "Allow" }
                ),
            );
            out.push(f.at_statement(policy.statement_ref(s)));
        }
        if let (Effect::Deny, Some(p)) = (&s.effect, &s.principal) {
            if p.negated {
                let lists_account = p.entries.iter().any(|e| {
                    matches!(e, PrincipalEntry::Account { account, .. } if account == setting.account)
                });
                let consequence = if lists_account {
                    "each principal to spare must be listed itself (role and session forms) besides the account".to_string()
                } else {
                    format!(
                        "without the account ({}) in the list, even the listed principals are denied",
                        setting.root_arn()
                    )
                };
                let f = Finding::new(
                    NOT_PRINCIPAL_DENY,
                    format!(
                        "statement {} denies everyone but {}; AWS checks the account, the role and the session in turn, so {consequence}",
                        s.label(),
                        principal_text(s, setting.partition()),
                    ),
                );
                out.push(f.at_statement(policy.statement_ref(s)));
            }
        }
    }
    let deleted: Vec<&str> = policy
        .statements
        .iter()
        .flat_map(|s| s.principal.iter().flat_map(|p| p.entries.iter()))
        .filter_map(|e| match e {
            PrincipalEntry::UniqueId(id) => Some(id.as_str()),
            _ => None,
        })
        .collect();
    if !deleted.is_empty() {
        out.push(Finding::new(
            DELETED_PRINCIPALS,
            format!(
                "{} {} deleted principal{} (shown by unique id): re-creating a user or role of the same name does not bring access back, and KMS rejects a new policy that names {}",
                deleted.join(", "),
                if deleted.len() == 1 { "is a" } else { "are" },
                if deleted.len() == 1 { "" } else { "s" },
                if deleted.len() == 1 { "it" } else { "them" }
            ),
        ));
    }
    out
}

/// What the lockout event changed, compared with the version before it.
pub(super) fn what_changed(
    old: &Policy,
    new: &Policy,
    account: &str,
    partition: &str,
    event_id: &str,
) -> Vec<Finding> {
    let Some(d) = old
        .statements
        .iter()
        .find(|s| s.valid && delegates(s, account) && s.covers_action("kms:PutKeyPolicy"))
    else {
        return vec![];
    };
    let counterpart = match &d.sid {
        Some(sid) if !sid.is_empty() => new.statements.iter().find(|s| s.sid.as_ref() == Some(sid)),
        _ => new.statements.get(d.index),
    };
    let label = d.label();
    let (rule, message) = match counterpart {
        None => (
            DELEGATION_MISSING,
            format!("this change removed statement {label}, which delegated the key to IAM"),
        ),
        Some(n) if !delegates(n, account) => (
            DELEGATION_PRINCIPAL_CHANGED,
            format!(
                "this change replaced the principal of statement {label}: {} became {}",
                principal_text(d, partition),
                principal_text(n, partition)
            ),
        ),
        Some(n) if !covers_recovery(n) => (
            DELEGATION_NARROWED,
            format!(
                "this change narrowed the actions of statement {label}: {} became {}",
                d.actions
                    .as_ref()
                    .map(|a| a.patterns.join(", "))
                    .unwrap_or_default(),
                n.actions
                    .as_ref()
                    .map(|a| a.patterns.join(", "))
                    .unwrap_or_default()
            ),
        ),
        Some(n) if n.conditions != d.conditions => (
            DELEGATION_CONDITIONED,
            format!(
                "this change put conditions on statement {label}: {}",
                n.conditions
                    .iter()
                    .map(|c| format!("{} {} {}", c.operator_name, c.key, c.values.join(", ")))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ),
        Some(_) => {
            let added: Vec<String> = new
                .statements
                .iter()
                .filter(|s| {
                    s.valid && s.effect == Effect::Deny && !old.statements.iter().any(|o| o == *s)
                })
                .map(|s| s.label())
                .collect();
            if added.is_empty() {
                return vec![];
            }
            (
                DENY_OVERRIDES,
                format!(
                    "this change added Deny statement {}, which overrides the delegation",
                    added.join(", ")
                ),
            )
        }
    };
    vec![Finding::new(rule, message).on(Subject::Change {
        event_id: event_id.to_string(),
        statement: old.statement_ref(d),
    })]
}

/// Whether a statement's Resource can match the key: its ARN when known, else any key ARN
/// of the key's account (and region when known). A pattern with a policy variable may.
fn resource_can_match(s: &Statement, setting: &Setting<'_>) -> bool {
    use crate::analysis::pattern::{key_arn_relation, wildcard_match, Relation};
    let Some(r) = &s.resources else {
        return false;
    };
    let matches = |pat: &str| -> Relation {
        if pat == "*" {
            return Relation::All;
        }
        if pat.contains("${") {
            return Relation::Some;
        }
        match &setting.key.arn {
            Some(arn) if wildcard_match(pat, arn, false) => Relation::All,
            Some(_) => Relation::None,
            None => key_arn_relation(
                pat,
                setting.partition(),
                setting.account,
                setting.key.region.as_deref(),
            ),
        }
    };
    if r.negated {
        // NotResource: the key is covered unless a pattern surely names it.
        !r.patterns.iter().any(|p| matches(p) == Relation::All)
    } else {
        r.patterns.iter().any(|p| matches(p) != Relation::None)
    }
}

/// KL222: the policy is `ok`, but every way the delegation lets IAM decide carries a
/// condition: a principal (or request) that fails it is denied by the key policy itself,
/// which no IAM policy can change.
pub(super) fn delegation_excludes(ok: &[Alternative]) -> Option<Finding> {
    use crate::analysis::eval::RequirementKind;
    let conditioned = !ok.is_empty()
        && ok.iter().all(|a| {
            a.all_of
                .iter()
                .any(|r| r.kind == RequirementKind::Condition)
        });
    if !conditioned {
        return None;
    }
    let first = &ok[0];
    let texts: Vec<&str> = first
        .all_of
        .iter()
        .filter(|r| r.kind == RequirementKind::Condition)
        .map(|r| r.text.as_str())
        .collect();
    let mut f = Finding::new(
        DELEGATION_EXCLUDES,
        format!(
            "the delegation to IAM ({}) holds only when {}{}: a principal or request that does not meet it is denied by the key policy itself, whatever its IAM policies allow",
            first
                .via
                .iter()
                .map(|v| v.label.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            texts.join(" and "),
            if ok.len() > 1 { " (or the other alternatives below)" } else { "" }
        ),
    );
    if let Some(v) = first.via.first() {
        f = f.at_statement(v.clone());
    }
    Some(f)
}

/// KL223: principals of other accounts that an Allow lets use the key from their own
/// account, with the operations that work across accounts (KMS Developer Guide, "Allowing
/// users in other accounts to use a KMS key": the key policy must allow, and an IAM policy
/// in the other account).
pub(super) fn other_account_use(policy: &Policy, setting: &Setting<'_>) -> Vec<Finding> {
    let (account, partition) = (setting.account, setting.partition());
    let mut out = Vec::new();
    for (s, block) in policy.allows_by_principal() {
        let others: Vec<String> = block
            .entries
            .iter()
            .filter_map(|e| match e.named_arn(partition) {
                Some((arn, a)) if a != account => Some(arn),
                _ => None,
            })
            .collect();
        if others.is_empty() {
            continue;
        }
        let ops: Vec<&str> = crate::analysis::kms::OPERATIONS
            .iter()
            .filter(|o| o.cross_account && s.covers_action(&format!("kms:{}", o.name)))
            .map(|o| o.name)
            .collect();
        if ops.is_empty() {
            continue;
        }
        let f = Finding::new(
            OTHER_ACCOUNT_USE,
            format!(
                "statement {} lets {} use the key from another account{}: {}",
                policy.statement_ref(s).label,
                others.join(", "),
                if s.conditions.is_empty() {
                    ""
                } else {
                    " (under its conditions)"
                },
                ops.join(", ")
            ),
        );
        out.push(f.at_statement(policy.statement_ref(s)));
    }
    out
}
