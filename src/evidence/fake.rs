//! An AWS account in memory: the fake behind every seam that reaches AWS
//! ([`KeyInventory`] for `scan` and `guard`, [`KeyPolicyStore`] and [`EvidenceSource`] for
//! `fix`), as `FileSource` is for files. It holds keys with their states, policies and tags,
//! answers as KMS would (a denied GetKeyPolicy is an [`AwsError`], not a panic), records
//! every write, and can be told to lag (KMS is eventually consistent: a read right after a
//! write may return the old policy) or to refuse a write. Offline tests of `scan`, `guard`
//! and `fix` run through it; it talks to nothing.

use std::collections::BTreeMap;

use super::aws::scan::{RegionScan, ScanEvidence, ScanRequest, ScannedKey};
use super::aws::{AwsCode, AwsError, CallerIdentity, LiveError, OrgRead};
use super::source::{
    group_by_key, EventsQuery, EventsSummary, EvidenceError, EvidenceSource, KeyEvidence,
    KeyInventory, KeyPolicyStore, PolicyEvents, PrincipalFacts,
};
use crate::analysis::aws_ids::{Arn, KeyArn};
use crate::analysis::events::PolicyEvent;
use crate::analysis::lockout::{Existence, KeyProperties, KeyRef};
use crate::analysis::policy::{parse_document, PolicyKind};

/// One key of the account.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeKey {
    pub arn: String,
    /// `Enabled`, `PendingDeletion`...
    pub state: String,
    /// `CUSTOMER` or `AWS`.
    pub manager: String,
    pub properties: Option<KeyProperties>,
    /// The policy, or the error GetKeyPolicy gets.
    pub policy: Result<String, AwsError>,
    pub aliases: Vec<String>,
    pub tags: Vec<(String, String)>,
    /// For a key pending deletion: DescribeKey's `DeletionDate`.
    pub deletion_date: Option<chrono::DateTime<chrono::Utc>>,
}

impl FakeKey {
    /// An enabled customer managed key with this policy.
    pub fn new(arn: &str, policy: &str) -> FakeKey {
        FakeKey {
            arn: arn.to_string(),
            state: "Enabled".into(),
            manager: "CUSTOMER".into(),
            properties: None,
            policy: Ok(policy.to_string()),
            aliases: Vec::new(),
            tags: Vec::new(),
            deletion_date: None,
        }
    }

    /// The same key scheduled for deletion on `date` (after a window of `days`).
    pub fn pending_deletion(mut self, date: &str, days: i32) -> FakeKey {
        self.state = "PendingDeletion".into();
        self.deletion_date = date.parse().ok();
        let mut p = self.properties.take().unwrap_or_default();
        p.status.pending_window_days = Some(days);
        self.properties = Some(p);
        self
    }

    /// DescribeKey's properties: the state and deletion date always, as KMS says them.
    fn described(&self) -> KeyProperties {
        let mut p = self.properties.clone().unwrap_or_default();
        p.key_manager = Some(self.manager.clone());
        p.status.state = Some(self.state.clone());
        p.status.deletion_date = self.deletion_date;
        p
    }

    /// The same key, its policy denied to the caller (the lockout as the caller sees it).
    pub fn denied(mut self) -> FakeKey {
        self.policy = Err(denied("GetKeyPolicy"));
        self
    }

    pub fn in_state(mut self, state: &str) -> FakeKey {
        self.state = state.to_string();
        self
    }

    pub fn aws_managed(mut self) -> FakeKey {
        self.manager = "AWS".into();
        self
    }

    /// An alias name that points at the key (`alias/NAME`).
    pub fn aliased(mut self, alias: &str) -> FakeKey {
        self.aliases.push(alias.to_string());
        self
    }

    pub fn tagged(mut self, key: &str, value: &str) -> FakeKey {
        self.tags.push((key.to_string(), value.to_string()));
        self
    }

    fn region(&self) -> String {
        KeyArn::parse(&self.arn)
            .map(|a| a.region.to_string())
            .unwrap_or_default()
    }
}

/// The AccessDenied KMS returns for `operation`.
pub fn denied(operation: &'static str) -> AwsError {
    AwsError {
        service: "kms",
        operation,
        subject: None,
        code: AwsCode::AccessDenied,
        message: format!(
            "AccessDeniedException: User is not authorized to perform: kms:{operation} on this resource because no resource-based policy allows the kms:{operation} action"
        ),
    }
}

/// An AWS account in memory.
#[derive(Debug, Clone)]
pub struct FakeAccount {
    pub caller: CallerIdentity,
    pub keys: Vec<FakeKey>,
    /// The RCP levels that bind each account, as Organizations would give them.
    pub rcps: Vec<(String, OrgRead)>,
    /// Regions whose ListKeys fails, with the error.
    pub failing_regions: BTreeMap<String, String>,
    /// The key `fix` (or `why-locked`) is about: its ARN.
    pub key_input: String,
    /// CloudTrail's policy events of the account.
    pub events: Vec<PolicyEvent>,
    /// Whether principals exist (IAM GetRole/GetUser); missing: not known.
    pub existence: BTreeMap<String, Existence>,
    /// Roles' trust policies, as GetRole would return them (decoded).
    pub trust: BTreeMap<String, String>,
    /// Every PutKeyPolicy made: key ARN and policy.
    pub writes: Vec<(String, String)>,
    /// How many reads after a write still return the policy before it.
    pub stale_reads: u32,
    /// The error the next PutKeyPolicy gets, instead of succeeding.
    pub put_error: Option<AwsError>,
    /// A write that KMS accepts but never shows (reads keep the old policy).
    pub lost_writes: bool,
    /// Every call made, `service:Operation`, in order.
    pub calls: Vec<String>,
    previous: BTreeMap<String, String>,
}

impl FakeAccount {
    /// An account whose caller is `caller_arn` (its account is the ARN's).
    pub fn new(caller_arn: &str) -> FakeAccount {
        let account = Arn::parse(caller_arn)
            .map(|a| a.account.to_string())
            .unwrap_or_default();
        FakeAccount {
            caller: CallerIdentity {
                arn: caller_arn.to_string(),
                account,
                user_id: "AROAFAKEEXAMPLE:kmsdoctor".into(),
            },
            keys: Vec::new(),
            rcps: Vec::new(),
            failing_regions: BTreeMap::new(),
            key_input: String::new(),
            events: Vec::new(),
            existence: BTreeMap::new(),
            trust: BTreeMap::new(),
            writes: Vec::new(),
            stale_reads: 0,
            put_error: None,
            lost_writes: false,
            calls: Vec::new(),
            previous: BTreeMap::new(),
        }
    }

    pub fn with_key(mut self, key: FakeKey) -> FakeAccount {
        self.keys.push(key);
        self
    }

    fn key_mut(&mut self, arn: &str) -> Option<&mut FakeKey> {
        self.keys.iter_mut().find(|k| k.arn == arn)
    }

    fn not_found(operation: &'static str, arn: &str) -> AwsError {
        AwsError {
            service: "kms",
            operation,
            subject: None,
            code: AwsCode::NotFound,
            message: format!("NotFoundException: Key '{arn}' does not exist"),
        }
    }
}

impl KeyInventory for FakeAccount {
    fn scan(
        &mut self,
        request: &ScanRequest,
        progress: &(dyn Fn(&str, usize, usize) + Sync),
    ) -> Result<ScanEvidence, LiveError> {
        self.calls.push("sts:GetCallerIdentity".into());
        let mut regions: Vec<String> = request.regions.clone();
        if regions.is_empty() {
            regions = self.keys.iter().map(FakeKey::region).take(1).collect();
        }
        let mut scans = Vec::new();
        for r in &regions {
            let mut scan = RegionScan {
                region: r.clone(),
                ..RegionScan::default()
            };
            if let Some(e) = self.failing_regions.get(r) {
                scan.problems.push(format!(
                    "kms ListKeys in {r} failed: {e}: keys of this region were not scanned"
                ));
                scans.push(scan);
                continue;
            }
            let keys: Vec<&FakeKey> = self.keys.iter().filter(|k| k.region() == *r).collect();
            scan.calls += 1;
            for (i, k) in keys.iter().enumerate() {
                scan.calls += 1;
                let aws = k.manager == "AWS";
                if !aws {
                    scan.calls += 1;
                }
                scan.keys.push(ScannedKey {
                    arn: k.arn.clone(),
                    region: r.clone(),
                    key_state: Some(k.state.clone()),
                    key_manager: Some(k.manager.clone()),
                    properties: Some(k.described()),
                    aliases: Some(k.aliases.clone()),
                    policy: if aws {
                        Err(AwsError::answer("kms", "GetKeyPolicy", "not asked"))
                    } else {
                        k.policy.clone()
                    },
                    describe_error: None,
                });
                progress(r, i + 1, keys.len());
            }
            scans.push(scan);
        }
        let mut accounts: Vec<String> = vec![self.caller.account.clone()];
        if request.org.is_some() {
            for k in &self.keys {
                if let Some(a) = KeyArn::parse(&k.arn) {
                    if !accounts.iter().any(|x| x == a.account) {
                        accounts.push(a.account.to_string());
                    }
                }
            }
            accounts.sort();
        }
        Ok(ScanEvidence {
            caller: self.caller.clone(),
            accounts,
            regions: scans,
            problems: Vec::new(),
            rcps: self.rcps.clone(),
        })
    }
}

impl KeyPolicyStore for FakeAccount {
    fn read_policy(&mut self, key_arn: &str) -> Result<String, AwsError> {
        self.calls.push("kms:GetKeyPolicy".into());
        if self.stale_reads > 0 {
            if let Some(old) = self.previous.get(key_arn) {
                self.stale_reads -= 1;
                return Ok(old.clone());
            }
        }
        match self.key_mut(key_arn) {
            Some(k) => k.policy.clone(),
            None => Err(FakeAccount::not_found("GetKeyPolicy", key_arn)),
        }
    }

    fn write_policy(&mut self, key_arn: &str, policy: &str) -> Result<(), AwsError> {
        self.calls.push("kms:PutKeyPolicy".into());
        if let Some(e) = self.put_error.take() {
            return Err(e);
        }
        let lost = self.lost_writes;
        let Some(k) = self.key_mut(key_arn) else {
            return Err(FakeAccount::not_found("PutKeyPolicy", key_arn));
        };
        let before = k.policy.clone().unwrap_or_default();
        if !lost {
            k.policy = Ok(policy.to_string());
        }
        self.previous.insert(key_arn.to_string(), before);
        self.writes.push((key_arn.to_string(), policy.to_string()));
        Ok(())
    }

    fn tags(&mut self, key_arn: &str) -> Result<Vec<(String, String)>, AwsError> {
        self.calls.push("kms:ListResourceTags".into());
        match self.key_mut(key_arn) {
            Some(k) => Ok(k.tags.clone()),
            None => Err(FakeAccount::not_found("ListResourceTags", key_arn)),
        }
    }
}

impl EvidenceSource for FakeAccount {
    fn key(&mut self) -> Result<KeyEvidence, EvidenceError> {
        self.calls.push("kms:DescribeKey".into());
        let input = self.key_input.clone();
        let Some(k) = self.keys.iter().find(|k| k.arn == input).cloned() else {
            return Err(LiveError::from(FakeAccount::not_found("DescribeKey", &input)).into());
        };
        let key = KeyRef::parse(&k.arn).map_err(|e| LiveError::Setup(e.to_string()))?;
        let (current_policy, policy_error) = match &k.policy {
            Ok(text) => (
                Some(
                    parse_document(text, PolicyKind::Key, "key-policy")
                        .map_err(|e| LiveError::Setup(e.message))?,
                ),
                None,
            ),
            Err(e) => (None, Some(e.message.clone())),
        };
        Ok(KeyEvidence {
            key: Some(key),
            current_policy,
            policy_error,
            aliases: Some(k.aliases.clone()),
            creation_date: None,
            properties: Some(k.described()),
            caller: Some(self.caller.clone()),
            problems: Vec::new(),
        })
    }

    fn policy_events(&mut self, keys: &[EventsQuery]) -> Result<PolicyEvents, EvidenceError> {
        self.calls.push("cloudtrail:LookupEvents".into());
        Ok(PolicyEvents {
            by_key: group_by_key(&self.events, keys),
            summary: EventsSummary {
                records: self.events.len() as u64,
                complete: true,
                ..EventsSummary::default()
            },
        })
    }

    fn principal_facts(
        &mut self,
        _key: &KeyRef,
        principals: &[&str],
        _ask_iam: bool,
    ) -> Result<PrincipalFacts, EvidenceError> {
        let mut facts = PrincipalFacts::default();
        for p in principals {
            if let Some(e) = self.existence.get(*p) {
                facts.existence.insert(p.to_string(), *e);
            }
            if let Some(t) = self.trust.get(*p) {
                facts.trust.insert(p.to_string(), t.clone());
            }
        }
        Ok(facts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn the_fake_lags_refuses_and_records_as_told() {
        let mut a = FakeAccount::new("arn:aws:iam::111122223333:role/Admin")
            .with_key(FakeKey::new(KEY, "{\"v\":1}"));
        a.stale_reads = 1;
        a.write_policy(KEY, "{\"v\":2}").unwrap();
        assert_eq!(
            a.read_policy(KEY).unwrap(),
            "{\"v\":1}",
            "a stale read first"
        );
        assert_eq!(a.read_policy(KEY).unwrap(), "{\"v\":2}");
        a.put_error = Some(denied("PutKeyPolicy"));
        assert!(a.write_policy(KEY, "{}").unwrap_err().is_access_denied());
        assert_eq!(a.writes.len(), 1);
        assert!(a
            .read_policy("arn:aws:kms:us-east-1:111122223333:key/nope")
            .unwrap_err()
            .is_not_found());
    }
}
