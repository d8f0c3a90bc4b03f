//! Evidence from AWS: STS, KMS, CloudTrail and IAM, read-only.
//!
//! Read-only by construction: every client carries [`ReadOnlyGuard`], which refuses to send
//! any operation whose name does not start with Get, List, Describe, Lookup or Simulate, and
//! records each call (operation, region, duration, request id) for `--verbose` and tests.
//!
//! CloudTrail LookupEvents: one lookup attribute per call, 50 events a page, 2 requests a
//! second per account and region. kmsdoctor looks up `EventName=PutKeyPolicy` (every key's,
//! a rare event) and `EventName=CreateKey`, the latter narrowed to the key's creation time
//! when DescribeKey tells it. Looking up `ResourceName=<key ARN>` instead would page through
//! every Decrypt and Encrypt of the key, which on a busy key costs thousands of calls.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use chrono::{DateTime, Utc};

use crate::analysis::events::PolicyEvent;
use crate::analysis::lockout::{Existence, KeyRef};
use crate::analysis::principal::Arn;
use crate::evidence::cloudtrail_records::lookup_event;

/// Operation name prefixes that read and never change anything.
const READ_ONLY_PREFIXES: [&str; 5] = ["Get", "List", "Describe", "Lookup", "Simulate"];

/// Whether an operation only reads.
pub fn is_read_only(operation: &str) -> bool {
    READ_ONLY_PREFIXES.iter().any(|p| operation.starts_with(p))
}

/// One AWS call, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub service: String,
    pub operation: String,
}

/// Every call the clients made (or refused to make).
#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<Call>>>);

impl CallLog {
    pub fn calls(&self) -> Vec<Call> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
    fn push(&self, c: Call) {
        if let Ok(mut v) = self.0.lock() {
            v.push(c);
        }
    }
}

#[derive(Debug, Clone)]
struct Started(Instant);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

/// Refuses mutating operations; records and traces every call.
#[derive(Debug, Clone)]
pub struct ReadOnlyGuard {
    log: CallLog,
    region: String,
}

impl ReadOnlyGuard {
    pub fn new(log: CallLog, region: &str) -> Self {
        ReadOnlyGuard {
            log,
            region: region.to_string(),
        }
    }
}

impl Intercept for ReadOnlyGuard {
    fn name(&self) -> &'static str {
        "kmsdoctor-read-only-guard"
    }

    // Not `read_before_execution`: for client-level interceptors that runs before the
    // operation's configuration, and so its `Metadata`, is in the bag. This runs after, and
    // still before anything is serialized or sent.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_string(), m.name().to_string()))
            .unwrap_or_else(|| ("?".into(), "?".into()));
        self.log.push(Call {
            service: service.clone(),
            operation: operation.clone(),
        });
        if !is_read_only(&operation) {
            return Err(
                format!("kmsdoctor is read-only: refused to send {service} {operation}").into(),
            );
        }
        cfg.interceptor_state().store_put(Started(Instant::now()));
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg
            .load::<Metadata>()
            .map(|m| m.name().to_string())
            .unwrap_or_default();
        let took = cfg
            .load::<Started>()
            .map(|s| s.0.elapsed())
            .unwrap_or_default();
        let request_id = context
            .response()
            .and_then(|r| {
                r.headers()
                    .get("x-amzn-requestid")
                    .or_else(|| r.headers().get("x-amz-request-id"))
            })
            .unwrap_or("-");
        let status = context.response().map(|r| r.status().as_u16()).unwrap_or(0);
        tracing::debug!(
            operation = %op,
            region = %self.region,
            duration_ms = took.as_millis() as u64,
            request_id = %request_id,
            status,
            "aws call"
        );
        Ok(())
    }
}

/// How to reach AWS.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

/// A failure that stops live collection: one line, naming what failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LiveError(pub String);

/// The clients, all guarded.
#[derive(Debug, Clone)]
pub struct Clients {
    pub sts: aws_sdk_sts::Client,
    pub kms: aws_sdk_kms::Client,
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    pub iam: aws_sdk_iam::Client,
    pub region: String,
    pub calls: CallLog,
}

/// The one HTTP stack kmsdoctor uses: hyper 1 with rustls and ring (http and https).
pub fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// Loads configuration as the AWS CLI does: flags, then `AWS_*` environment variables,
/// then the profile; credentials from the default chain (environment, profiles, SSO,
/// process, container and instance roles).
pub async fn load_config(conn: &Connection) -> Result<SdkConfig, LiveError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http_client());
    if let Some(p) = &conn.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &conn.region {
        loader = loader.region(Region::new(r.clone()));
    }
    if let Some(u) = &conn.endpoint_url {
        loader = loader.endpoint_url(u);
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return Err(LiveError(
            "no AWS region: give --region, set AWS_REGION, or set a region in the profile".into(),
        ));
    }
    let Some(provider) = config.credentials_provider() else {
        return Err(LiveError(
            "no AWS credentials provider is configured".into(),
        ));
    };
    use aws_credential_types::provider::ProvideCredentials;
    match tokio::time::timeout(Duration::from_secs(20), provider.provide_credentials()).await {
        Ok(Ok(_)) => Ok(config),
        Ok(Err(e)) => Err(LiveError(format!(
            "no AWS credentials: {} (set AWS_PROFILE or --profile, run `aws sso login`, or export AWS_ACCESS_KEY_ID)",
            first_line(&e.to_string())
        ))),
        Err(_) => Err(LiveError("no AWS credentials: the credential chain did not answer within 20 s".into())),
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

impl Clients {
    /// Builds guarded clients. CloudTrail's own retries are off: lookups are paced and
    /// retried by [`lookup_policy_events`], which must count every call.
    pub fn new(config: &SdkConfig) -> Clients {
        let region = config.region().map(|r| r.to_string()).unwrap_or_default();
        let calls = CallLog::default();
        let guard = ReadOnlyGuard::new(calls.clone(), &region);
        let retry = aws_config::retry::RetryConfig::standard().with_max_attempts(3);
        Clients {
            sts: aws_sdk_sts::Client::from_conf(
                aws_sdk_sts::config::Builder::from(config)
                    .interceptor(guard.clone())
                    .retry_config(retry.clone())
                    .build(),
            ),
            kms: aws_sdk_kms::Client::from_conf(
                aws_sdk_kms::config::Builder::from(config)
                    .interceptor(guard.clone())
                    .retry_config(retry.clone())
                    .build(),
            ),
            cloudtrail: aws_sdk_cloudtrail::Client::from_conf(
                cloudtrail_config(aws_sdk_cloudtrail::config::Builder::from(config), &guard)
                    .build(),
            ),
            iam: aws_sdk_iam::Client::from_conf(
                aws_sdk_iam::config::Builder::from(config)
                    .interceptor(guard)
                    .retry_config(retry)
                    .build(),
            ),
            region,
            calls,
        }
    }
}

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

/// An AWS error in one line: `Code: message`, or what went wrong on the way.
pub fn describe<E>(e: &SdkError<E, HttpResponse>) -> (Option<String>, String)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            let code = err.code().map(str::to_string);
            let msg = match (&code, err.message()) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.clone(),
                // No error code: a proxy's or an emulator's page rather than an AWS error.
                (None, _) => format!(
                    "HTTP {} without an AWS error code",
                    se.raw().status().as_u16()
                ),
            };
            (code, msg)
        }
        SdkError::DispatchFailure(d) => (None, format!("cannot reach AWS: {}", source_chain(d))),
        SdkError::TimeoutError(_) => (None, "the request timed out".into()),
        SdkError::ResponseError(r) => (
            None,
            format!("unreadable reply from AWS: {}", source_chain(r)),
        ),
        SdkError::ConstructionFailure(c) => {
            (None, format!("request not sent: {}", source_chain(c)))
        }
        other => (
            other.code().map(str::to_string),
            first_line(&other.to_string()),
        ),
    }
}

fn source_chain(e: &dyn std::fmt::Debug) -> String {
    let s = format!("{e:?}");
    s.chars().take(300).collect()
}

fn is_access_denied(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "AccessDeniedException"
                | "AccessDenied"
                | "UnauthorizedOperation"
                | "UnrecognizedClientException"
        )
    )
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CallerIdentity {
    pub arn: String,
    pub account: String,
    pub user_id: String,
}

pub async fn caller_identity(c: &Clients) -> Result<CallerIdentity, LiveError> {
    let out = c
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| LiveError(format!("sts GetCallerIdentity failed: {}", describe(&e).1)))?;
    Ok(CallerIdentity {
        arn: out.arn().unwrap_or_default().to_string(),
        account: out.account().unwrap_or_default().to_string(),
        user_id: out.user_id().unwrap_or_default().to_string(),
    })
}

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
    /// Problems that degraded the evidence, in words.
    pub problems: Vec<String>,
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
                facts.key_manager = m.key_manager().map(|s| s.as_str().to_string());
            }
        }
        Err(e) => {
            let (code, msg) = describe(&e);
            if code.as_deref() == Some("NotFoundException") {
                return Err(LiveError(format!(
                    "kms DescribeKey: no key `{input}` in {}: {msg}",
                    c.region
                )));
            }
            facts.problems.push(format!(
                "kms DescribeKey failed ({msg}); the key ARN is built from what was given"
            ));
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
            let mut k = KeyRef::parse(&target).map_err(|e| LiveError(e.to_string()))?;
            k.complete(Some(caller_account), Some(&c.region));
            k
        }
        None => {
            let mut k = KeyRef::parse(input).map_err(|e| LiveError(e.to_string()))?;
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
            let (code, msg) = describe(&e);
            if code.as_deref() == Some("NotFoundException") && facts.resolved_by != "describe_key" {
                return Err(LiveError(format!(
                    "kms GetKeyPolicy: no key {key_arg}: {msg}"
                )));
            }
            // AccessDenied is the lockout itself: evidence, not a failure.
            facts.policy_error = Some(msg);
        }
    }
    match list_aliases(c, &key_arg).await {
        Ok(a) => facts.aliases = Some(a),
        Err(msg) => facts.problems.push(format!(
            "kms ListAliases failed ({msg}): kms:ResourceAliases conditions stay unknown"
        )),
    }
    Ok((key, facts))
}

async fn find_alias_target(c: &Clients, alias: &str) -> Result<String, LiveError> {
    let mut pages = c.kms.list_aliases().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            LiveError(format!(
                "kms ListAliases failed, so `{alias}` cannot be resolved: {}",
                describe(&e).1
            ))
        })?;
        for a in page.aliases() {
            if a.alias_name() == Some(alias) {
                return a.target_key_id().map(str::to_string).ok_or_else(|| {
                    LiveError(format!(
                        "`{alias}` is an AWS managed alias with no key, or points nowhere"
                    ))
                });
            }
        }
    }
    Err(LiveError(format!(
        "no alias `{alias}` in this account and region"
    )))
}

async fn list_aliases(c: &Clients, key: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut pages = c.kms.list_aliases().key_id(key).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| describe(&e).1)?;
        out.extend(
            page.aliases()
                .iter()
                .filter_map(|a| a.alias_name().map(str::to_string)),
        );
    }
    Ok(out)
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

fn retryable<E>(e: &SdkError<E, HttpResponse>, code: Option<&str>) -> bool {
    let throttled = matches!(
        code,
        Some(
            "ThrottlingException"
                | "Throttling"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
        )
    );
    let server_error = match e {
        SdkError::ServiceError(se) => se.raw().status().is_server_error(),
        SdkError::ResponseError(r) => r.raw().status().is_server_error(),
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        _ => false,
    };
    throttled || server_error
}

/// Looks up the key's policy events within `[start, end]`, following every page.
pub async fn lookup_policy_events(
    c: &Clients,
    key: &KeyRef,
    creation: Option<DateTime<Utc>>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    pacing: LookupPacing,
    progress: &(dyn Fn(u32, usize) + Sync),
) -> (Vec<PolicyEvent>, LookupReport) {
    let mut report = LookupReport {
        complete: true,
        ..LookupReport::default()
    };
    let mut events = Vec::new();
    let mut last_call: Option<Instant> = None;
    let mut searches = vec![("PutKeyPolicy", start, end)];
    match creation {
        // The key was created before the window: its CreateKey cannot be looked up.
        Some(t) if t < start => {}
        Some(t) => searches.push((
            "CreateKey",
            t - chrono::Duration::minutes(5),
            (t + chrono::Duration::minutes(5)).min(end),
        )),
        None => searches.push(("CreateKey", start, end)),
    }
    for (name, from, to) in searches {
        let mut token: Option<String> = None;
        let mut seen: HashSet<String> = HashSet::new();
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
                let sent = c
                    .cloudtrail
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
                        let (code, msg) = describe(&e);
                        attempt += 1;
                        if retryable(&e, code.as_deref()) && attempt < pacing.max_attempts {
                            let delay = pacing.backoff * 2u32.saturating_pow(attempt - 1);
                            tracing::debug!(%msg, attempt, delay_ms = delay.as_millis() as u64, "LookupEvents retry");
                            tokio::time::sleep(delay).await;
                            continue;
                        }
                        report.complete = false;
                        report.problems.push(if code.as_deref() == Some("InvalidNextTokenException") {
                            format!("cloudtrail LookupEvents ({name}): the page token expired after {} pages ({msg}); later events were not read", report.pages)
                        } else if is_access_denied(code.as_deref()) {
                            format!("cloudtrail LookupEvents ({name}) was denied ({msg}): no history")
                        } else {
                            format!("cloudtrail LookupEvents ({name}) failed ({msg}) after {attempt} attempt(s)")
                        });
                        break 'pages;
                    }
                }
            };
            report.pages += 1;
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
                    Ok(Some(e)) if e.key_refs.iter().any(|r| key.matches(r)) => events.push(e),
                    Ok(_) => {}
                    Err(_) => report.unreadable += 1,
                }
            }
            progress(report.pages, events.len());
            match page.next_token() {
                None => break,
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
    (events, report)
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
        c.iam
            .get_role()
            .role_name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| describe(&e))
    } else {
        c.iam
            .get_user()
            .user_name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| describe(&e))
    };
    match result {
        Ok(()) => Existence::Yes,
        Err((Some(code), _)) if code == "NoSuchEntity" || code == "NoSuchEntityException" => {
            Existence::No
        }
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
        let out = c.iam.get_role().role_name(role).send().await.ok()?;
        return out.role().map(|r| r.arn().to_string());
    }
    Some(caller.arn.clone())
}

/// What IAM decides for the caller on GetKeyPolicy and PutKeyPolicy on the key.
pub async fn simulate(
    c: &Clients,
    principal_arn: &str,
    key_arn: &str,
) -> Result<Vec<(String, String)>, String> {
    let out = c
        .iam
        .simulate_principal_policy()
        .policy_source_arn(principal_arn)
        .action_names("kms:GetKeyPolicy")
        .action_names("kms:PutKeyPolicy")
        .resource_arns(key_arn)
        .send()
        .await
        .map_err(|e| describe(&e).1)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_names() {
        for op in [
            "GetKeyPolicy",
            "ListAliases",
            "DescribeKey",
            "LookupEvents",
            "SimulatePrincipalPolicy",
            "GetCallerIdentity",
        ] {
            assert!(is_read_only(op), "{op}");
        }
        for op in [
            "PutKeyPolicy",
            "CreateKey",
            "ScheduleKeyDeletion",
            "UpdateAlias",
            "TagResource",
            "Decrypt",
        ] {
            assert!(!is_read_only(op), "{op}");
        }
    }
}
