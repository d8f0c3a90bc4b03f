//! Evidence from AWS: STS, KMS, CloudTrail, IAM and Organizations, read-only. One module per service, the
//! read-only guard on its own; this file holds the connection, the guarded clients and the
//! error wording shared by all.

pub mod archive;
pub mod athena;
pub mod cloudtrail;
pub mod error;
pub mod guard;
pub mod iam;
pub mod kms;
pub mod org;
pub mod scan;
pub mod sts;

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::settings::Connection;
pub use error::{AwsCode, AwsError, ReadError};

pub use cloudtrail::{
    cloudtrail_config, lookup_policy_events, KeyLookup, LookupPacing, LookupProgress, LookupReport,
};
pub use guard::{
    is_allowed, is_allowed_in, Call, CallLog, Mode, ReadOnlyGuard, ALLOWED, FIX_APPLY,
};
pub use iam::{
    caller_principal_arn, principal_exists, read_identity, role_trust, simulate, IdentityRead,
};
pub use kms::{get_key_policy, key_facts, key_tags, put_key_policy, KeyFacts};
pub use org::{read_org_policies, OrgRead, OrgReader};
pub use sts::{caller_identity, CallerIdentity};

/// A failure that stops live collection: one line, naming what failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiveError {
    /// A call whose answer kmsdoctor cannot go on without; `hint` says what to do.
    #[error("{error}{}", hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    Call {
        error: Box<AwsError>,
        hint: Option<String>,
    },
    /// Nothing could be asked of AWS (no region, no credentials), or an answer could not
    /// be used.
    #[error("{0}")]
    Setup(String),
}

impl From<AwsError> for LiveError {
    fn from(error: AwsError) -> Self {
        LiveError::Call {
            error: Box::new(error),
            hint: None,
        }
    }
}

impl From<ReadError> for LiveError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Call(error) => LiveError::from(error),
            ReadError::Answer(m) => LiveError::Setup(m),
        }
    }
}

impl From<crate::evidence::Invalid> for LiveError {
    fn from(e: crate::evidence::Invalid) -> Self {
        LiveError::Setup(e.0)
    }
}

impl LiveError {
    /// A failed call, with what to do about it.
    pub fn call(error: AwsError, hint: impl Into<String>) -> LiveError {
        LiveError::Call {
            error: Box::new(error),
            hint: Some(hint.into()),
        }
    }
}

/// The clients, all guarded.
#[derive(Debug, Clone)]
pub struct Clients {
    pub sts: aws_sdk_sts::Client,
    pub kms: aws_sdk_kms::Client,
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    pub iam: aws_sdk_iam::Client,
    pub organizations: aws_sdk_organizations::Client,
    pub s3: aws_sdk_s3::Client,
    pub athena: aws_sdk_athena::Client,
    pub region: String,
    pub calls: CallLog,
    /// GetRole's answers of this run, shared by the clones.
    pub roles: iam::RoleCache,
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
    check_profile(conn).await?;
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
        return Err(LiveError::Setup(
            "no AWS region: give --region, set AWS_REGION, or set a region in the profile".into(),
        ));
    }
    let Some(provider) = config.credentials_provider() else {
        return Err(LiveError::Setup(
            "no AWS credentials provider is configured".into(),
        ));
    };
    use aws_credential_types::provider::ProvideCredentials;
    match tokio::time::timeout(Duration::from_secs(20), provider.provide_credentials()).await {
        Ok(Ok(_)) => Ok(config),
        Ok(Err(e)) => {
            // The chain's own words, without its list of providers ("Attempted: ...").
            let why = reasons(&e);
            let why = why.split(" Attempted:").next().unwrap_or_default();
            let why = why
                .strip_prefix("the credential provider was not enabled: ")
                .unwrap_or(why)
                .trim_end_matches(['.', ' ']);
            let profile = conn
                .profile
                .clone()
                .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()));
            Err(LiveError::Setup(match profile {
                Some(p) => format!(
                    "no AWS credentials from the profile `{}`: {} (give it credentials, a role_arn or an SSO session, and run `aws sso login` for SSO)",
                    crate::analysis::escape::visible(&p),
                    why
                ),
                None => format!(
                    "no AWS credentials: {} (set AWS_PROFILE or --profile, run `aws sso login`, or export AWS_ACCESS_KEY_ID)",
                    why
                ),
            }))
        }
        Err(_) => Err(LiveError::Setup(
            "no AWS credentials: the credential chain did not answer within 20 s".into(),
        )),
    }
}

/// A profile named by `--profile` or `AWS_PROFILE` must be in the config or credentials
/// file. The SDK would otherwise go on down the credential chain (to the instance metadata
/// service) and fail with a message about IMDS.
async fn check_profile(conn: &Connection) -> Result<(), LiveError> {
    use aws_types::os_shim_internal::{Env, Fs};
    let (name, from) = match (&conn.profile, std::env::var("AWS_PROFILE")) {
        (Some(p), _) => (p.clone(), "--profile"),
        (None, Ok(p)) if !p.is_empty() => (p, "AWS_PROFILE"),
        _ => return Ok(()),
    };
    let files = aws_runtime::env_config::file::EnvConfigFiles::default();
    let set = match aws_config::profile::load(&Fs::real(), &Env::real(), &files, None).await {
        Ok(set) => set,
        Err(e) => {
            return Err(LiveError::Setup(format!(
                "the AWS config files cannot be read: {}",
                crate::analysis::escape::visible(&reasons(&e))
            )))
        }
    };
    if set.get_profile(&name).is_some() {
        return Ok(());
    }
    let mut known: Vec<&str> = set.profiles().collect();
    known.sort_unstable();
    let known: Vec<String> = known
        .iter()
        .take(20)
        .map(|p| crate::analysis::escape::visible(p).into_owned())
        .collect();
    let files = match (
        std::env::var("AWS_CONFIG_FILE"),
        std::env::var("AWS_SHARED_CREDENTIALS_FILE"),
    ) {
        (Err(_), Err(_)) => "~/.aws/config or ~/.aws/credentials".to_string(),
        (c, k) => format!(
            "{} or {}",
            c.unwrap_or_else(|_| "~/.aws/config".into()),
            k.unwrap_or_else(|_| "~/.aws/credentials".into())
        ),
    };
    Err(LiveError::Setup(format!(
        "no profile `{}` ({from}) in {}: {}",
        crate::analysis::escape::visible(&name),
        crate::analysis::escape::visible(&files),
        if known.is_empty() {
            "they define no profile (run `aws configure` or `aws configure sso`)".to_string()
        } else {
            format!("the profiles there are {}", known.join(", "))
        }
    )))
}

/// The runtime the AWS calls run on: one thread (only the evidence layer is async).
pub fn runtime() -> Result<tokio::runtime::Runtime, LiveError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| LiveError::Setup(format!("cannot start the AWS client runtime: {e}")))
}

pub(crate) fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

impl Clients {
    /// Builds guarded clients. CloudTrail's own retries are off: lookups are paced and
    /// retried by [`lookup_policy_events`], which must count every call.
    pub fn new(config: &SdkConfig) -> Clients {
        Clients::with_mode(config, guard::Mode::ReadOnly)
    }

    /// Clients whose guard allows what `mode` allows (`fix --apply`: PutKeyPolicy too).
    pub fn with_mode(config: &SdkConfig, mode: guard::Mode) -> Clients {
        Clients::with_log(config, mode, CallLog::default())
    }

    /// [`Clients::with_mode`], recording calls in `calls` (clients of other credentials
    /// within one run share its log).
    pub fn with_log(config: &SdkConfig, mode: guard::Mode, calls: CallLog) -> Clients {
        let region = config.region().map(|r| r.to_string()).unwrap_or_default();
        let guard = ReadOnlyGuard::with_mode(calls.clone(), &region, mode);
        let retry = aws_config::retry::RetryConfig::standard().with_max_attempts(3);
        Clients {
            sts: aws_sdk_sts::Client::from_conf(
                aws_sdk_sts::config::Builder::from(config)
                    .interceptor(guard.clone())
                    .retry_config(retry.clone())
                    .build(),
            ),
            // KMS: adaptive retry, which also slows the client down when KMS throttles (its
            // quotas are shared with every caller of the account: a scan must yield).
            kms: aws_sdk_kms::Client::from_conf(
                aws_sdk_kms::config::Builder::from(config)
                    .interceptor(guard.clone())
                    .retry_config(aws_config::retry::RetryConfig::adaptive().with_max_attempts(3))
                    .build(),
            ),
            cloudtrail: aws_sdk_cloudtrail::Client::from_conf(
                cloudtrail_config(aws_sdk_cloudtrail::config::Builder::from(config), &guard)
                    .build(),
            ),
            iam: aws_sdk_iam::Client::from_conf(
                aws_sdk_iam::config::Builder::from(config)
                    .interceptor(guard.clone())
                    .retry_config(retry.clone())
                    .build(),
            ),
            organizations: aws_sdk_organizations::Client::from_conf(
                aws_sdk_organizations::config::Builder::from(config)
                    .interceptor(guard.clone())
                    .retry_config(retry.clone())
                    .build(),
            ),
            // Path-style addressing for emulators (an endpoint URL given).
            athena: aws_sdk_athena::Client::from_conf(
                aws_sdk_athena::config::Builder::from(config)
                    .interceptor(guard.clone())
                    .retry_config(retry.clone())
                    .build(),
            ),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(config)
                    .interceptor(guard)
                    .retry_config(retry)
                    .force_path_style(config.endpoint_url().is_some())
                    .build(),
            ),
            region,
            calls,
            roles: iam::RoleCache::default(),
        }
    }
}

impl Clients {
    /// The typed error of a failed call of `service`'s `operation`, naming the endpoint
    /// that could not be reached.
    pub fn error<E>(
        &self,
        service: &'static str,
        operation: &'static str,
        e: &SdkError<E, HttpResponse>,
    ) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let (code, msg) = error::classify(e);
        let message = match (e, self.calls.last_endpoint()) {
            (SdkError::DispatchFailure(_) | SdkError::TimeoutError(_), Some(at)) => {
                let at = crate::analysis::escape::visible(&at).into_owned();
                match msg.strip_prefix("cannot reach AWS: ") {
                    Some(why) => format!("cannot reach {at}: {why}"),
                    None => format!("{msg} ({at})"),
                }
            }
            _ => msg,
        };
        AwsError {
            service,
            operation,
            subject: None,
            code,
            message,
        }
    }
}

/// An error and its sources in one line, `a: b: c`, each said once (layers often repeat
/// the message of the one below).
pub(crate) fn reasons(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let m = first_line(&err.to_string());
        // The HTTP stack's wrappers say nothing the layer below does not.
        let wrapper = matches!(m.as_str(), "io error" | "client error (Connect)" | "other");
        if !m.is_empty() && !wrapper && !parts.iter().any(|p| p.contains(&m)) {
            parts.push(m);
        }
        next = err.source();
    }
    parts.join(": ").chars().take(300).collect()
}
