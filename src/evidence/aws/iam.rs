//! IAM: whether principals still exist, the caller's role or user ARN, IAM's own decision
//! for the caller (SimulatePrincipalPolicy), and the caller's identity policies and
//! permissions boundary for the request chain.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{AwsError, CallerIdentity, Clients, LiveError, ReadError};
use crate::analysis::aws_ids::Arn;
use crate::analysis::lockout::Existence;
use crate::evidence::layers::{RecordedBoundary, RecordedPolicy};
use crate::evidence::Invalid;

/// What GetRole says of a role: its ARN (with its path) and its permissions boundary's ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleInfo {
    pub arn: Option<String>,
    pub boundary: Option<String>,
    /// The trust policy (AssumeRolePolicyDocument), decoded; `None` when it does not decode.
    pub trust: Option<String>,
}

/// GetRole's answers (or failures) of one run, by role name: a role is asked about once,
/// however many questions need it (whether it exists, the ARN behind a session, its
/// boundary).
#[derive(Debug, Clone, Default)]
pub struct RoleCache(Arc<Mutex<HashMap<String, Result<RoleInfo, AwsError>>>>);

/// GetRole for `name`, once per run.
async fn get_role(c: &Clients, name: &str) -> Result<RoleInfo, AwsError> {
    let cached = |c: &Clients| {
        let map = c.roles.0.lock().unwrap_or_else(|e| e.into_inner());
        map.get(name).cloned()
    };
    if let Some(hit) = cached(c) {
        return hit;
    }
    let answer = c
        .iam
        .get_role()
        .role_name(name)
        .send()
        .await
        .map(|o| RoleInfo {
            arn: o.role().map(|r| r.arn().to_string()),
            boundary: o
                .role()
                .and_then(|r| r.permissions_boundary())
                .and_then(|b| b.permissions_boundary_arn())
                .map(str::to_string),
            trust: o
                .role()
                .and_then(|r| r.assume_role_policy_document())
                .and_then(|d| decode_document(d).ok()),
        })
        .map_err(|e| c.error("iam", "GetRole", &e).about(name));
    let mut map = c.roles.0.lock().unwrap_or_else(|e| e.into_inner());
    map.insert(name.to_string(), answer.clone());
    answer
}

/// A role's trust policy, from GetRole (asked once per run); `None` for a principal that is
/// not a role, or when GetRole did not answer.
pub async fn role_trust(c: &Clients, arn: &str) -> Option<String> {
    let parsed = Arn::parse(arn)?;
    let name = parsed.resource.strip_prefix("role/")?.rsplit('/').next()?;
    get_role(c, name).await.ok()?.trust
}

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
        get_role(c, name).await.map(|_| ())
    } else {
        c.iam
            .get_user()
            .user_name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| c.error("iam", "GetUser", &e))
    };
    match result {
        Ok(()) => Existence::Yes,
        Err(e) if e.is_not_found() => Existence::No,
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
        return get_role(c, role).await.ok()?.arn;
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
        .map_err(|e| LiveError::from(c.error("iam", "SimulatePrincipalPolicy", &e)))?;
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

/// Most policies read for one principal (its own, its groups', managed ones): IAM's quotas
/// allow far fewer; a reply past this is not believed.
const MAX_IDENTITY_POLICIES: usize = 200;
/// Most pages of one IAM listing.
const MAX_PAGES: usize = 50;
/// Largest policy document taken (IAM's own limits are 10 KB inline, 6 KB managed).
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// A policy document as IAM returns it: URL-encoded (RFC 3986), or already JSON.
pub fn decode_document(text: &str) -> Result<String, Invalid> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(Invalid(format!(
            "the document is {} bytes, over the {} kmsdoctor reads",
            text.len(),
            MAX_DOCUMENT_BYTES
        )));
    }
    if text.trim_start().starts_with('{') {
        return Ok(text.to_string());
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| Invalid("the URL-encoded document is not UTF-8".into()))
}

/// Whose policies to read: a role or a user, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entity<'a> {
    Role(&'a str),
    User(&'a str),
    Group(&'a str),
}

impl Entity<'_> {
    fn words(self) -> String {
        match self {
            Entity::Role(n) => format!("role {n}"),
            Entity::User(n) => format!("user {n}"),
            Entity::Group(n) => format!("group {n}"),
        }
    }
}

/// What reading one principal's identity side gave.
#[derive(Debug, Clone, Default)]
pub struct IdentityRead {
    pub identity: Option<Vec<RecordedPolicy>>,
    pub boundary: Option<RecordedBoundary>,
    pub problems: Vec<String>,
}

/// Pages through an IAM listing: `page(marker)` gives the names on a page, whether more
/// follow, and the next marker.
async fn all_pages<F, Fut>(mut page: F) -> Result<Vec<(String, String)>, ReadError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<(String, String)>, Option<String>), AwsError>>,
{
    let mut out = Vec::new();
    let mut marker = None;
    for _ in 0..MAX_PAGES {
        let (items, next) = page(marker.clone()).await?;
        out.extend(items);
        if out.len() > MAX_IDENTITY_POLICIES {
            return Err(ReadError::Answer(format!(
                "IAM listed over {MAX_IDENTITY_POLICIES} policies: not believed"
            )));
        }
        match next {
            Some(m) if marker.as_deref() != Some(m.as_str()) => marker = Some(m),
            _ => return Ok(out),
        }
    }
    Err(ReadError::Answer(format!(
        "IAM's listing ran past {MAX_PAGES} pages"
    )))
}

fn next_marker(truncated: bool, marker: Option<&str>) -> Option<String> {
    marker.filter(|_| truncated).map(str::to_string)
}

/// Sends one IAM request about a role, user or group: `$req` is the request builder with
/// the entity's name set, `$op` the operation's name for messages; `$body` runs on it for
/// whichever kind of entity (their outputs differ in type but not in shape).
macro_rules! per_entity {
    ($c:expr, $who:expr,
     [$role:ident $role_op:literal, $user:ident $user_op:literal, $group:ident $group_op:literal],
     |$req:ident, $op:ident| $body:expr) => {
        match $who {
            Entity::Role(n) => {
                let ($req, $op) = ($c.iam.$role().role_name(n), $role_op);
                $body
            }
            Entity::User(n) => {
                let ($req, $op) = ($c.iam.$user().user_name(n), $user_op);
                $body
            }
            Entity::Group(n) => {
                let ($req, $op) = ($c.iam.$group().group_name(n), $group_op);
                $body
            }
        }
    };
}

/// The inline policies of a role, user or group: `(name, document)`.
async fn inline_policies(c: &Clients, who: Entity<'_>) -> Result<Vec<RecordedPolicy>, ReadError> {
    let fail = |e: AwsError| e.about(format!("for {}", who.words()));
    let names = all_pages(|marker| async move {
        per_entity!(c, who,
            [list_role_policies "ListRolePolicies", list_user_policies "ListUserPolicies",
             list_group_policies "ListGroupPolicies"],
            |req, op| req
                .set_marker(marker)
                .send()
                .await
                .map(|o| {
                    let names = o.policy_names().iter().map(|n| (n.clone(), String::new()));
                    (names.collect(), next_marker(o.is_truncated(), o.marker()))
                })
                .map_err(|e| fail(c.error("iam", op, &e))))
    })
    .await?;
    let mut out = Vec::new();
    for (name, _) in names {
        let doc = per_entity!(c, who,
            [get_role_policy "GetRolePolicy", get_user_policy "GetUserPolicy",
             get_group_policy "GetGroupPolicy"],
            |req, op| req
                .policy_name(&name)
                .send()
                .await
                .map(|o| o.policy_document().to_string())
                .map_err(|e| fail(c.error("iam", op, &e))))?;
        let document = decode_document(&doc).map_err(|m| {
            ReadError::Answer(format!(
                "the inline policy {name} of {} cannot be read: {m}",
                who.words()
            ))
        })?;
        out.push(RecordedPolicy {
            source: format!("inline policy {name} of {}", who.words()),
            name,
            document,
        });
    }
    Ok(out)
}

/// The ARNs and names of the managed policies attached to a role, user or group.
async fn attached_policies(
    c: &Clients,
    who: Entity<'_>,
) -> Result<Vec<(String, String)>, ReadError> {
    let fail = |e: AwsError| e.about(format!("for {}", who.words()));
    all_pages(|marker| async move {
        per_entity!(c, who,
            [list_attached_role_policies "ListAttachedRolePolicies",
             list_attached_user_policies "ListAttachedUserPolicies",
             list_attached_group_policies "ListAttachedGroupPolicies"],
            |req, op| req
                .set_marker(marker)
                .send()
                .await
                .map(|o| {
                    let list = o.attached_policies().iter().filter_map(|p| {
                        Some((
                            p.policy_arn()?.to_string(),
                            p.policy_name().unwrap_or("").to_string(),
                        ))
                    });
                    (list.collect(), next_marker(o.is_truncated(), o.marker()))
                })
                .map_err(|e| fail(c.error("iam", op, &e))))
    })
    .await
}

/// A managed policy's default version: GetPolicy, then GetPolicyVersion.
async fn managed_policy(c: &Clients, arn: &str, name: &str) -> Result<RecordedPolicy, ReadError> {
    let policy = c
        .iam
        .get_policy()
        .policy_arn(arn)
        .send()
        .await
        .map_err(|e| c.error("iam", "GetPolicy", &e).about(arn))?;
    let version = policy
        .policy()
        .and_then(|p| p.default_version_id())
        .ok_or_else(|| ReadError::Answer(format!("iam GetPolicy {arn} named no default version")))?
        .to_string();
    let out = c
        .iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(&version)
        .send()
        .await
        .map_err(|e| {
            c.error("iam", "GetPolicyVersion", &e)
                .about(format!("{arn} {version}"))
        })?;
    let doc = out
        .policy_version()
        .and_then(|v| v.document())
        .ok_or_else(|| {
            ReadError::Answer(format!(
                "iam GetPolicyVersion {arn} {version} returned no document"
            ))
        })?;
    let document = decode_document(doc)
        .map_err(|m| ReadError::Answer(format!("the managed policy {arn} cannot be read: {m}")))?;
    let name = if name.is_empty() {
        arn.rsplit('/').next().unwrap_or(arn).to_string()
    } else {
        name.to_string()
    };
    Ok(RecordedPolicy {
        name,
        source: arn.to_string(),
        document,
    })
}

/// Every identity policy of the role or user `principal_arn` (an IAM ARN, the role behind a
/// session already looked up): inline and managed, and for a user its groups'; and its
/// permissions boundary. A part that cannot be read leaves that layer not known, with the
/// reason in `problems`. The root user has neither.
pub async fn read_identity(c: &Clients, principal_arn: &str) -> IdentityRead {
    let mut read = IdentityRead::default();
    let Some(arn) = Arn::parse(principal_arn) else {
        read.problems.push(format!(
            "{principal_arn} is not an IAM ARN: its identity policies are not known"
        ));
        return read;
    };
    let name = arn.resource.rsplit('/').next().unwrap_or_default();
    let who = if arn.resource.starts_with("role/") {
        Entity::Role(name)
    } else if arn.resource.starts_with("user/") {
        Entity::User(name)
    } else {
        return read;
    };
    // The boundary is on the role or user itself.
    let boundary = match who {
        Entity::Role(n) => get_role(c, n)
            .await
            .map(|r| r.boundary)
            .map_err(ReadError::from),
        _ => c
            .iam
            .get_user()
            .user_name(name)
            .send()
            .await
            .map(|o| {
                o.user()
                    .and_then(|u| u.permissions_boundary())
                    .and_then(|b| b.permissions_boundary_arn())
                    .map(str::to_string)
            })
            .map_err(|e| ReadError::from(c.error("iam", "GetUser", &e).about(name))),
    };
    read.boundary = match boundary {
        Ok(None) => Some(RecordedBoundary::None),
        Ok(Some(b)) => match managed_policy(c, &b, "").await {
            Ok(policy) => Some(RecordedBoundary::Policy { policy }),
            Err(m) => {
                read.problems
                    .push(format!("{m}: the permissions boundary is not known"));
                None
            }
        },
        Err(m) => {
            read.problems
                .push(format!("{m}: the permissions boundary is not known"));
            None
        }
    };
    match identity_policies(c, who).await {
        Ok(list) => read.identity = Some(list),
        Err(m) => read
            .problems
            .push(format!("{m}: the identity policies are not known")),
    }
    read
}

/// The inline and managed policies of `who`, and for a user those of its groups; each
/// managed policy read once.
async fn identity_policies(c: &Clients, who: Entity<'_>) -> Result<Vec<RecordedPolicy>, ReadError> {
    let mut entities = vec![who.words()];
    let mut out = inline_policies(c, who).await?;
    let mut managed = attached_policies(c, who).await?;
    if let Entity::User(n) = who {
        let groups = all_pages(|marker| async move {
            c.iam
                .list_groups_for_user()
                .user_name(n)
                .set_marker(marker)
                .send()
                .await
                .map(|o| {
                    (
                        o.groups()
                            .iter()
                            .map(|g| (g.group_name().to_string(), String::new()))
                            .collect(),
                        next_marker(o.is_truncated(), o.marker()),
                    )
                })
                .map_err(|e| c.error("iam", "ListGroupsForUser", &e).about(n))
        })
        .await?;
        for (g, _) in &groups {
            let group = Entity::Group(g);
            entities.push(group.words());
            out.extend(inline_policies(c, group).await?);
            managed.extend(attached_policies(c, group).await?);
        }
    }
    managed.sort();
    managed.dedup_by(|a, b| a.0 == b.0);
    for (arn, name) in &managed {
        out.push(managed_policy(c, arn, name).await?);
        if out.len() > MAX_IDENTITY_POLICIES {
            return Err(ReadError::Answer(format!(
                "{} have over {MAX_IDENTITY_POLICIES} policies: not believed",
                entities.join(", ")
            )));
        }
    }
    Ok(out)
}
