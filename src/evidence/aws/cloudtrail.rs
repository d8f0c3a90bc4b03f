//! CloudTrail LookupEvents: one lookup attribute per call, 50 events a page, 2 requests a
//! second per account and region. kmsdoctor looks up `EventName=PutKeyPolicy` (every key's,
//! a rare event), the state changes (ScheduleKeyDeletion, CancelKeyDeletion, DisableKey,
//! EnableKey: as rare) and `EventName=CreateKey`, the latter narrowed to the key's creation
//! time when DescribeKey tells it. Looking up `ResourceName=<key ARN>` instead would page through
//! every Decrypt and Encrypt of the key, which on a busy key costs thousands of calls.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use chrono::{DateTime, Utc};

use super::{AwsCode, Clients, ReadOnlyGuard};
use crate::analysis::events::{EventName, PolicyEvent};
use crate::analysis::lockout::KeyRef;
use crate::evidence::cloudtrail_records::lookup_event;

/// CloudTrail's client settings: guarded, and without the SDK's own retries, because
/// [`lookup_policy_events`] paces and retries lookups itself and must count every call.
pub fn cloudtrail_config(
    builder: aws_sdk_cloudtrail::config::Builder,
    guard: &ReadOnlyGuard,
) -> aws_sdk_cloudtrail::config::Builder {
    builder
        .interceptor(guard.clone())
        .retry_config(aws_config::retry::RetryConfig::disabled())
}

/// How CloudTrail lookups are paced and retried.
#[derive(Debug, Clone, Copy)]
pub struct LookupPacing {
    /// At least this long between two calls (CloudTrail allows 2 a second).
    pub interval: Duration,
    /// First retry delay; it doubles each time.
    pub backoff: Duration,
    pub max_attempts: u32,
}

impl Default for LookupPacing {
    fn default() -> Self {
        LookupPacing {
            interval: Duration::from_millis(500),
            backoff: Duration::from_millis(1000),
            max_attempts: 5,
        }
    }
}

impl LookupPacing {
    /// The default pacing; `KMSDOCTOR_LOOKUP_BACKOFF_MS` shortens the retry delays, for
    /// emulators without CloudTrail (moto answers LookupEvents with a 500). The 2-a-second
    /// pace itself cannot be changed.
    pub fn from_env() -> Self {
        let mut p = LookupPacing::default();
        if let Some(ms) = std::env::var("KMSDOCTOR_LOOKUP_BACKOFF_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            p.backoff = Duration::from_millis(ms);
        }
        p
    }
}

/// What the lookups did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LookupReport {
    pub calls: u32,
    pub pages: u32,
    pub records: u64,
    pub unreadable: u64,
    /// False when a lookup stopped early: the history may miss events.
    pub complete: bool,
    pub problems: Vec<String>,
}

fn retryable<E>(e: &SdkError<E, HttpResponse>, code: &AwsCode) -> bool {
    let throttled = *code == AwsCode::Throttled;
    let server_error = match e {
        SdkError::ServiceError(se) => se.raw().status().is_server_error(),
        SdkError::ResponseError(r) => r.raw().status().is_server_error(),
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        _ => false,
    };
    throttled || server_error
}

/// How the lookups are going, for the progress line.
#[derive(Debug, Clone, Copy)]
pub enum LookupProgress<'a> {
    /// A page was read: `event` is the event name looked up.
    Page {
        event: &'a str,
        pages: u32,
        found: usize,
    },
    /// A call failed and is retried after `delay`.
    Retry {
        event: &'a str,
        attempt: u32,
        of: u32,
        delay: Duration,
        why: &'a str,
    },
    /// One line worth saying as it happens (Athena's estimate, the query's state).
    Note(&'a str),
    /// A day of the trail's S3 logs was read (`--history s3`), newest first.
    ArchiveDay {
        day: chrono::NaiveDate,
        files: usize,
        days: u32,
    },
}

/// A key to look up, with its creation time when DescribeKey told it.
#[derive(Debug, Clone)]
pub struct KeyLookup {
    pub key: KeyRef,
    pub creation: Option<DateTime<Utc>>,
    /// For a multi-Region replica: the primary's region. Its ReplicateKey (the replica's
    /// creation and first policy) is logged there, not in the replica's region.
    pub primary_region: Option<String>,
    /// DescribeKey said Enabled: the state changes are not looked up for this key.
    pub state_enabled: bool,
    /// Whether this key's grant events are looked up: not when ListGrants listed them, nor
    /// when its current policy is `ok` (grants matter as data paths of a lockout).
    pub grants: bool,
}

/// The most pages of one grant event's lookup (50 events a page): CreateGrant by event
/// name is the whole account's, and AWS services (EBS, RDS...) make grants often.
pub const MAX_GRANT_PAGES: u32 = 20;

/// One lookup: event name, from, to, and the region to ask when not the clients' own.
type Search<'n> = (&'n str, DateTime<Utc>, DateTime<Utc>, Option<String>);

/// Looks up the policy events of `keys` within `[start, end]`, following every page: the
/// account's PutKeyPolicy events once for all keys, each key's CreateKey (narrowed to its
/// creation time when known), and for a multi-Region replica the ReplicateKey logged in
/// its primary's region. The events come grouped by key, in the order of `keys`.
pub async fn lookup_policy_events(
    c: &Clients,
    keys: &[KeyLookup],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    pacing: LookupPacing,
    progress: &(dyn Fn(LookupProgress<'_>) + Sync),
) -> (Vec<Vec<PolicyEvent>>, LookupReport) {
    let mut report = LookupReport {
        complete: true,
        ..LookupReport::default()
    };
    let mut by_key: Vec<Vec<PolicyEvent>> = vec![Vec::new(); keys.len()];
    let mut found = 0usize;
    let mut last_call: Option<Instant> = None;
    // The policy changes, and unless every key is known Enabled the state changes, over the
    // whole window (one lookup each: they are as rare as PutKeyPolicy).
    let states = keys.iter().any(|k| !k.state_enabled);
    // Grants too (a grant made before a lockout is still a way to the data): at most
    // [`MAX_GRANT_PAGES`] pages each, newest first, as AWS services make many.
    let grants = keys.iter().any(|k| k.grants);
    let mut searches: Vec<Search> = EventName::ALL
        .iter()
        .filter(|e| {
            *e == &EventName::PutKeyPolicy
                || (states && e.changes_state())
                || (grants && e.is_grant())
        })
        .map(|e| (e.as_str(), start, end, None))
        .collect();
    let mut whole_window_create = false;
    for k in keys {
        match k.creation {
            // The key was created before the window: its CreateKey cannot be looked up.
            Some(t) if t < start => {}
            Some(t) => searches.push((
                "CreateKey",
                t - chrono::Duration::minutes(5),
                (t + chrono::Duration::minutes(5)).min(end),
                None,
            )),
            None => whole_window_create = true,
        }
    }
    if whole_window_create {
        searches.push(("CreateKey", start, end, None));
    }
    // A replica's creation: ReplicateKey in the primary's region (narrowed like CreateKey).
    let mut replicas: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for k in keys {
        let Some(region) = k.primary_region.clone().filter(|r| *r != c.region) else {
            continue;
        };
        let (from, to) = match k.creation {
            Some(t) if t < start => continue,
            Some(t) => (
                t - chrono::Duration::minutes(5),
                (t + chrono::Duration::minutes(5)).min(end),
            ),
            None => (start, end),
        };
        if !replicas
            .iter()
            .any(|(r, f, t)| *r == region && *f == from && *t == to)
        {
            replicas.push((region, from, to));
        }
    }
    for (region, from, to) in replicas {
        searches.push(("ReplicateKey", from, to, Some(region)));
    }
    let mut seen_events: HashSet<String> = HashSet::new();
    for (name, from, to, region) in searches {
        // The clients' own CloudTrail, or one in the primary's region (same settings).
        let cloudtrail = match &region {
            None => c.cloudtrail.clone(),
            Some(r) => aws_sdk_cloudtrail::Client::from_conf(
                c.cloudtrail
                    .config()
                    .to_builder()
                    .region(aws_config::Region::new(r.clone()))
                    .build(),
            ),
        };
        let mut token: Option<String> = None;
        let mut seen: HashSet<String> = HashSet::new();
        let mut pages_here = 0u32;
        let is_grant = EventName::parse(name).is_some_and(|e| e.is_grant());
        'pages: loop {
            let mut attempt = 0;
            let page = loop {
                if let Some(t) = last_call {
                    let wait = pacing.interval.saturating_sub(t.elapsed());
                    if !wait.is_zero() {
                        tokio::time::sleep(wait).await;
                    }
                }
                last_call = Some(Instant::now());
                report.calls += 1;
                let sent = cloudtrail
                    .lookup_events()
                    .lookup_attributes(
                        LookupAttribute::builder()
                            .attribute_key(LookupAttributeKey::EventName)
                            .attribute_value(name)
                            .build()
                            .expect("key and value are set"),
                    )
                    .start_time(aws_smithy_types::DateTime::from_secs(from.timestamp()))
                    .end_time(aws_smithy_types::DateTime::from_secs(to.timestamp()))
                    .max_results(50)
                    .set_next_token(token.clone())
                    .send()
                    .await;
                match sent {
                    Ok(p) => break p,
                    Err(e) => {
                        let err = c.error("cloudtrail", "LookupEvents", &e);
                        let msg = err.message.as_str();
                        attempt += 1;
                        if retryable(&e, &err.code) && attempt < pacing.max_attempts {
                            let delay = pacing.backoff * 2u32.saturating_pow(attempt - 1);
                            tracing::debug!(%msg, attempt, delay_ms = delay.as_millis() as u64, "LookupEvents retry");
                            progress(LookupProgress::Retry {
                                event: name,
                                attempt: attempt + 1,
                                of: pacing.max_attempts,
                                delay,
                                why: msg,
                            });
                            tokio::time::sleep(delay).await;
                            continue;
                        }
                        report.complete = false;
                        report.problems.push(if err.code.is("InvalidNextTokenException") {
                            format!("cloudtrail LookupEvents ({name}): the page token expired after {} pages ({msg}); later events were not read", report.pages)
                        } else if err.is_access_denied() {
                            format!("cloudtrail LookupEvents ({name}) was denied ({msg}): no history")
                        } else {
                            format!("cloudtrail LookupEvents ({name}) failed ({msg}) after {attempt} attempt(s)")
                        });
                        break 'pages;
                    }
                }
            };
            report.pages += 1;
            pages_here += 1;
            for (i, ev) in page.events().iter().enumerate() {
                report.records += 1;
                let Some(record) = ev.cloud_trail_event() else {
                    report.unreadable += 1;
                    continue;
                };
                let time = ev
                    .event_time()
                    .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()));
                match lookup_event(ev.event_id(), time, record, i) {
                    Ok(Some(e)) => {
                        // Overlapping CreateKey windows can return an event twice.
                        if !e.event_id.is_empty() && !seen_events.insert(e.event_id.clone()) {
                            continue;
                        }
                        let mut mine = keys
                            .iter()
                            .enumerate()
                            .filter(|(_, k)| e.is_for(&k.key))
                            .map(|(n, _)| n)
                            .peekable();
                        if mine.peek().is_some() {
                            found += 1;
                        }
                        for n in mine {
                            by_key[n].push(e.clone());
                        }
                    }
                    Ok(None) => {}
                    Err(_) => report.unreadable += 1,
                }
            }
            progress(LookupProgress::Page {
                event: name,
                pages: report.pages,
                found,
            });
            match page.next_token() {
                None => break,
                Some(_) if is_grant && pages_here >= MAX_GRANT_PAGES => {
                    report.problems.push(format!(
                        "cloudtrail LookupEvents ({name}): stopped after {MAX_GRANT_PAGES} pages (the newest {} events of the account); older grants of the key may not be known",
                        MAX_GRANT_PAGES * 50
                    ));
                    break;
                }
                Some(t) if !seen.insert(t.to_string()) => {
                    report.complete = false;
                    report.problems.push(format!(
                        "cloudtrail LookupEvents ({name}) returned a page token it had returned before; stopped to avoid an endless loop"
                    ));
                    break;
                }
                Some(t) => token = Some(t.to_string()),
            }
        }
    }
    (by_key, report)
}
