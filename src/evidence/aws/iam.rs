//! IAM: whether principals still exist, the caller's role or user ARN, and IAM's own
//! decision for the caller (SimulatePrincipalPolicy).

use super::{CallerIdentity, Clients, LiveError};
use crate::analysis::lockout::Existence;
use crate::analysis::principal::Arn;

/// Whether a principal exists: `yes`, `no` (deleted), or `unknown` (no permission to ask).
pub async fn principal_exists(c: &Clients, arn: &str) -> Existence {
    let Some(parsed) = Arn::parse(arn) else {
        return Existence::Unknown;
    };
    // A role (or the role behind a session) or a user, by name: the last part of the path.
    let resource = parsed.resource;
    let (is_role, name) = if let Some(rest) = resource.strip_prefix("role/") {
        (true, rest.rsplit('/').next().unwrap_or(rest))
    } else if let Some(rest) = resource.strip_prefix("assumed-role/") {
        (true, rest.split('/').next().unwrap_or(rest))
    } else if let Some(rest) = resource.strip_prefix("user/") {
        (false, rest.rsplit('/').next().unwrap_or(rest))
    } else if resource == "root" {
        return Existence::Yes;
    } else {
        return Existence::Unknown;
    };
    let result = if is_role {
        c.iam
            .get_role()
            .role_name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| c.describe(&e))
    } else {
        c.iam
            .get_user()
            .user_name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| c.describe(&e))
    };
    match result {
        Ok(()) => Existence::Yes,
        Err((Some(code), _)) if code == "NoSuchEntity" || code == "NoSuchEntityException" => {
            Existence::No
        }
        Err(_) => Existence::Unknown,
    }
}

/// The caller's IAM role or user ARN for IAM APIs: a session's role looked up for its path.
pub async fn caller_principal_arn(c: &Clients, caller: &CallerIdentity) -> Option<String> {
    let arn = Arn::parse(&caller.arn)?;
    if arn.service == "sts" {
        let role = arn
            .resource
            .strip_prefix("assumed-role/")?
            .split('/')
            .next()?;
        let out = c.iam.get_role().role_name(role).send().await.ok()?;
        return out.role().map(|r| r.arn().to_string());
    }
    Some(caller.arn.clone())
}

/// What IAM decides for the caller on GetKeyPolicy and PutKeyPolicy on the key.
pub async fn simulate(
    c: &Clients,
    principal_arn: &str,
    key_arn: &str,
) -> Result<Vec<(String, String)>, LiveError> {
    let out = c
        .iam
        .simulate_principal_policy()
        .policy_source_arn(principal_arn)
        .action_names("kms:GetKeyPolicy")
        .action_names("kms:PutKeyPolicy")
        .resource_arns(key_arn)
        .send()
        .await
        .map_err(|e| LiveError(c.describe(&e).1))?;
    Ok(out
        .evaluation_results()
        .iter()
        .map(|r| {
            (
                r.eval_action_name().to_string(),
                r.eval_decision().as_str().to_string(),
            )
        })
        .collect())
}
