//! Who can still get back in: the recoverable administrators of a policy (the root user,
//! principals named in Allow statements, principals named by `aws:PrincipalArn` conditions),
//! and what the key policy lets the person asking do.

use serde::Serialize;

use crate::analysis::chain::{LayerKind, LayerResult, Layers};

use super::delegation::Setting;
use super::view::KindView;
use crate::analysis::aws_ids::Arn;
use crate::analysis::condition::Base;
use crate::analysis::eval::{Alternative, Decision, Requirement, RequirementKind};
use crate::analysis::policy::{Effect, Policy};
use crate::analysis::principal::{Caller, PrincipalEntry};
use crate::analysis::principal_class::{
    class_of, names_principals, Kind, PrincipalClass, Standing,
};
use crate::analysis::reference::{serialize_labels, StatementRef};

/// What kind of principal an administrator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminKind {
    Root,
    User,
    Role,
    AssumedRole,
    FederatedUser,
}

impl AdminKind {
    /// The kind of a caller; `None` for service principals, which administer nothing.
    pub fn of(c: &Caller) -> Option<AdminKind> {
        Some(match c {
            Caller::Root { .. } => AdminKind::Root,
            Caller::User { .. } => AdminKind::User,
            Caller::Role {
                session: Some(_), ..
            } => AdminKind::AssumedRole,
            Caller::Role { .. } => AdminKind::Role,
            Caller::FederatedUser { .. } => AdminKind::FederatedUser,
            Caller::Service { .. } => return None,
        })
    }
}

/// Whether a principal exists, as far as kmsdoctor knows (IAM answers live).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Existence {
    Yes,
    No,
    Unknown,
}

impl Existence {
    pub fn as_str(self) -> &'static str {
        match self {
            Existence::Yes => "yes",
            Existence::No => "no",
            Existence::Unknown => "unknown",
        }
    }
}

/// A principal that can still call PutKeyPolicy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoverableAdmin {
    /// As written in the policy; a bare account id becomes `arn:aws:iam::ID:root`.
    pub principal: String,
    pub kind: AdminKind,
    pub can_put_key_policy: bool,
    pub can_get_key_policy: bool,
    /// For a key pending deletion: whether the key policy lets it call CancelKeyDeletion
    /// (which has no cross-account use). Absent when the state does not ask.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_cancel_key_deletion: Option<bool>,
    /// For a key that must be enabled after the repair (pending deletion, disabled):
    /// whether the key policy lets it call EnableKey. Absent when the state does not ask.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_enable_key: Option<bool>,
    /// `allowed`, or `conditional` when requirements apply.
    pub decision: Decision,
    /// Statements that allow it PutKeyPolicy.
    #[serde(serialize_with = "serialize_labels")]
    pub statements: Vec<StatementRef>,
    /// Alternatives, any one of which suffices; each a list of requirements.
    pub requirements: Vec<Alternative>,
    /// True when every way in goes through IAM: an IAM policy must also allow it.
    pub needs_iam_policy: bool,
    /// Whether the principal exists: `unknown` offline.
    pub exists: Existence,
    /// How the policy reaches it.
    pub matched_by: MatchedBy,
    /// For a class of principals: who belongs, and what it takes to become one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<PrincipalClass>,
    /// For a role, live: what its trust policy lets in (how one becomes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust: Option<crate::analysis::trust::TrustWays>,
    pub notes: Vec<String>,
}

/// How a policy reaches an administrator: this decides whether re-creating it helps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    /// The account's root user, always there.
    Root,
    /// Named in a `Principal` element: KMS binds the name to the principal's unique id, so a
    /// deleted principal created again does not match (IAM User Guide, "Principal").
    Principal,
    /// Named in a condition (`aws:PrincipalArn`): compared as a string, so a principal
    /// created again under the same name matches.
    Condition,
    /// A class of principals described by conditions: anyone who can create or tag one.
    Class,
}

/// The most named principals evaluated as administrators.
pub const MAX_CANDIDATES: usize = 256;

/// The principals a recovery may come from: the root user, principals of the key's account
/// named in Allow statements, and those named by `aws:PrincipalArn` conditions.
fn candidates(policy: &Policy, setting: &Setting<'_>) -> Vec<(String, MatchedBy)> {
    let mut candidates: Vec<(String, MatchedBy)> = vec![(setting.root_arn(), MatchedBy::Root)];
    // A set beside the list: looking each ARN up in the list would cost its square.
    let mut seen: std::collections::HashSet<String> =
        candidates.iter().map(|(a, _)| a.clone()).collect();
    let mut known = |arn: &str| !seen.insert(arn.to_string());
    // What a variable can be for any principal of the key's account: the rest is not known.
    let mut variables = crate::analysis::context::Context::open();
    variables.set("aws:PrincipalAccount", vec![setting.account.to_string()]);
    variables.set("aws:ResourceAccount", vec![setting.account.to_string()]);
    for s in policy.statements.iter().filter(|s| s.valid) {
        let allow = s.effect == Effect::Allow;
        if let Some(p) = s.principal.as_ref().filter(|p| !p.negated && allow) {
            for e in &p.entries {
                if let PrincipalEntry::Arn { arn, account } = e {
                    if account == setting.account && !known(arn) {
                        candidates.push((arn.to_string(), MatchedBy::Principal));
                    }
                }
            }
        }
        for c in &s.conditions {
            // An Allow for the principals a condition names, or a Deny for everyone but them.
            let names_principals = c.key.eq_ignore_ascii_case("aws:PrincipalArn")
                && if allow {
                    matches!(
                        c.operator.base,
                        Base::StringEquals | Base::StringLike | Base::ArnEquals | Base::ArnLike
                    )
                } else {
                    matches!(
                        c.operator.base,
                        Base::StringNotEquals
                            | Base::StringNotLike
                            | Base::ArnNotEquals
                            | Base::ArnNotLike
                    )
                };
            if names_principals {
                for v in &c.values {
                    // Under Version 2012-10-17 a variable in the value is the caller's: for
                    // a principal of the key's account `${aws:PrincipalAccount}` is that
                    // account (IAM User Guide, "IAM policy elements: Variables and tags").
                    let expanded;
                    let v = if policy.variables_enabled() && v.contains("${") {
                        match crate::analysis::variables::substitute(v, &variables) {
                            crate::analysis::variables::Substituted::Value(x) => {
                                expanded = x;
                                expanded.as_str()
                            }
                            _ => continue,
                        }
                    } else {
                        v.as_str()
                    };
                    let concrete = !v.contains(['*', '?']) && !v.contains("${");
                    let same_account = Arn::parse(v).is_some_and(|a| a.account == setting.account);
                    if concrete && same_account && Caller::parse(v).is_ok() && !known(v) {
                        candidates.push((v.to_string(), MatchedBy::Condition));
                    }
                }
            }
        }
    }
    candidates
}

/// For a key pending deletion whose policy nobody can change: the principals that may still
/// call CancelKeyDeletion (it needs only that permission, from the key's own account), which
/// stops the clock while AWS Support restores access.
pub(super) fn can_cancel_deletion(policy: &Policy, setting: &Setting<'_>) -> Vec<String> {
    let mut all = candidates(policy, setting);
    all.truncate(MAX_CANDIDATES);
    all.into_iter()
        .filter(|(principal, _)| {
            Caller::parse(principal).is_ok_and(|caller| {
                let d = setting.decide(
                    &setting.recovery_request(caller, "kms:CancelKeyDeletion"),
                    policy,
                );
                matches!(d.decision, Decision::Allowed | Decision::Conditional)
            })
        })
        .map(|(p, _)| p)
        .collect()
}

/// Every principal that could still call PutKeyPolicy: the root user, principals named in
/// Allow statements, and principals named by `aws:PrincipalArn` conditions.
/// Also how many named principals were left unevaluated (past [`MAX_CANDIDATES`]).
pub(super) fn recoverable_admins(
    policy: &Policy,
    setting: &Setting<'_>,
) -> (Vec<RecoverableAdmin>, usize) {
    let mut candidates = candidates(policy, setting);
    let mut out = Vec::new();
    // Each candidate costs two evaluations of the whole policy: a hostile policy naming
    // thousands of principals would cost their square. KMS caps a key policy at 32 KB, which
    // holds a few hundred ARNs; beyond the cap, candidates are counted, not evaluated.
    let skipped = candidates.len().saturating_sub(MAX_CANDIDATES);
    candidates.truncate(MAX_CANDIDATES);
    for (principal, matched_by) in candidates {
        let Ok(caller) = Caller::parse(&principal) else {
            continue;
        };
        let Some(kind) = AdminKind::of(&caller) else {
            continue;
        };
        let put = setting.decide(
            &setting.recovery_request(caller.clone(), "kms:PutKeyPolicy"),
            policy,
        );
        if !matches!(put.decision, Decision::Allowed | Decision::Conditional) {
            continue;
        }
        let get = setting.decide(
            &setting.recovery_request(caller, "kms:GetKeyPolicy"),
            policy,
        );
        let needs_iam = put.decision == Decision::Conditional
            && !put.requirements.is_empty()
            && put.requirements.iter().all(|a| {
                a.all_of
                    .iter()
                    .any(|r| r.kind == RequirementKind::IamPolicy)
            });
        // Requirements besides the IAM one are what the person must arrange; the IAM one is
        // said in `needs_iam_policy`.
        let requirements: Vec<Alternative> = put
            .requirements
            .iter()
            .map(|a| Alternative {
                all_of: a
                    .all_of
                    .iter()
                    .filter(|r| r.kind != RequirementKind::IamPolicy)
                    .cloned()
                    .collect(),
                via: a.via.clone(),
            })
            .collect();
        let mut notes = Vec::new();
        match kind {
            AdminKind::Root => notes.push(
                "sign in as the account's root user (its password and MFA device); use CloudShell rather than creating root access keys".to_string(),
            ),
            _ if matched_by == MatchedBy::Condition => notes.push(
                "named in a condition, which compares names: if it was deleted, creating it again under the same name restores access".to_string(),
            ),
            _ => notes.push(
                "must still exist: a deleted principal re-created under the same name does not match".to_string(),
            ),
        }
        if needs_iam {
            notes.push(
                "an IAM policy of this principal must also allow kms:PutKeyPolicy on the key"
                    .into(),
            );
        }
        let decision = if requirements.iter().all(|a| a.all_of.is_empty()) && !needs_iam {
            Decision::Allowed
        } else {
            put.decision
        };
        out.push(RecoverableAdmin {
            principal,
            kind,
            can_put_key_policy: true,
            can_get_key_policy: matches!(get.decision, Decision::Allowed | Decision::Conditional),
            can_cancel_key_deletion: None,
            can_enable_key: None,
            decision,
            statements: put.deciding_statements.clone(),
            requirements: if requirements.iter().all(|a| a.all_of.is_empty()) {
                vec![]
            } else {
                requirements
            },
            needs_iam_policy: needs_iam,
            exists: if kind == AdminKind::Root {
                Existence::Yes
            } else {
                Existence::Unknown
            },
            matched_by,
            class: None,
            trust: None,
            notes,
        });
    }
    (out, skipped)
}

/// What the key's state needs besides the repair, asked of each named administrator only
/// when the state needs it: CancelKeyDeletion for a key pending deletion, EnableKey for one
/// pending deletion or disabled (key state table). A class of principals is left unasked:
/// the plan then cancels after the repair, through the delegation it puts back.
pub(super) fn answer_for_state(
    admins: &mut [RecoverableAdmin],
    policy: &Policy,
    setting: &Setting<'_>,
    status: &crate::analysis::key_state::KeyStatus,
) {
    let state = status.state.as_deref();
    let cancel = state == Some("PendingDeletion");
    let enable = matches!(state, Some("PendingDeletion" | "Disabled"));
    if !cancel && !enable {
        return;
    }
    for a in admins.iter_mut().filter(|a| a.class.is_none()) {
        let Ok(caller) = Caller::parse(&a.principal) else {
            continue;
        };
        let can = |action: &str| {
            let d = setting.decide(&setting.recovery_request(caller.clone(), action), policy);
            matches!(d.decision, Decision::Allowed | Decision::Conditional)
        };
        if cancel {
            a.can_cancel_key_deletion = Some(can("kms:CancelKeyDeletion"));
        }
        if enable {
            a.can_enable_key = Some(can("kms:EnableKey"));
        }
    }
}

/// What the key policy, and the other layers of the request chain when known, let the
/// person asking do.
#[derive(Debug, Clone, Serialize)]
pub struct CallerAccess {
    pub principal: String,
    pub can_put_key_policy: bool,
    pub can_get_key_policy: bool,
    /// The decision for kms:PutKeyPolicy, through every layer known.
    pub decision: Decision,
    /// For a conditional decision: alternatives, any one of which suffices.
    pub requirements: Vec<Alternative>,
    /// The first layer that denies kms:PutKeyPolicy (else kms:GetKeyPolicy), in AWS's
    /// order: `rcp`, `scp`, `key_policy`, `identity`, `boundary`, `session`; `null` when
    /// none of the layers known denies.
    pub denied_by: Option<LayerKind>,
    /// Where the denying SCP or RCP level is attached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied_at: Option<String>,
    /// Each layer's standing for kms:PutKeyPolicy, when layers beyond the key policy were
    /// given (identity policies, boundary, session policies, SCPs, RCPs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<LayerResult>,
    /// IAM's own decision for the caller (SimulatePrincipalPolicy), when it was asked:
    /// `[action, decision]` pairs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iam_decisions: Option<Vec<(String, String)>>,
}

/// What `caller` can do on the key through the request chain: the key policy, and the
/// layers known besides (none: the key policy alone, with IAM's part as a requirement).
pub fn caller_access(
    policy: &Policy,
    setting: &Setting<'_>,
    caller: &Caller,
    layers: &Layers<'_>,
) -> CallerAccess {
    let put = setting.decide_chain(
        &setting.recovery_request(caller.clone(), "kms:PutKeyPolicy"),
        policy,
        layers,
    );
    let get = setting.decide_chain(
        &setting.recovery_request(caller.clone(), "kms:GetKeyPolicy"),
        policy,
        layers,
    );
    let can = |d: Decision| matches!(d, Decision::Allowed | Decision::Conditional);
    let (denied_by, denied_at) = match (put.denied_by, get.denied_by) {
        (Some(l), _) => (Some(l), put.denied_at.clone()),
        (None, Some(l)) => (Some(l), get.denied_at.clone()),
        (None, None) => (None, None),
    };
    let given = layers.identity.is_some() || layers.has_guardrails();
    CallerAccess {
        principal: caller.to_string(),
        can_put_key_policy: can(put.decision),
        can_get_key_policy: can(get.decision),
        decision: put.decision,
        requirements: put.requirements,
        denied_by,
        denied_at,
        layers: if given { put.layers } else { vec![] },
        iam_decisions: None,
    }
}

/// The classes of principals of one kind that could recover: the kind as a whole when every
/// principal of it gets in, else each class an alternative describes.
pub(super) fn class_admins(view: &KindView) -> Vec<RecoverableAdmin> {
    let mut out: Vec<RecoverableAdmin> = Vec::new();
    let open = |alts: &[(Alternative, Standing)]| alts.iter().any(|(_, s)| *s == Standing::Generic);
    let mut push = |alt: &Alternative, includes: &[Requirement], get_too: bool| {
        let class = class_of(view.kind, &view.account, includes);
        if out.iter().any(|a| a.principal == class.description) {
            return;
        }
        let needs_iam = alt
            .all_of
            .iter()
            .any(|r| r.kind == RequirementKind::IamPolicy);
        let rest: Vec<Requirement> = alt
            .all_of
            .iter()
            .filter(|r| r.kind != RequirementKind::IamPolicy && !includes.contains(r))
            .cloned()
            .collect();
        let mut notes = vec![class.how.clone()];
        if needs_iam {
            notes.push(
                "an IAM policy of this principal must also allow kms:PutKeyPolicy on the key"
                    .into(),
            );
        }
        out.push(RecoverableAdmin {
            principal: class.description.clone(),
            kind: match view.kind {
                Kind::Role => AdminKind::Role,
                Kind::User => AdminKind::User,
            },
            can_put_key_policy: true,
            can_get_key_policy: get_too,
            // A class is judged for PutKeyPolicy only: the plan then cancels the deletion
            // after the repair, through the delegation it puts back.
            can_cancel_key_deletion: None,
            can_enable_key: None,
            decision: if rest.is_empty() && !needs_iam {
                Decision::Allowed
            } else {
                Decision::Conditional
            },
            statements: alt.via.clone(),
            requirements: if rest.is_empty() {
                vec![]
            } else {
                vec![Alternative {
                    all_of: rest,
                    via: alt.via.clone(),
                }]
            },
            needs_iam_policy: needs_iam,
            exists: Existence::Unknown,
            matched_by: MatchedBy::Class,
            class: Some(class),
            trust: None,
            notes,
        });
    };
    if open(&view.put) {
        if let Some((alt, _)) = view.put.iter().find(|(_, s)| *s == Standing::Generic) {
            push(alt, &[], open(&view.get));
        }
        return out;
    }
    for (alt, st) in &view.put {
        if let Standing::Class(includes) = st {
            if names_principals(includes) {
                // Named one by one: listed as named administrators.
                continue;
            }
            let get_too = view.get.iter().any(|(_, s)| match s {
                Standing::Generic => true,
                Standing::Class(g) => g.iter().all(|r| includes.contains(r)),
                _ => false,
            });
            push(alt, includes, get_too);
        }
    }
    out
}
