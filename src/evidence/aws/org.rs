//! Organizations: the SCPs and RCPs that bind an account, level by level from the
//! organization root down to the account (DescribeOrganization, ListRoots, ListParents,
//! ListPoliciesForTarget, DescribePolicy). Only the management account and delegated
//! administrators may read them; for anyone else the layers stay "not known", and the
//! problem says what to run in the management account.

use std::collections::BTreeMap;

use aws_sdk_organizations::types::PolicyType;

use super::{AwsError, Clients, ReadError};
use crate::evidence::layers::{RecordedLayers, RecordedLevel, RecordedPolicy};

/// Deepest OU path taken (Organizations allows five levels of OUs under the root).
const MAX_DEPTH: usize = 8;
/// Most pages of one listing, and most policies at one level.
const MAX_PAGES: usize = 20;
const MAX_POLICIES_PER_LEVEL: usize = 50;
/// Largest policy content taken (SCPs and RCPs are at most 5,120 characters).
const MAX_CONTENT_BYTES: usize = 64 * 1024;

/// What was read of the organization's policies for `account`: `scps`, `rcps` and
/// `management_account` of a [`RecordedLayers`], with the problems.
#[derive(Debug, Clone, Default)]
pub struct OrgRead {
    pub scps: Option<Vec<RecordedLevel>>,
    pub rcps: Option<Vec<RecordedLevel>>,
    pub management_account: Option<String>,
    pub problems: Vec<String>,
}

impl OrgRead {
    /// Puts what was read into `layers`.
    pub fn record(self, layers: &mut RecordedLayers) {
        layers.scps = self.scps;
        layers.rcps = self.rcps;
        layers.management_account = self.management_account;
        layers.problems.extend(self.problems);
    }
}

/// The problem said when the policies cannot be read: what failed, and the command someone
/// in the management account can run (the account id is 12 digits, checked).
fn unreadable(account: &str, what: &str) -> String {
    let command = if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) {
        format!(
            ": someone in the management account or a delegated administrator can run `aws organizations list-policies-for-target --target-id {account} --filter SERVICE_CONTROL_POLICY` (and RESOURCE_CONTROL_POLICY, for each OU up to the root)"
        )
    } else {
        String::new()
    };
    format!("{what}: the SCPs and RCPs of the account are not known{command}")
}

/// Reads the SCP and RCP levels that bind `account`.
pub async fn read_org_policies(c: &Clients, account: &str) -> OrgRead {
    OrgReader::new(&[
        PolicyType::ServiceControlPolicy,
        PolicyType::ResourceControlPolicy,
    ])
    .read(c, account)
    .await
}

/// Reads the policies of some types for one account after another, each organization-wide
/// answer asked once: the organization, its root, each level's policies and each policy's
/// content (a scan of an organization's accounts shares the root and its OUs).
pub struct OrgReader {
    types: Vec<PolicyType>,
    /// DescribeOrganization's answer: the management account, or the failure.
    organization: Option<Result<Option<String>, AwsError>>,
    root: Option<Result<(String, Vec<PolicyType>), ReadError>>,
    parents: BTreeMap<String, (String, bool)>,
    at: BTreeMap<(String, String), Vec<RecordedPolicy>>,
    contents: BTreeMap<String, RecordedPolicy>,
}

impl OrgReader {
    /// A reader of these policy types (SCPs, RCPs; others are not read).
    pub fn new(types: &[PolicyType]) -> OrgReader {
        OrgReader {
            types: types.to_vec(),
            organization: None,
            root: None,
            parents: BTreeMap::new(),
            at: BTreeMap::new(),
            contents: BTreeMap::new(),
        }
    }

    /// The levels of each type that bind `account`; a type not read stays `None`.
    pub async fn read(&mut self, c: &Clients, account: &str) -> OrgRead {
        let mut read = OrgRead::default();
        if self.organization.is_none() {
            let answer = match c.organizations.describe_organization().send().await {
                Ok(o) => Ok(o
                    .organization()
                    .and_then(|o| o.master_account_id())
                    .map(str::to_string)),
                Err(e) => Err(c.error("organizations", "DescribeOrganization", &e)),
            };
            self.organization = Some(answer);
        }
        let none = |read: &mut OrgRead, types: &[PolicyType]| {
            for t in types {
                match t {
                    PolicyType::ServiceControlPolicy => read.scps = Some(Vec::new()),
                    PolicyType::ResourceControlPolicy => read.rcps = Some(Vec::new()),
                    _ => {}
                }
            }
        };
        match self.organization.as_ref() {
            Some(Ok(management)) => read.management_account = management.clone(),
            Some(Err(e)) if e.code.is("AWSOrganizationsNotInUseException") => {
                // Not in an organization: no SCP or RCP binds it.
                none(&mut read, &self.types);
                return read;
            }
            Some(Err(e)) => {
                read.problems.push(unreadable(account, &e.to_string()));
                return read;
            }
            None => return read,
        }
        if read.management_account.as_deref() == Some(account) {
            // SCPs do not bind the management account's principals, nor RCPs its resources.
            none(&mut read, &self.types);
            return read;
        }
        let (targets, enabled) = match self.levels(c, account).await {
            Ok(l) => l,
            Err(m) => {
                read.problems.push(unreadable(account, &m.to_string()));
                return read;
            }
        };
        for ty in self.types.clone() {
            let levels = if enabled.contains(&ty) {
                self.policies_at(c, &targets, &ty).await
            } else {
                // The policy type is not enabled in the root: nothing of it binds.
                Ok(Vec::new())
            };
            let slot = match ty {
                PolicyType::ServiceControlPolicy => &mut read.scps,
                PolicyType::ResourceControlPolicy => &mut read.rcps,
                _ => continue,
            };
            match levels {
                Ok(l) => *slot = Some(l),
                Err(m) => read.problems.push(unreadable(account, &m.to_string())),
            }
        }
        read
    }
    /// The targets from the root down to the account, and the policy types enabled in the
    /// root.
    async fn levels(
        &mut self,
        c: &Clients,
        account: &str,
    ) -> Result<(Vec<String>, Vec<PolicyType>), ReadError> {
        if self.root.is_none() {
            self.root = Some(root(c).await);
        }
        let enabled = match self.root.as_ref() {
            Some(Ok((_, enabled))) => enabled.clone(),
            Some(Err(m)) => return Err(m.clone()),
            None => Vec::new(),
        };
        let mut path = vec![account.to_string()];
        let mut child = account.to_string();
        for _ in 0..MAX_DEPTH {
            let parent = match self.parents.get(&child) {
                Some(p) => p.clone(),
                None => {
                    let parents = c
                        .organizations
                        .list_parents()
                        .child_id(&child)
                        .send()
                        .await
                        .map_err(|e| {
                            c.error("organizations", "ListParents", &e)
                                .about(child.as_str())
                        })?;
                    let parent = parents
                        .parents()
                        .first()
                        .and_then(|p| Some((p.id()?.to_string(), p.r#type()?.as_str() == "ROOT")))
                        .ok_or_else(|| {
                            ReadError::Answer(format!(
                                "organizations ListParents {child} named no parent"
                            ))
                        })?;
                    self.parents.insert(child.clone(), parent.clone());
                    parent
                }
            };
            path.push(parent.0.clone());
            if parent.1 {
                path.reverse();
                return Ok((path, enabled));
            }
            child = parent.0;
        }
        Err(ReadError::Answer(format!(
            "organizations ListParents did not reach the root within {MAX_DEPTH} levels"
        )))
    }
}

/// The organization's root and the policy types enabled in it.
async fn root(c: &Clients) -> Result<(String, Vec<PolicyType>), ReadError> {
    let roots = c
        .organizations
        .list_roots()
        .send()
        .await
        .map_err(|e| c.error("organizations", "ListRoots", &e))?;
    let root = roots
        .roots()
        .first()
        .ok_or_else(|| ReadError::Answer("organizations ListRoots named no root".into()))?;
    let enabled: Vec<PolicyType> = root
        .policy_types()
        .iter()
        .filter(|t| t.status().is_some_and(|s| s.as_str() == "ENABLED"))
        .filter_map(|t| t.r#type().cloned())
        .collect();
    Ok((root.id().unwrap_or_default().to_string(), enabled))
}

impl OrgReader {
    /// The policies of type `ty` attached at each target, each level and each policy's
    /// content read once.
    async fn policies_at(
        &mut self,
        c: &Clients,
        targets: &[String],
        ty: &PolicyType,
    ) -> Result<Vec<RecordedLevel>, ReadError> {
        let mut out = Vec::new();
        for target in targets {
            let cache_key = (target.clone(), ty.as_str().to_string());
            if let Some(policies) = self.at.get(&cache_key) {
                out.push(RecordedLevel {
                    target: target.clone(),
                    policies: policies.clone(),
                });
                continue;
            }
            let ids = attached_ids(c, target, ty).await?;
            let mut policies = Vec::new();
            for (id, name) in ids {
                if let Some(p) = self.contents.get(&id) {
                    policies.push(p.clone());
                    continue;
                }
                let p = describe(c, &id, name, ty).await?;
                self.contents.insert(id, p.clone());
                policies.push(p);
            }
            self.at.insert(cache_key, policies.clone());
            out.push(RecordedLevel {
                target: target.clone(),
                policies,
            });
        }
        Ok(out)
    }
}

/// The ids and names of the policies of type `ty` attached to `target`.
async fn attached_ids(
    c: &Clients,
    target: &str,
    ty: &PolicyType,
) -> Result<Vec<(String, String)>, ReadError> {
    let mut ids: Vec<(String, String)> = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let reply = c
            .organizations
            .list_policies_for_target()
            .target_id(target)
            .filter(ty.clone())
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| {
                c.error("organizations", "ListPoliciesForTarget", &e)
                    .about(format!("{target} {}", ty.as_str()))
            })?;
        ids.extend(
            reply
                .policies()
                .iter()
                .filter_map(|p| Some((p.id()?.to_string(), p.name().unwrap_or("").to_string()))),
        );
        if ids.len() > MAX_POLICIES_PER_LEVEL {
            return Err(ReadError::Answer(format!(
                "organizations listed over {MAX_POLICIES_PER_LEVEL} policies at {target}: not believed"
            )));
        }
        match reply.next_token() {
            Some(t) if token.as_deref() != Some(t) => token = Some(t.to_string()),
            _ => return Ok(ids),
        }
    }
    Err(ReadError::Answer(format!(
        "organizations ListPoliciesForTarget {target} ran past {MAX_PAGES} pages"
    )))
}

/// One policy's content (DescribePolicy).
async fn describe(
    c: &Clients,
    id: &str,
    name: String,
    ty: &PolicyType,
) -> Result<RecordedPolicy, ReadError> {
    let reply = c
        .organizations
        .describe_policy()
        .policy_id(id)
        .send()
        .await
        .map_err(|e| c.error("organizations", "DescribePolicy", &e).about(id))?;
    let content = reply.policy().and_then(|p| p.content()).ok_or_else(|| {
        ReadError::Answer(format!(
            "organizations DescribePolicy {id} returned no content"
        ))
    })?;
    if content.len() > MAX_CONTENT_BYTES {
        return Err(ReadError::Answer(format!(
            "organizations DescribePolicy {id} returned {} bytes, over the {MAX_CONTENT_BYTES} kmsdoctor reads",
            content.len()
        )));
    }
    Ok(RecordedPolicy {
        name: if name.is_empty() {
            id.to_string()
        } else {
            name
        },
        source: format!("{} {id}", ty.as_str()),
        document: content.to_string(),
    })
}
