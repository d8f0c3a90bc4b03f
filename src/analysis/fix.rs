//! `kmsdoctor fix`, the pure half: what applying a policy would change, and whether kmsdoctor
//! may apply it. The guards (issue 12): the result must be `ok`, keep every principal that
//! could change the policy before, and pass KMS's lockout safety check for the caller; the
//! policy in KMS must still be the one diagnosed (compared by [`fingerprint`]).

use serde::Serialize;
use serde_json::Value;

use super::check::{safety, SafetyCheck, SafetyOutcome};
use super::eval::{decide, Decision};
use super::lockout::{assess, AdminKind, Setting, Verdict};
use super::policy::{Policy, PolicyDocument};
use super::principal::Caller;

/// The SHA-256 of a policy's canonical JSON (members in their order, no whitespace), in hex:
/// the same for the text CloudTrail recorded and the text GetKeyPolicy returns, whatever
/// their spacing. `None` for text that is not JSON.
pub fn fingerprint(policy_text: &str) -> Option<String> {
    let v: Value = serde_json::from_str(policy_text).ok()?;
    Some(sha256_hex(v.to_string().as_bytes()))
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub use super::policy::diff::{diff, StatementChange};

/// What applying a policy would do, and why kmsdoctor would refuse to apply it.
#[derive(Debug, Clone, Serialize)]
pub struct FixPlan {
    pub verdict_after: Verdict,
    pub changes: Vec<StatementChange>,
    /// Principals that can change the policy before and not after.
    pub lost_admins: Vec<String>,
    /// KMS's lockout safety check for the caller, predicted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safety_check: Option<SafetyCheck>,
    /// The fingerprint of the policy this plan replaces, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    pub fingerprint_after: Option<String>,
    /// Why `--apply` would be refused; empty when it may go ahead.
    pub refusals: Vec<String>,
}

/// What the plan is made from.
pub struct FixInput<'a> {
    pub setting: &'a Setting<'a>,
    /// The policy in force as diagnosed (current, or the last applied), when known.
    pub before: Option<&'a PolicyDocument>,
    /// Who could change the policy before (the diagnosis's recoverable admins).
    pub admins_before: &'a [super::lockout::RecoverableAdmin],
    pub after: &'a PolicyDocument,
    /// The caller that will send PutKeyPolicy, when known.
    pub caller: Option<&'a Caller>,
}

/// Whether `principal` keeps kms:PutKeyPolicy under `policy`: allowed, or allowed given
/// requirements (an IAM policy, conditions it met before).
fn keeps_put(policy: &Policy, s: &Setting<'_>, principal: &str) -> bool {
    let Ok(caller) = Caller::parse(principal) else {
        return true;
    };
    let e = decide(
        &s.request_now(caller, "kms:PutKeyPolicy"),
        Some(policy),
        None,
    );
    matches!(e.decision, Decision::Allowed | Decision::Conditional)
}

pub fn plan(input: &FixInput<'_>) -> FixPlan {
    let s = input.setting;
    let after = &input.after.policy;
    let assessment = assess(after, s);
    let verdict_after = assessment.verdict;
    let mut refusals = Vec::new();
    if !after.findings.is_empty() {
        let ids: Vec<&str> = after.findings.iter().map(|f| f.rule.id).collect();
        if after
            .findings
            .iter()
            .any(|f| f.severity == super::rules::Severity::Error)
        {
            refusals.push(format!(
                "the new policy has errors KMS would reject ({})",
                ids.join(", ")
            ));
        }
    }
    if verdict_after != Verdict::Ok {
        refusals.push(format!(
            "the new policy would be {}, not ok: kmsdoctor only applies a policy that lets IAM grant access again",
            verdict_after.as_str()
        ));
    }
    // Class admins ("any role whose ARN matches...") are descriptions, not principals.
    let lost_admins: Vec<String> = input
        .admins_before
        .iter()
        .filter(|a| a.can_put_key_policy && a.class.is_none())
        .filter(|a| {
            let who = if a.kind == AdminKind::Root {
                s.account
            } else {
                a.principal.as_str()
            };
            !keeps_put(after, s, who)
        })
        .map(|a| a.principal.clone())
        .collect();
    if !lost_admins.is_empty() {
        refusals.push(format!(
            "the new policy takes kms:PutKeyPolicy from {}, who can change the policy now",
            lost_admins.join(", ")
        ));
    }
    let safety_check = input.caller.map(|c| safety(after, s, c));
    if let Some(sc) = &safety_check {
        if sc.outcome != SafetyOutcome::Accepted {
            refusals.push(format!(
                "KMS's lockout safety check would reject it for {}: {}",
                sc.principal, sc.reason
            ));
        }
    }
    let changes = match input.before {
        Some(b) => diff(&b.text, &input.after.text),
        None => diff("{}", &input.after.text),
    };
    if input.before.is_some() && changes.is_empty() {
        refusals.push("the new policy is the policy in force: nothing to apply".into());
    }
    FixPlan {
        verdict_after,
        changes,
        lost_admins,
        safety_check,
        replaces: input.before.and_then(|b| fingerprint(&b.text)),
        fingerprint_after: fingerprint(&input.after.text),
        refusals,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::lockout::KeyRef;
    use crate::analysis::policy::{parse_document, PolicyKind};

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    fn doc(text: &str) -> PolicyDocument {
        parse_document(text, PolicyKind::Key, "key-policy").unwrap()
    }

    #[test]
    fn fingerprints_ignore_spacing_but_not_content() {
        let a = fingerprint(r#"{"Version":"2012-10-17","Statement":[]}"#).unwrap();
        let b = fingerprint("{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [ ]\n}").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        let c = fingerprint(r#"{"Version":"2008-10-17","Statement":[]}"#).unwrap();
        assert_ne!(a, c);
        assert_eq!(fingerprint("not json"), None);
    }

    #[test]
    fn statements_are_compared_by_label() {
        let before = r#"{"Statement":[{"Sid":"A","Effect":"Allow"},{"Sid":"B","Effect":"Deny"},{"Effect":"Allow"}]}"#;
        let after = r#"{"Statement":[{"Sid":"A","Effect":"Allow"},{"Sid":"B","Effect":"Allow"},{"Sid":"C","Effect":"Allow"}]}"#;
        let d = diff(before, after);
        let got: Vec<(&str, &str)> = d.iter().map(|c| (c.statement.as_str(), c.change)).collect();
        assert_eq!(got, [("B", "changed"), ("#2", "removed"), ("C", "added")]);
    }

    #[test]
    fn a_repair_is_applied_only_when_ok_and_keeping_the_admins() {
        let key = KeyRef::parse(KEY).unwrap();
        let now = chrono::Utc::now();
        let s = Setting::new(&key, "111122223333", now, None, None);
        let locked = doc(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"Admins","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/KeyAdmin"},"Action":"kms:*","Resource":"*"}]}"#,
        );
        let d = crate::analysis::lockout::diagnose(crate::analysis::lockout::Evidence {
            key: key.clone(),
            current_policy: Some(&locked),
            events: &[],
            account: Some("111122223333"),
            now,
            aliases: None,
            properties: None,
            caller: None,
        });
        let default = doc(&crate::analysis::lockout::default_policy(
            "aws",
            "111122223333",
        ));
        let admin = Caller::parse("arn:aws:iam::111122223333:role/KeyAdmin").unwrap();
        let p = plan(&FixInput {
            setting: &s,
            before: Some(&locked),
            admins_before: &d.recoverable_admins,
            after: &default,
            caller: Some(&admin),
        });
        assert_eq!(p.verdict_after, Verdict::Ok);
        assert!(p.lost_admins.is_empty(), "IAM can grant KeyAdmin again");
        assert!(p.refusals.is_empty(), "{:?}", p.refusals);
        assert_eq!(
            p.safety_check.as_ref().unwrap().outcome,
            SafetyOutcome::Accepted
        );

        // Putting the locked policy back is refused: not ok.
        let back = plan(&FixInput {
            setting: &s,
            before: Some(&default),
            admins_before: &[],
            after: &locked,
            caller: Some(&admin),
        });
        assert!(
            back.refusals.iter().any(|r| r.contains("not ok")),
            "{:?}",
            back.refusals
        );

        // A policy that is ok but denies the admin PutKeyPolicy loses it.
        let denying = doc(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{},{{"Sid":"NoAdmin","Effect":"Deny","Principal":{{"AWS":"arn:aws:iam::111122223333:role/KeyAdmin"}},"Action":"kms:PutKeyPolicy","Resource":"*"}}]}}"#,
            crate::analysis::lockout::delegation::delegation_statement("aws", "111122223333")
        ));
        let lost = plan(&FixInput {
            setting: &s,
            before: Some(&locked),
            admins_before: &d.recoverable_admins,
            after: &denying,
            caller: None,
        });
        assert_eq!(
            lost.lost_admins,
            ["arn:aws:iam::111122223333:role/KeyAdmin"]
        );
        assert!(lost
            .refusals
            .iter()
            .any(|r| r.contains("takes kms:PutKeyPolicy from")));

        // The same policy again: nothing to apply.
        let same = plan(&FixInput {
            setting: &s,
            before: Some(&default),
            admins_before: &[],
            after: &default,
            caller: None,
        });
        assert!(same.refusals.iter().any(|r| r.contains("nothing to apply")));
    }
}

/// Where the key's policy is kept besides KMS, so that the next deployment does not put the
/// old one back: a CloudFormation stack (its tags say), and the policy as Terraform's
/// `aws_kms_key_policy` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceForms {
    /// `aws:cloudformation:stack-name`, when the key carries it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloudformation_stack: Option<String>,
    /// `aws:cloudformation:logical-id`: the resource to change in the template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloudformation_logical_id: Option<String>,
    /// An `aws_kms_key_policy` resource holding the policy.
    pub terraform: String,
}

/// The forms of `policy_text` for the key's sources. `tags`: the key's tags, when known.
pub fn source_forms(key_id: &str, policy_text: &str, tags: &[(String, String)]) -> SourceForms {
    let tag = |k: &str| {
        tags.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let pretty = serde_json::from_str::<Value>(policy_text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| policy_text.to_string());
    // In a heredoc Terraform still reads `${...}` and `%{...}` as templates: policy
    // variables such as `${aws:username}` are written `$${...}` to stay literal.
    let body = pretty.replace("${", "$${").replace("%{", "%%{");
    SourceForms {
        cloudformation_stack: tag("aws:cloudformation:stack-name"),
        cloudformation_logical_id: tag("aws:cloudformation:logical-id"),
        terraform: format!(
            "resource \"aws_kms_key_policy\" \"this\" {{\n  key_id = \"{key_id}\"\n  policy = <<-EOT\n{body}\nEOT\n}}\n"
        ),
    }
}

/// Whether the policy in KMS now is still the one a plan was made for: compared by
/// [`fingerprint`], the diagnosed one or the one `--expect-policy-sha256` names. `None`
/// when it is; else why not.
pub fn changed_since(current_text: &str, expected: Option<&str>) -> Option<String> {
    let now = fingerprint(current_text);
    match expected {
        None => None,
        Some(e) if now.as_deref() == Some(e) => None,
        Some(e) => Some(format!(
            "the key policy in KMS changed since the diagnosis (now {}, diagnosed {e}): run kmsdoctor fix again",
            now.as_deref().unwrap_or("not JSON")
        )),
    }
}

#[cfg(test)]
mod source_tests {
    use super::*;

    #[test]
    fn terraform_form_keeps_policy_variables_literal() {
        let p = r#"{"Statement":[{"Resource":"arn:aws:iam::111122223333:user/${aws:username}"}]}"#;
        let f = source_forms("1234", p, &[]);
        assert!(f.terraform.contains("$${aws:username}"), "{}", f.terraform);
        assert!(f
            .terraform
            .starts_with("resource \"aws_kms_key_policy\" \"this\" {\n  key_id = \"1234\""));
        assert_eq!(f.cloudformation_stack, None);
        let tags = vec![
            (
                "aws:cloudformation:stack-name".to_string(),
                "payments".to_string(),
            ),
            (
                "aws:cloudformation:logical-id".to_string(),
                "DataKey".to_string(),
            ),
        ];
        let f = source_forms("1234", p, &tags);
        assert_eq!(f.cloudformation_stack.as_deref(), Some("payments"));
        assert_eq!(f.cloudformation_logical_id.as_deref(), Some("DataKey"));
    }

    /// A concurrent change between the diagnosis and the put is refused; the same policy
    /// with other spacing is not a change.
    #[test]
    fn a_policy_changed_since_the_diagnosis_is_refused() {
        let diagnosed = r#"{"Version":"2012-10-17","Statement":[{"Sid":"A"}]}"#;
        let fp = fingerprint(diagnosed).unwrap();
        assert_eq!(
            changed_since(
                "{\n \"Version\": \"2012-10-17\", \"Statement\": [{\"Sid\": \"A\"}]}",
                Some(&fp)
            ),
            None
        );
        let why = changed_since(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"B"}]}"#,
            Some(&fp),
        )
        .unwrap();
        assert!(why.contains("changed since the diagnosis"), "{why}");
        assert_eq!(changed_since("anything", None), None);
    }
}
