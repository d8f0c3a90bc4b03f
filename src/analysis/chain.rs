//! The whole request chain for one caller: which layer of AWS's policy evaluation logic
//! denies a request when the key policy alone would let it through.
//!
//! The layers and their order follow the IAM User Guide, "Policy evaluation logic" ("Policy
//! evaluation for requests within a single account"): an explicit Deny in any policy wins;
//! then resource control policies (RCPs) and service control policies (SCPs) must allow at
//! every level from the organization root down to the account; then the key policy, and,
//! where it delegates to IAM, the caller's identity policies; then the permissions
//! boundary and the session policies must allow. Each layer is evaluated on its own by
//! [`eval::evaluate_layer`]; this module says which apply, and combines them.
//!
//! Facts it rests on, each from the AWS page named:
//! - SCPs limit every principal of a member account, the root user included, but neither the
//!   management account's principals nor service-linked roles (Organizations User Guide,
//!   "Service control policies", "Tasks and entities not restricted by SCPs").
//! - RCPs limit requests to customer managed keys of member accounts, whoever asks; not AWS
//!   managed keys, not resources of the management account, not service-linked roles
//!   (KMS Developer Guide, "Resource control policies in AWS KMS"; Organizations User Guide,
//!   "Resource control policies"). `RCPFullAWSAccess` is attached at every level and cannot
//!   be detached, so an RCP level denies only by a Deny ("RCP evaluation").
//! - A permissions boundary and session policies cap what identity policies grant, and what
//!   a resource policy grants to a role ARN; a grant that names the IAM user ARN, or the
//!   role session ARN itself, is not limited by their implicit deny (IAM User Guide,
//!   "Permissions boundaries for IAM entities", "Session policies").
//! - A key-policy Deny with `NotPrincipal` always denies a principal that has a permissions
//!   boundary, whatever `NotPrincipal` lists (IAM User Guide, "Permissions boundaries for
//!   IAM entities", the Important note).
//! - The root user has no identity policies, boundary or session policies (IAM User Guide,
//!   "AWS account root user").

use serde::Serialize;

use super::condition::Base;
use super::eval::{
    evaluate, evaluate_layer, Alternative, Decision, Evaluation, Request, MAX_ALTERNATIVES,
};
use super::policy::{Effect, Policy, PrincipalBlock};
use super::principal::{Caller, PrincipalEntry, PrincipalMatch};
use super::reference::{PolicyKind, StatementRef};

/// A layer of the request chain, in the order AWS evaluates them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerKind {
    Rcp,
    Scp,
    KeyPolicy,
    Identity,
    Boundary,
    Session,
}

impl LayerKind {
    /// The layer in words, for tables.
    pub fn title(self) -> &'static str {
        match self {
            LayerKind::Rcp => "resource control policies",
            LayerKind::Scp => "service control policies",
            LayerKind::KeyPolicy => "key policy",
            LayerKind::Identity => "identity policies",
            LayerKind::Boundary => "permissions boundary",
            LayerKind::Session => "session policies",
        }
    }

    /// Who can change this layer, for a recovery plan.
    pub fn who_changes(self) -> &'static str {
        match self {
            LayerKind::Rcp | LayerKind::Scp => {
                "the organization's management account, or a delegated administrator for Organizations policies"
            }
            LayerKind::KeyPolicy => "a principal the key policy lets call kms:PutKeyPolicy",
            LayerKind::Identity | LayerKind::Boundary => {
                "an IAM administrator of the caller's account (iam:Put*Policy, iam:Attach*Policy, iam:Put*PermissionsBoundary)"
            }
            LayerKind::Session => {
                "whoever assumes the role: assume it again without the session policy (--policy / --policy-arns)"
            }
        }
    }
}

/// The policies attached at one level of the organization: its root (`r-...`), an OU
/// (`ou-...`) or the account itself.
#[derive(Debug, Clone)]
pub struct OrgLevel {
    pub target: String,
    pub policies: Vec<Policy>,
}

/// What is known of the layers besides the key policy. `None` is "not known": the layer is
/// reported as such and does not change the decision.
#[derive(Debug, Clone, Copy, Default)]
pub struct Layers<'a> {
    /// The caller's identity policies (inline, attached, and its groups').
    pub identity: Option<&'a [Policy]>,
    /// The caller's permissions boundary: `Some(None)` when it is known to have none.
    pub boundary: Option<Option<&'a Policy>>,
    /// Session policies passed when the role was assumed (`Some(&[])`: none).
    pub session: Option<&'a [Policy]>,
    /// SCPs by level, the organization root first.
    pub scps: Option<&'a [OrgLevel]>,
    /// RCPs by level, the organization root first.
    pub rcps: Option<&'a [OrgLevel]>,
    /// The organization's management account, when known: SCPs do not limit its principals
    /// and RCPs do not limit its resources.
    pub management_account: Option<&'a str>,
}

impl Layers<'_> {
    /// Whether anything beyond the key policy and identity policies is known.
    pub fn has_guardrails(&self) -> bool {
        self.boundary.is_some()
            || self.session.is_some()
            || self.scps.is_some()
            || self.rcps.is_some()
    }
}

/// The policies of the layers, owned: what evidence loads, [`Layers`] borrows from it.
#[derive(Debug, Clone, Default)]
pub struct LayerPolicies {
    /// The caller's identity policies, when read with the other layers (live, bundles).
    pub identity: Option<Vec<Policy>>,
    pub boundary: Option<Option<Policy>>,
    pub session: Option<Vec<Policy>>,
    pub scps: Option<Vec<OrgLevel>>,
    pub rcps: Option<Vec<OrgLevel>>,
    pub management_account: Option<String>,
}

impl LayerPolicies {
    /// The layers, with the caller's identity policies: `identity` when given, else those
    /// read with the layers.
    pub fn layers<'a>(&'a self, identity: Option<&'a [Policy]>) -> Layers<'a> {
        Layers {
            identity: identity.or(self.identity.as_deref()),
            boundary: self.boundary.as_ref().map(Option::as_ref),
            session: self.session.as_deref(),
            scps: self.scps.as_deref(),
            rcps: self.rcps.as_deref(),
            management_account: self.management_account.as_deref(),
        }
    }
}

/// Groups `(target, policy)` pairs into levels, in the order each target first appears.
pub fn levels(attached: Vec<(String, Policy)>) -> Vec<OrgLevel> {
    let mut out: Vec<OrgLevel> = Vec::new();
    for (target, policy) in attached {
        match out.iter_mut().find(|l| l.target == target) {
            Some(l) => l.policies.push(policy),
            None => out.push(OrgLevel {
                target,
                policies: vec![policy],
            }),
        }
    }
    out
}

/// How one layer stood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerStatus {
    Evaluated,
    /// The layer does not bind this request (the root user has no boundary...).
    NotApplicable,
    /// The layer applies but its policies were not given.
    NotKnown,
}

/// One layer's decision, with the statements that made it.
#[derive(Debug, Clone, Serialize)]
pub struct LayerResult {
    pub layer: LayerKind,
    /// For SCP and RCP levels: the root, OU or account the policies are attached to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub status: LayerStatus,
    /// The layer's own decision, when evaluated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    #[serde(serialize_with = "super::reference::serialize_labels")]
    pub deciding_statements: Vec<StatementRef>,
    pub requirements: Vec<Alternative>,
    /// The layer's standing in words.
    pub reason: String,
}

/// The decision of the whole chain.
#[derive(Debug, Clone, Serialize)]
pub struct ChainEvaluation {
    pub decision: Decision,
    /// The first layer that denies, in AWS's order (an explicit Deny first); `None` when
    /// the request is allowed or allowed under conditions.
    pub denied_by: Option<LayerKind>,
    /// Where the denying layer is attached, for SCP and RCP levels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied_at: Option<String>,
    /// For a conditional decision: alternatives, any one of which suffices, every layer's
    /// requirements included.
    pub requirements: Vec<Alternative>,
    pub layers: Vec<LayerResult>,
    pub notes: Vec<String>,
}

/// A layer's allowance: denied, or allowed under any of these alternatives (none: freely).
enum Allowance {
    Denied,
    Allowed(Vec<Alternative>),
}

/// Evaluates `req` through every layer that binds it.
pub fn evaluate_chain(
    req: &Request,
    key_policy: Option<&Policy>,
    layers: &Layers<'_>,
) -> ChainEvaluation {
    let mut notes = Vec::new();
    let caller = &req.caller;
    let has_boundary = matches!(layers.boundary, Some(Some(_))) && bounded(caller);

    // A Deny with NotPrincipal denies a principal with a boundary whatever it lists.
    let rewritten;
    let key_policy = match key_policy {
        Some(p) if has_boundary && has_deny_not_principal(p) => {
            notes.push("the caller has a permissions boundary: a key-policy Deny with NotPrincipal denies it whatever NotPrincipal lists (IAM User Guide, \"Permissions boundaries for IAM entities\")".into());
            rewritten = deny_not_principal_for_everyone(p);
            Some(&rewritten)
        }
        other => other,
    };

    let base = evaluate(req, key_policy, layers.identity);
    let key_only = evaluate(req, key_policy, None);

    let mut results: Vec<LayerResult> = Vec::new();
    // RCPs, level by level.
    // RCPs bind the key's account, SCPs the caller's: each only the accounts under the
    // target it is attached to.
    results.extend(org_levels(
        req,
        LayerKind::Rcp,
        layers.rcps,
        rcp_exemption(req, layers.management_account),
        Some(req.key_account.as_str()),
        &mut notes,
    ));
    // SCPs, level by level.
    results.extend(org_levels(
        req,
        LayerKind::Scp,
        layers.scps,
        scp_exemption(caller, layers.management_account),
        caller.account(),
        &mut notes,
    ));

    // The key policy, and the identity policies where it delegates.
    results.push(key_policy_result(&key_only, key_policy.is_some()));
    let identity_result = identity_result(req, layers.identity, &key_only);
    results.push(identity_result);

    // The boundary and session policies cap the identity side and grants to the role ARN.
    let boundary = match (bounded(caller), layers.boundary) {
        (false, _) => not_applicable(LayerKind::Boundary, not_bounded_reason(caller)),
        (true, None) => not_known(
            LayerKind::Boundary,
            "the caller's permissions boundary was not given",
        ),
        (true, Some(None)) => not_applicable(
            LayerKind::Boundary,
            "the caller has no permissions boundary".into(),
        ),
        (true, Some(Some(p))) => {
            evaluated(LayerKind::Boundary, None, evaluate_layer(req, &[p], false))
        }
    };
    // Role sessions and AWS STS federated user sessions carry session policies (IAM User
    // Guide, "Session policies"; "Permissions for GetFederationToken").
    let session = match (caller, layers.session) {
        (Caller::Role { session: Some(_), .. } | Caller::FederatedUser { .. }, Some(ps))
            if !ps.is_empty() =>
        {
            let refs: Vec<&Policy> = ps.iter().collect();
            evaluated(LayerKind::Session, None, evaluate_layer(req, &refs, false))
        }
        (Caller::Role { session: Some(_), .. }, Some(_)) => {
            not_applicable(LayerKind::Session, "no session policy was passed when the role was assumed".into())
        }
        (Caller::FederatedUser { .. }, Some(_)) => LayerResult {
            decision: Some(Decision::ImplicitDeny),
            status: LayerStatus::Evaluated,
            ..not_applicable(
                LayerKind::Session,
                "no session policy was passed to GetFederationToken: the federated user session has no permissions from the IAM user's policies, only from a resource-based policy that names the session (IAM User Guide, \"Permissions for GetFederationToken\")".into(),
            )
        },
        (Caller::Role { session: Some(_), .. }, None) => not_known(
            LayerKind::Session,
            "session policies are not known (they are passed at AssumeRole and not recorded on the role)",
        ),
        (Caller::FederatedUser { .. }, None) => not_known(
            LayerKind::Session,
            "session policies are not known (they are passed at GetFederationToken and not recorded)",
        ),
        _ => not_applicable(LayerKind::Session, "only role sessions and federated user sessions carry session policies".into()),
    };
    results.push(boundary);
    results.push(session);

    // An explicit Deny anywhere wins; the first layer holding one, in AWS's order.
    let explicit = results
        .iter()
        .find(|r| r.decision == Some(Decision::ExplicitDeny))
        .map(|r| (r.layer, r.target.clone()));
    let explicit = explicit.or_else(|| {
        (base.decision == Decision::ExplicitDeny).then(|| (base_deny_layer(&base), None))
    });
    if let Some((layer, target)) = explicit {
        return ChainEvaluation {
            decision: Decision::ExplicitDeny,
            denied_by: Some(layer),
            denied_at: target,
            requirements: vec![],
            layers: results,
            notes,
        };
    }

    // The guardrails ahead of the key policy: every evaluated level must allow.
    let mut need: Vec<Alternative> = vec![Alternative {
        all_of: vec![],
        via: vec![],
    }];
    for r in results
        .iter()
        .filter(|r| matches!(r.layer, LayerKind::Rcp | LayerKind::Scp))
    {
        match allowance(r) {
            Some(Allowance::Denied) => {
                return denied(r.layer, r.target.clone(), results, notes);
            }
            Some(Allowance::Allowed(alts)) => need = and(&need, &alts),
            None => {}
        }
    }

    // The key policy with the identity side.
    if !matches!(base.decision, Decision::Allowed | Decision::Conditional) {
        let layer = if matches!(key_only.decision, Decision::Allowed | Decision::Conditional) {
            LayerKind::Identity
        } else {
            LayerKind::KeyPolicy
        };
        return denied(layer, None, results, notes);
    }
    let base_alts = base_alternatives(&base);

    // Boundary and session policies, for the alternatives they cap.
    let caps: Vec<&LayerResult> = results
        .iter()
        .filter(|r| matches!(r.layer, LayerKind::Boundary | LayerKind::Session))
        .collect();
    let mut through: Vec<Alternative> = Vec::new();
    let mut first_cap_denial: Option<LayerKind> = None;
    for alt in &base_alts {
        let mut reach = vec![alt.clone()];
        if !direct_grant(req, key_policy, alt) {
            for cap in &caps {
                match allowance(cap) {
                    Some(Allowance::Denied) => {
                        first_cap_denial.get_or_insert(cap.layer);
                        reach.clear();
                        break;
                    }
                    Some(Allowance::Allowed(alts)) => reach = and(&reach, &alts),
                    None => {}
                }
            }
        }
        through.extend(reach);
    }
    if through.is_empty() {
        let layer = first_cap_denial.unwrap_or(LayerKind::KeyPolicy);
        return denied(layer, None, results, notes);
    }
    // A cap that denies and yet is passed: the way through is a grant it does not cap.
    for r in results.iter_mut().filter(|r| {
        matches!(r.layer, LayerKind::Boundary | LayerKind::Session)
            && r.decision == Some(Decision::ImplicitDeny)
    }) {
        r.reason.push_str(
            ", but it does not cap the key policy's grant that names the caller itself in the same account",
        );
    }
    let mut all = and(&need, &through);
    all.retain(|a| {
        !a.all_of
            .iter()
            .any(|r| a.all_of.iter().any(|o| r.contradicts(o)))
    });
    if all.is_empty() {
        notes.push(
            "the layers' requirements contradict each other: no request can meet them all".into(),
        );
        return ChainEvaluation {
            decision: Decision::ImplicitDeny,
            denied_by: None,
            denied_at: None,
            requirements: vec![],
            layers: results,
            notes,
        };
    }
    let free = all.iter().any(|a| a.all_of.is_empty());
    ChainEvaluation {
        decision: if free {
            Decision::Allowed
        } else {
            Decision::Conditional
        },
        denied_by: None,
        denied_at: None,
        requirements: if free { vec![] } else { all },
        layers: results,
        notes,
    }
}

fn denied(
    layer: LayerKind,
    target: Option<String>,
    layers: Vec<LayerResult>,
    notes: Vec<String>,
) -> ChainEvaluation {
    ChainEvaluation {
        decision: Decision::ImplicitDeny,
        denied_by: Some(layer),
        denied_at: target,
        requirements: vec![],
        layers,
        notes,
    }
}

/// A layer's allowance, when it was evaluated.
fn allowance(r: &LayerResult) -> Option<Allowance> {
    match r.decision? {
        Decision::Allowed => Some(Allowance::Allowed(vec![])),
        Decision::Conditional => Some(Allowance::Allowed(r.requirements.clone())),
        Decision::ImplicitDeny | Decision::ExplicitDeny => Some(Allowance::Denied),
    }
}

/// Both sides hold: every pairing of an alternative of `a` with one of `b`, bounded.
fn and(a: &[Alternative], b: &[Alternative]) -> Vec<Alternative> {
    if b.is_empty() {
        return a.to_vec();
    }
    let mut out: Vec<Alternative> = Vec::new();
    'outer: for x in a {
        for y in b {
            let mut all_of = x.all_of.clone();
            for r in &y.all_of {
                if !all_of.contains(r) {
                    all_of.push(r.clone());
                }
            }
            let mut via = x.via.clone();
            for v in &y.via {
                if !via.contains(v) {
                    via.push(v.clone());
                }
            }
            let alt = Alternative { all_of, via };
            if !out.contains(&alt) {
                out.push(alt);
            }
            if out.len() >= MAX_ALTERNATIVES {
                break 'outer;
            }
        }
    }
    out
}

/// The ways the key policy and identity side let the request through.
fn base_alternatives(base: &Evaluation) -> Vec<Alternative> {
    match base.decision {
        Decision::Allowed => vec![Alternative {
            all_of: vec![],
            via: base.deciding_statements.clone(),
        }],
        _ => base.requirements.clone(),
    }
}

/// Whether this way through rests on a key-policy grant that a boundary or session policy
/// does not cap. Within the same account only (IAM User Guide, "Policy evaluation logic":
/// across accounts the caller's identity policies must allow, and the boundary and session
/// policies cap them), such a grant is an Allow that:
/// - names the IAM user ARN, the role session ARN or the federated user session ARN itself
///   ("Permissions boundaries for IAM entities", "Session policies"; a grant to the role
///   ARN is capped);
/// - or has `*` in Principal and singles the caller out with `aws:PrincipalArn`:
///   "Permissions boundaries and session policies do not limit permissions granted using
///   the aws:PrincipalArn condition key with a wildcard (*) in the Principal element,
///   unless the identity-based policies contain an explicit deny" (such a Deny is found
///   before this is asked).
fn direct_grant(req: &Request, key_policy: Option<&Policy>, alt: &Alternative) -> bool {
    let Some(policy) = key_policy else {
        return false;
    };
    if !matches!(
        &req.caller,
        Caller::User { .. }
            | Caller::FederatedUser { .. }
            | Caller::Role {
                session: Some(_),
                ..
            }
    ) || req.caller.account() != Some(req.key_account.as_str())
    {
        return false;
    }
    alt.via.iter().any(|v| {
        v.policy_kind == PolicyKind::Key
            && policy.statements.iter().any(|s| {
                s.index == v.index
                    && s.effect == Effect::Allow
                    && s.principal.as_ref().is_some_and(|b| {
                        !b.negated
                            && b.entries.iter().any(|e| match e {
                                PrincipalEntry::Arn { arn, .. } => {
                                    (arn.contains(":user/")
                                        || arn.contains(":assumed-role/")
                                        || arn.contains(":federated-user/"))
                                        && e.matches(&req.caller) == PrincipalMatch::Direct
                                }
                                PrincipalEntry::Everyone => s.conditions.iter().any(|c| {
                                    c.key.eq_ignore_ascii_case("aws:PrincipalArn")
                                        && matches!(
                                            c.operator.base,
                                            Base::StringEquals
                                                | Base::StringLike
                                                | Base::ArnEquals
                                                | Base::ArnLike
                                        )
                                }),
                                _ => false,
                            })
                    })
            })
    })
}

/// Which of the key policy or the identity policies holds the explicit Deny.
fn base_deny_layer(base: &Evaluation) -> LayerKind {
    if base
        .deciding_statements
        .iter()
        .any(|s| s.policy_kind == PolicyKind::Key)
    {
        LayerKind::KeyPolicy
    } else {
        LayerKind::Identity
    }
}

fn key_policy_result(key_only: &Evaluation, given: bool) -> LayerResult {
    if !given {
        return not_known(LayerKind::KeyPolicy, "the key policy was not given");
    }
    let mut r = evaluated(LayerKind::KeyPolicy, None, key_only.clone());
    if key_only.requirements.iter().any(|a| {
        a.all_of
            .iter()
            .any(|q| q.kind == super::eval::RequirementKind::IamPolicy)
    }) {
        r.reason =
            "the key policy delegates to IAM: the caller's identity policies must allow".into();
    }
    r
}

fn identity_result(
    req: &Request,
    identity: Option<&[Policy]>,
    key_only: &Evaluation,
) -> LayerResult {
    if req.caller.is_root() {
        return not_applicable(
            LayerKind::Identity,
            "the root user has no identity policies: the key policy alone decides".into(),
        );
    }
    if matches!(req.caller, Caller::Service { .. }) {
        return not_applicable(
            LayerKind::Identity,
            "a service principal has no identity policies".into(),
        );
    }
    match identity {
        None if key_only.decision == Decision::Allowed => not_applicable(
            LayerKind::Identity,
            "not needed: the key policy allows the caller by name".into(),
        ),
        None => not_known(
            LayerKind::Identity,
            "the caller's identity policies were not given",
        ),
        Some(ps) => {
            let refs: Vec<&Policy> = ps.iter().collect();
            let mut r = evaluated(LayerKind::Identity, None, evaluate_layer(req, &refs, false));
            if key_only.decision == Decision::Allowed
                && matches!(r.decision, Some(Decision::ImplicitDeny))
            {
                r.reason = "no identity policy allows it, and none needs to: the key policy allows the caller by name".into();
                r.status = LayerStatus::NotApplicable;
                r.decision = None;
            }
            r
        }
    }
}

/// Whether the policies attached to `target` bind `subject` (the caller's account for SCPs,
/// the key's for RCPs): "SCPs apply to principals of the account where the SCPs are
/// attached", "RCPs apply to resources of the account where the RCPs are attached" (IAM
/// User Guide, "Policy evaluation logic"), and to every account below a root or an OU.
/// An account target is exact. A root or OU binds the accounts of the path it was given
/// with (the account level beside it: live, the path read with ListParents); given
/// without any account level, it is taken to bind `subject`, and a note says so.
enum Binding {
    Binds,
    /// Assumed to bind: no account level says whose path the levels are.
    Assumed,
    NotThisAccount(String),
    Unknown(Vec<String>),
}

fn binding(target: &str, subject: &str, path: &[&str]) -> Binding {
    if crate::analysis::aws_ids::is_account_id(target) {
        return if target == subject {
            Binding::Binds
        } else {
            Binding::NotThisAccount(target.to_string())
        };
    }
    if target == "account" || path.contains(&subject) {
        Binding::Binds
    } else if path.is_empty() {
        Binding::Assumed
    } else {
        Binding::Unknown(path.iter().map(|a| a.to_string()).collect())
    }
}

/// SCP and RCP levels: evaluated, or why they do not bind.
fn org_levels(
    req: &Request,
    layer: LayerKind,
    levels: Option<&[OrgLevel]>,
    exemption: Option<String>,
    subject: Option<&str>,
    notes: &mut Vec<String>,
) -> Vec<LayerResult> {
    if let Some(why) = exemption {
        return vec![not_applicable(layer, why)];
    }
    let Some(levels) = levels else {
        return vec![not_known(
            layer,
            match layer {
                LayerKind::Rcp => {
                    "the resource control policies of the key's account were not given"
                }
                _ => "the service control policies of the caller's account were not given",
            },
        )];
    };
    let (whose, short) = match layer {
        LayerKind::Rcp => ("the key's account", "RCP"),
        _ => ("the caller's account", "SCP"),
    };
    // The accounts whose path the levels are: account targets, and `account` (a file given
    // without a target) for the subject itself.
    let path: Vec<&str> = levels
        .iter()
        .map(|l| l.target.as_str())
        .filter_map(|t| match t {
            "account" => subject,
            t if crate::analysis::aws_ids::is_account_id(t) => Some(t),
            _ => None,
        })
        .collect();
    let mut assumed: Vec<&str> = Vec::new();
    let out = levels
        .iter()
        .map(|level| {
            if let Some(subject) = subject {
                match binding(&level.target, subject, &path) {
                    Binding::Binds => {}
                    Binding::Assumed => assumed.push(&level.target),
                    Binding::NotThisAccount(a) => {
                        let mut r = not_applicable(
                            layer,
                            format!(
                                "the {short}s attached to account {a} bind that account, not {whose} {subject} (IAM User Guide, \"Policy evaluation logic\")"
                            ),
                        );
                        r.target = Some(level.target.clone());
                        return r;
                    }
                    Binding::Unknown(path) => {
                        let mut r = not_known(
                            layer,
                            &format!(
                                "{} was given on the path of account {}: whether {whose} {subject} sits under it is not known",
                                level.target,
                                path.join(", ")
                            ),
                        );
                        r.target = Some(level.target.clone());
                        return r;
                    }
                }
            }
            let refs: Vec<&Policy> = level.policies.iter().collect();
            let ev = evaluate_layer(req, &refs, layer == LayerKind::Rcp);
            let mut r = evaluated(layer, Some(level.target.clone()), ev);
            if layer == LayerKind::Scp && r.decision == Some(Decision::ImplicitDeny) {
                r.reason = format!(
                    "no SCP attached to {} allows {}: every level from the root to the account must allow (is FullAWSAccess detached?)",
                    level.target, req.action
                );
            }
            r
        })
        .collect();
    if let (false, Some(subject)) = (assumed.is_empty(), subject) {
        let flag = match layer {
            LayerKind::Rcp => "--rcp",
            _ => "--scp",
        };
        notes.push(format!(
            "the {short}s attached to {} were taken to bind {whose} {subject}: no account level says whose path they are on (give it as {flag} {subject}=FILE)",
            assumed.join(", ")
        ));
    }
    out
}

/// Why SCPs do not bind the caller, if they do not.
fn scp_exemption(caller: &Caller, management: Option<&str>) -> Option<String> {
    match caller {
        Caller::Service { .. } => Some("SCPs do not limit service principals".into()),
        c if service_linked(c) => Some("SCPs do not limit service-linked roles".into()),
        c if c.account().is_some() && c.account() == management => {
            Some("SCPs do not limit principals of the organization's management account".into())
        }
        _ => None,
    }
}

/// Why RCPs do not bind requests to the key, if they do not.
fn rcp_exemption(req: &Request, management: Option<&str>) -> Option<String> {
    if service_linked(&req.caller) {
        return Some("RCPs do not limit service-linked roles".into());
    }
    if management == Some(req.key_account.as_str()) {
        return Some("RCPs do not limit resources of the organization's management account".into());
    }
    None
}

/// A service-linked role: its path is `/aws-service-role/` and its name `AWSServiceRoleFor...`
/// (IAM User Guide, "Using service-linked roles").
fn service_linked(c: &Caller) -> bool {
    match c {
        Caller::Role { arn, name, .. } => {
            arn.contains(":role/aws-service-role/") || name.starts_with("AWSServiceRoleFor")
        }
        _ => false,
    }
}

/// Whether a boundary can bind the caller: IAM users and roles only.
fn bounded(c: &Caller) -> bool {
    matches!(c, Caller::User { .. } | Caller::Role { .. })
}

fn not_bounded_reason(c: &Caller) -> String {
    match c {
        Caller::Root { .. } => "the root user has no permissions boundary".into(),
        _ => "only IAM users and roles have permissions boundaries".into(),
    }
}

fn has_deny_not_principal(p: &Policy) -> bool {
    p.statements
        .iter()
        .any(|s| s.effect == Effect::Deny && s.principal.as_ref().is_some_and(|b| b.negated))
}

/// The policy with each Deny-with-NotPrincipal statement applying to everyone.
fn deny_not_principal_for_everyone(p: &Policy) -> Policy {
    let mut out = p.clone();
    for s in &mut out.statements {
        if s.effect == Effect::Deny && s.principal.as_ref().is_some_and(|b| b.negated) {
            s.principal = Some(PrincipalBlock {
                negated: false,
                entries: vec![PrincipalEntry::Everyone],
            });
        }
    }
    out
}

fn evaluated(layer: LayerKind, target: Option<String>, ev: Evaluation) -> LayerResult {
    let reason = match ev.decision {
        Decision::Allowed => String::new(),
        Decision::Conditional => "allows under the requirements below".to_string(),
        Decision::ImplicitDeny => "no statement allows the request".to_string(),
        Decision::ExplicitDeny => "a statement denies the request".to_string(),
    };
    LayerResult {
        layer,
        target,
        status: LayerStatus::Evaluated,
        decision: Some(ev.decision),
        deciding_statements: ev.deciding_statements,
        requirements: ev.requirements,
        reason,
    }
}

fn not_applicable(layer: LayerKind, reason: String) -> LayerResult {
    LayerResult {
        layer,
        target: None,
        status: LayerStatus::NotApplicable,
        decision: None,
        deciding_statements: vec![],
        requirements: vec![],
        reason,
    }
}

fn not_known(layer: LayerKind, reason: &str) -> LayerResult {
    LayerResult {
        layer,
        target: None,
        status: LayerStatus::NotKnown,
        decision: None,
        deciding_statements: vec![],
        requirements: vec![],
        reason: reason.to_string(),
    }
}
