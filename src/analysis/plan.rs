//! The recovery plan: numbered steps, each with the exact AWS CLI command to run where there
//! is one. Chosen from the verdict and the recoverable admins.

use serde::Serialize;

use super::lockout::{AdminKind, Diagnosis, RecoverableAdmin, Verdict};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub step: usize,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// Where the repaired policy is (or would be) written.
pub struct PlanInput<'a> {
    pub diagnosis: &'a Diagnosis,
    /// `--write-repaired` path when given and written.
    pub repaired_path: Option<&'a str>,
    /// The command line that produced this diagnosis, to suggest re-running with
    /// `--write-repaired`.
    pub rerun: &'a str,
}

fn region_flag(d: &Diagnosis) -> String {
    d.key
        .region
        .as_deref()
        .map(|r| format!(" --region {r}"))
        .unwrap_or_default()
}

fn key_arg(d: &Diagnosis) -> String {
    d.key.arn.clone().unwrap_or_else(|| d.key.id.clone())
}

/// The admin to use: fewest requirements, no IAM policy needed, the root user last.
fn best_admin(admins: &[RecoverableAdmin]) -> Option<&RecoverableAdmin> {
    admins
        .iter()
        .filter(|a| a.can_put_key_policy)
        .min_by_key(|a| {
            let reqs = a
                .requirements
                .iter()
                .map(|x| x.all_of.len())
                .min()
                .unwrap_or(0);
            (
                a.kind == AdminKind::Root,
                a.class.is_some(),
                a.needs_iam_policy,
                reqs,
            )
        })
}

pub fn recovery_plan(input: &PlanInput<'_>) -> Vec<Step> {
    let d = input.diagnosis;
    let region = region_flag(d);
    let key = key_arg(d);
    let mut steps: Vec<(String, Option<String>)> = Vec::new();
    match d.verdict {
        Verdict::Ok => {
            steps.push((
                "The key policy delegates to IAM: check what IAM decides for the caller that is denied".into(),
                Some(format!(
                    "aws iam simulate-principal-policy --policy-source-arn CALLER_ROLE_OR_USER_ARN --action-names kms:GetKeyPolicy kms:PutKeyPolicy --resource-arns {key}"
                )),
            ));
            steps.push((
                "Check the caller's permissions boundary, which caps what its IAM policies allow".into(),
                Some("aws iam get-role --role-name CALLER_ROLE_NAME --query Role.PermissionsBoundary".into()),
            ));
            steps.push((
                "Check the service control policies of the account".into(),
                d.key.account.as_ref().map(|a| {
                    format!("aws organizations list-policies-for-target --target-id {a} --filter SERVICE_CONTROL_POLICY")
                }),
            ));
        }
        Verdict::Recoverable => {
            if let Some(a) = best_admin(&d.recoverable_admins) {
                let reqs: Vec<String> = a
                    .requirements
                    .first()
                    .map(|alt| alt.all_of.iter().map(|r| r.text.clone()).collect())
                    .unwrap_or_default();
                let needs = if reqs.is_empty() {
                    String::new()
                } else {
                    format!(", meeting: {}", reqs.join("; "))
                };
                let mfa = reqs.iter().any(|r| r.contains("MultiFactorAuth"));
                // When only listed sessions get through (NotPrincipal), the session name.
                let session = a
                    .requirements
                    .first()
                    .and_then(|alt| {
                        alt.all_of.iter().find(|r| {
                            r.kind == crate::analysis::eval::RequirementKind::Session && !r.negated
                        })
                    })
                    .and_then(|r| r.values.first())
                    .and_then(|v| v.rsplit('/').next())
                    .unwrap_or("kmsdoctor-recovery")
                    .to_string();
                // AWS's rule for role session names; anything else never reaches a command.
                let session_ok = (2..=64).contains(&session.len())
                    && session
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
                let (text, command) = match (a.kind, &a.class) {
                    (_, Some(class)) => (
                        format!(
                            "Act as one of the {}{needs}: {}",
                            class.description, class.how
                        ),
                        None,
                    ),
                    _ => match a.kind {
                    AdminKind::Root => (
                        format!("Sign in to the console as the root user of account {}{needs}, and open CloudShell", d.key.account.as_deref().unwrap_or("?")),
                        None,
                    ),
                    AdminKind::Role => (
                        format!("Assume the role {}{needs}", a.principal),
                        session_ok.then(|| format!(
                            "aws sts assume-role --role-arn {} --role-session-name {session}{}",
                            a.principal,
                            if mfa { " --serial-number MFA_DEVICE_ARN --token-code MFA_CODE" } else { "" }
                        )),
                    ),
                    AdminKind::AssumedRole => (
                        format!("Act as the session {} (that session name exactly){needs}", a.principal),
                        None,
                    ),
                    _ => (
                        format!("Use the credentials of {}{needs}", a.principal),
                        Some("aws sts get-caller-identity".into()),
                    ),
                    },
                };
                steps.push((text, command));
                if a.needs_iam_policy {
                    steps.push((
                        format!(
                            "Make sure an IAM policy of {} allows kms:PutKeyPolicy on the key",
                            a.principal
                        ),
                        None,
                    ));
                }
            }
            let path = input.repaired_path.unwrap_or("repaired-policy.json");
            if input.repaired_path.is_none() {
                steps.push((
                    "Write the repaired policy (the last applied one with the IAM delegation put back)".into(),
                    Some(format!("{} --write-repaired {path}", input.rerun)),
                ));
            }
            steps.push((
                "Review it, then apply it (without bypassing the lockout safety check)".into(),
                Some(format!(
                    "aws kms put-key-policy --key-id {key} --policy-name default --policy file://{path}{region}"
                )),
            ));
            steps.push((
                "Check that the policy reads back and that kmsdoctor now says ok".into(),
                Some(format!(
                    "aws kms get-key-policy --key-id {key} --policy-name default --output text --query Policy{region}"
                )),
            ));
        }
        Verdict::Unrecoverable => {
            steps.push((
                format!(
                    "No principal that can exist may change the key policy: open a case with AWS Support from account {}, naming the key {key}; only AWS can restore access",
                    d.key.account.as_deref().unwrap_or("?")
                ),
                None,
            ));
            steps.push((
                "Until then, do not delete IAM principals or aliases that the policy names: the evidence helps AWS Support".into(),
                None,
            ));
        }
        Verdict::Unknown => {
            steps.push((
                "Get the current key policy, if you can read it, and run kmsdoctor with --policy-file".into(),
                Some(format!(
                    "aws kms get-key-policy --key-id {key} --policy-name default{region} > policy.json"
                )),
            ));
            steps.push((
                "Get the key's policy events of the last 90 days and run kmsdoctor with --events-file".into(),
                Some(format!(
                    "aws cloudtrail lookup-events --lookup-attributes AttributeKey=ResourceName,AttributeValue={key}{region} > events.json"
                )),
            ));
            steps.push((
                "For older events, search the trail's S3 logs with Athena (see the README) and export them as JSON Lines".into(),
                None,
            ));
        }
    }
    steps
        .into_iter()
        .enumerate()
        .map(|(i, (text, command))| Step {
            step: i + 1,
            text,
            command,
        })
        .collect()
}
