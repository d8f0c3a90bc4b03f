//! Live evidence, gathered from AWS into one [`Bundle`]: the same thing `kmsdoctor collect`
//! saves to a file and `why-locked --from` reads back, so that one person can collect in the
//! account and another diagnose offline, with the same result.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::aws::{
    self, CallerIdentity, Clients, Connection, KeyFacts, LiveError, LookupPacing, LookupReport,
};
use crate::analysis::events::PolicyEvent;
use crate::analysis::lockout::{diagnose, Evidence, Existence, KeyRef, Verdict};

pub const BUNDLE_KIND: &str = "kmsdoctor-evidence-bundle";
pub const BUNDLE_SCHEMA: u32 = 1;

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
    pub problems: Vec<String>,
}

impl Bundle {
    /// The policy events in the bundle.
    pub fn events(&self) -> Result<Vec<PolicyEvent>, String> {
        let text = serde_json::json!({ "Records": self.records }).to_string();
        crate::evidence::cloudtrail_records::scan(&text)
            .map(|s| s.events)
            .map_err(|e| e.message)
    }

    /// Checks a bundle read from a file.
    pub fn check(&self) -> Result<(), String> {
        if self.kind != BUNDLE_KIND {
            return Err(format!("`kind` is `{}`, not `{BUNDLE_KIND}`", self.kind));
        }
        if self.schema_version != BUNDLE_SCHEMA {
            return Err(format!(
                "schema_version {} is not supported (this kmsdoctor reads {BUNDLE_SCHEMA})",
                self.schema_version
            ));
        }
        Ok(())
    }
}

/// What to collect.
#[derive(Debug, Clone)]
pub struct Request {
    pub connection: Connection,
    pub key_input: String,
    /// Look back this far in CloudTrail (at most 90 days).
    pub since: Duration,
    pub now: DateTime<Utc>,
    pub pacing: LookupPacing,
}

/// Collects the evidence with fresh clients.
pub async fn collect(
    req: &Request,
    progress: &(dyn Fn(u32, usize) + Sync),
) -> Result<(Bundle, Clients), LiveError> {
    let config = aws::load_config(&req.connection).await?;
    let clients = Clients::new(&config);
    let bundle = collect_with(&clients, req, progress).await?;
    Ok((bundle, clients))
}

/// Collects the evidence with the given clients (tests pass clients of their own).
pub async fn collect_with(
    c: &Clients,
    req: &Request,
    progress: &(dyn Fn(u32, usize) + Sync),
) -> Result<Bundle, LiveError> {
    let caller = aws::caller_identity(c).await?;
    let (key, facts) = aws::key_facts(c, &req.key_input, &caller.account).await?;
    let start =
        req.now - chrono::Duration::from_std(req.since).unwrap_or(chrono::Duration::days(90));
    let (events, lookup) = aws::lookup_policy_events(
        c,
        &key,
        facts.creation_date,
        start,
        req.now,
        req.pacing,
        progress,
    )
    .await;
    let records = events
        .iter()
        .filter_map(|e| e.raw.as_deref())
        .filter_map(|r| serde_json::from_str::<serde_json::Value>(r).ok())
        .collect();
    let mut problems = facts.problems.clone();
    problems.extend(lookup.problems.iter().cloned());

    // Which principals could recover, to ask IAM whether they still exist; and whether the
    // delegation is intact, to ask IAM what it decides for the caller.
    let diagnosis = diagnose(Evidence {
        key: key.clone(),
        current_policy: facts.policy.as_deref(),
        events: &events,
        account: key.account.as_deref().or(Some(caller.account.as_str())),
        now: req.now,
        aliases: facts.aliases.as_deref(),
        caller: Some(&caller.arn),
    })
    .ok();
    let mut existence = BTreeMap::new();
    if let Some(d) = &diagnosis {
        for a in &d.recoverable_admins {
            if a.kind != crate::analysis::lockout::AdminKind::Root {
                existence.insert(
                    a.principal.clone(),
                    aws::principal_exists(c, &a.principal).await,
                );
            }
        }
    }
    let caller_principal_arn = aws::caller_principal_arn(c, &caller).await;
    let mut simulation = None;
    if let (Some(d), Some(p), Some(k)) = (&diagnosis, &caller_principal_arn, &key.arn) {
        if d.verdict == Verdict::Ok {
            match aws::simulate(c, p, k).await {
                Ok(r) => simulation = Some(r),
                Err(msg) => problems.push(format!(
                    "iam SimulatePrincipalPolicy failed ({msg}): the IAM side is not known"
                )),
            }
        }
    }
    Ok(Bundle {
        kind: BUNDLE_KIND.into(),
        schema_version: BUNDLE_SCHEMA,
        collected_at: req.now,
        region: c.region.clone(),
        key_input: req.key_input.clone(),
        key,
        caller,
        caller_principal_arn,
        key_facts: facts,
        records,
        lookup,
        existence,
        simulation,
        problems,
    })
}
