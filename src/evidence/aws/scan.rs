//! `kmsdoctor scan`, the AWS half: every customer-managed key of a region, with its
//! metadata and its policy when readable; and every region, or every account of the
//! organization, at once. Read-only (ListKeys, DescribeKey, GetKeyPolicy).
//! KMS's request quotas are per account, region and operation, and shared with every other
//! caller: each operation is paced by its own token bucket, well below them. One failure is
//! reported with its key (or region), never an abort.

use std::time::Duration;

use tokio::time::Instant;

use super::{AwsError, CallerIdentity, Clients, LiveError};
use crate::analysis::lockout::KeyProperties;
use crate::evidence::settings::Connection;

/// One key as KMS described it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScannedKey {
    pub arn: String,
    pub region: String,
    /// `Enabled`, `Disabled`, `PendingDeletion`...; `None` when DescribeKey failed.
    pub key_state: Option<String>,
    /// `CUSTOMER` or `AWS`.
    pub key_manager: Option<String>,
    pub properties: Option<KeyProperties>,
    /// The key's alias names (ListAliases of the region), `None` when they could not be
    /// listed: `kms:ResourceAliases` conditions are judged with them, as why-locked does.
    pub aliases: Option<Vec<String>>,
    /// The key policy, or GetKeyPolicy's error (AccessDenied: a lockout candidate).
    pub policy: Result<String, AwsError>,
    /// DescribeKey's error, when it failed.
    pub describe_error: Option<AwsError>,
}

/// A region's keys, and what failed at the region level (ListKeys).
#[derive(Debug, Clone, Default)]
pub struct RegionScan {
    pub region: String,
    pub keys: Vec<ScannedKey>,
    pub problems: Vec<String>,
    pub calls: u32,
}

/// A token bucket of one token: at most one call every `interval`.
#[derive(Debug)]
pub struct Pace {
    interval: Duration,
    next: Option<Instant>,
}

impl Pace {
    /// `per_second` calls a second (0 is taken as 1).
    pub fn new(per_second: u32) -> Pace {
        Pace {
            interval: Duration::from_secs(1) / per_second.max(1),
            next: None,
        }
    }

    /// Waits for the next slot.
    pub async fn take(&mut self) {
        let now = Instant::now();
        if let Some(at) = self.next.filter(|at| *at > now) {
            tokio::time::sleep(at - now).await;
        }
        self.next = Some(Instant::now().max(self.next.unwrap_or(now)) + self.interval);
    }
}

/// Lists and reads every key of the clients' region, `per_second` calls a second for each
/// operation. `progress(done, total)` after each key.
pub async fn scan_region(
    c: &Clients,
    per_second: u32,
    progress: &(dyn Fn(&str, usize, usize) + Sync),
) -> RegionScan {
    let mut out = RegionScan {
        region: c.region.clone(),
        ..RegionScan::default()
    };
    let (mut list, mut describe, mut get) = (
        Pace::new(per_second),
        Pace::new(per_second),
        Pace::new(per_second),
    );
    let mut arns: Vec<String> = Vec::new();
    let mut marker: Option<String> = None;
    // At most 10,000 pages of 1,000 keys: far above KMS's keys per region.
    for _ in 0..10_000 {
        list.take().await;
        out.calls += 1;
        match c
            .kms
            .list_keys()
            .limit(1000)
            .set_marker(marker.clone())
            .send()
            .await
        {
            Ok(page) => {
                arns.extend(
                    page.keys()
                        .iter()
                        .filter_map(|k| k.key_arn().map(str::to_string)),
                );
                match page.next_marker() {
                    Some(m) if page.truncated() && marker.as_deref() != Some(m) => {
                        marker = Some(m.to_string())
                    }
                    _ => break,
                }
            }
            Err(e) => {
                out.problems.push(format!(
                    "{}: keys of this region were not scanned",
                    c.error("kms", "ListKeys", &e)
                        .about(format!("in {}", c.region))
                ));
                break;
            }
        }
    }
    // No key, no alias to know.
    let aliases = if arns.is_empty() {
        None
    } else {
        list_aliases(c, &mut list, &mut out).await
    };
    let total = arns.len();
    for (i, arn) in arns.into_iter().enumerate() {
        describe.take().await;
        out.calls += 1;
        let mut key = ScannedKey {
            arn: arn.clone(),
            region: c.region.clone(),
            key_state: None,
            key_manager: None,
            properties: None,
            aliases: aliases.as_ref().map(|by_key| {
                let id = arn.rsplit('/').next().unwrap_or_default();
                by_key.get(id).cloned().unwrap_or_default()
            }),
            policy: Err(AwsError::answer("kms", "GetKeyPolicy", "not asked")),
            describe_error: None,
        };
        match c.kms.describe_key().key_id(&arn).send().await {
            Ok(d) => {
                if let Some(m) = d.key_metadata() {
                    key.key_state = m.key_state().map(|s| s.as_str().to_string());
                    key.key_manager = m.key_manager().map(|s| s.as_str().to_string());
                    key.properties = Some(super::kms::properties_of(m));
                }
            }
            Err(e) => key.describe_error = Some(c.error("kms", "DescribeKey", &e)),
        }
        // AWS managed keys are AWS's to manage: their policies are not scanned.
        if key.key_manager.as_deref() != Some("AWS") {
            get.take().await;
            out.calls += 1;
            key.policy = super::get_key_policy(c, &arn).await;
        }
        out.keys.push(key);
        progress(&c.region, i + 1, total);
    }
    out
}

/// The region's aliases by the key id they point at (ListAliases, paced with ListKeys);
/// `None`, with the problem said, when they cannot be listed.
async fn list_aliases(
    c: &Clients,
    pace: &mut Pace,
    out: &mut RegionScan,
) -> Option<std::collections::HashMap<String, Vec<String>>> {
    let mut by_key: std::collections::HashMap<String, Vec<String>> = Default::default();
    let mut marker: Option<String> = None;
    // At most 1,000 pages of 100 aliases: far above KMS's aliases per region.
    for _ in 0..1_000 {
        pace.take().await;
        out.calls += 1;
        match c
            .kms
            .list_aliases()
            .limit(100)
            .set_marker(marker.clone())
            .send()
            .await
        {
            Ok(page) => {
                for a in page.aliases() {
                    if let (Some(name), Some(target)) = (a.alias_name(), a.target_key_id()) {
                        by_key
                            .entry(target.to_string())
                            .or_default()
                            .push(name.to_string());
                    }
                }
                match page.next_marker() {
                    Some(m) if page.truncated() && marker.as_deref() != Some(m) => {
                        marker = Some(m.to_string())
                    }
                    _ => return Some(by_key),
                }
            }
            Err(e) => {
                out.problems.push(format!(
                    "{}: the keys' aliases are not known (a condition on kms:ResourceAliases is then not known either)",
                    c.error("kms", "ListAliases", &e)
                        .about(format!("in {}", c.region))
                ));
                return None;
            }
        }
    }
    Some(by_key)
}

/// What every scan starts from: the configuration, the caller, and the regions to scan
/// (the configured one when none are given).
struct ScanStart {
    runtime: tokio::runtime::Runtime,
    config: aws_config::SdkConfig,
    home: Clients,
    caller: CallerIdentity,
    regions: Vec<String>,
}

fn start_scan(connection: &Connection, regions: &[String]) -> Result<ScanStart, LiveError> {
    let runtime = super::runtime()?;
    let mut connection = connection.clone();
    if connection.region.is_none() {
        connection.region = regions.first().cloned();
    }
    let config = runtime.block_on(super::load_config(&connection))?;
    let home = Clients::new(&config);
    let caller = runtime.block_on(super::caller_identity(&home))?;
    let regions: Vec<String> = if regions.is_empty() {
        vec![home.region.clone()]
    } else {
        regions.to_vec()
    };
    Ok(ScanStart {
        runtime,
        config,
        home,
        caller,
        regions,
    })
}

/// What `scan` found: who asked, the accounts scanned, and each region's keys.
#[derive(Debug, Clone)]
pub struct ScanEvidence {
    pub caller: CallerIdentity,
    /// The accounts scanned: the caller's, or the organization's with `--org`.
    pub accounts: Vec<String>,
    pub regions: Vec<RegionScan>,
    /// What could not be scanned besides a region (an account whose role could not be
    /// assumed).
    pub problems: Vec<String>,
    /// The RCP levels that bind each account scanned, as far as the caller may read them:
    /// one RCP Deny can lock every principal out of every key of an account.
    pub rcps: Vec<(String, super::OrgRead)>,
}

/// The RCPs of each account, read with the caller's clients (the management account or a
/// delegated administrator can read them; anyone else gets the problem said).
fn read_rcps(
    runtime: &tokio::runtime::Runtime,
    home: &Clients,
    accounts: &[String],
) -> Vec<(String, super::OrgRead)> {
    let mut reader =
        super::OrgReader::new(&[aws_sdk_organizations::types::PolicyType::ResourceControlPolicy]);
    let mut out = Vec::new();
    for a in accounts {
        let read = runtime.block_on(reader.read(home, a));
        out.push((a.clone(), read));
    }
    out
}

/// Scans `regions` (the configured region when empty) at once, each operation paced to
/// `per_second` calls a second in each region. Read-only.
pub fn scan_keys(
    connection: &Connection,
    regions: &[String],
    per_second: u32,
    progress: &(dyn Fn(&str, usize, usize) + Sync),
) -> Result<ScanEvidence, LiveError> {
    let ScanStart {
        runtime,
        config,
        home,
        caller,
        regions,
    } = start_scan(connection, regions)?;
    let clients: Vec<Clients> = regions
        .iter()
        .map(|r| {
            let c = config
                .to_builder()
                .region(aws_config::Region::new(r.clone()))
                .build();
            Clients::new(&c)
        })
        .collect();
    let scans = runtime.block_on(futures_util::future::join_all(
        clients.iter().map(|c| scan_region(c, per_second, progress)),
    ));
    let rcps = read_rcps(&runtime, &home, std::slice::from_ref(&caller.account));
    Ok(ScanEvidence {
        accounts: vec![caller.account.clone()],
        caller,
        regions: scans,
        problems: Vec::new(),
        rcps,
    })
}

/// `scan --org`: every active account of the organization, scanned through a role assumed in
/// it (the caller's own account with the caller's credentials). An account whose role cannot
/// be assumed is a problem named with it, never an abort.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgScan {
    pub role_name: String,
    pub external_id: Option<String>,
}

pub fn scan_org(
    connection: &Connection,
    regions: &[String],
    per_second: u32,
    org: &OrgScan,
    progress: &(dyn Fn(&str, usize, usize) + Sync),
) -> Result<ScanEvidence, LiveError> {
    use aws_credential_types::Credentials;
    let ScanStart {
        runtime,
        config,
        home,
        caller,
        regions,
    } = start_scan(connection, regions)?;
    // Only these clients may list the accounts and assume roles (the guard's OrgScan mode).
    let org_clients = Clients::with_mode(&config, super::Mode::OrgScan);
    let organizations = &org_clients.organizations;
    let mut accounts: Vec<String> = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..1000 {
        let page = runtime
            .block_on(
                organizations
                    .list_accounts()
                    .set_next_token(token.clone())
                    .send(),
            )
            .map_err(|e| {
                LiveError::call(
                    home.error("organizations", "ListAccounts", &e),
                    "run scan --org from the management account or a delegated administrator",
                )
            })?;
        for a in page.accounts() {
            let active = a.status().is_none_or(|s| s.as_str() == "ACTIVE");
            if let (Some(id), true) = (a.id(), active) {
                accounts.push(id.to_string());
            }
        }
        match page.next_token() {
            Some(t) if token.as_deref() != Some(t) => token = Some(t.to_string()),
            _ => break,
        }
    }
    accounts.sort();
    accounts.dedup();
    let mut problems = Vec::new();
    // Sessions first (quick), then every account and region at once: KMS's quotas are per
    // account and region, and each (account, region) has its own pacing.
    let mut clients: Vec<Clients> = Vec::new();
    for account in &accounts {
        let account_config = if *account == caller.account {
            config.clone()
        } else {
            // The member account's role, in the caller's partition.
            let partition = crate::analysis::aws_ids::Arn::parse(&caller.arn)
                .map(|a| a.partition)
                .unwrap_or(crate::analysis::aws_ids::DEFAULT_PARTITION);
            let role = crate::analysis::aws_ids::role_arn(partition, account, &org.role_name);
            let mut req = org_clients
                .sts
                .assume_role()
                .role_arn(&role)
                .role_session_name("kmsdoctor-scan");
            if let Some(x) = &org.external_id {
                req = req.external_id(x);
            }
            match runtime.block_on(req.send()) {
                Ok(out) => match out.credentials() {
                    Some(c) => {
                        let creds = Credentials::new(
                            c.access_key_id(),
                            c.secret_access_key(),
                            Some(c.session_token().to_string()),
                            None,
                            "kmsdoctor-scan-org",
                        );
                        config
                            .to_builder()
                            .credentials_provider(
                                aws_credential_types::provider::SharedCredentialsProvider::new(
                                    creds,
                                ),
                            )
                            .build()
                    }
                    None => {
                        problems.push(format!("sts AssumeRole {role} returned no credentials: account {account} not scanned"));
                        continue;
                    }
                },
                Err(e) => {
                    problems.push(format!(
                        "{}: account {account} not scanned",
                        home.error("sts", "AssumeRole", &e).about(role.as_str())
                    ));
                    continue;
                }
            }
        };
        clients.extend(regions.iter().map(|r| {
            Clients::new(
                &account_config
                    .to_builder()
                    .region(aws_config::Region::new(r.clone()))
                    .build(),
            )
        }));
    }
    let scans = runtime.block_on(futures_util::future::join_all(
        clients.iter().map(|c| scan_region(c, per_second, progress)),
    ));
    let rcps = read_rcps(&runtime, &home, &accounts);
    Ok(ScanEvidence {
        caller: caller.clone(),
        accounts,
        regions: scans,
        problems,
        rcps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pace_spaces_calls() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let mut p = Pace::new(50);
        let start = std::time::Instant::now();
        rt.block_on(async {
            for _ in 0..6 {
                p.take().await;
            }
        });
        // Six calls at 50 a second: the sixth no sooner than 100 ms after the first.
        assert!(
            start.elapsed() >= Duration::from_millis(99),
            "{:?}",
            start.elapsed()
        );
    }
}

/// What a scan covers: the regions (the configured one when empty), the pace, and with
/// `--org` the role to assume in each member account.
#[derive(Debug, Clone)]
pub struct ScanRequest {
    pub regions: Vec<String>,
    pub per_second: u32,
    pub org: Option<OrgScan>,
}

/// The AWS side of [`KeyInventory`](crate::evidence::source::KeyInventory): every key of
/// the regions, or of the organization's accounts, read-only.
pub struct AwsInventory {
    pub connection: Connection,
}

impl crate::evidence::source::KeyInventory for AwsInventory {
    fn scan(
        &mut self,
        request: &ScanRequest,
        progress: &(dyn Fn(&str, usize, usize) + Sync),
    ) -> Result<ScanEvidence, LiveError> {
        match &request.org {
            None => scan_keys(
                &self.connection,
                &request.regions,
                request.per_second,
                progress,
            ),
            Some(org) => scan_org(
                &self.connection,
                &request.regions,
                request.per_second,
                org,
                progress,
            ),
        }
    }
}
