//! The evidence seam: what a diagnosis needs to know, asked in kmsdoctor's own types.
//!
//! - [`EvidenceSource::key`]: the key the person named, its current policy (parsed once,
//!   here), its aliases, and who is asking;
//! - [`EvidenceSource::policy_events`]: the policy events of these keys, fetched once for
//!   all of them and grouped by key;
//! - [`EvidenceSource::principal_facts`]: whether these principals exist, and what IAM
//!   decides for the caller.
//!
//! Files ([`FileSource`]), bundles saved by `collect` ([`BundleSource`]) and AWS itself
//! (`aws_source::AwsSource`) stand behind it; the file source doubles as the test fake. Analysis
//! names the principals it needs, evidence answers, and the diagnosis runs once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::aws::scan::{ScanEvidence, ScanRequest};
use super::aws::{AwsError, CallerIdentity, LiveError};
use super::bundle::Bundle;
use super::files;
use super::trail_files::read_all;
use super::InputError;
use crate::analysis::chain::LayerPolicies;
use crate::analysis::events::{ArchiveSummary, PolicyEvent};
use crate::analysis::lockout::{Existence, KeyProperties, KeyRef};
use crate::analysis::policy::{parse_document, PolicyDocument, PolicyKind};

/// Why evidence could not be had.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvidenceError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Live(#[from] LiveError),
}

/// What a source knows about the key itself.
#[derive(Debug, Clone, Default)]
pub struct KeyEvidence {
    /// The key, completed as far as the source knows (ARN, account, region).
    pub key: Option<KeyRef>,
    pub current_policy: Option<PolicyDocument>,
    /// Why the current policy could not be read (live: GetKeyPolicy's error).
    pub policy_error: Option<String>,
    /// The key's aliases (`kms:ResourceAliases`), when known.
    pub aliases: Option<Vec<String>>,
    pub creation_date: Option<DateTime<Utc>>,
    /// The key's properties (DescribeKey), when known.
    pub properties: Option<KeyProperties>,
    /// Who is asking (live, bundles).
    pub caller: Option<CallerIdentity>,
    /// What degraded the evidence, in words.
    pub problems: Vec<String>,
}

/// What reading the events amounted to, for the report.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventsSummary {
    pub event_files: usize,
    /// Bytes of JSON read (after decompression).
    pub bytes: u64,
    pub records: u64,
    pub unreadable: u64,
    /// The first unreadable records, where and why (event files).
    pub skipped: Vec<String>,
    pub lookup_calls: u32,
    /// False when a CloudTrail lookup stopped early: the history may miss events.
    pub complete: bool,
    pub problems: Vec<String>,
    /// What reading the trail's S3 logs amounted to (`--history s3`).
    pub archive: Option<ArchiveSummary>,
}

/// The policy events of the keys asked about, in the order asked.
#[derive(Debug, Clone, Default)]
pub struct PolicyEvents {
    pub by_key: Vec<Vec<PolicyEvent>>,
    pub summary: EventsSummary,
}

/// What the source knows about principals of the key's account.
#[derive(Debug, Clone, Default)]
pub struct PrincipalFacts {
    /// Whether each principal asked about exists (missing: not known).
    pub existence: BTreeMap<String, Existence>,
    /// IAM's decision for the caller on kms:GetKeyPolicy and kms:PutKeyPolicy, when asked:
    /// `[action, decision]` pairs.
    pub simulation: Option<Vec<(String, String)>>,
    /// The caller's layers of the request chain (identity policies, boundary, SCPs, RCPs),
    /// when the source read them; a layer not read is not known.
    pub layers: Option<LayerPolicies>,
    /// Why layers are not known: said, but the key's evidence is no less complete for it.
    pub layer_problems: Vec<String>,
    /// The trust policy of each role asked about (GetRole's AssumeRolePolicyDocument,
    /// decoded), when it could be read: how one becomes that role.
    pub trust: BTreeMap<String, String>,
    pub problems: Vec<String>,
}

/// A key to find the policy events of, with its creation time when known.
#[derive(Debug, Clone)]
pub struct EventsQuery {
    pub key: KeyRef,
    pub creation: Option<DateTime<Utc>>,
    /// For a multi-Region replica: the primary's region, where its ReplicateKey is logged.
    pub primary_region: Option<String>,
    /// DescribeKey said the key is Enabled: its state changes are not looked up (four
    /// paced CloudTrail calls saved on every healthy run); they matter when the key is
    /// disabled, pending deletion, or its state is not known.
    pub state_enabled: bool,
}

/// Where evidence comes from.
pub trait EvidenceSource {
    /// The key the person named, and what the source knows about it.
    fn key(&mut self) -> Result<KeyEvidence, EvidenceError>;

    /// The policy events of these keys, fetched once for all of them, grouped by key.
    fn policy_events(&mut self, keys: &[EventsQuery]) -> Result<PolicyEvents, EvidenceError>;

    /// Facts about these principals (ARNs); with `ask_iam`, also IAM's decision for the
    /// caller on the key.
    fn principal_facts(
        &mut self,
        key: &KeyRef,
        principals: &[&str],
        ask_iam: bool,
    ) -> Result<PrincipalFacts, EvidenceError>;
}

/// What `scan` and a live `guard` ask: every key of the regions (or of the organization's
/// accounts), each with its metadata and its policy as KMS gave them, and the RCPs that
/// bind each account. AWS (`aws::scan::AwsInventory`) and the in-memory account
/// (`fake::FakeAccount`) stand behind it.
pub trait KeyInventory {
    fn scan(
        &mut self,
        request: &ScanRequest,
        progress: &(dyn Fn(&str, usize, usize) + Sync),
    ) -> Result<ScanEvidence, LiveError>;
}

/// What `fix` asks besides the evidence of one key: the policy in KMS now, the one write
/// kmsdoctor makes (PutKeyPolicy, never bypassing the lockout safety check), and the key's
/// tags (where else the policy lives). `aws_source::AwsSource` and `fake::FakeAccount`
/// stand behind it.
pub trait KeyPolicyStore {
    fn read_policy(&mut self, key_arn: &str) -> Result<String, AwsError>;
    fn write_policy(&mut self, key_arn: &str, policy: &str) -> Result<(), AwsError>;
    fn tags(&mut self, key_arn: &str) -> Result<Vec<(String, String)>, AwsError>;
}

/// Groups events by key: each event goes to every key it names.
pub fn group_by_key(events: &[PolicyEvent], keys: &[EventsQuery]) -> Vec<Vec<PolicyEvent>> {
    keys.iter()
        .map(|q| {
            events
                .iter()
                .filter(|e| e.is_for(&q.key))
                .cloned()
                .collect()
        })
        .collect()
}

/// Evidence from files: a policy file and CloudTrail files. Nothing is known about
/// principals or the caller.
pub struct FileSource<'p> {
    /// The key as the person named it (files cannot resolve aliases).
    pub key: Option<KeyRef>,
    pub policy_file: Option<PathBuf>,
    pub events_files: Vec<PathBuf>,
    /// Called after each file with (files done, files in all).
    pub progress: &'p (dyn Fn(usize, usize) + Sync),
}

impl EvidenceSource for FileSource<'_> {
    fn key(&mut self) -> Result<KeyEvidence, EvidenceError> {
        let current_policy = self
            .policy_file
            .as_deref()
            .map(files::load_key_policy)
            .transpose()?;
        Ok(KeyEvidence {
            key: self.key.clone(),
            current_policy,
            ..KeyEvidence::default()
        })
    }

    fn policy_events(&mut self, keys: &[EventsQuery]) -> Result<PolicyEvents, EvidenceError> {
        if self.events_files.is_empty() {
            return Ok(PolicyEvents {
                by_key: vec![Vec::new(); keys.len()],
                summary: EventsSummary {
                    complete: true,
                    ..EventsSummary::default()
                },
            });
        }
        let files = read_all(&self.events_files, self.progress)?;
        Ok(PolicyEvents {
            by_key: group_by_key(&files.events, keys),
            summary: EventsSummary {
                event_files: files.files,
                bytes: files.bytes,
                records: files.records,
                unreadable: files.unreadable,
                skipped: files.skipped,
                lookup_calls: 0,
                complete: true,
                problems: vec![],
                archive: None,
            },
        })
    }

    fn principal_facts(
        &mut self,
        _key: &KeyRef,
        _principals: &[&str],
        _ask_iam: bool,
    ) -> Result<PrincipalFacts, EvidenceError> {
        Ok(PrincipalFacts::default())
    }
}

/// Evidence from a bundle saved by `collect`: what AWS said then.
pub struct BundleSource {
    pub path: PathBuf,
    pub bundle: Bundle,
}

impl BundleSource {
    /// Reads and checks a bundle file; every error names the file and, for JSON, the place.
    pub fn open(path: &Path) -> Result<BundleSource, InputError> {
        let bundle = super::bundle::read_bundle(path)?;
        Ok(BundleSource {
            path: path.to_path_buf(),
            bundle,
        })
    }
}

impl EvidenceSource for BundleSource {
    fn key(&mut self) -> Result<KeyEvidence, EvidenceError> {
        let b = &self.bundle;
        let current_policy = b
            .key_facts
            .policy
            .as_deref()
            .map(|text| {
                parse_document(text, PolicyKind::Key, "key-policy").map_err(|e| InputError {
                    file: self.path.clone(),
                    position: None,
                    pointer: Some("/key_facts/policy".into()),
                    message: format!(
                        "the key policy in the bundle is not a policy{}: {}",
                        e.position
                            .map(|p| format!(" (its line {}, column {})", p.line, p.column))
                            .unwrap_or_default(),
                        e.message
                    ),
                })
            })
            .transpose()?;
        Ok(KeyEvidence {
            key: Some(b.key.clone()),
            current_policy,
            policy_error: b.key_facts.policy_error.clone(),
            aliases: b.key_facts.aliases.clone(),
            creation_date: b.key_facts.creation_date,
            properties: b.key_facts.properties.clone(),
            caller: Some(b.caller.clone()),
            problems: b.problems.clone(),
        })
    }

    fn policy_events(&mut self, keys: &[EventsQuery]) -> Result<PolicyEvents, EvidenceError> {
        let events = self.bundle.events().map_err(|m| InputError {
            file: self.path.clone(),
            position: None,
            pointer: Some("/records".into()),
            message: format!("its records cannot be read: {}", m.message),
        })?;
        let l = &self.bundle.lookup;
        Ok(PolicyEvents {
            by_key: group_by_key(&events, keys),
            summary: EventsSummary {
                records: l.records,
                unreadable: l.unreadable,
                lookup_calls: l.calls,
                complete: l.complete,
                archive: self.bundle.archive.clone(),
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
        let (layers, layer_problems) = match &self.bundle.layers {
            None => (None, vec![]),
            Some(recorded) => (
                Some(recorded.parse().map_err(|e| InputError {
                    file: self.path.clone(),
                    position: None,
                    pointer: Some(format!("/layers{}", e.pointer)),
                    message: e.message,
                })?),
                recorded.problems.clone(),
            ),
        };
        Ok(PrincipalFacts {
            existence: principals
                .iter()
                .filter_map(|p| self.bundle.existence.get(*p).map(|e| (p.to_string(), *e)))
                .collect(),
            simulation: self.bundle.simulation.clone(),
            trust: principals
                .iter()
                .filter_map(|p| {
                    self.bundle
                        .trust
                        .get(*p)
                        .map(|t| (p.to_string(), t.clone()))
                })
                .collect(),
            layers,
            layer_problems,
            problems: vec![],
        })
    }
}
