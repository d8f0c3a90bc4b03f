//! Judging one key policy: the verdict, what any principal of the account needs to get in,
//! who can still recover, and why it is not `ok`.
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

use serde::Serialize;

use super::admins::{self, AdminKind, RecoverableAdmin};
use super::causes;
use super::delegation::Setting;
use crate::analysis::eval::{decide, Alternative, Decision, Evaluation, RequirementKind};
use crate::analysis::policy::Policy;
use crate::analysis::rules::{Finding, IAM_SIDE};

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

/// How a policy stands, as far as lockout goes.
#[derive(Debug, Clone)]
pub struct Assessment {
    pub verdict: Verdict,
    /// For `ok`: what a principal of the account needs to get in (any one alternative).
    pub ok_requirements: Vec<Alternative>,
    pub recoverable_admins: Vec<RecoverableAdmin>,
    /// Why it is not `ok`, and the traps the policy holds.
    pub findings: Vec<Finding>,
}

/// Condition keys whose value any principal of the account can arrange (sign in with MFA,
/// call from an address) or that are the same for every principal of the account: they do
/// not single anyone out. Every other key is taken to single out principals.
pub(super) fn anyone_can_meet(key: &str) -> bool {
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
pub fn generic(alt: &Alternative) -> bool {
    alt.all_of.iter().all(|r| match r.kind {
        RequirementKind::IamPolicy | RequirementKind::Resource => true,
        RequirementKind::Condition => r.key.as_deref().is_some_and(anyone_can_meet),
        RequirementKind::Session => false,
    })
}

/// Judges a policy: verdict, admins, findings.
pub fn assess(policy: &Policy, setting: &Setting<'_>) -> Assessment {
    let put_any = decide(
        &setting.any_principal_request("kms:PutKeyPolicy"),
        Some(policy),
        None,
    );
    let get_any = decide(
        &setting.any_principal_request("kms:GetKeyPolicy"),
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

    let mut admins = admins::recoverable_admins(policy, setting);
    if ok {
        // With the delegation intact, any principal of the account gets in through IAM:
        // listing every named one that way says nothing. Keep the root user and direct grants.
        admins.retain(|a| a.kind == AdminKind::Root || !a.needs_iam_policy);
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
        findings.push(Finding::new(
            IAM_SIDE,
            "the key policy lets IAM policies grant kms:GetKeyPolicy and kms:PutKeyPolicy to the account's principals: a caller still denied is denied on the IAM side (its identity policies, a permissions boundary, a session policy or an SCP)",
        ));
    } else {
        findings.extend(causes::why_not_ok(policy, setting, &put_any));
    }
    findings.extend(causes::traps(policy, setting));
    Assessment {
        verdict,
        ok_requirements: if ok { put_ok } else { vec![] },
        recoverable_admins: admins,
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::lockout::default_policy;
    use crate::analysis::lockout::delegation::fixture;
    use crate::analysis::policy::{parse_policy, PolicyKind};

    fn assess_text(policy: &str) -> Assessment {
        let key = fixture::key();
        let p = parse_policy(policy, PolicyKind::Key, "key-policy").unwrap();
        assess(&p, &fixture::setting(&key))
    }

    #[test]
    fn default_policy_is_ok() {
        let a = assess_text(&default_policy("111122223333"));
        assert_eq!(a.verdict, Verdict::Ok);
        assert_eq!(a.findings[0].id(), "KL210");
        assert_eq!(a.recoverable_admins[0].kind, AdminKind::Root);
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
        assert_eq!(a.recoverable_admins[0].kind, AdminKind::Root);
        assert_eq!(a.findings[0].id(), "KL204");
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
            a.recoverable_admins
                .iter()
                .all(|x| x.kind != AdminKind::Root),
            "the Deny covers the root user too"
        );
    }

    #[test]
    fn only_deleted_admins_is_unrecoverable() {
        let a = assess_text(
            r#"{"Statement":[{"Sid":"x","Effect":"Allow","Principal":{"AWS":"AROAEXAMPLEEXAMPLE01"},"Action":"kms:*","Resource":"*"}]}"#,
        );
        assert_eq!(a.verdict, Verdict::Unrecoverable);
        assert!(a.findings.iter().any(|f| f.id() == "KL201"));
        assert!(a.findings.iter().any(|f| f.id() == "KL206"));
    }
}
