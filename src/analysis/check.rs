//! `kmsdoctor check`: lint a key policy before it ships. Every finding has a stable rule id,
//! a severity and a one-line fix. The rules reuse the parser (KD1xx), the lockout diagnosis
//! (KL2xx) and add their own (KC3xx), including a prediction of KMS's lockout safety check
//! for the principal that will apply the policy (`--as`).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::aws_ids::{is_account_id, Arn};
use super::eval::{decide, Decision, RequirementKind};
use super::kms;
use super::lockout::delegation::{names_account, RequestCache, DELEGATION_SID};
use super::lockout::{assess, KeyRef, Setting, Verdict};
use super::policy::{parse_policy_unplaced, Effect, Policy, PolicyError, PolicyKind};
use super::principal::{Caller, PrincipalEntry};
use super::reference::labels;
use super::rules::{
    Finding, Severity, ACCOUNT_UNKNOWN, ALIAS_ABAC_RISK, ALIAS_ARN_RESOURCE,
    ASSUMED_DELETION_LOCKS_OUT, CONDITION_KEY_NEVER_PRESENT, CONDITION_VALUE_TYPE,
    DELEGATION_WEAKENED, OPEN_PRINCIPAL, REQUEST_ALIAS_ARN, REQUEST_ALIAS_UNCARRIED,
    RESOURCE_ALIASES_IN_KEY_POLICY, SAFETY_CHECK, SINGLE_ADMIN, UNKNOWN_ACTION, WOULD_LOCK_OUT,
};

/// What KMS's lockout safety check would say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SafetyOutcome {
    Accepted,
    Rejected,
    /// It depends on conditions of the deploying request.
    Depends,
}

impl SafetyOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            SafetyOutcome::Accepted => "accepted",
            SafetyOutcome::Rejected => "rejected",
            SafetyOutcome::Depends => "depends",
        }
    }
}

/// KMS's lockout safety check, predicted for the principal that applies the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SafetyCheck {
    pub principal: String,
    pub outcome: SafetyOutcome,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    /// The verdict the policy would get once applied (`None` when the account is unknown).
    pub verdict: Option<Verdict>,
    pub findings: Vec<Finding>,
    pub safety_check: Option<SafetyCheck>,
}

/// What the check needs besides the policy.
pub struct CheckSetting<'a> {
    /// The key's account: given, or found in the policy.
    pub account: Option<&'a str>,
    /// The region the key will be in (`--region`), when known.
    pub region: Option<&'a str>,
    /// The principal that will apply the policy (`--as`).
    pub deployer: Option<&'a Caller>,
    pub now: DateTime<Utc>,
    /// Requests shared by every policy checked in one run.
    pub cache: Option<&'a RequestCache>,
    /// `--assume-deleted`: principals about to be deleted (a deleted principal re-created
    /// does not match a policy that named it).
    pub assume_deleted: &'a [String],
}

/// The account a policy is judged in when it names none and none was given, for the rules
/// whose answer does not depend on the account (a deny-all).
const STAND_IN_ACCOUNT: &str = "000000000000";

fn stand_in_key(region: Option<&str>) -> KeyRef {
    KeyRef {
        id: "00000000-0000-0000-0000-000000000000".into(),
        arn: None,
        account: Some(STAND_IN_ACCOUNT.into()),
        region: region.map(str::to_string),
    }
}

/// Whether a policy names no account anywhere (no 12-digit account id and no template
/// placeholder in a principal, a resource or a condition value): then every account is alike
/// to it.
fn names_no_account(policy: &Policy) -> bool {
    let has_account = |v: &str| {
        v.contains("${")
            || v.contains("{{")
            || v.contains('<')
            || v.as_bytes()
                .split(|b| !b.is_ascii_digit())
                .any(|run| run.len() == 12)
    };
    policy.statements.iter().all(|s| {
        let principals = s.principal.iter().flat_map(|p| p.entries.iter()).all(|e| {
            matches!(
                e,
                PrincipalEntry::Everyone
                    | PrincipalEntry::Service(_)
                    | PrincipalEntry::Federated(_)
            )
        });
        let resources = s
            .resources
            .iter()
            .flat_map(|r| r.patterns.iter())
            .all(|p| !has_account(p));
        let conditions = s
            .conditions
            .iter()
            .flat_map(|c| c.values.iter())
            .all(|v| !has_account(v));
        principals && resources && conditions
    })
}

/// A statement that denies kms:PutKeyPolicy to every principal, the root user included,
/// without a condition, on every key: nobody of any account can change the policy.
fn deny_all(policy: &Policy) -> Option<&super::policy::Statement> {
    use super::pattern::{key_arn_relation, Relation};
    policy.statements.iter().find(|s| {
        s.valid
            && s.effect == Effect::Deny
            && s.conditions.is_empty()
            && s.covers_action("kms:PutKeyPolicy")
            && s.principal.as_ref().is_some_and(|p| {
                !p.negated
                    && p.entries
                        .iter()
                        .any(|e| matches!(e, PrincipalEntry::Everyone))
            })
            && s.resources.as_ref().is_some_and(|r| {
                !r.negated
                    && r.patterns.iter().any(|p| {
                        p == "*"
                            || key_arn_relation(p, "aws", STAND_IN_ACCOUNT, None) == Relation::All
                    })
            })
    })
}

/// The account a policy most likely belongs to: the account principal's, else the account
/// most of its principals are in.
pub fn infer_account(policy: &Policy) -> Option<String> {
    let entries = || {
        policy
            .statements
            .iter()
            .flat_map(|s| s.principal.iter().flat_map(|p| p.entries.iter()))
    };
    if let Some(PrincipalEntry::Account { account, .. }) =
        entries().find(|e| matches!(e, PrincipalEntry::Account { .. }))
    {
        return Some(account.to_string());
    }
    let mut counts: Vec<(String, usize)> = Vec::new();
    for e in entries() {
        if let PrincipalEntry::Arn { account, .. } = e {
            match counts.iter_mut().find(|(a, _)| a == account) {
                Some((_, n)) => *n += 1,
                None => counts.push((account.to_string(), 1)),
            }
        }
    }
    counts.into_iter().max_by_key(|(_, n)| *n).map(|(a, _)| a)
}

/// Checks one key policy document (findings carry pointers; the caller places them in its
/// file, which may not be `text`: a policy taken out of a plan or a template).
pub fn check_policy(text: &str, setting: &CheckSetting<'_>) -> Result<CheckResult, PolicyError> {
    check_parsed(
        &parse_policy_unplaced(text, PolicyKind::Key, "key-policy")?,
        setting,
    )
}

/// Checks a key policy already parsed (a clean one, read while the file was told apart).
pub fn check_parsed(
    policy: &Policy,
    setting: &CheckSetting<'_>,
) -> Result<CheckResult, PolicyError> {
    let mut findings: Vec<Finding> = policy.findings.clone();
    findings.extend(alias_rules(policy));
    findings.extend(open_principals(policy));
    findings.extend(silent_no_ops(policy));

    let inferred = infer_account(policy);
    let account = setting
        .account
        .map(str::to_string)
        .or(inferred)
        .filter(|a| is_account_id(a));
    let Some(account) = account else {
        // A Deny of kms:PutKeyPolicy to every principal, without a condition, on every key,
        // locks out whatever the account: judged without one.
        // So does any verdict of a policy that names no account at all (no account id, no
        // placeholder): every account is alike to it, so the stand-in's verdict is the
        // key's, whatever its account.
        let any_account = names_no_account(policy);
        if any_account || deny_all(policy).is_some() {
            let key = stand_in_key(setting.region);
            let s = Setting::new(&key, STAND_IN_ACCOUNT, setting.now, None, None);
            let a = assess(policy, &s);
            if any_account || a.verdict == Verdict::Unrecoverable {
                let shown = |mut f: Finding| {
                    f.message = f.message.replace(STAND_IN_ACCOUNT, "ACCOUNT");
                    f
                };
                if a.verdict != Verdict::Ok {
                    findings.push(shown(would_lock_out(&a)));
                }
                findings.extend(
                    a.findings
                        .into_iter()
                        .filter(|f| f.rule.in_check)
                        .map(shown),
                );
                return Ok(CheckResult {
                    verdict: Some(a.verdict),
                    findings,
                    safety_check: None,
                });
            }
        }
        findings.push(Finding::new(
            ACCOUNT_UNKNOWN,
            "the key's account is not known (no --account, and no account principal in the policy): lockout rules skipped",
        ));
        return Ok(CheckResult {
            verdict: None,
            findings,
            safety_check: None,
        });
    };

    let key = KeyRef {
        id: "00000000-0000-0000-0000-000000000000".into(),
        arn: None,
        account: Some(account.clone()),
        region: setting.region.map(str::to_string),
    };
    let mut s = Setting::new(&key, &account, setting.now, None, None);
    if let Some(c) = setting.cache {
        s = s.sharing(c);
    }
    let a = assess(policy, &s);
    if a.verdict != Verdict::Ok {
        findings.push(would_lock_out(&a));
        let who: Vec<&str> = a
            .recoverable_admins
            .iter()
            .map(|x| x.principal.as_str())
            .collect();
        // With the principals about to be deleted gone, is anyone left? (The root user and
        // classes of principals cannot be deleted by name.)
        let lost: Vec<&str> = who
            .iter()
            .copied()
            .filter(|p| setting.assume_deleted.iter().any(|d| d == p))
            .collect();
        if !lost.is_empty() && lost.len() == who.len() {
            findings.push(Finding::new(
                ASSUMED_DELETION_LOCKS_OUT,
                format!(
                    "without {} nobody could change this policy: it would be unrecoverable",
                    lost.join(", ")
                ),
            ));
        }
        // A class of principals (anyone who can create such a role) is not one administrator.
        if who.len() == 1 && a.recoverable_admins[0].class.is_none() {
            findings.push(Finding::new(
                SINGLE_ADMIN,
                format!(
                    "{} is the only principal that could change the policy",
                    who[0]
                ),
            ));
        }
    } else if let Some(d) = policy.statements.iter().find(|st| {
        st.valid
            && st.effect == Effect::Allow
            && names_account(st, &account)
            && st.covers_action("kms:PutKeyPolicy")
    }) {
        let narrowed = !d
            .actions
            .as_ref()
            .is_some_and(|a| !a.negated && a.patterns.iter().any(|p| p == "kms:*" || p == "*"));
        if narrowed || !d.conditions.is_empty() {
            findings.push(
                Finding::new(
                    DELEGATION_WEAKENED,
                    format!(
                        "statement {} delegates to IAM {}",
                        d.label(),
                        match (narrowed, d.conditions.is_empty()) {
                            (true, true) => "for some actions only".to_string(),
                            (false, false) =>
                                format!("only under conditions ({})", condition_keys(d)),
                            _ => format!(
                                "for some actions only, under conditions ({})",
                                condition_keys(d)
                            ),
                        }
                    ),
                )
                .at_statement(policy.statement_ref(d)),
            );
        }
    }
    // The diagnosis's findings that `check` reports on their own (the registry says which):
    // the causes of a lockout are inside KC301 above.
    findings.extend(a.findings.into_iter().filter(|f| f.rule.in_check));
    let safety_check = setting.deployer.map(|d| safety(policy, &s, d));
    if let Some(sc) = &safety_check {
        if sc.outcome != SafetyOutcome::Accepted {
            let mut f = Finding::new(
                SAFETY_CHECK,
                format!(
                    "KMS's lockout safety check {} this policy for {}: {} (\"The new key policy will not allow you to update the key policy in the future\")",
                    if sc.outcome == SafetyOutcome::Rejected { "would reject" } else { "may reject" },
                    sc.principal,
                    sc.reason
                ),
            );
            if sc.outcome == SafetyOutcome::Depends {
                f.severity = Severity::Warning;
            }
            findings.push(f);
        }
    }
    Ok(CheckResult {
        verdict: Some(a.verdict),
        findings,
        safety_check,
    })
}

/// KC301, the outcome, with its cause (KL201–KL205) inside: the cause's words, statement and
/// fix, so that one cause gives one finding.
fn would_lock_out(a: &super::lockout::Assessment) -> Finding {
    let who: Vec<&str> = a
        .recoverable_admins
        .iter()
        .map(|x| x.principal.as_str())
        .collect();
    let causes: Vec<&Finding> = a.findings.iter().filter(|f| f.rule.cause).collect();
    let because = if causes.is_empty() {
        "IAM policies could no longer grant kms:PutKeyPolicy and kms:GetKeyPolicy".to_string()
    } else {
        causes
            .iter()
            .map(|c| c.message.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let mut f = Finding::new(
        WOULD_LOCK_OUT,
        format!(
            "once applied, the key would be `{}`: {because}; {}",
            a.verdict.as_str(),
            if who.is_empty() {
                "nobody could change the policy again".to_string()
            } else {
                format!("only {} could change it", who.join(", "))
            }
        ),
    );
    if let Some(c) = causes.first() {
        f.subject = c.subject.clone();
        f.cause = Some(c.rule);
    }
    f
}

fn condition_keys(s: &super::policy::Statement) -> String {
    let keys: Vec<&str> = s.conditions.iter().map(|c| c.key.as_str()).collect();
    keys.join(", ")
}

/// KMS's check: would the caller applying the policy still be allowed kms:PutKeyPolicy? An
/// allow that goes through the IAM delegation counts: KMS takes IAM as able to allow it.
pub fn safety(policy: &Policy, s: &Setting<'_>, deployer: &Caller) -> SafetyCheck {
    let e = decide(
        &s.request_now(deployer.clone(), "kms:PutKeyPolicy"),
        Some(policy),
        None,
    );
    let principal = deployer.to_string();
    match e.decision {
        Decision::Allowed => SafetyCheck {
            principal,
            outcome: SafetyOutcome::Accepted,
            reason: format!(
                "statement {} allows it kms:PutKeyPolicy",
                labels(&e.deciding_statements)
            ),
        },
        Decision::Conditional => {
            let only_iam = e.requirements.iter().any(|a| {
                a.all_of.iter().all(|r| {
                    matches!(
                        r.kind,
                        RequirementKind::IamPolicy | RequirementKind::Resource
                    )
                })
            });
            if only_iam {
                SafetyCheck {
                    principal,
                    outcome: SafetyOutcome::Accepted,
                    reason: format!(
                        "statement {} keeps the IAM delegation, so IAM can still allow it",
                        labels(&e.deciding_statements)
                    ),
                }
            } else {
                let reqs: Vec<String> = e
                    .requirements
                    .iter()
                    .flat_map(|a| {
                        a.all_of
                            .iter()
                            .filter(|r| r.kind != RequirementKind::IamPolicy)
                            .map(|r| r.text.clone())
                    })
                    .collect();
                SafetyCheck {
                    principal,
                    outcome: SafetyOutcome::Depends,
                    reason: format!(
                        "it keeps kms:PutKeyPolicy only if the deploying request meets: {}",
                        reqs.join("; ")
                    ),
                }
            }
        }
        Decision::ExplicitDeny => SafetyCheck {
            principal,
            outcome: SafetyOutcome::Rejected,
            reason: format!(
                "statement {} denies it kms:PutKeyPolicy",
                labels(&e.deciding_statements)
            ),
        },
        Decision::ImplicitDeny => {
            let delegation_left = policy
                .statements
                .iter()
                .any(|st| st.valid && st.sid.as_deref() == Some(DELEGATION_SID));
            SafetyCheck {
                principal,
                outcome: SafetyOutcome::Rejected,
                reason: if deployer.is_root() {
                    "no statement allows the account principal, and so not the root user".into()
                } else if delegation_left {
                    "the policy neither names it nor delegates kms:PutKeyPolicy to its account"
                        .into()
                } else {
                    "the policy does not name it, and without the IAM delegation its IAM policies no longer count".into()
                },
            }
        }
    }
}

/// What a `kms:` action of a policy is.
#[derive(Debug, Clone, Copy)]
enum ActionKind {
    Concrete(&'static kms::Operation),
    /// A wildcard, and whether it matches some KMS action.
    Wildcard(bool),
    ConditionKey,
    /// No KMS action, with the closest one.
    Unknown(Option<&'static str>),
}

/// What the `kms:` action `p` (`name` after the prefix) is. Policies repeat the same few
/// actions file after file: each worker remembers its answers.
fn action_kind(p: &str, name: &str) -> ActionKind {
    thread_local! {
        static SEEN: std::cell::RefCell<std::collections::HashMap<String, ActionKind>> =
            std::cell::RefCell::new(std::collections::HashMap::new());
    }
    if let Some(k) = SEEN.with(|m| m.borrow().get(p).copied()) {
        return k;
    }
    let kind = if name.contains(['*', '?']) {
        // `Prefix*`, the usual shape (kms:Create*, kms:Get*): a prefix test.
        ActionKind::Wildcard(match name.strip_suffix('*') {
            Some(prefix) if !prefix.contains(['*', '?']) => kms::OPERATIONS.iter().any(|o| {
                o.name.len() >= prefix.len()
                    && o.name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
            }),
            _ => kms::OPERATIONS
                .iter()
                .any(|o| super::pattern::wildcard_match(name, o.name, true)),
        })
    } else {
        match kms::operation(p) {
            Some(op) => ActionKind::Concrete(op),
            None if super::condition_keys::is_known(p) => ActionKind::ConditionKey,
            None => ActionKind::Unknown(kms::suggest(p)),
        }
    };
    SEEN.with(|m| {
        let mut m = m.borrow_mut();
        // Bounded: a hostile policy of random names does not grow it without end.
        if m.len() < 4096 {
            m.insert(p.to_string(), kind);
        }
    });
    kind
}

/// What KMS accepts and ignores (Service Authorization Reference, "Actions, resources, and
/// condition keys for AWS Key Management Service": the actions, and the condition keys each
/// carries; IAM User Guide, "IAM JSON policy elements: Condition operators": what each
/// operator compares): an action KMS does not have, a condition on a KMS key none of the
/// statement's actions carries, a value of the wrong type for its operator. Each makes a
/// statement, or part of it, a silent no-op.
fn silent_no_ops(policy: &Policy) -> Vec<Finding> {
    use super::condition::{Base, SetOp};
    let mut out = Vec::new();
    for s in policy.statements.iter().filter(|s| s.valid) {
        let at = || policy.statement_ref(s);
        // Actions: `kms:` names that are no KMS operation (wildcards matching none too),
        // said once per statement.
        let mut concrete: Vec<&'static kms::Operation> = Vec::new();
        let mut any_pattern = false;
        let mut keys: Vec<String> = Vec::new();
        let mut unknown: Vec<String> = Vec::new();
        if let Some(a) = s.actions.as_ref().filter(|a| !a.negated) {
            for p in &a.patterns {
                let Some(name) = p.strip_prefix("kms:").or_else(|| p.strip_prefix("KMS:")) else {
                    any_pattern |= p.as_str() == "*";
                    continue;
                };
                match action_kind(p, name) {
                    ActionKind::Concrete(op) => concrete.push(op),
                    ActionKind::Wildcard(true) => any_pattern = true,
                    ActionKind::Wildcard(false) => {
                        any_pattern = true;
                        unknown.push(format!("`{p}` matches no KMS action"));
                    }
                    ActionKind::ConditionKey => keys.push(format!("`{p}`")),
                    ActionKind::Unknown(hint) => unknown.push(match hint {
                        Some(n) => format!("`{p}` is not a KMS action (did you mean `kms:{n}`?)"),
                        None => format!("`{p}` is not a KMS action"),
                    }),
                }
            }
        }
        if !keys.is_empty() {
            unknown.push(format!(
                "{} {} condition key{}, not action{}: put {} in Condition",
                keys.join(", "),
                if keys.len() == 1 { "is a" } else { "are" },
                if keys.len() == 1 { "" } else { "s" },
                if keys.len() == 1 { "" } else { "s" },
                if keys.len() == 1 { "it" } else { "them" },
            ));
        }
        if !unknown.is_empty() {
            out.push(
                Finding::new(
                    UNKNOWN_ACTION,
                    format!(
                        "statement {}: {}; KMS accepts them and they grant or deny nothing",
                        s.label(),
                        unknown.join("; ")
                    ),
                )
                .at_statement(at()),
            );
        }
        for c in &s.conditions {
            // A KMS condition key none of the statement's (concrete) actions carries: the
            // condition is never met (IfExists, Null and ForAllValues hold over an absent key;
            // kms:RequestAlias is KC305's).
            let key = c.key.to_ascii_lowercase();
            let vacuous = c.operator.if_exists
                || c.operator.base == Base::Null
                || c.operator.set == Some(SetOp::ForAllValues);
            if key.starts_with("kms:")
                && key != "kms:requestalias"
                && !vacuous
                && !any_pattern
                && !concrete.is_empty()
                && !concrete.iter().any(|o| o.carries(&key))
            {
                let names: Vec<&str> = concrete.iter().map(|o| o.name).collect();
                out.push(
                    Finding::new(
                        CONDITION_KEY_NEVER_PRESENT,
                        format!(
                            "statement {}: {} is never in a request for {}: the statement never applies",
                            s.label(),
                            c.key,
                            names.join(", ")
                        ),
                    )
                    .at_statement(at()),
                );
            }
            // Values of the wrong type for the operator (a policy variable is the request's).
            let wrong = |v: &str| -> bool {
                if v.contains("${") {
                    return false;
                }
                match c.operator.base {
                    Base::ArnEquals | Base::ArnLike | Base::ArnNotEquals | Base::ArnNotLike => {
                        v != "*" && !v.starts_with("arn:")
                    }
                    Base::DateEquals
                    | Base::DateNotEquals
                    | Base::DateLessThan
                    | Base::DateLessThanEquals
                    | Base::DateGreaterThan
                    | Base::DateGreaterThanEquals => super::condition::parse_date(v).is_none(),
                    Base::NumericEquals
                    | Base::NumericNotEquals
                    | Base::NumericLessThan
                    | Base::NumericLessThanEquals
                    | Base::NumericGreaterThan
                    | Base::NumericGreaterThanEquals => v.trim().parse::<f64>().is_err(),
                    Base::Bool | Base::Null => {
                        !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false")
                    }
                    Base::IpAddress | Base::NotIpAddress => {
                        v.parse::<ipnet::IpNet>().is_err() && v.parse::<std::net::IpAddr>().is_err()
                    }
                    _ => false,
                }
            };
            if let Some(v) = c.values.iter().find(|v| wrong(v)) {
                out.push(
                    Finding::new(
                        CONDITION_VALUE_TYPE,
                        format!(
                            "statement {}: {} {} compares `{v}`, which is not {}: it never matches",
                            s.label(),
                            c.operator_name,
                            c.key,
                            match c.operator.base {
                                Base::ArnEquals
                                | Base::ArnLike
                                | Base::ArnNotEquals
                                | Base::ArnNotLike => "an ARN",
                                Base::Bool | Base::Null => "true or false",
                                Base::IpAddress | Base::NotIpAddress => "an IP address or range",
                                b if b.name().starts_with("Date") => "a date",
                                _ => "a number",
                            }
                        ),
                    )
                    .at_statement(at()),
                );
            }
        }
    }
    out
}

/// Rules on alias-based access.
fn alias_rules(policy: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut uses_alias_conditions = false;
    for s in policy.statements.iter().filter(|s| s.valid) {
        for c in &s.conditions {
            let key = c.key.to_ascii_lowercase();
            if key == "kms:requestalias" {
                uses_alias_conditions = true;
                let without: Vec<&str> = kms::OPERATIONS
                    .iter()
                    .filter(|o| {
                        o.key_resource
                            && !o.request_alias
                            && s.covers_action(&format!("kms:{}", o.name))
                    })
                    .map(|o| o.name)
                    .collect();
                if !without.is_empty() {
                    let shown = if without.len() > 4 {
                        format!("{} and {} more", without[..4].join(", "), without.len() - 4)
                    } else {
                        without.join(", ")
                    };
                    out.push(Finding::new(
                        REQUEST_ALIAS_UNCARRIED,
                        format!("statement {} conditions on kms:RequestAlias, which {shown} never carry: for them it never applies", s.label()),
                    ).at_statement(policy.statement_ref(s)));
                }
                if let Some(v) = c.values.iter().find(|v| v.starts_with("arn:")) {
                    out.push(Finding::new(
                        REQUEST_ALIAS_ARN,
                        format!("statement {}: kms:RequestAlias value `{v}` is an ARN; the key holds alias names, so it never matches", s.label()),
                    ).at_statement(policy.statement_ref(s)));
                }
            }
            if key == "kms:resourcealiases" {
                uses_alias_conditions = true;
                out.push(
                    Finding::new(
                        RESOURCE_ALIASES_IN_KEY_POLICY,
                        format!(
                            "statement {} uses kms:ResourceAliases in a key policy",
                            s.label()
                        ),
                    )
                    .at_statement(policy.statement_ref(s)),
                );
            }
        }
        if let Some(r) = &s.resources {
            if let Some(p) = r
                .patterns
                .iter()
                .find(|p| Arn::parse(p).is_some_and(|a| a.resource.starts_with("alias/")))
            {
                out.push(Finding::new(
                    ALIAS_ARN_RESOURCE,
                    format!("statement {}: Resource `{p}` is an alias ARN; in a key policy it matches nothing", s.label()),
                ).at_statement(policy.statement_ref(s)));
            }
        }
    }
    if uses_alias_conditions {
        if let Some(s) = policy.statements.iter().find(|s| {
            s.valid
                && s.effect == Effect::Allow
                && ["kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"]
                    .iter()
                    .any(|a| s.covers_action(a))
        }) {
            out.push(Finding::new(
                ALIAS_ABAC_RISK,
                format!(
                    "access depends on aliases, and statement {} lets principals create, update or delete aliases: they can give themselves access or take it from others",
                    s.label()
                ),
            ).at_statement(policy.statement_ref(s)));
        }
    }
    out
}

/// Keys that limit a `*` principal to an account or organization.
const LIMITING_KEYS: &[&str] = &[
    "kms:calleraccount",
    "aws:principalaccount",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalarn",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:sourceorgid",
    "kms:viaservice",
    "aws:principalservicename",
];

fn open_principals(policy: &Policy) -> Vec<Finding> {
    policy
        .statements
        .iter()
        .filter(|s| s.valid && s.effect == Effect::Allow)
        .filter(|s| {
            s.principal.as_ref().is_some_and(|p| !p.negated && p.entries.contains(&PrincipalEntry::Everyone))
        })
        .filter(|s| {
            !s.conditions
                .iter()
                .any(|c| LIMITING_KEYS.contains(&c.key.to_ascii_lowercase().as_str()))
        })
        .map(|s| {
            Finding::new(
                OPEN_PRINCIPAL,
                format!("statement {} allows `*` (any AWS principal, in any account) with no condition limiting who", s.label()),
            )
            .at_statement(policy.statement_ref(s))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
            .unwrap()
            .to_utc()
    }

    fn run(policy: &str, deployer: Option<&str>) -> CheckResult {
        let d = deployer.map(|d| Caller::parse(d).unwrap());
        check_policy(
            policy,
            &CheckSetting {
                account: None,
                region: None,
                deployer: d.as_ref(),
                now: now(),
                cache: None,
                assume_deleted: &[],
            },
        )
        .unwrap()
    }

    fn ids(r: &CheckResult) -> Vec<&str> {
        r.findings.iter().map(|f| f.id()).collect()
    }

    const DEFAULT: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#;
    const ADMIN_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Admin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/Deployer"},"Action":"kms:*","Resource":"*"}]}"#;

    #[test]
    fn default_policy_is_clean() {
        let r = run(DEFAULT, None);
        assert_eq!(r.verdict, Some(Verdict::Ok));
        assert!(r.findings.is_empty(), "{:?}", ids(&r));
    }

    #[test]
    fn removing_the_delegation_is_an_error_naming_who_could_recover() {
        let r = run(ADMIN_ONLY, None);
        assert_eq!(r.verdict, Some(Verdict::Recoverable));
        let f = r.findings.iter().find(|f| f.id() == "KC301").unwrap();
        assert!(f.message.contains("role/Deployer"), "{}", f.message);
        assert!(ids(&r).contains(&"KC303"));
    }

    #[test]
    fn safety_check_agrees_with_kms() {
        // The deployer named as key administrator: accepted.
        assert_eq!(
            run(ADMIN_ONLY, Some("arn:aws:iam::111122223333:role/Deployer"))
                .safety_check
                .unwrap()
                .outcome,
            SafetyOutcome::Accepted
        );
        // The deployer absent, the delegation kept: accepted (IAM can still allow it).
        assert_eq!(
            run(DEFAULT, Some("arn:aws:iam::111122223333:role/Deployer"))
                .safety_check
                .unwrap()
                .outcome,
            SafetyOutcome::Accepted
        );
        // The deployer absent, the delegation removed: rejected.
        let r = run(
            ADMIN_ONLY,
            Some("arn:aws:iam::111122223333:role/CloudFormation"),
        );
        assert_eq!(
            r.safety_check.as_ref().unwrap().outcome,
            SafetyOutcome::Rejected
        );
        assert!(ids(&r).contains(&"KC310"));
        // The root principal swapping the delegation to a single user: rejected for the root user.
        let to_user = DEFAULT.replace(
            "arn:aws:iam::111122223333:root",
            "arn:aws:iam::111122223333:user/alice",
        );
        let r = run(&to_user, Some("111122223333"));
        assert_eq!(
            r.safety_check.as_ref().unwrap().outcome,
            SafetyOutcome::Rejected
        );
        assert!(r.safety_check.unwrap().reason.contains("root user"));
    }

    #[test]
    fn wildcard_and_alias_rules() {
        let p = r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"},
            {"Sid":"Open","Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"},
            {"Sid":"Limited","Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333"}}},
            {"Sid":"AliasAdmin","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/Ops"},"Action":["kms:CreateAlias","kms:PutKeyPolicy"],"Resource":"arn:aws:kms:us-east-1:111122223333:alias/app","Condition":{"StringEquals":{"kms:RequestAlias":"arn:aws:kms:us-east-1:111122223333:alias/app"}}},
            {"Sid":"Tags","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/App"},"Action":"kms:Encrypt","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/app"}}}
        ]}"#;
        let r = run(p, None);
        let got = ids(&r);
        for want in ["KC304", "KC305", "KC306", "KC307", "KC308", "KC309"] {
            assert!(got.contains(&want), "{want} missing from {got:?}");
        }
        assert_eq!(
            got.iter().filter(|i| **i == "KC304").count(),
            1,
            "the limited wildcard is fine"
        );
    }

    #[test]
    fn a_weakened_but_ok_delegation_is_a_warning() {
        let p = DEFAULT.replace(
            r#""Resource":"*""#,
            r#""Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}"#,
        );
        let r = run(&p, None);
        assert_eq!(r.verdict, Some(Verdict::Ok));
        assert_eq!(ids(&r), vec!["KC302"]);
    }

    /// Without --account and without an account principal, the lockout rules run only where
    /// the answer cannot depend on the account: a policy that names an account only in a
    /// condition is skipped (KC311); one that names no account at all is alike for every
    /// account, and judged.
    #[test]
    fn an_unknown_account_skips_lockout_rules_only_when_the_answer_depends_on_it() {
        let p = r#"{"Statement":[{"Sid":"S","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333"}}}]}"#;
        let r = run(p, None);
        assert!(r.verdict.is_none());
        assert!(ids(&r).contains(&"KC311"));
        let open = r#"{"Statement":[{"Sid":"S","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}"#;
        let r = run(open, None);
        assert_eq!(r.verdict, Some(Verdict::Ok), "{:?}", ids(&r));
        assert!(!ids(&r).contains(&"KC311"));
        // Only a service: nobody of any account can change it.
        let service = r#"{"Statement":[{"Sid":"Logs","Effect":"Allow","Principal":{"Service":"logs.amazonaws.com"},"Action":"kms:*","Resource":"*"}]}"#;
        let r = run(service, None);
        assert_eq!(r.verdict, Some(Verdict::Unrecoverable), "{:?}", ids(&r));
        let kc301 = r.findings.iter().find(|f| f.id() == "KC301").unwrap();
        assert!(!kc301.message.contains("000000000000"), "{}", kc301.message);
    }

    #[test]
    fn one_cause_gives_one_finding_placed_on_its_statement() {
        // The delegation narrowed: KC301 carries KL203's words, statement and fix; KL203 is
        // not reported on its own.
        let p = DEFAULT.replace(
            r#""Action":"kms:*""#,
            r#""Action":["kms:Encrypt","kms:Decrypt"]"#,
        );
        let r = run(&p, None);
        assert!(!ids(&r).contains(&"KL203"), "{:?}", ids(&r));
        let f = r.findings.iter().find(|f| f.id() == "KC301").unwrap();
        assert!(
            f.message.contains("delegates to IAM only for"),
            "{}",
            f.message
        );
        assert_eq!(f.statement().map(|s| s.index), Some(0));
        assert_eq!(f.fix(), crate::analysis::rules::DELEGATION_NARROWED.fix);
    }

    #[test]
    fn a_deny_on_put_key_policy_is_told_to_exempt_it_not_to_keep_the_delegation() {
        // The delegation is intact; a Deny takes kms:PutKeyPolicy away. The fix must be the
        // Deny's (KL205), not "keep the statement Enable IAM User Permissions".
        let p = r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
            {"Sid":"Freeze","Effect":"Deny","Principal":"*","Action":"kms:PutKeyPolicy","Resource":"*"}]}"#;
        let r = run(p, None);
        let f = r.findings.iter().find(|f| f.id() == "KC301").unwrap();
        assert_eq!(f.cause.map(|c| c.id), Some("KL205"));
        assert!(f.fix().contains("exempt kms:PutKeyPolicy"), "{}", f.fix());
        assert!(!f.fix().contains("keep the statement"), "{}", f.fix());
        assert_eq!(f.statement().map(|s| s.index), Some(1));
    }

    #[test]
    fn a_finding_on_the_second_of_two_statements_sharing_a_sid_is_placed_on_the_second() {
        let p = r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"Same","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/Admin"},"Action":"kms:*","Resource":"*"},
            {"Sid":"Same","Effect":"Deny","Principal":"*","Action":"kms:PutKeyPolicy","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalTag/team":"sec"}}},
            {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}]}"#;
        let r = run(p, None);
        let f = r
            .findings
            .iter()
            .find(|f| f.id() == "KC301")
            .expect("KC301");
        assert_eq!(f.cause.map(|c| c.id), Some("KL205"));
        assert_eq!(f.statement().map(|s| s.index), Some(1), "{f:?}");
        assert_eq!(f.pointer().as_deref(), Some("/Statement/1"));
    }

    #[test]
    fn request_alias_on_put_key_policy_is_kc305_alone() {
        let p = r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"},
            {"Sid":"Alias","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/Ops"},"Action":"kms:PutKeyPolicy","Resource":"*","Condition":{"StringEquals":{"kms:RequestAlias":"alias/app"}}}]}"#;
        let r = run(p, None);
        let got = ids(&r);
        assert!(got.contains(&"KC305"), "{got:?}");
        assert!(!got.contains(&"KL208"), "{got:?}");
    }

    #[test]
    fn the_safety_check_knows_the_time_of_the_call_as_why_locked_does() {
        // The deployer keeps kms:PutKeyPolicy until an epoch time in the future: KMS accepts
        // the policy now. `check --as` used to leave aws:EpochTime unknown ("depends").
        let p = r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"Deployer","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/Deployer"},"Action":"kms:*","Resource":"*","Condition":{"NumericLessThan":{"aws:EpochTime":"4102444800"}}}]}"#;
        let r = run(p, Some("arn:aws:iam::111122223333:role/Deployer"));
        assert_eq!(
            r.safety_check.as_ref().unwrap().outcome,
            SafetyOutcome::Accepted,
            "{:?}",
            r.safety_check
        );
    }

    /// A delegation on a Resource that is never a key grants nothing: the AWS CloudTrail
    /// guide's sample key policy names a bucket (IAM User Guide, "IAM JSON policy elements:
    /// Resource"). check knows it without the key's ARN, and names the Resource.
    #[test]
    fn a_delegation_on_another_resource_locks_out() {
        let bucket = DEFAULT.replace(
            r#""Resource":"*""#,
            r#""Resource":"arn:aws:s3:::myBucketName""#,
        );
        let r = run(&bucket, None);
        assert_eq!(r.verdict, Some(Verdict::Unrecoverable), "{:?}", ids(&r));
        let kc301 = r.findings.iter().find(|f| f.id() == "KC301").unwrap();
        assert_eq!(kc301.cause.map(|c| c.id), Some("KL219"));
        assert!(
            kc301.message.contains("arn:aws:s3:::myBucketName"),
            "{}",
            kc301.message
        );
        // Another account's keys are not this key either; this account's keys are.
        let other = DEFAULT.replace(
            r#""Resource":"*""#,
            r#""Resource":"arn:aws:kms:*:444455556666:key/*""#,
        );
        assert_eq!(run(&other, None).verdict, Some(Verdict::Unrecoverable));
        let own = DEFAULT.replace(
            r#""Resource":"*""#,
            r#""Resource":"arn:aws:kms:*:111122223333:key/*""#,
        );
        assert_eq!(run(&own, None).verdict, Some(Verdict::Ok));
    }

    /// A Deny of kms:PutKeyPolicy to `*` without a condition locks out whatever the account:
    /// no --account needed, and no KC311.
    #[test]
    fn a_deny_all_needs_no_account() {
        let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}]}"#;
        let r = run(deny, None);
        assert_eq!(r.verdict, Some(Verdict::Unrecoverable));
        assert!(
            ids(&r).contains(&"KC301") && !ids(&r).contains(&"KC311"),
            "{:?}",
            ids(&r)
        );
        // With a condition it depends on the request, and on who is asking: still skipped.
        let conditioned = deny.replace(
            r#""Resource":"*"}"#,
            r#""Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalAccount":"111122223333"}}}"#,
        );
        assert!(ids(&run(&conditioned, None)).contains(&"KC311"));
    }

    /// KD102 and KD104 say what KMS does: the CreateKey and PutKeyPolicy API references
    /// ("Policy") say the request succeeds and the statement is ineffective.
    #[test]
    fn a_statement_without_resource_has_no_effect_and_is_not_rejected() {
        let r = run(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*"}]}"#,
            None,
        );
        let f = r.findings.iter().find(|f| f.id() == "KD104").unwrap();
        assert!(
            f.message.contains("no effect") && !f.message.contains("rejects"),
            "{}",
            f.message
        );
        assert!(!f.rule.summary.contains("rejected"), "{}", f.rule.summary);
    }

    /// Silent no-ops (issue 22): KMS accepts unknown actions and never-present condition
    /// keys, and the statement does nothing with them; check says so, with "did you mean".
    #[test]
    fn silent_no_ops_are_findings() {
        let with = |statement: &str| {
            let p = format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:root"}},"Action":"kms:*","Resource":"*"}},{statement}]}}"#
            );
            run(&p, None)
        };
        let msg = |r: &CheckResult, id: &str| {
            r.findings
                .iter()
                .find(|f| f.id() == id)
                .map(|f| f.message.clone())
                .unwrap_or_default()
        };
        let r = with(
            r#"{"Sid":"App","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/App"},"Action":["kms:Encrpyt","kms:EncryptionAlgorithm","kms:Decrypt"],"Resource":"*"}"#,
        );
        let m = msg(&r, "KC314");
        assert!(m.contains("did you mean `kms:Encrypt`?"), "{m}");
        assert!(
            m.contains("`kms:EncryptionAlgorithm` is a condition key"),
            "{m}"
        );
        assert!(!m.contains("kms:Decrypt`"), "a real action is fine: {m}");
        // kms:EncryptionContext on PutKeyPolicy only: never present, the statement never applies.
        let r = with(
            r#"{"Sid":"Ctx","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/App"},"Action":"kms:PutKeyPolicy","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:app":"x"}}}"#,
        );
        assert!(msg(&r, "KC315").contains("never applies"), "{:?}", ids(&r));
        // ...IfExists holds over an absent key: no finding.
        let r = with(
            r#"{"Sid":"Ctx","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/App"},"Action":"kms:PutKeyPolicy","Resource":"*","Condition":{"StringEqualsIfExists":{"kms:EncryptionContext:app":"x"}}}"#,
        );
        assert!(!ids(&r).contains(&"KC315"));
        // An ARN operator on a value that is no ARN, a date that does not parse.
        let r = with(
            r#"{"Sid":"Arn","Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*","Condition":{"ArnNotLike":{"aws:PrincipalArn":"role/Admin"},"DateGreaterThan":{"aws:CurrentTime":"next week"}}}"#,
        );
        let m = msg(&r, "KC316");
        assert!(m.contains("`role/Admin`, which is not an ARN"), "{m}");
        assert_eq!(r.findings.iter().filter(|f| f.id() == "KC316").count(), 2);
        // A policy variable is the request's value: no finding.
        let r = with(
            r#"{"Sid":"Var","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*","Condition":{"ArnLike":{"aws:PrincipalArn":"${aws:PrincipalArn}"}}}"#,
        );
        assert!(!ids(&r).contains(&"KC316"));
    }
}
