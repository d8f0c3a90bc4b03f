//! KMS: resolving the key (id, ARN, alias), its metadata, its policy and its aliases.
//! AccessDenied on GetKeyPolicy is the lockout itself: evidence, not a failure.

use chrono::{DateTime, Utc};

use super::{AwsError, Clients, LiveError};
use crate::analysis::key_state::KeyStatus;
use crate::analysis::lockout::{KeyProperties, KeyRef};

/// What KMS told about the key.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KeyFacts {
    /// How the key was identified: `describe_key`, `list_aliases` or `input`.
    pub resolved_by: String,
    pub creation_date: Option<DateTime<Utc>>,
    pub key_state: Option<String>,
    pub key_manager: Option<String>,
    /// The key policy, when GetKeyPolicy answered.
    pub policy: Option<String>,
    /// Why GetKeyPolicy did not answer (`AccessDeniedException: ...`).
    pub policy_error: Option<String>,
    pub aliases: Option<Vec<String>>,
    /// What DescribeKey says of the key that conditions test (absent from older bundles).
    #[serde(default)]
    pub properties: Option<KeyProperties>,
    /// Problems that degraded the evidence, in words.
    pub problems: Vec<String>,
}

/// What DescribeKey says of a key that conditions test.
pub(crate) fn properties_of(m: &aws_sdk_kms::types::KeyMetadata) -> KeyProperties {
    KeyProperties {
        key_spec: m.key_spec().map(|s| s.as_str().to_string()),
        key_usage: m.key_usage().map(|s| s.as_str().to_string()),
        origin: m.origin().map(|s| s.as_str().to_string()),
        multi_region: m.multi_region(),
        key_manager: m.key_manager().map(|k| k.as_str().to_string()),
        multi_region_key_type: m
            .multi_region_configuration()
            .and_then(|c| c.multi_region_key_type())
            .map(|t| t.as_str().to_string()),
        primary_region: m
            .multi_region_configuration()
            .filter(|c| {
                c.multi_region_key_type()
                    .is_some_and(|t| t.as_str() == "REPLICA")
            })
            .and_then(|c| c.primary_key())
            .and_then(|p| p.region())
            .map(str::to_string),
        status: KeyStatus {
            state: m.key_state().map(|s| s.as_str().to_string()),
            deletion_date: m
                .deletion_date()
                .and_then(|d| DateTime::from_timestamp(d.secs(), d.subsec_nanos())),
            pending_window_days: m.pending_deletion_window_in_days(),
            ..KeyStatus::default()
        },
        listed_grants: None,
        related: m
            .multi_region_configuration()
            .map(|c| {
                c.primary_key()
                    .into_iter()
                    .chain(c.replica_keys())
                    .filter_map(|k| Some((k.arn()?, k.region()?)))
                    .filter(|(arn, _)| Some(*arn) != m.arn())
                    .map(
                        |(arn, region)| crate::analysis::lockout::key::RelatedPolicy {
                            arn: arn.to_string(),
                            region: region.to_string(),
                            ..Default::default()
                        },
                    )
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The most pages of ListGrants read (100 grants a page).
const MAX_GRANT_PAGES: u32 = 20;

/// The key's grants (ListGrants, every page up to [`MAX_GRANT_PAGES`]): `Ok(None)` when the
/// caller may not list them (in a lockout, the usual answer), an error otherwise.
pub async fn list_grants(
    c: &Clients,
    key_arg: &str,
) -> Result<Option<Vec<crate::analysis::lockout::key::ListedGrant>>, crate::evidence::aws::AwsError>
{
    use crate::analysis::lockout::key::ListedGrant;
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    for _ in 0..MAX_GRANT_PAGES {
        let page = match c
            .kms
            .list_grants()
            .key_id(key_arg)
            .limit(100)
            .set_marker(marker.clone())
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) => {
                let e = c.error("kms", "ListGrants", &e);
                if e.is_access_denied() {
                    return Ok(None);
                }
                return Err(e);
            }
        };
        for g in page.grants() {
            let Some(id) = g.grant_id() else { continue };
            let constraints = g.constraints().map(|c| {
                let mut v = serde_json::Map::new();
                if let Some(m) = c.encryption_context_subset() {
                    v.insert("encryptionContextSubset".into(), serde_json::json!(m));
                }
                if let Some(m) = c.encryption_context_equals() {
                    v.insert("encryptionContextEquals".into(), serde_json::json!(m));
                }
                serde_json::Value::Object(v).to_string()
            });
            out.push(ListedGrant {
                grant_id: id.to_string(),
                grantee: g.grantee_principal().map(str::to_string),
                operations: g
                    .operations()
                    .iter()
                    .map(|o| o.as_str().to_string())
                    .collect(),
                constraints,
                retiring: g.retiring_principal().map(str::to_string),
            });
        }
        match page.next_marker() {
            Some(m) if page.truncated() && marker.as_deref() != Some(m) => {
                marker = Some(m.to_string())
            }
            _ => return Ok(Some(out)),
        }
    }
    Ok(Some(out))
}

fn is_alias(input: &str) -> bool {
    input.starts_with("alias/") || input.contains(":alias/")
}

/// Resolves the key (id, ARN, alias name or alias ARN) and reads what KMS allows.
pub async fn key_facts(
    c: &Clients,
    input: &str,
    caller_account: &str,
) -> Result<(KeyRef, KeyFacts), LiveError> {
    let mut facts = KeyFacts::default();
    let mut key: Option<KeyRef> = None;
    match c.kms.describe_key().key_id(input).send().await {
        Ok(out) => {
            if let Some(m) = out.key_metadata() {
                if let Ok(k) = KeyRef::parse(m.arn().unwrap_or_default()) {
                    key = Some(k);
                    facts.resolved_by = "describe_key".into();
                }
                facts.creation_date = m
                    .creation_date()
                    .and_then(|d| DateTime::from_timestamp(d.secs(), d.subsec_nanos()));
                facts.key_state = m.key_state().map(|s| s.as_str().to_string());
                facts.properties = Some(properties_of(m));
                facts.key_manager = m.key_manager().map(|s| s.as_str().to_string());
            }
        }
        Err(e) => {
            let e = c.error("kms", "DescribeKey", &e);
            if e.is_not_found() {
                return Err(LiveError::call(
                    e.about(format!("`{input}`")),
                    format!("no such key in {}", c.region),
                ));
            }
            facts
                .problems
                .push(format!("{e}; the key ARN is built from what was given"));
        }
    }
    let key = match key {
        Some(k) => k,
        None if is_alias(input) => {
            let name = input
                .rsplit_once(":alias/")
                .map(|(_, n)| format!("alias/{n}"))
                .unwrap_or_else(|| input.to_string());
            let target = find_alias_target(c, &name).await?;
            facts.resolved_by = "list_aliases".into();
            let mut k = KeyRef::parse(&target).map_err(|e| LiveError::Setup(e.to_string()))?;
            k.complete(Some(caller_account), Some(&c.region));
            k
        }
        None => {
            let mut k = KeyRef::parse(input).map_err(|e| LiveError::Setup(e.to_string()))?;
            k.complete(Some(caller_account), Some(&c.region));
            facts.resolved_by = "input".into();
            k
        }
    };
    let key_arg = key.arn.clone().unwrap_or_else(|| key.id.clone());

    match c
        .kms
        .get_key_policy()
        .key_id(&key_arg)
        .policy_name("default")
        .send()
        .await
    {
        Ok(out) => facts.policy = out.policy().map(str::to_string),
        Err(e) => {
            let e = c.error("kms", "GetKeyPolicy", &e);
            if e.is_not_found() && facts.resolved_by != "describe_key" {
                return Err(LiveError::call(e.about(key_arg.clone()), "no such key"));
            }
            // AccessDenied is the lockout itself: evidence, not a failure.
            facts.policy_error = Some(e.message);
        }
    }
    // Each related multi-Region key's own policy, in its region (issue 28).
    if let Some(p) = facts.properties.as_mut() {
        for r in p.related.iter_mut() {
            let there = aws_sdk_kms::Client::from_conf(
                c.kms
                    .config()
                    .to_builder()
                    .region(aws_config::Region::new(r.region.clone()))
                    .build(),
            );
            match there
                .get_key_policy()
                .key_id(&r.arn)
                .policy_name("default")
                .send()
                .await
            {
                Ok(out) => r.policy = out.policy().map(str::to_string),
                Err(e) => r.error = Some(c.error("kms", "GetKeyPolicy", &e).message),
            }
        }
    }
    // The grants: a way to the data that outlives a lockout (issue 28).
    match list_grants(c, &key_arg).await {
        Ok(listed) => {
            if let Some(p) = facts.properties.as_mut() {
                p.listed_grants = listed;
            } else if listed.is_some() {
                facts.properties = Some(KeyProperties {
                    listed_grants: listed,
                    ..KeyProperties::default()
                });
            }
        }
        Err(e) => facts
            .problems
            .push(format!("{e}: the key's grants come from CloudTrail only")),
    }
    match list_aliases(c, &key_arg).await {
        Ok(a) => facts.aliases = Some(a),
        Err(e) => facts
            .problems
            .push(format!("{e}: kms:ResourceAliases conditions stay unknown")),
    }
    Ok((key, facts))
}

async fn find_alias_target(c: &Clients, alias: &str) -> Result<String, LiveError> {
    let mut pages = c.kms.list_aliases().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            LiveError::call(
                c.error("kms", "ListAliases", &e),
                format!("so `{alias}` cannot be resolved"),
            )
        })?;
        for a in page.aliases() {
            if a.alias_name() == Some(alias) {
                return a.target_key_id().map(str::to_string).ok_or_else(|| {
                    LiveError::Setup(format!(
                        "`{alias}` is an AWS managed alias with no key, or points nowhere"
                    ))
                });
            }
        }
    }
    Err(LiveError::Setup(format!(
        "no alias `{alias}` in this account and region"
    )))
}

async fn list_aliases(c: &Clients, key: &str) -> Result<Vec<String>, AwsError> {
    let mut out = Vec::new();
    let mut pages = c.kms.list_aliases().key_id(key).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| c.error("kms", "ListAliases", &e))?;
        out.extend(
            page.aliases()
                .iter()
                .filter_map(|a| a.alias_name().map(str::to_string)),
        );
    }
    Ok(out)
}

/// The key's tags (ListResourceTags, at most 200: KMS's limit per key), or why not.
pub async fn key_tags(c: &Clients, key_arn: &str) -> Result<Vec<(String, String)>, AwsError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    for _ in 0..5 {
        let page = c
            .kms
            .list_resource_tags()
            .key_id(key_arn)
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| c.error("kms", "ListResourceTags", &e))?;
        out.extend(
            page.tags()
                .iter()
                .map(|t| (t.tag_key().to_string(), t.tag_value().to_string())),
        );
        match page.next_marker() {
            Some(m) if page.truncated() => marker = Some(m.to_string()),
            _ => break,
        }
    }
    Ok(out)
}

/// GetKeyPolicy for the `default` policy: the text, or why not.
pub async fn get_key_policy(c: &Clients, key_arn: &str) -> Result<String, AwsError> {
    match c
        .kms
        .get_key_policy()
        .key_id(key_arn)
        .policy_name("default")
        .send()
        .await
    {
        Ok(out) => out
            .policy()
            .map(str::to_string)
            .ok_or_else(|| AwsError::answer("kms", "GetKeyPolicy", "the reply holds no policy")),
        Err(e) => Err(c.error("kms", "GetKeyPolicy", &e)),
    }
}

/// PutKeyPolicy for the `default` policy, never bypassing the lockout safety check (the
/// guard refuses the call otherwise). Only clients built for `fix --apply` send it.
pub async fn put_key_policy(c: &Clients, key_arn: &str, policy: &str) -> Result<(), AwsError> {
    c.kms
        .put_key_policy()
        .key_id(key_arn)
        .policy_name("default")
        .policy(policy)
        .bypass_policy_lockout_safety_check(false)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| c.error("kms", "PutKeyPolicy", &e))
}
