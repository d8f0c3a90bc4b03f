//! Folding in what AWS said about the key's principals and the evidence itself: which
//! administrators still exist, IAM's decision for the caller, and what is missing.

use std::collections::BTreeMap;

use super::admins::{Existence, MatchedBy};
use super::assess::Verdict;
use super::Diagnosis;
use crate::analysis::rules::{
    Finding, Severity, DELETED_PRINCIPALS, IAM_DECISION, INCOMPLETE_EVIDENCE,
};

/// Marks a diagnosis made from incomplete evidence, saying what is missing.
pub fn note_incomplete(
    d: &mut Diagnosis,
    problems: &[String],
    lookup_complete: bool,
    policy_error: Option<&str>,
) {
    if let Some(e) = policy_error {
        d.findings.push(Finding::new(
            INCOMPLETE_EVIDENCE,
            format!(
                "kms GetKeyPolicy did not answer ({e}): the policy comes from CloudTrail history"
            ),
        ));
    }
    if !lookup_complete || !problems.is_empty() {
        let mut f = Finding::new(
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
    existence: &BTreeMap<String, Existence>,
    simulation: Option<&[(String, String)]>,
) {
    let mut deleted = Vec::new();
    let mut recreatable = Vec::new();
    for a in &mut d.recoverable_admins {
        match existence.get(&a.principal) {
            Some(Existence::Yes) => {
                a.exists = Existence::Yes;
                // IAM just said it exists: the warning that it must is moot.
                a.notes.retain(|n| !n.starts_with("must still exist"));
            }
            // Named in a condition: compared by name, so creating it again is a way back.
            Some(Existence::No) if a.matched_by == MatchedBy::Condition => {
                a.exists = Existence::No;
                a.notes.retain(|n| !n.starts_with("named in a condition"));
                a.notes.insert(
                    0,
                    "does not exist now (IAM says NoSuchEntity): the policy names it in a condition, which compares names, so creating it again under the same name restores access".into(),
                );
                recreatable.push(a.principal.clone());
            }
            Some(Existence::No) => deleted.push(a.principal.clone()),
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
        d.findings.push(Finding::new(
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
    if !recreatable.is_empty() {
        d.findings.push(Finding::new(
            DELETED_PRINCIPALS,
            format!(
                "{} no longer exist{} (IAM says NoSuchEntity), but the policy names {} in a condition (aws:PrincipalArn compares names): creating {} again under the same name restores access",
                recreatable.join(", "),
                if recreatable.len() == 1 { "s" } else { "" },
                if recreatable.len() == 1 { "it" } else { "them" },
                if recreatable.len() == 1 { "it" } else { "them" },
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
        d.findings.push(Finding::new(IAM_DECISION, message));
    }
}

/// What each administrator role's trust policy lets in, from the roles' trust policies read
/// live (or from a bundle): the plan's way to become it.
pub fn apply_trust(d: &mut Diagnosis, trust: &BTreeMap<String, String>) {
    let caller = d
        .caller
        .as_ref()
        .and_then(|c| crate::analysis::principal::Caller::parse(&c.principal).ok());
    for a in &mut d.recoverable_admins {
        if let Some(doc) = trust.get(&a.principal) {
            a.trust = crate::analysis::trust::ways_in(doc, caller.as_ref());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::lockout::delegation::fixture;
    use crate::analysis::lockout::{diagnose, Evidence};
    use crate::analysis::policy::{parse_document, PolicyKind};

    fn diagnosis(policy: &str) -> Diagnosis {
        let doc = parse_document(policy, PolicyKind::Key, "key-policy").unwrap();
        diagnose(Evidence {
            key: fixture::key(),
            current_policy: Some(&doc),
            events: &[],
            account: None,
            now: fixture::setting(&fixture::key()).now,
            aliases: None,
            properties: None,
            caller: None,
        })
    }

    /// A principal named in a condition is compared by name (IAM User Guide, "Principal"):
    /// deleted, it can be created again, so it stays an administrator; one named in a
    /// Principal element is bound to its unique id and goes.
    #[test]
    fn deleted_admins_named_in_conditions_stay_and_others_go() {
        let mut by_name = diagnosis(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"ByName","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/KeyAdmin"}}}]}"#,
        );
        let gone: BTreeMap<String, Existence> = [(
            "arn:aws:iam::111122223333:role/KeyAdmin".to_string(),
            Existence::No,
        )]
        .into();
        apply_iam_facts(&mut by_name, &gone, None);
        assert_eq!(by_name.verdict, Verdict::Recoverable);
        let a = &by_name.recoverable_admins[0];
        assert_eq!(
            (a.exists, a.matched_by),
            (Existence::No, MatchedBy::Condition)
        );
        assert!(a.notes[0].contains("creating it again"), "{:?}", a.notes);

        let mut bound = diagnosis(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"Named","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/KeyAdmin"},"Action":"kms:*","Resource":"*"}]}"#,
        );
        apply_iam_facts(&mut bound, &gone, None);
        assert!(bound
            .recoverable_admins
            .iter()
            .all(|a| !a.principal.ends_with("KeyAdmin")));
    }
}
