//! References to a KMS key: a key id (`1234abcd-...`, `mrk-...`) or key ARN, completed with
//! the account and region the evidence gives, and matched against references in CloudTrail.

use serde::{Deserialize, Serialize};

use crate::analysis::aws_ids::{self, is_key_id, Arn, KeyArn};
use crate::analysis::context::Context;

/// What DescribeKey says of a key that conditions can test (`kms:KeySpec`, `kms:KeyUsage`,
/// `kms:KeyOrigin`, `kms:MultiRegion`, `kms:MultiRegionKeyType`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_spec: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_usage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_region: Option<bool>,
    /// `PRIMARY` or `REPLICA`, for a multi-Region key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_region_key_type: Option<String>,
    /// For a replica: the primary key's region, where CloudTrail logged the ReplicateKey
    /// that created the replica and gave it its first policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_region: Option<String>,
    /// `CUSTOMER` or `AWS` (an AWS managed key, whose policy AWS sets and nobody changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_manager: Option<String>,
    /// The key's state and deletion date (DescribeKey): what the recovery must do first.
    #[serde(default, flatten)]
    pub status: crate::analysis::key_state::KeyStatus,
    /// The key's grants as ListGrants listed them (live, when the caller may call it);
    /// `None` when not listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed_grants: Option<Vec<ListedGrant>>,
    /// The related multi-Region keys DescribeKey names (its primary and replicas, not this
    /// key), with each one's own policy as GetKeyPolicy gave it in its region.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<RelatedPolicy>,
}

/// A related multi-Region key and its policy, read live.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelatedPolicy {
    pub arn: String,
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Why GetKeyPolicy did not answer there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A grant as ListGrants lists it (KMS API Reference, `GrantListEntry`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedGrant {
    pub grant_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grantee: Option<String>,
    #[serde(default)]
    pub operations: Vec<String>,
    /// The constraints, as compact JSON (`{"encryptionContextSubset":{...}}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retiring: Option<String>,
}

impl KeyProperties {
    /// Sets the condition keys these properties decide.
    pub fn fill(&self, ctx: &mut Context) {
        let mut set = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                ctx.set(k, vec![v.clone()]);
            }
        };
        set("kms:KeySpec", &self.key_spec);
        set("kms:CustomerMasterKeySpec", &self.key_spec);
        set("kms:KeyUsage", &self.key_usage);
        set("kms:CustomerMasterKeyUsage", &self.key_usage);
        set("kms:KeyOrigin", &self.origin);
        set("kms:MultiRegion", &self.multi_region.map(|b| b.to_string()));
        if self.multi_region == Some(false) {
            ctx.set_absent("kms:MultiRegionKeyType");
        } else {
            set("kms:MultiRegionKeyType", &self.multi_region_key_type);
        }
    }
}

/// Why a string does not name a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRefError {
    #[error("`{0}` is an alias: resolving it needs AWS; give the key id or key ARN")]
    Alias(String),
    #[error("`{0}` is not a KMS key ARN (arn:PARTITION:kms:REGION:ACCOUNT:key/KEY_ID)")]
    NotKeyArn(String),
    #[error(
        "`{0}` is neither a key id (1234abcd-12ab-34cd-56ef-1234567890ab, mrk-...) nor a key ARN"
    )]
    Neither(String),
}

/// The key being diagnosed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRef {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl KeyRef {
    /// A key id (`1234abcd-...`, `mrk-...`) or key ARN.
    pub fn parse(s: &str) -> Result<KeyRef, KeyRefError> {
        let s = s.trim();
        if s.starts_with("alias/") || s.contains(":alias/") {
            return Err(KeyRefError::Alias(s.to_string()));
        }
        if Arn::parse(s).is_some() {
            let Some(arn) = KeyArn::parse(s) else {
                return Err(KeyRefError::NotKeyArn(s.to_string()));
            };
            return Ok(KeyRef {
                id: arn.key_id.to_string(),
                arn: Some(s.to_string()),
                account: Some(arn.account.to_string()),
                region: Some(arn.region.to_string()),
            });
        }
        if is_key_id(s) {
            return Ok(KeyRef {
                id: s.to_string(),
                arn: None,
                account: None,
                region: None,
            });
        }
        Err(KeyRefError::Neither(s.to_string()))
    }

    /// Whether a reference from a CloudTrail record (key id, key ARN) names this key.
    pub fn matches(&self, reference: &str) -> bool {
        if let Some(arn) = &self.arn {
            if reference == arn {
                return true;
            }
        }
        if reference == self.id {
            return true;
        }
        // A key ARN in the record; match on its id, and on account and region when known.
        match Arn::parse(reference) {
            Some(a) if a.service == "kms" => {
                a.resource.strip_prefix("key/") == Some(self.id.as_str())
                    && self.account.as_deref().is_none_or(|acc| acc == a.account)
                    && self.region.as_deref().is_none_or(|r| r == a.region)
            }
            _ => false,
        }
    }

    /// The key's partition: its ARN's, else its region's, else commercial AWS (`aws`).
    /// Every ARN kmsdoctor builds for the key (the account principal, the root user, the
    /// principals it stands in for) is in this partition.
    pub fn partition(&self) -> &str {
        self.arn
            .as_deref()
            .and_then(KeyArn::parse)
            .map(|a| a.partition)
            .or_else(|| {
                self.region
                    .as_deref()
                    .and_then(aws_ids::partition_of_region)
            })
            .unwrap_or(aws_ids::DEFAULT_PARTITION)
    }

    /// Completes account, region and ARN from what the evidence says.
    pub fn complete(&mut self, account: Option<&str>, region: Option<&str>) {
        if self.account.is_none() {
            self.account = account.map(str::to_string);
        }
        if self.region.is_none() {
            self.region = region.map(str::to_string);
        }
        if self.arn.is_none() {
            if let (Some(acc), Some(reg)) = (&self.account, &self.region) {
                let partition =
                    aws_ids::partition_of_region(reg).unwrap_or(aws_ids::DEFAULT_PARTITION);
                self.arn = Some(aws_ids::key_arn(partition, reg, acc, &self.id));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn key_refs() {
        let k = KeyRef::parse(KEY).unwrap();
        assert_eq!(k.id, "1234abcd-12ab-34cd-56ef-1234567890ab");
        assert!(k.matches("1234abcd-12ab-34cd-56ef-1234567890ab"));
        assert!(k.matches(KEY));
        assert!(!k.matches(
            "arn:aws:kms:us-east-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        ));
        let by_id = KeyRef::parse("mrk-1234abcd12ab34cd56ef1234567890ab").unwrap();
        assert!(by_id.arn.is_none());
        assert!(matches!(
            KeyRef::parse("alias/prod"),
            Err(KeyRefError::Alias(_))
        ));
        assert!(KeyRef::parse("nope").is_err());
        assert!(KeyRef::parse("arn:aws:kms:us-east-1:111122223333:key/nope").is_err());
        // One definition of a key ARN: what the plan would refuse to print is refused here.
        assert!(KeyRef::parse(
            "arn:aws:kms:us-east-1; id:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        )
        .is_err());
    }

    #[test]
    fn a_key_knows_its_partition() {
        let gov = KeyRef::parse(
            "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        )
        .unwrap();
        assert_eq!(gov.partition(), "aws-us-gov");
        let mut by_id = KeyRef::parse("1234abcd-12ab-34cd-56ef-1234567890ab").unwrap();
        assert_eq!(by_id.partition(), "aws");
        by_id.complete(Some("111122223333"), Some("cn-north-1"));
        assert_eq!(by_id.partition(), "aws-cn");
        assert_eq!(
            by_id.arn.as_deref(),
            Some("arn:aws-cn:kms:cn-north-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")
        );
    }
}
