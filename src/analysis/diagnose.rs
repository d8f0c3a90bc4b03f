//! The lockout diagnosis: from a key policy (current, or the last one CloudTrail saw applied)
//! and the key's policy history, the verdict, who can still get back in and under what, the
//! event that locked people out, and what it changed.
//!
//! Verdicts, exactly:
//! - `ok`: any principal of the key's account can be given kms:GetKeyPolicy and
//!   kms:PutKeyPolicy by its IAM policies: evaluated for a caller of the account whose
//!   identity is unknown, both actions are allowed under requirements that name no particular
//!   principal (an IAM policy, MFA, a source IP...), and no Deny takes them away;
//! - `recoverable`: not ok, but some principal that can exist (the root user, a user or role
//!   of the account) is allowed kms:PutKeyPolicy, possibly under requirements;
//! - `unrecoverable`: not ok and nobody is: only AWS Support can help;
//! - `unknown`: no key policy could be obtained.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::condition::Base;
use super::context::Context;
use super::eval::{decide, Alternative, Decision, Evaluation, Request, RequirementKind, Resource};
use super::policy::{parse_policy, Effect, Finding, Policy, PolicyKind, Severity};
use super::principal::{is_account_id, Arn, Caller, PrincipalEntry};
use super::trail::{Actor, EventName, PolicyEvent};

/// The Sid KMS gives the statement of the default key policy.
pub const DELEGATION_SID: &str = "Enable IAM User Permissions";

/// The key policy KMS applies when CreateKey is called without one.
pub fn default_policy(account: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Id":"key-default-1","Statement":[{{"Sid":"{DELEGATION_SID}","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},"Action":"kms:*","Resource":"*"}}]}}"#
    )
}

/// The key being diagnosed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct KeyRef {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

fn is_key_id(s: &str) -> bool {
    let uuid = s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    let mrk =
        s.len() == 36 && s.starts_with("mrk-") && s[4..].bytes().all(|b| b.is_ascii_hexdigit());
    uuid || mrk
}

impl KeyRef {
    /// A key id (`1234abcd-...`, `mrk-...`) or key ARN.
    pub fn parse(s: &str) -> Result<KeyRef, String> {
        let s = s.trim();
        if s.starts_with("alias/") || s.contains(":alias/") {
            return Err(format!(
                "`{s}` is an alias: resolving it needs AWS; give the key id or key ARN"
            ));
        }
        if let Some(arn) = Arn::parse(s) {
            let id = arn.resource.strip_prefix("key/").unwrap_or("");
            if arn.service != "kms"
                || !is_key_id(id)
                || !is_account_id(arn.account)
                || arn.region.is_empty()
            {
                return Err(format!(
                    "`{s}` is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY_ID)"
                ));
            }
            return Ok(KeyRef {
                id: id.to_string(),
                arn: Some(s.to_string()),
                account: Some(arn.account.to_string()),
                region: Some(arn.region.to_string()),
            });
        }
        if is_key_id(s) {
            return Ok(KeyRef {
                id: s.to_string(),
                arn: None,
                account: None,
                region: None,
            });
        }
        Err(format!("`{s}` is neither a key id (1234abcd-12ab-34cd-56ef-1234567890ab, mrk-...) nor a key ARN"))
    }

    /// Whether a reference from a CloudTrail record (key id, key ARN) names this key.
    pub fn matches(&self, reference: &str) -> bool {
        if let Some(arn) = &self.arn {
            if reference == arn {
                return true;
            }
        }
        if reference == self.id {
            return true;
        }
        // A key ARN in the record; match on its id, and on account and region when known.
        match Arn::parse(reference) {
            Some(a) if a.service == "kms" => {
                a.resource.strip_prefix("key/") == Some(self.id.as_str())
                    && self.account.as_deref().is_none_or(|acc| acc == a.account)
                    && self.region.as_deref().is_none_or(|r| r == a.region)
            }
            _ => false,
        }
    }

    /// Completes account, region and ARN from what the evidence says.
    pub fn complete(&mut self, account: Option<&str>, region: Option<&str>) {
        if self.account.is_none() {
            self.account = account.map(str::to_string);
        }
        if self.region.is_none() {
            self.region = region.map(str::to_string);
        }
        if self.arn.is_none() {
            if let (Some(acc), Some(reg)) = (&self.account, &self.region) {
                self.arn = Some(format!("arn:aws:kms:{reg}:{acc}:key/{}", self.id));
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    Recoverable,
    Unrecoverable,
    Unknown,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Recoverable => "recoverable",
            Verdict::Unrecoverable => "unrecoverable",
            Verdict::Unknown => "unknown",
        }
    }

    /// The process exit code `why-locked` uses for this verdict.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Ok => 0,
            Verdict::Recoverable => 3,
            Verdict::Unrecoverable => 4,
            Verdict::Unknown => 5,
        }
    }
}

/// A principal that can still call PutKeyPolicy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoverableAdmin {
    /// As written in the policy; a bare account id becomes `arn:aws:iam::ID:root`.
    pub principal: String,
    /// `root`, `user`, `role`, `assumed_role`, `federated_user`.
    pub kind: &'static str,
    pub can_put_key_policy: bool,
    pub can_get_key_policy: bool,
    /// `allowed`, or `conditional` when requirements apply.
    pub decision: Decision,
    /// Statements that allow it PutKeyPolicy.
    pub statements: Vec<String>,
    /// Alternatives, any one of which suffices; each a list of requirements.
    pub requirements: Vec<Alternative>,
    /// True when every way in goes through IAM: an IAM policy must also allow it.
    pub needs_iam_policy: bool,
    /// Whether the principal exists: `unknown` offline.
    pub exists: &'static str,
    pub notes: Vec<String>,
}

/// A diagnosis finding: stable id, severity, and what it is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiagFinding {
    pub id: &'static str,
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    /// The statement concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
    /// The event concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
}

macro_rules! diag_rules {
    ($($konst:ident = $id:literal, $name:literal, $sev:ident;)*) => {
        $(pub const $konst: (&str, &str, Severity) = ($id, $name, Severity::$sev);)*
        /// Every diagnosis rule: id, name, severity.
        pub const DIAGNOSIS_RULES: &[(&str, &str, Severity)] = &[$($konst),*];
    };
}

diag_rules! {
    DELEGATION_MISSING = "KL201", "delegation-missing", Error;
    DELEGATION_PRINCIPAL_CHANGED = "KL202", "delegation-principal-changed", Error;
    DELEGATION_NARROWED = "KL203", "delegation-actions-narrowed", Error;
    DELEGATION_CONDITIONED = "KL204", "delegation-conditioned", Error;
    DENY_OVERRIDES = "KL205", "deny-overrides-delegation", Error;
    DELETED_PRINCIPALS = "KL206", "deleted-principals", Warning;
    BYPASSED_CHECK = "KL207", "lockout-check-bypassed", Warning;
    REQUEST_ALIAS_NEVER = "KL208", "request-alias-never-present", Warning;
    NOT_PRINCIPAL_DENY = "KL209", "notprincipal-with-deny", Warning;
    IAM_SIDE = "KL210", "lockout-on-iam-side", Info;
    OTHER_ACCOUNTS = "KL211", "other-accounts-cannot-manage", Info;
    UNREADABLE_VERSION = "KL212", "unreadable-policy-version", Warning;
    FAILED_CHANGE = "KL213", "failed-policy-change", Info;
    IAM_DECISION = "KL214", "iam-decision-for-caller", Info;
    INCOMPLETE_EVIDENCE = "KL215", "incomplete-evidence", Warning;
}

fn finding(rule: (&'static str, &'static str, Severity), message: String) -> DiagFinding {
    DiagFinding {
        id: rule.0,
        rule: rule.1,
        severity: rule.2,
        message,
        statement: None,
        event_id: None,
    }
}

/// How a policy stands, as far as lockout goes.
#[derive(Debug, Clone)]
pub struct Assessment {
    pub verdict: Verdict,
    /// For `ok`: what a principal of the account needs to get in (any one alternative).
    pub ok_requirements: Vec<Alternative>,
    pub recoverable_admins: Vec<RecoverableAdmin>,
    /// Why it is not `ok`, and the traps the policy holds.
    pub findings: Vec<DiagFinding>,
}

/// Condition keys whose value any principal of the account can arrange (sign in with MFA,
/// call from an address) or that are the same for every principal of the account: they do
/// not single anyone out. Every other key is taken to single out principals.
fn anyone_can_meet(key: &str) -> bool {
    const KEYS: &[&str] = &[
        "aws:multifactorauthpresent",
        "aws:multifactorauthage",
        "aws:sourceip",
        "aws:sourcevpc",
        "aws:sourcevpce",
        "aws:vpcsourceip",
        "aws:securetransport",
        "aws:currenttime",
        "aws:epochtime",
        "aws:requestedregion",
        "aws:tokenissuetime",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalaccount",
        "kms:calleraccount",
        "aws:resourceaccount",
        "aws:resourceorgid",
        "aws:resourceorgpaths",
        "kms:keyspec",
        "kms:keyusage",
        "kms:keyorigin",
        "kms:multiregion",
        "kms:multiregionkeytype",
        "kms:resourcealiases",
    ];
    let k = key.to_ascii_lowercase();
    KEYS.contains(&k.as_str()) || k.starts_with("aws:resourcetag/")
}

/// Whether an alternative could hold for any principal of the account.
pub(crate) fn generic(alt: &Alternative) -> bool {
    alt.all_of.iter().all(|r| match r.kind {
        RequirementKind::IamPolicy | RequirementKind::Resource => true,
        RequirementKind::Condition => r.key.as_deref().is_some_and(anyone_can_meet),
        RequirementKind::Session => false,
    })
}

/// Inputs the diagnosis needs besides the policy.
#[derive(Debug, Clone)]
pub struct Setting<'a> {
    pub key: &'a KeyRef,
    pub account: &'a str,
    /// The time a recovery call would be made (`aws:CurrentTime`).
    pub now: DateTime<Utc>,
    /// The key's aliases (`kms:ResourceAliases`), when known.
    pub aliases: Option<&'a [String]>,
}

fn request(setting: &Setting<'_>, caller: Caller, action: &str, context: Context) -> Request {
    let resource = Resource::Key(setting.key.arn.clone());
    Request::new(
        caller,
        action.to_string(),
        resource,
        setting.account.to_string(),
        context,
    )
}

/// The context of a recovery call: over TLS, now, with the key's aliases when known;
/// everything else unknown.
fn recovery_context(setting: &Setting<'_>) -> Context {
    let mut ctx = Context::open();
    ctx.set("aws:SecureTransport", vec!["true".into()]);
    ctx.set(
        "aws:CurrentTime",
        vec![setting.now.format("%Y-%m-%dT%H:%M:%SZ").to_string()],
    );
    ctx.set("aws:EpochTime", vec![setting.now.timestamp().to_string()]);
    match setting.aliases {
        Some([]) => ctx.set_absent("kms:ResourceAliases"),
        Some(a) => ctx.set("kms:ResourceAliases", a.to_vec()),
        None => {}
    }
    ctx
}

/// A caller standing for "any IAM principal of the account": its identity keys unknown.
pub(crate) fn any_principal(setting: &Setting<'_>, action: &str) -> Request {
    let caller = Caller::Role {
        partition: "aws".into(),
        account: setting.account.to_string(),
        arn: format!(
            "arn:aws:iam::{}:role/kmsdoctor-any-principal",
            setting.account
        ),
        name: "kmsdoctor-any-principal".into(),
        session: Some(format!(
            "arn:aws:sts::{}:assumed-role/kmsdoctor-any-principal/kmsdoctor",
            setting.account
        )),
    };
    let mut ctx = recovery_context(setting);
    for k in [
        "aws:PrincipalArn",
        "aws:PrincipalType",
        "aws:username",
        "aws:userid",
    ] {
        ctx.set_unknown(k);
    }
    request(setting, caller, action, ctx)
}

/// Judges a policy: verdict, admins, findings.
pub fn assess(policy: &Policy, setting: &Setting<'_>) -> Assessment {
    let put_any = decide(
        &any_principal(setting, "kms:PutKeyPolicy"),
        Some(policy),
        None,
    );
    let get_any = decide(
        &any_principal(setting, "kms:GetKeyPolicy"),
        Some(policy),
        None,
    );
    let generic_alts = |e: &Evaluation| -> Vec<Alternative> {
        if e.decision == Decision::Allowed {
            return vec![Alternative {
                all_of: vec![],
                via: e.deciding_statements.clone(),
            }];
        }
        e.requirements
            .iter()
            .filter(|a| generic(a))
            .cloned()
            .collect()
    };
    let put_ok = generic_alts(&put_any);
    let get_ok = generic_alts(&get_any);
    let ok = !put_ok.is_empty() && !get_ok.is_empty();

    let mut admins = recoverable_admins(policy, setting);
    if ok {
        // With the delegation intact, any principal of the account gets in through IAM:
        // listing every named one that way says nothing. Keep the root user and direct grants.
        admins.retain(|a| a.kind == "root" || !a.needs_iam_policy);
    }
    let verdict = if ok {
        Verdict::Ok
    } else if admins.iter().any(|a| a.can_put_key_policy) {
        Verdict::Recoverable
    } else {
        Verdict::Unrecoverable
    };

    let mut findings = Vec::new();
    if ok {
        findings.push(finding(
            IAM_SIDE,
            "the key policy lets IAM policies grant kms:GetKeyPolicy and kms:PutKeyPolicy to the account's principals: a caller still denied is denied on the IAM side (its identity policies, a permissions boundary, a session policy or an SCP)".into(),
        ));
    } else {
        findings.extend(why_not_ok(policy, setting, &put_any));
    }
    findings.extend(traps(policy, setting));
    Assessment {
        verdict,
        ok_requirements: if ok { put_ok } else { vec![] },
        recoverable_admins: admins,
        findings,
    }
}

/// A statement that delegates to IAM: allows the account principal (or `*`).
fn delegates(s: &super::policy::Statement, account: &str) -> bool {
    s.effect == Effect::Allow
        && s.principal.as_ref().is_some_and(|p| {
            !p.negated
                && p.entries.iter().any(|e| match e {
                    PrincipalEntry::Everyone => true,
                    PrincipalEntry::Account { account: a, .. } => a == account,
                    _ => false,
                })
        })
}

fn covers(s: &super::policy::Statement, action: &str) -> bool {
    s.actions.as_ref().is_some_and(|a| {
        let hit = a
            .patterns
            .iter()
            .any(|p| super::pattern::wildcard_match(p, action, true));
        hit != a.negated
    })
}

fn principal_text(s: &super::policy::Statement) -> String {
    s.principal
        .as_ref()
        .map(|p| {
            let list: Vec<String> = p.entries.iter().map(PrincipalEntry::normalized).collect();
            list.join(", ")
        })
        .unwrap_or_else(|| "nobody".into())
}

/// Why a policy is not `ok`, read from the policy alone.
fn why_not_ok(policy: &Policy, setting: &Setting<'_>, put_any: &Evaluation) -> Vec<DiagFinding> {
    let account = setting.account;
    let mut out = Vec::new();
    if put_any.decision == Decision::ExplicitDeny {
        let mut f = finding(
            DENY_OVERRIDES,
            format!(
                "Deny statement {} takes kms:PutKeyPolicy from the account's principals, whatever IAM policies allow",
                put_any.deciding_statements.join(", ")
            ),
        );
        f.statement = put_any.deciding_statements.first().cloned();
        out.push(f);
        return out;
    }
    let valid: Vec<_> = policy.statements.iter().filter(|s| s.valid).collect();
    let delegating: Vec<_> = valid.iter().filter(|s| delegates(s, account)).collect();
    if let Some(s) = valid
        .iter()
        .find(|s| s.sid.as_deref() == Some(DELEGATION_SID) && !delegates(s, account))
    {
        let mut f = finding(
            DELEGATION_PRINCIPAL_CHANGED,
            format!(
                "statement `{DELEGATION_SID}` names {} instead of the account (arn:aws:iam::{account}:root): IAM policies no longer count",
                principal_text(s)
            ),
        );
        f.statement = Some(s.label());
        out.push(f);
    }
    if delegating.is_empty() {
        if out.is_empty() {
            out.push(finding(
                DELEGATION_MISSING,
                format!(
                    "no statement allows the account principal arn:aws:iam::{account}:root: IAM policies cannot grant anyone access to this key"
                ),
            ));
        }
        return out;
    }
    let covering: Vec<_> = delegating
        .iter()
        .filter(|s| covers(s, "kms:PutKeyPolicy") && covers(s, "kms:GetKeyPolicy"))
        .collect();
    let names_account = |s: &super::policy::Statement| {
        s.principal.as_ref().is_some_and(|p| {
            p.entries
                .iter()
                .any(|e| matches!(e, PrincipalEntry::Account { account: a, .. } if a == account))
        })
    };
    if covering.is_empty() {
        // A `*` statement for other actions is not a narrowed delegation.
        let Some(s) = delegating.iter().find(|s| names_account(s)) else {
            if out.is_empty() {
                out.push(finding(
                    DELEGATION_MISSING,
                    format!(
                        "no statement allows the account principal arn:aws:iam::{account}:root kms:PutKeyPolicy: IAM policies cannot grant anyone access to this key"
                    ),
                ));
            }
            return out;
        };
        let mut f = finding(
            DELEGATION_NARROWED,
            format!(
                "statement {} delegates to IAM only for {}: not kms:PutKeyPolicy and kms:GetKeyPolicy",
                s.label(),
                s.actions.as_ref().map(|a| a.patterns.join(", ")).unwrap_or_default()
            ),
        );
        f.statement = Some(s.label());
        out.push(f);
        return out;
    }
    // The delegation is there and covers the actions: its conditions, or a Deny's, single
    // out principals.
    let mut allow_keys: Vec<String> = Vec::new();
    let mut deny_keys: Vec<String> = Vec::new();
    let mut denies: Vec<String> = Vec::new();
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
                let is_deny = policy
                    .statements
                    .iter()
                    .any(|st| &st.label() == via && st.effect == Effect::Deny);
                if is_deny && !denies.contains(via) {
                    denies.push(via.clone());
                }
            }
        }
    }
    let s = covering[0];
    if !deny_keys.is_empty() {
        let mut f = finding(
            DENY_OVERRIDES,
            format!(
                "Deny statement {} takes kms:PutKeyPolicy from every principal but those singled out by {}",
                denies.join(", "),
                deny_keys.join(", ")
            ),
        );
        f.statement = denies.first().cloned();
        out.push(f);
    }
    if !allow_keys.is_empty() || deny_keys.is_empty() {
        let mut f = finding(
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
        f.statement = Some(s.label());
        out.push(f);
    }
    out
}

/// Known traps, whatever the verdict.
fn traps(policy: &Policy, setting: &Setting<'_>) -> Vec<DiagFinding> {
    let mut out = Vec::new();
    for s in policy.statements.iter().filter(|s| s.valid) {
        let manages = covers(s, "kms:PutKeyPolicy") || covers(s, "kms:GetKeyPolicy");
        if manages
            && s.conditions
                .iter()
                .any(|c| c.key.eq_ignore_ascii_case("kms:RequestAlias"))
        {
            let mut f = finding(
                REQUEST_ALIAS_NEVER,
                format!(
                    "statement {} conditions on kms:RequestAlias, which is never present for kms:PutKeyPolicy or kms:GetKeyPolicy: for them the {} can never apply",
                    s.label(),
                    if s.effect == Effect::Deny { "Deny" } else { "Allow" }
                ),
            );
            f.statement = Some(s.label());
            out.push(f);
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
                        "without the account (arn:aws:iam::{}:root) in the list, even the listed principals are denied",
                        setting.account
                    )
                };
                let mut f = finding(
                    NOT_PRINCIPAL_DENY,
                    format!(
                        "statement {} denies everyone but {}; AWS checks the account, the role and the session in turn, so {consequence}",
                        s.label(),
                        principal_text(s),
                    ),
                );
                f.statement = Some(s.label());
                out.push(f);
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
        out.push(finding(
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

/// Every principal that could still call PutKeyPolicy: the root user, principals named in
/// Allow statements, and principals named by `aws:PrincipalArn` conditions.
fn recoverable_admins(policy: &Policy, setting: &Setting<'_>) -> Vec<RecoverableAdmin> {
    let mut candidates: Vec<String> = vec![format!("arn:aws:iam::{}:root", setting.account)];
    for s in policy.statements.iter().filter(|s| s.valid) {
        let allow = s.effect == Effect::Allow;
        if let Some(p) = s.principal.as_ref().filter(|p| !p.negated && allow) {
            for e in &p.entries {
                if let PrincipalEntry::Arn { arn, account } = e {
                    if account == setting.account && !candidates.contains(arn) {
                        candidates.push(arn.clone());
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
                    let concrete = !v.contains(['*', '?']) && !v.contains("${");
                    let same_account = Arn::parse(v).is_some_and(|a| a.account == setting.account);
                    if concrete
                        && same_account
                        && Caller::parse(v).is_ok()
                        && !candidates.contains(v)
                    {
                        candidates.push(v.clone());
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for principal in candidates {
        let Ok(caller) = Caller::parse(&principal) else {
            continue;
        };
        let kind = match &caller {
            Caller::Root { .. } => "root",
            Caller::User { .. } => "user",
            Caller::Role {
                session: Some(_), ..
            } => "assumed_role",
            Caller::Role { .. } => "role",
            Caller::FederatedUser { .. } => "federated_user",
            Caller::Service { .. } => continue,
        };
        let ctx = recovery_context(setting);
        let put = decide(
            &request(setting, caller.clone(), "kms:PutKeyPolicy", ctx.clone()),
            Some(policy),
            None,
        );
        if !matches!(put.decision, Decision::Allowed | Decision::Conditional) {
            continue;
        }
        let get = decide(
            &request(setting, caller.clone(), "kms:GetKeyPolicy", ctx),
            Some(policy),
            None,
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
            "root" => notes.push(
                "sign in as the account's root user (its password and MFA device); use CloudShell rather than creating root access keys".to_string(),
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
            decision,
            statements: put.deciding_statements.clone(),
            requirements: if requirements.iter().all(|a| a.all_of.is_empty()) {
                vec![]
            } else {
                requirements
            },
            needs_iam_policy: needs_iam,
            exists: if kind == "root" { "yes" } else { "unknown" },
            notes,
        });
    }
    out
}

/// One applied version of the key policy.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyVersion {
    pub event_id: String,
    pub event_name: EventName,
    pub time: DateTime<Utc>,
    pub actor: Actor,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    pub bypass_lockout_check: bool,
    /// True when CreateKey had no policy and KMS applied its default.
    pub default_policy: bool,
    /// The verdict this version gets on its own; `unknown` when it cannot be read.
    pub verdict: Verdict,
    #[serde(skip)]
    pub policy_text: String,
}

/// A failed CreateKey/PutKeyPolicy: changed nothing, but tells what someone tried.
#[derive(Debug, Clone, Serialize)]
pub struct FailedChange {
    pub event_id: String,
    pub event_name: EventName,
    pub time: DateTime<Utc>,
    pub actor: Actor,
    pub error_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// The event after which the policy stopped being `ok` and stayed so.
#[derive(Debug, Clone, Serialize)]
pub struct LockoutEvent {
    pub event_id: String,
    pub event_name: EventName,
    pub time: DateTime<Utc>,
    pub actor: Actor,
    pub principal: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    pub bypass_lockout_check: bool,
}

/// Where the policy used for the verdict came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicySource {
    /// Given as the current policy (a file, or read from KMS).
    Current,
    /// The last version CloudTrail recorded.
    History,
    None,
}

#[derive(Debug, Clone)]
pub struct Diagnosis {
    pub key: KeyRef,
    pub verdict: Verdict,
    pub policy_source: PolicySource,
    /// The policy the verdict is about (text as applied).
    pub policy_text: Option<String>,
    pub ok_requirements: Vec<Alternative>,
    pub recoverable_admins: Vec<RecoverableAdmin>,
    pub lockout_event: Option<LockoutEvent>,
    pub findings: Vec<DiagFinding>,
    /// Findings of the policy parser on the policy the verdict is about.
    pub policy_findings: Vec<Finding>,
    pub history: Vec<PolicyVersion>,
    pub failed_changes: Vec<FailedChange>,
    /// Whether the person asking can get back in, when known who is asking.
    pub caller: Option<CallerAccess>,
}

/// What the key policy lets the person asking do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallerAccess {
    pub principal: String,
    pub can_put_key_policy: bool,
    pub can_get_key_policy: bool,
    /// The decision for kms:PutKeyPolicy.
    pub decision: Decision,
    /// For a conditional decision: alternatives, any one of which suffices.
    pub requirements: Vec<Alternative>,
    /// IAM's own decision for the caller (SimulatePrincipalPolicy), when it was asked:
    /// `[action, decision]` pairs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iam_decisions: Option<Vec<(String, String)>>,
}

/// Everything the diagnosis works from.
pub struct Evidence<'a> {
    pub key: KeyRef,
    /// The current key policy, when it could be read.
    pub current_policy: Option<&'a str>,
    /// Policy events of any key: those of other keys are left out here.
    pub events: &'a [PolicyEvent],
    /// The key's account when known from elsewhere (flag, caller identity).
    pub account: Option<&'a str>,
    pub now: DateTime<Utc>,
    /// The key's aliases, when known (live).
    pub aliases: Option<&'a [String]>,
    /// Who is asking (live): the diagnosis then says whether this caller can get in.
    pub caller: Option<&'a str>,
}

/// Errors that stop a diagnosis: the policy given as current is not a policy.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct DiagnosisError(pub String);

pub fn diagnose(ev: Evidence<'_>) -> Result<Diagnosis, DiagnosisError> {
    let mut key = ev.key.clone();
    let mut mine: Vec<&PolicyEvent> = ev
        .events
        .iter()
        .filter(|e| e.key_refs.iter().any(|r| key.matches(r)))
        .collect();
    mine.sort_by(|a, b| a.time.cmp(&b.time).then(a.event_id.cmp(&b.event_id)));
    mine.dedup_by(|a, b| !a.event_id.is_empty() && a.event_id == b.event_id);

    // Account and region from the evidence, when the key was given by id.
    let from_events_account = mine.iter().find_map(|e| {
        e.key_refs
            .iter()
            .find_map(|r| {
                Arn::parse(r)
                    .filter(|a| a.service == "kms")
                    .map(|a| a.account.to_string())
            })
            .or_else(|| e.account.clone())
    });
    let from_events_region = mine.iter().find_map(|e| e.region.clone());
    key.complete(
        ev.account.or(from_events_account.as_deref()),
        from_events_region.as_deref(),
    );

    let mut findings = Vec::new();
    let mut history = Vec::new();
    let mut failed = Vec::new();
    let account = key.account.clone();

    for e in &mine {
        if let Some(code) = &e.error_code {
            failed.push(FailedChange {
                event_id: e.event_id.clone(),
                event_name: e.name,
                time: e.time,
                actor: e.actor.clone(),
                error_code: code.clone(),
                error_message: e.error_message.clone(),
            });
            continue;
        }
        if e.name == EventName::PutKeyPolicy
            && e.policy_name.as_deref().is_some_and(|n| n != "default")
        {
            continue;
        }
        let (text, is_default) = match (&e.policy, &account) {
            (Some(p), _) => (p.clone(), false),
            (None, Some(acc)) if e.name == EventName::CreateKey => (default_policy(acc), true),
            _ => (String::new(), false),
        };
        let verdict = match (&account, parse_policy(&text, PolicyKind::Key, "key-policy")) {
            (Some(acc), Ok(p)) => {
                assess(
                    &p,
                    &Setting {
                        key: &key,
                        account: acc,
                        now: ev.now,
                        aliases: ev.aliases,
                    },
                )
                .verdict
            }
            // A CreateKey without a policy, for a key whose account is not known: the default
            // policy cannot be written out, and there is nothing wrong with the record.
            (None, Err(_)) if text.is_empty() => Verdict::Unknown,
            (_, Err(err)) => {
                let mut f = finding(
                    UNREADABLE_VERSION,
                    format!(
                        "the policy recorded by event {} cannot be read: {}",
                        e.event_id, err.message
                    ),
                );
                f.event_id = Some(e.event_id.clone());
                findings.push(f);
                Verdict::Unknown
            }
            (None, Ok(_)) => Verdict::Unknown,
        };
        history.push(PolicyVersion {
            event_id: e.event_id.clone(),
            event_name: e.name,
            time: e.time,
            actor: e.actor.clone(),
            source_ip: e.source_ip.clone(),
            user_agent: e.user_agent.clone(),
            bypass_lockout_check: e.bypass_lockout_check,
            default_policy: is_default,
            verdict,
            policy_text: text,
        });
    }

    // The policy the verdict is about.
    let (policy_text, source) = match (
        ev.current_policy,
        history.iter().rev().find(|v| v.verdict != Verdict::Unknown),
    ) {
        (Some(p), _) => (Some(p.to_string()), PolicySource::Current),
        (None, Some(v)) => (Some(v.policy_text.clone()), PolicySource::History),
        (None, None) => (None, PolicySource::None),
    };

    let mut verdict = Verdict::Unknown;
    let mut ok_requirements = Vec::new();
    let mut admins = Vec::new();
    let mut policy_findings = Vec::new();
    let mut caller_access = None;
    if let (Some(text), Some(acc)) = (&policy_text, &account) {
        let policy = parse_policy(text, PolicyKind::Key, "key-policy")
            .map_err(|e| DiagnosisError(e.to_string()))?;
        let a = assess(
            &policy,
            &Setting {
                key: &key,
                account: acc,
                now: ev.now,
                aliases: ev.aliases,
            },
        );
        verdict = a.verdict;
        ok_requirements = a.ok_requirements;
        admins = a.recoverable_admins;
        findings.extend(a.findings);
        policy_findings = policy.findings.clone();
        if let Some(Ok(c)) = ev.caller.map(Caller::parse) {
            let setting = Setting {
                key: &key,
                account: acc,
                now: ev.now,
                aliases: ev.aliases,
            };
            let put = decide(
                &request(
                    &setting,
                    c.clone(),
                    "kms:PutKeyPolicy",
                    recovery_context(&setting),
                ),
                Some(&policy),
                None,
            );
            let get = decide(
                &request(
                    &setting,
                    c.clone(),
                    "kms:GetKeyPolicy",
                    recovery_context(&setting),
                ),
                Some(&policy),
                None,
            );
            let can = |d: Decision| matches!(d, Decision::Allowed | Decision::Conditional);
            caller_access = Some(CallerAccess {
                principal: c.to_string(),
                can_put_key_policy: can(put.decision),
                can_get_key_policy: can(get.decision),
                decision: put.decision,
                requirements: put.requirements,
                iam_decisions: None,
            });
        }
    }

    // The lockout event: the first version after which every later version, and the
    // current policy, is not ok, when the one before it was ok (or it is the first).
    let mut lockout = None;
    if verdict != Verdict::Ok && verdict != Verdict::Unknown {
        let readable: Vec<&PolicyVersion> = history
            .iter()
            .filter(|v| v.verdict != Verdict::Unknown)
            .collect();
        let mut idx = readable.len();
        while idx > 0 && readable[idx - 1].verdict != Verdict::Ok {
            idx -= 1;
        }
        // With a current policy that differs from the last version, the change came from
        // outside the evidence (older than it, or not recorded).
        let current_matches_last = match (source, readable.last()) {
            (PolicySource::Current, Some(last)) => {
                same_policy(ev.current_policy.unwrap_or(""), &last.policy_text)
            }
            (PolicySource::History, Some(_)) => true,
            _ => false,
        };
        if idx < readable.len() && current_matches_last {
            let v = readable[idx];
            lockout = Some(LockoutEvent {
                event_id: v.event_id.clone(),
                event_name: v.event_name,
                time: v.time,
                principal: v.actor.principal(),
                actor: v.actor.clone(),
                source_ip: v.source_ip.clone(),
                bypass_lockout_check: v.bypass_lockout_check,
            });
            if v.bypass_lockout_check {
                let mut f = finding(
                    BYPASSED_CHECK,
                    format!(
                        "{} applied this policy with BypassPolicyLockoutSafetyCheck: KMS did not check that the caller could still change it",
                        v.actor.principal()
                    ),
                );
                f.event_id = Some(v.event_id.clone());
                findings.push(f);
            }
            if idx > 0 {
                if let Some(acc) = &account {
                    findings.extend(what_changed(
                        &readable[idx - 1].policy_text,
                        &v.policy_text,
                        acc,
                        &v.event_id,
                    ));
                }
            }
        }
    }
    for f in &failed {
        let mut d = finding(
            FAILED_CHANGE,
            format!(
                "{} tried {} at {} and failed ({}): it changed nothing",
                f.actor.principal(),
                match f.event_name {
                    EventName::CreateKey => "CreateKey",
                    EventName::PutKeyPolicy => "PutKeyPolicy",
                },
                f.time.format("%Y-%m-%dT%H:%M:%SZ"),
                f.error_code
            ),
        );
        d.event_id = Some(f.event_id.clone());
        findings.push(d);
    }
    if verdict == Verdict::Unrecoverable {
        let others: Vec<String> = policy_text
            .as_deref()
            .and_then(|t| parse_policy(t, PolicyKind::Key, "key-policy").ok())
            .map(|p| {
                p.statements
                    .iter()
                    .filter(|s| s.valid && s.effect == Effect::Allow)
                    .flat_map(|s| s.principal.iter().flat_map(|p| p.entries.clone()))
                    .filter_map(|e| match e {
                        PrincipalEntry::Arn { arn, account: a } if Some(&a) != account.as_ref() => {
                            Some(arn)
                        }
                        PrincipalEntry::Account { account: a, .. }
                            if Some(&a) != account.as_ref() =>
                        {
                            Some(format!("arn:aws:iam::{a}:root"))
                        }
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !others.is_empty() {
            findings.push(finding(
                OTHER_ACCOUNTS,
                format!(
                    "{} of other accounts {} named, but kms:PutKeyPolicy never works across accounts",
                    others.join(", "),
                    if others.len() == 1 { "is" } else { "are" }
                ),
            ));
        }
    }

    Ok(Diagnosis {
        key,
        verdict,
        policy_source: source,
        policy_text,
        ok_requirements,
        recoverable_admins: admins,
        lockout_event: lockout,
        findings,
        policy_findings,
        history,
        failed_changes: failed,
        caller: caller_access,
    })
}

/// Marks a diagnosis made from incomplete evidence, saying what is missing.
pub fn note_incomplete(
    d: &mut Diagnosis,
    problems: &[String],
    lookup_complete: bool,
    policy_error: Option<&str>,
) {
    if let Some(e) = policy_error {
        d.findings.push(finding(
            INCOMPLETE_EVIDENCE,
            format!(
                "kms GetKeyPolicy did not answer ({e}): the policy comes from CloudTrail history"
            ),
        ));
    }
    if !lookup_complete || !problems.is_empty() {
        let mut f = finding(
            INCOMPLETE_EVIDENCE,
            format!(
                "the evidence is incomplete{}: {}",
                if lookup_complete {
                    ""
                } else {
                    " (the CloudTrail history may miss events)"
                },
                problems.join("; ")
            ),
        );
        f.severity = if lookup_complete {
            Severity::Info
        } else {
            Severity::Warning
        };
        d.findings.push(f);
    }
}

/// Folds in what IAM said (live): whether admins exist, and IAM's decision for the caller.
/// An admin that no longer exists cannot recover anything: when it was the last one, the
/// verdict becomes `unrecoverable`.
pub fn apply_iam_facts(
    d: &mut Diagnosis,
    existence: &std::collections::BTreeMap<String, String>,
    simulation: Option<&[(String, String)]>,
) {
    let mut deleted = Vec::new();
    for a in &mut d.recoverable_admins {
        match existence.get(&a.principal).map(String::as_str) {
            Some("yes") => a.exists = "yes",
            Some("no") => deleted.push(a.principal.clone()),
            _ => {}
        }
    }
    // A principal that no longer exists cannot recover anything; re-creating it would not
    // match either.
    d.recoverable_admins
        .retain(|a| !deleted.contains(&a.principal));
    if !deleted.is_empty() {
        let was_recoverable = d.verdict == Verdict::Recoverable;
        if was_recoverable && !d.recoverable_admins.iter().any(|a| a.can_put_key_policy) {
            d.verdict = Verdict::Unrecoverable;
        }
        d.findings.push(finding(
            DELETED_PRINCIPALS,
            format!(
                "{} {} allowed to change the policy but no longer exist{} (IAM says NoSuchEntity): re-creating {} does not bring access back{}",
                deleted.join(", "),
                if deleted.len() == 1 { "is" } else { "are" },
                if deleted.len() == 1 { "s" } else { "" },
                if deleted.len() == 1 { "it" } else { "them" },
                if d.verdict == Verdict::Unrecoverable && was_recoverable { "; nobody else can" } else { "" }
            ),
        ));
    }
    if let (Some(sim), Some(c)) = (simulation, d.caller.as_mut()) {
        c.iam_decisions = Some(sim.to_vec());
        let denied: Vec<String> = sim
            .iter()
            .filter(|(_, dec)| dec != "allowed")
            .map(|(a, dec)| format!("{a} ({dec})"))
            .collect();
        let message = if denied.is_empty() {
            format!("IAM allows {} kms:GetKeyPolicy and kms:PutKeyPolicy on the key (SimulatePrincipalPolicy)", c.principal)
        } else {
            format!(
                "IAM does not allow {}: {}; grant it in an IAM policy, and check permissions boundaries and SCPs",
                c.principal,
                denied.join(", ")
            )
        };
        d.findings.push(finding(IAM_DECISION, message));
    }
}

/// Whether two policy texts are the same policy (same JSON, whatever the spacing).
fn same_policy(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// What the lockout event changed, compared with the version before it.
fn what_changed(before: &str, after: &str, account: &str, event_id: &str) -> Vec<DiagFinding> {
    let (Ok(old), Ok(new)) = (
        parse_policy(before, PolicyKind::Key, "before"),
        parse_policy(after, PolicyKind::Key, "after"),
    ) else {
        return vec![];
    };
    let Some(d) = old
        .statements
        .iter()
        .find(|s| s.valid && delegates(s, account) && covers(s, "kms:PutKeyPolicy"))
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
                principal_text(d),
                principal_text(n)
            ),
        ),
        Some(n) if !(covers(n, "kms:PutKeyPolicy") && covers(n, "kms:GetKeyPolicy")) => (
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
    let mut f = finding(rule, message);
    f.event_id = Some(event_id.to_string());
    f.statement = Some(label);
    vec![f]
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn assess_text(policy: &str) -> Assessment {
        let key = KeyRef::parse(KEY).unwrap();
        let p = parse_policy(policy, PolicyKind::Key, "key-policy").unwrap();
        assess(
            &p,
            &Setting {
                key: &key,
                account: "111122223333",
                now: DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
                    .unwrap()
                    .to_utc(),
                aliases: None,
            },
        )
    }

    #[test]
    fn key_refs() {
        let k = KeyRef::parse(KEY).unwrap();
        assert_eq!(k.id, "1234abcd-12ab-34cd-56ef-1234567890ab");
        assert!(k.matches("1234abcd-12ab-34cd-56ef-1234567890ab"));
        assert!(k.matches(KEY));
        assert!(!k.matches(
            "arn:aws:kms:us-east-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        ));
        let by_id = KeyRef::parse("mrk-1234abcd12ab34cd56ef1234567890ab").unwrap();
        assert!(by_id.arn.is_none());
        assert!(KeyRef::parse("alias/prod").unwrap_err().contains("alias"));
        assert!(KeyRef::parse("nope").is_err());
        assert!(KeyRef::parse("arn:aws:kms:us-east-1:111122223333:key/nope").is_err());
    }

    #[test]
    fn default_policy_is_ok() {
        let a = assess_text(&default_policy("111122223333"));
        assert_eq!(a.verdict, Verdict::Ok);
        assert_eq!(a.findings[0].id, "KL210");
        assert_eq!(a.recoverable_admins[0].kind, "root");
    }

    #[test]
    fn mfa_condition_is_a_requirement_not_a_lockout() {
        let a = assess_text(
            r#"{"Statement":[{"Sid":"x","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#,
        );
        assert_eq!(a.verdict, Verdict::Ok);
        let texts: Vec<&str> = a.ok_requirements[0]
            .all_of
            .iter()
            .map(|r| r.text.as_str())
            .collect();
        assert!(
            texts.contains(&"aws:MultiFactorAuthPresent is true"),
            "{texts:?}"
        );
    }

    #[test]
    fn principal_type_condition_leaves_only_root() {
        let a = assess_text(
            r#"{"Statement":[{"Sid":"x","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalType":"Account"}}}]}"#,
        );
        assert_eq!(a.verdict, Verdict::Recoverable);
        assert_eq!(a.recoverable_admins.len(), 1);
        assert_eq!(a.recoverable_admins[0].kind, "root");
        assert_eq!(a.findings[0].id, "KL204");
    }

    #[test]
    fn a_principal_spared_by_a_deny_is_a_candidate() {
        let a = assess_text(
            r#"{"Statement":[
            {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"},
            {"Sid":"OnlyBreakGlass","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/BreakGlass"}}}]}"#,
        );
        assert_eq!(a.verdict, Verdict::Recoverable);
        let b = a
            .recoverable_admins
            .iter()
            .find(|x| x.principal.ends_with("role/BreakGlass"))
            .expect("BreakGlass");
        assert!(b.needs_iam_policy);
        assert!(
            a.recoverable_admins.iter().all(|x| x.kind != "root"),
            "the Deny covers the root user too"
        );
    }

    #[test]
    fn only_deleted_admins_is_unrecoverable() {
        let a = assess_text(
            r#"{"Statement":[{"Sid":"x","Effect":"Allow","Principal":{"AWS":"AROAEXAMPLEEXAMPLE01"},"Action":"kms:*","Resource":"*"}]}"#,
        );
        assert_eq!(a.verdict, Verdict::Unrecoverable);
        assert!(a.findings.iter().any(|f| f.id == "KL201"));
        assert!(a.findings.iter().any(|f| f.id == "KL206"));
    }
}
