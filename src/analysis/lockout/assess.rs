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
use super::view::KindView;
use crate::analysis::eval::Alternative;
use crate::analysis::policy::Policy;
use crate::analysis::principal_class::Kind;
use crate::analysis::rules::{Finding, IAM_SIDE, TOO_MANY_PRINCIPALS};

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

/// Judges a policy: verdict, admins, findings.
pub fn assess(policy: &Policy, setting: &Setting<'_>) -> Assessment {
    let views: Vec<KindView> = Kind::ALL
        .iter()
        .map(|k| KindView::new(policy, setting, *k))
        .collect();
    // `ok`: every kind of principal can be let in by IAM.
    let ok = views.iter().all(KindView::open_to_all);

    let (mut admins, skipped) = admins::recoverable_admins(policy, setting);
    if ok {
        // With the delegation intact, any principal of the account gets in through IAM:
        // listing every named one that way says nothing. Keep the root user and direct grants.
        admins.retain(|a| a.kind == AdminKind::Root || !a.needs_iam_policy);
    } else {
        for v in &views {
            for c in admins::class_admins(v) {
                if !admins.iter().any(|a| a.principal == c.principal) {
                    admins.push(c);
                }
            }
        }
    }
    let verdict = if ok {
        Verdict::Ok
    } else if admins.iter().any(|a| a.can_put_key_policy) {
        Verdict::Recoverable
    } else {
        Verdict::Unrecoverable
    };

    let ok_requirements = if ok {
        views
            .iter()
            .find(|v| v.kind == Kind::Role)
            .map(KindView::generic_put)
            .unwrap_or_default()
    } else {
        vec![]
    };
    let mut findings = Vec::new();
    if ok {
        let excludes = causes::delegation_excludes(&ok_requirements);
        findings.push(Finding::new(
            IAM_SIDE,
            if excludes.is_some() {
                "the key policy lets IAM policies grant kms:GetKeyPolicy and kms:PutKeyPolicy to the account's principals that meet its conditions: such a caller still denied is denied on the IAM side (its identity policies, a permissions boundary, a session policy or an SCP)"
            } else {
                "the key policy lets IAM policies grant kms:GetKeyPolicy and kms:PutKeyPolicy to the account's principals: a caller still denied is denied on the IAM side (its identity policies, a permissions boundary, a session policy or an SCP)"
            },
        ));
        findings.extend(excludes);
    } else {
        let put_any = setting.decide(&setting.any_principal_request("kms:PutKeyPolicy"), policy);
        findings.extend(causes::why_not_ok(policy, setting, &put_any));
    }
    findings.extend(causes::other_account_use(policy, setting));
    findings.extend(causes::traps(policy, setting));
    if skipped > 0 {
        findings.push(Finding::new(
            TOO_MANY_PRINCIPALS,
            format!(
                "the policy names {} more principals than the {} evaluated as administrators; a key policy (at most 32 KB) rarely names so many",
                skipped,
                admins::MAX_CANDIDATES
            ),
        ));
    }
    Assessment {
        verdict,
        ok_requirements,
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
        let a = assess_text(&default_policy("aws", "111122223333"));
        assert_eq!(a.verdict, Verdict::Ok);
        assert_eq!(a.findings[0].id(), "KL210");
        assert_eq!(a.recoverable_admins[0].kind, AdminKind::Root);
    }

    /// Issue 23, item 6: an `ok` delegation narrowed by a condition says who it leaves out.
    #[test]
    fn a_conditioned_delegation_names_who_it_leaves_out() {
        let a = assess_text(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*","Condition":{"StringEqualsIfExists":{"aws:PrincipalTag/team":"security"}}}]}"#,
        );
        assert_eq!(a.verdict, Verdict::Ok);
        let f = a
            .findings
            .iter()
            .find(|f| f.id() == "KL222")
            .expect("KL222");
        assert!(
            f.message.contains("aws:PrincipalTag/team is security"),
            "{}",
            f.message
        );
        assert!(
            f.message.contains("denied by the key policy itself"),
            "{}",
            f.message
        );
        // Without the condition: no KL222.
        let plain = assess_text(&default_policy("aws", "111122223333"));
        assert!(plain.findings.iter().all(|f| f.id() != "KL222"));
    }

    /// Issue 23, item 7: a key handed to another account says what that account can do.
    #[test]
    fn another_account_that_can_use_the_key_is_a_warning_with_its_operations() {
        let a = assess_text(
            r#"{"Version":"2012-10-17","Statement":[
              {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
              {"Sid":"Partner","Effect":"Allow","Principal":{"AWS":"999988887777"},"Action":["kms:Decrypt","kms:PutKeyPolicy"],"Resource":"*"},
              {"Sid":"Own","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/App"},"Action":"kms:Decrypt","Resource":"*"}]}"#,
        );
        let f: Vec<_> = a.findings.iter().filter(|f| f.id() == "KL223").collect();
        assert_eq!(f.len(), 1, "{:?}", a.findings);
        assert!(f[0].message.contains("arn:aws:iam::999988887777:root"));
        // Decrypt works across accounts, PutKeyPolicy never does.
        assert!(f[0].message.ends_with(": Decrypt"), "{}", f[0].message);
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
