//! The evidence bundle: what `kmsdoctor collect` saves of a key and `why-locked --from` reads
//! back, so that one person can collect in the account and another diagnose offline, with
//! the same result. A bundle is input like any other: every field that can reach a command
//! is checked when it is read.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::aws::{CallerIdentity, KeyFacts, LookupReport};
use super::cloudtrail_records::{scan, TrailError};
use super::layers::RecordedLayers;
use super::{files, InputError};
use crate::analysis::events::{ArchiveSummary, PolicyEvent};
use crate::analysis::locate::json_error;
use crate::analysis::lockout::{Existence, KeyRef};

pub use super::BUNDLE_KIND;
pub const BUNDLE_SCHEMA: u32 = 1;

/// The largest bundle read.
pub const MAX_BUNDLE_BYTES: u64 = 64 * 1024 * 1024;

/// Everything collected about a key, as saved by `collect`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bundle {
    pub kind: String,
    pub schema_version: u32,
    pub collected_at: DateTime<Utc>,
    pub region: String,
    /// The key as the person named it (id, ARN, alias).
    pub key_input: String,
    pub key: KeyRef,
    pub caller: CallerIdentity,
    /// The caller's role (with its path) or user ARN, for IAM: known when IAM answered.
    pub caller_principal_arn: Option<String>,
    pub key_facts: KeyFacts,
    /// The key's CreateKey and PutKeyPolicy records, as CloudTrail wrote them.
    pub records: Vec<serde_json::Value>,
    pub lookup: LookupReport,
    /// Whether each candidate administrator exists: `yes`, `no`, `unknown`.
    pub existence: BTreeMap<String, Existence>,
    /// IAM's decision for the caller on kms:GetKeyPolicy and kms:PutKeyPolicy, when asked.
    pub simulation: Option<Vec<(String, String)>>,
    /// Each administrator role's trust policy, as GetRole returned it (decoded): how one
    /// becomes it (absent in bundles of older kmsdoctors).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub trust: BTreeMap<String, String>,
    /// The caller's layers of the request chain (identity policies, boundary, SCPs, RCPs)
    /// as read then; absent in bundles of older kmsdoctors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layers: Option<RecordedLayers>,
    /// Where each record came from: event id to `cloudtrail:LookupEvents` or
    /// `s3://BUCKET/KEY` (absent in bundles of older kmsdoctors).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, String>,
    /// What reading the trail's S3 logs amounted to (`--history s3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<ArchiveSummary>,
    pub problems: Vec<String>,
}

/// Why a file is not a bundle this kmsdoctor reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("`kind` is `{0}`, not `{BUNDLE_KIND}`")]
    Kind(String),
    #[error("schema_version {0} is not supported (this kmsdoctor reads {BUNDLE_SCHEMA})")]
    Schema(u32),
    /// A field that is not what it claims (a key ARN that is not one...): the bundle was
    /// edited or written by something else, and its values must not reach a command.
    #[error("{value} is not a valid {kind}")]
    Invalid {
        pointer: &'static str,
        kind: &'static str,
        value: String,
    },
}

impl BundleError {
    /// The JSON pointer of the offending field, when there is one.
    pub fn pointer(&self) -> Option<&'static str> {
        match self {
            BundleError::Kind(_) => Some("/kind"),
            BundleError::Schema(_) => Some("/schema_version"),
            BundleError::Invalid { pointer, .. } => Some(pointer),
        }
    }
}

impl Bundle {
    /// The policy events in the bundle.
    pub fn events(&self) -> Result<Vec<PolicyEvent>, TrailError> {
        let text = serde_json::json!({ "Records": self.records }).to_string();
        scan(&text).map(|s| s.events)
    }

    /// Checks a bundle read from a file.
    pub fn check(&self) -> Result<(), BundleError> {
        if self.kind != BUNDLE_KIND {
            return Err(BundleError::Kind(self.kind.clone()));
        }
        if self.schema_version != BUNDLE_SCHEMA {
            return Err(BundleError::Schema(self.schema_version));
        }
        use crate::analysis::aws_ids::{is_account_id, is_key_id, is_region, KeyArn};
        let invalid = |pointer, kind, value: &str| BundleError::Invalid {
            pointer,
            kind,
            value: format!("`{}`", crate::analysis::escape::visible(value)),
        };
        let k = &self.key;
        if !is_key_id(&k.id) {
            return Err(invalid("/key/id", "key id", &k.id));
        }
        if let Some(a) = &k.account {
            if !is_account_id(a) {
                return Err(invalid("/key/account", "account id", a));
            }
        }
        if let Some(r) = &k.region {
            if !is_region(r) {
                return Err(invalid("/key/region", "region name", r));
            }
        }
        if let Some(arn) = &k.arn {
            let Some(parsed) = KeyArn::parse(arn) else {
                return Err(invalid("/key/arn", "key ARN", arn));
            };
            // The ARN, the id, the account and the region must tell the same key.
            let consistent = parsed.key_id == k.id
                && k.account.as_deref().is_none_or(|a| a == parsed.account)
                && k.region.as_deref().is_none_or(|r| r == parsed.region);
            if !consistent {
                return Err(invalid(
                    "/key/arn",
                    "key ARN for this key's id, account and region",
                    arn,
                ));
            }
        }
        if !is_region(&self.region) {
            return Err(invalid("/region", "region name", &self.region));
        }
        if !is_account_id(&self.caller.account) {
            return Err(invalid(
                "/caller/account",
                "account id",
                &self.caller.account,
            ));
        }
        Ok(())
    }
}

/// Reads a bundle file and checks it; errors name the file and the place.
pub fn read_bundle(path: &Path) -> Result<Bundle, InputError> {
    let text = files::read_text(path, MAX_BUNDLE_BYTES)?;
    let bundle: Bundle = serde_json::from_str(&text).map_err(|e| {
        let (message, position) = json_error(&e);
        InputError {
            file: path.to_path_buf(),
            position,
            pointer: None,
            message: format!("not a kmsdoctor evidence bundle: {message}"),
        }
    })?;
    bundle.check().map_err(|m| InputError {
        file: path.to_path_buf(),
        position: None,
        pointer: m.pointer().map(str::to_string),
        message: format!("not a usable evidence bundle: {m}"),
    })?;
    Ok(bundle)
}
