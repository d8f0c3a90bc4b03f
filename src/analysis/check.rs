//! `kmsdoctor check`: lint a key policy before it ships. Every finding has a stable rule id,
//! a severity and a one-line fix. The rules reuse the parser (KD1xx), the lockout diagnosis
//! (KL2xx) and add their own (KC3xx), including a prediction of KMS's lockout safety check
//! for the principal that will apply the policy (`--as`).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::diagnose::{assess, KeyRef, Setting, Verdict, DELEGATION_SID};
use super::eval::{decide, Decision, Request, RequirementKind, Resource};
use super::kms;
use super::pattern::wildcard_match;
use super::policy::{
    parse_policy, Effect, Policy, PolicyError, PolicyKind, Severity, PARSER_RULES,
};
use super::principal::{is_account_id, Arn, Caller, PrincipalEntry};

/// A rule as documented: id, name, severity, what to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    pub id: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub fix: &'static str,
}

macro_rules! check_rules {
    ($($konst:ident = $id:literal, $name:literal, $sev:ident, $fix:literal;)*) => {
        $(pub const $konst: RuleInfo = RuleInfo { id: $id, name: $name, severity: Severity::$sev, fix: $fix };)*
        const CHECK_RULES: &[RuleInfo] = &[$($konst),*];
    };
}

check_rules! {
    WOULD_LOCK_OUT = "KC301", "would-lock-out", Error, "keep the statement `Enable IAM User Permissions`: Principal {\"AWS\": \"arn:aws:iam::ACCOUNT:root\"}, Action kms:*, no conditions";
    DELEGATION_WEAKENED = "KC302", "delegation-narrowed-or-conditioned", Warning, "let the delegation statement allow kms:* to the account principal without conditions";
    SINGLE_ADMIN = "KC303", "single-administrator", Warning, "name at least two key administrators, or keep the IAM delegation";
    OPEN_PRINCIPAL = "KC304", "wildcard-principal-unlimited", Error, "limit a `*` principal with a condition such as kms:CallerAccount or aws:PrincipalOrgID";
    REQUEST_ALIAS_NEVER = "KC305", "request-alias-on-operations-without-it", Warning, "use kms:RequestAlias only for cryptographic operations, DescribeKey and GetPublicKey";
    REQUEST_ALIAS_ARN = "KC306", "request-alias-with-alias-arn", Error, "kms:RequestAlias takes alias names (alias/NAME), not alias ARNs";
    RESOURCE_ALIASES_IN_KEY_POLICY = "KC307", "resource-aliases-in-key-policy", Warning, "use kms:ResourceAliases in IAM policies; the KMS guide lists it for IAM policies only";
    ALIAS_ARN_RESOURCE = "KC308", "alias-arn-in-resource", Warning, "write Resource \"*\" in a key policy: an alias ARN names the alias, not the key";
    ALIAS_ABAC_RISK = "KC309", "alias-conditions-with-alias-managers", Warning, "restrict kms:CreateAlias, kms:UpdateAlias and kms:DeleteAlias, since whoever manages aliases controls alias-based access";
    SAFETY_CHECK = "KC310", "lockout-safety-check", Error, "let the deploying principal keep kms:PutKeyPolicy (name it, or keep the IAM delegation)";
    ACCOUNT_UNKNOWN = "KC311", "account-unknown", Info, "give --account so that the lockout rules can run";
}

fn fix_for(id: &str) -> &'static str {
    match id {
        "KD101" | "KD103" | "KD107" => "keep one of the two elements",
        "KD102" => "add an Action",
        "KD104" => "add Resource \"*\"",
        "KD105" => "write Effect Allow or Deny",
        "KD106" => "add a Principal",
        "KD108" => "shorten the policy below 32 KB",
        "KD109" => "remove or rename the element",
        "KD110" => "write Version 2012-10-17",
        "KD111" => "give each statement its own Sid",
        "KD112" => "use a condition operator AWS knows",
        "KD113" => "remove the unique id: KMS rejects principals that no longer exist",
        "KD114" => "add statements",
        "KD115" => "write the principal as an account id or a user, role or session ARN",
        "KD116" => "remove the Principal from the identity policy",
        "KD117" => "use Deny with NotPrincipal, or Allow with Principal",
        "KD118" => "list at least one value",
        "KL208" => REQUEST_ALIAS_NEVER.fix,
        "KL209" => "list the account ARN and each principal (role and session) to spare, or use aws:PrincipalArn conditions",
        "KL206" => "remove principals that no longer exist",
        _ => WOULD_LOCK_OUT.fix,
    }
}

/// Every rule `check` may report, for documentation and SARIF.
pub fn all_rules() -> Vec<RuleInfo> {
    let mut out: Vec<RuleInfo> = PARSER_RULES
        .iter()
        .map(|r| RuleInfo {
            id: r.id,
            name: r.name,
            severity: r.severity,
            fix: fix_for(r.id),
        })
        .collect();
    out.extend(
        super::diagnose::DIAGNOSIS_RULES
            .iter()
            .map(|(id, name, sev)| RuleInfo {
                id,
                name,
                severity: *sev,
                fix: fix_for(id),
            }),
    );
    out.extend(CHECK_RULES.iter().copied());
    out
}

pub fn rule(id: &str) -> Option<RuleInfo> {
    all_rules().into_iter().find(|r| r.id == id)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckFinding {
    pub id: &'static str,
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    pub fix: &'static str,
    /// The statement concerned, by index in the policy's `Statement` array.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<usize>,
    /// JSON pointer into the policy document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
}

/// KMS's lockout safety check, predicted for the principal that applies the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SafetyCheck {
    pub principal: String,
    /// `accepted`, `rejected`, or `depends` (on conditions of the deploying request).
    pub outcome: &'static str,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// The verdict the policy would get once applied (`None` when the account is unknown).
    pub verdict: Option<Verdict>,
    pub findings: Vec<CheckFinding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safety_check: Option<SafetyCheck>,
}

/// What the check needs besides the policy.
pub struct CheckSetting<'a> {
    /// The key's account: given, or found in the policy.
    pub account: Option<&'a str>,
    /// The principal that will apply the policy (`--as`).
    pub deployer: Option<&'a Caller>,
    pub now: DateTime<Utc>,
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
        return Some(account.clone());
    }
    let mut counts: Vec<(String, usize)> = Vec::new();
    for e in entries() {
        if let PrincipalEntry::Arn { account, .. } = e {
            match counts.iter_mut().find(|(a, _)| a == account) {
                Some((_, n)) => *n += 1,
                None => counts.push((account.clone(), 1)),
            }
        }
    }
    counts.into_iter().max_by_key(|(_, n)| *n).map(|(a, _)| a)
}

fn finding(r: RuleInfo, message: String, statement: Option<usize>) -> CheckFinding {
    CheckFinding {
        id: r.id,
        rule: r.name,
        severity: r.severity,
        message,
        fix: r.fix,
        statement,
        pointer: statement.map(|i| format!("/Statement/{i}")),
    }
}

fn statement_index(policy: &Policy, label: &str) -> Option<usize> {
    policy
        .statements
        .iter()
        .find(|s| s.label() == label)
        .map(|s| s.index)
}

fn actions_cover(s: &super::policy::Statement, action: &str) -> bool {
    s.actions
        .as_ref()
        .is_some_and(|a| a.patterns.iter().any(|p| wildcard_match(p, action, true)) != a.negated)
}

/// Checks one key policy document.
pub fn check_policy(text: &str, setting: &CheckSetting<'_>) -> Result<CheckResult, PolicyError> {
    let policy = parse_policy(text, PolicyKind::Key, "key-policy")?;
    let mut findings: Vec<CheckFinding> = policy
        .findings
        .iter()
        .map(|f| CheckFinding {
            id: f.id,
            rule: f.rule,
            severity: f.severity,
            message: f.message.clone(),
            fix: fix_for(f.id),
            statement: f
                .pointer
                .strip_prefix("/Statement/")
                .and_then(|r| r.split('/').next())
                .and_then(|i| i.parse().ok()),
            pointer: Some(f.pointer.clone()),
        })
        .collect();
    findings.extend(alias_rules(&policy));
    findings.extend(open_principals(&policy));

    let inferred = infer_account(&policy);
    let account = setting
        .account
        .map(str::to_string)
        .or(inferred)
        .filter(|a| is_account_id(a));
    let Some(account) = account else {
        findings.push(finding(
            ACCOUNT_UNKNOWN,
            "the key's account is not known (no --account, and no account principal in the policy): lockout rules skipped".into(),
            None,
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
        region: None,
    };
    let s = Setting {
        key: &key,
        account: &account,
        now: setting.now,
        aliases: None,
    };
    let a = assess(&policy, &s);
    if a.verdict != Verdict::Ok {
        let who: Vec<&str> = a
            .recoverable_admins
            .iter()
            .map(|x| x.principal.as_str())
            .collect();
        findings.push(finding(
            WOULD_LOCK_OUT,
            format!(
                "once applied, the key would be `{}`: IAM policies could no longer grant kms:PutKeyPolicy and kms:GetKeyPolicy; {}",
                a.verdict.as_str(),
                if who.is_empty() {
                    "nobody could change the policy again".to_string()
                } else {
                    format!("only {} could change it", who.join(", "))
                }
            ),
            None,
        ));
        if who.len() == 1 {
            findings.push(finding(
                SINGLE_ADMIN,
                format!(
                    "{} is the only principal that could change the policy",
                    who[0]
                ),
                None,
            ));
        }
    } else if let Some(d) = policy.statements.iter().find(|st| {
        st.valid
            && st.effect == Effect::Allow
            && st.principal.as_ref().is_some_and(|p| {
                p.entries.iter().any(
                    |e| matches!(e, PrincipalEntry::Account { account: x, .. } if *x == account),
                )
            })
            && actions_cover(st, "kms:PutKeyPolicy")
    }) {
        let narrowed = !d
            .actions
            .as_ref()
            .is_some_and(|a| !a.negated && a.patterns.iter().any(|p| p == "kms:*" || p == "*"));
        if narrowed || !d.conditions.is_empty() {
            findings.push(finding(
                DELEGATION_WEAKENED,
                format!(
                    "statement {} delegates to IAM {}",
                    d.label(),
                    match (narrowed, d.conditions.is_empty()) {
                        (true, true) => "for some actions only".to_string(),
                        (false, false) => format!("only under conditions ({})", condition_keys(d)),
                        _ => format!(
                            "for some actions only, under conditions ({})",
                            condition_keys(d)
                        ),
                    }
                ),
                Some(d.index),
            ));
        }
    }
    for f in a.findings {
        if f.id == "KL210" {
            continue;
        }
        let statement = f
            .statement
            .as_deref()
            .and_then(|l| statement_index(&policy, l));
        findings.push(CheckFinding {
            id: f.id,
            rule: f.rule,
            severity: f.severity,
            message: f.message,
            fix: fix_for(f.id),
            statement,
            pointer: statement.map(|i| format!("/Statement/{i}")),
        });
    }
    let safety_check = setting.deployer.map(|d| safety(&policy, &s, d));
    if let Some(sc) = &safety_check {
        if sc.outcome != "accepted" {
            let mut f = finding(
                SAFETY_CHECK,
                format!(
                    "KMS's lockout safety check {} this policy for {}: {} (\"The new key policy will not allow you to update the key policy in the future\")",
                    if sc.outcome == "rejected" { "would reject" } else { "may reject" },
                    sc.principal,
                    sc.reason
                ),
                None,
            );
            if sc.outcome == "depends" {
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

fn condition_keys(s: &super::policy::Statement) -> String {
    let keys: Vec<&str> = s.conditions.iter().map(|c| c.key.as_str()).collect();
    keys.join(", ")
}

/// KMS's check: would the caller applying the policy still be allowed kms:PutKeyPolicy? An
/// allow that goes through the IAM delegation counts: KMS takes IAM as able to allow it.
fn safety(policy: &Policy, s: &Setting<'_>, deployer: &Caller) -> SafetyCheck {
    let mut ctx = super::context::Context::open();
    ctx.set("aws:SecureTransport", vec!["true".into()]);
    ctx.set(
        "aws:CurrentTime",
        vec![s.now.format("%Y-%m-%dT%H:%M:%SZ").to_string()],
    );
    let req = Request::new(
        deployer.clone(),
        "kms:PutKeyPolicy".into(),
        Resource::Key(None),
        s.account.to_string(),
        ctx,
    );
    let e = decide(&req, Some(policy), None);
    let principal = deployer.to_string();
    match e.decision {
        Decision::Allowed => SafetyCheck {
            principal,
            outcome: "accepted",
            reason: format!(
                "statement {} allows it kms:PutKeyPolicy",
                e.deciding_statements.join(", ")
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
                    outcome: "accepted",
                    reason: format!(
                        "statement {} keeps the IAM delegation, so IAM can still allow it",
                        e.deciding_statements.join(", ")
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
                    outcome: "depends",
                    reason: format!(
                        "it keeps kms:PutKeyPolicy only if the deploying request meets: {}",
                        reqs.join("; ")
                    ),
                }
            }
        }
        Decision::ExplicitDeny => SafetyCheck {
            principal,
            outcome: "rejected",
            reason: format!(
                "statement {} denies it kms:PutKeyPolicy",
                e.deciding_statements.join(", ")
            ),
        },
        Decision::ImplicitDeny => {
            let delegation_left = policy
                .statements
                .iter()
                .any(|st| st.valid && st.sid.as_deref() == Some(DELEGATION_SID));
            SafetyCheck {
                principal,
                outcome: "rejected",
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

/// Rules on alias-based access.
fn alias_rules(policy: &Policy) -> Vec<CheckFinding> {
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
                            && actions_cover(s, &format!("kms:{}", o.name))
                    })
                    .map(|o| o.name)
                    .collect();
                if !without.is_empty() {
                    let shown = if without.len() > 4 {
                        format!("{} and {} more", without[..4].join(", "), without.len() - 4)
                    } else {
                        without.join(", ")
                    };
                    out.push(finding(
                        REQUEST_ALIAS_NEVER,
                        format!("statement {} conditions on kms:RequestAlias, which {shown} never carry: for them it never applies", s.label()),
                        Some(s.index),
                    ));
                }
                if let Some(v) = c.values.iter().find(|v| v.starts_with("arn:")) {
                    out.push(finding(
                        REQUEST_ALIAS_ARN,
                        format!("statement {}: kms:RequestAlias value `{v}` is an ARN; the key holds alias names, so it never matches", s.label()),
                        Some(s.index),
                    ));
                }
            }
            if key == "kms:resourcealiases" {
                uses_alias_conditions = true;
                out.push(finding(
                    RESOURCE_ALIASES_IN_KEY_POLICY,
                    format!(
                        "statement {} uses kms:ResourceAliases in a key policy",
                        s.label()
                    ),
                    Some(s.index),
                ));
            }
        }
        if let Some(r) = &s.resources {
            if let Some(p) = r
                .patterns
                .iter()
                .find(|p| Arn::parse(p).is_some_and(|a| a.resource.starts_with("alias/")))
            {
                out.push(finding(
                    ALIAS_ARN_RESOURCE,
                    format!("statement {}: Resource `{p}` is an alias ARN; in a key policy it matches nothing", s.label()),
                    Some(s.index),
                ));
            }
        }
    }
    if uses_alias_conditions {
        if let Some(s) = policy.statements.iter().find(|s| {
            s.valid
                && s.effect == Effect::Allow
                && ["kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"]
                    .iter()
                    .any(|a| actions_cover(s, a))
        }) {
            out.push(finding(
                ALIAS_ABAC_RISK,
                format!(
                    "access depends on aliases, and statement {} lets principals create, update or delete aliases: they can give themselves access or take it from others",
                    s.label()
                ),
                Some(s.index),
            ));
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

fn open_principals(policy: &Policy) -> Vec<CheckFinding> {
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
            finding(
                OPEN_PRINCIPAL,
                format!("statement {} allows `*` (any AWS principal, in any account) with no condition limiting who", s.label()),
                Some(s.index),
            )
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
                deployer: d.as_ref(),
                now: now(),
            },
        )
        .unwrap()
    }

    fn ids(r: &CheckResult) -> Vec<&str> {
        r.findings.iter().map(|f| f.id).collect()
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
        let f = r.findings.iter().find(|f| f.id == "KC301").unwrap();
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
            "accepted"
        );
        // The deployer absent, the delegation kept: accepted (IAM can still allow it).
        assert_eq!(
            run(DEFAULT, Some("arn:aws:iam::111122223333:role/Deployer"))
                .safety_check
                .unwrap()
                .outcome,
            "accepted"
        );
        // The deployer absent, the delegation removed: rejected.
        let r = run(
            ADMIN_ONLY,
            Some("arn:aws:iam::111122223333:role/CloudFormation"),
        );
        assert_eq!(r.safety_check.as_ref().unwrap().outcome, "rejected");
        assert!(ids(&r).contains(&"KC310"));
        // The root principal swapping the delegation to a single user: rejected for the root user.
        let to_user = DEFAULT.replace(
            "arn:aws:iam::111122223333:root",
            "arn:aws:iam::111122223333:user/alice",
        );
        let r = run(&to_user, Some("111122223333"));
        assert_eq!(r.safety_check.as_ref().unwrap().outcome, "rejected");
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

    #[test]
    fn an_unknown_account_skips_lockout_rules() {
        let p = r#"{"Statement":[{"Sid":"S","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}"#;
        let r = run(p, None);
        assert!(r.verdict.is_none());
        assert!(ids(&r).contains(&"KC311"));
    }

    #[test]
    fn every_rule_has_a_fix_and_unique_id() {
        let rules = all_rules();
        let mut ids: Vec<&str> = rules.iter().map(|r| r.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), rules.len());
        assert!(rules.iter().all(|r| !r.fix.is_empty()));
    }
}
