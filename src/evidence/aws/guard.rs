//! The read-only guard: an interceptor on every client that refuses, before anything is
//! serialized or sent, every operation but the few kmsdoctor uses, all of which only read
//! ([`ALLOWED`]), and records and traces every call (operation, region, duration, request
//! id) for `--verbose` and tests. An exact allow-list, not name prefixes: STS
//! GetSessionToken or KMS GetParametersForImport start with `Get` and still do something.
//!
//! The credential chain itself may call STS (an assume-role profile calls AssumeRole, SSO
//! calls the SSO portal) with its own clients; those calls are the chain's, as in the AWS
//! CLI, and never go through kmsdoctor's clients.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// Every (service, operation) kmsdoctor's clients may send, as the SDK names them.
pub const ALLOWED: &[(&str, &str)] = &[
    ("STS", "GetCallerIdentity"),
    ("KMS", "DescribeKey"),
    ("KMS", "GetKeyPolicy"),
    ("KMS", "ListAliases"),
    // The key's grants (a way to its data that outlives a lockout).
    ("KMS", "ListGrants"),
    // `scan`: every key of a region.
    ("KMS", "ListKeys"),
    // `fix`: a key CloudFormation manages carries its stack's name as a tag.
    ("KMS", "ListResourceTags"),
    ("CloudTrail", "LookupEvents"),
    ("IAM", "GetRole"),
    ("IAM", "GetUser"),
    ("IAM", "SimulatePrincipalPolicy"),
    // The caller's identity policies and permissions boundary (the request chain).
    ("IAM", "ListRolePolicies"),
    ("IAM", "GetRolePolicy"),
    ("IAM", "ListAttachedRolePolicies"),
    ("IAM", "ListUserPolicies"),
    ("IAM", "GetUserPolicy"),
    ("IAM", "ListAttachedUserPolicies"),
    ("IAM", "ListGroupsForUser"),
    ("IAM", "ListGroupPolicies"),
    ("IAM", "GetGroupPolicy"),
    ("IAM", "ListAttachedGroupPolicies"),
    ("IAM", "GetPolicy"),
    ("IAM", "GetPolicyVersion"),
    // The SCPs and RCPs that bind the caller's account, root to account.
    ("Organizations", "DescribeOrganization"),
    ("Organizations", "ListRoots"),
    ("Organizations", "ListParents"),
    ("Organizations", "ListPoliciesForTarget"),
    ("Organizations", "DescribePolicy"),
    // History past 90 days (`--history s3`): the trail, and its log and digest files.
    ("CloudTrail", "DescribeTrails"),
    ("CloudTrail", "GetTrailStatus"),
    // The public keys that verify the trail's digest signatures.
    ("CloudTrail", "ListPublicKeys"),
    ("S3", "GetBucketLocation"),
    ("S3", "ListObjectsV2"),
    ("S3", "GetObject"),
    // `--history athena`: the state and results of the query kmsdoctor started.
    ("Athena", "GetQueryExecution"),
    ("Athena", "GetQueryResults"),
];

/// The one mutating operation kmsdoctor ever sends, and only for `fix --apply` (or
/// `--rollback` with `--apply`): never with BypassPolicyLockoutSafetyCheck.
pub const FIX_APPLY: (&str, &str) = ("KMS", "PutKeyPolicy");

/// `scan --org` alone: the organization's accounts, and a session in each member account
/// (it hands out credentials, so no other command's clients may send it).
pub const ORG_SCAN: &[(&str, &str)] = &[("STS", "AssumeRole"), ("Organizations", "ListAccounts")];

/// `--archive-role-arn` alone: the session whose credentials read the trail's archive in the
/// log archive account; only the STS client that asks for it may send it.
pub const ARCHIVE_ROLE: (&str, &str) = ("STS", "AssumeRole");

/// `--history athena` alone: starting the one query, which writes its results to the
/// workgroup's output location (the only thing this mode writes).
pub const ATHENA_QUERY: (&str, &str) = ("Athena", "StartQueryExecution");

/// What the clients may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// [`ALLOWED`] only: every command but `fix --apply`.
    #[default]
    ReadOnly,
    /// [`ALLOWED`] and [`FIX_APPLY`].
    FixApply,
    /// [`ALLOWED`] and [`ORG_SCAN`].
    OrgScan,
    /// [`ALLOWED`] and [`ATHENA_QUERY`].
    Athena,
    /// [`ALLOWED`] and [`ARCHIVE_ROLE`].
    ArchiveRole,
}

/// Whether the guard lets this call go.
pub fn is_allowed(service: &str, operation: &str) -> bool {
    ALLOWED
        .iter()
        .any(|(s, o)| s.eq_ignore_ascii_case(service) && *o == operation)
}

/// Whether the guard lets this call go in `mode`.
pub fn is_allowed_in(mode: Mode, service: &str, operation: &str) -> bool {
    is_allowed(service, operation)
        || (mode == Mode::FixApply
            && FIX_APPLY.0.eq_ignore_ascii_case(service)
            && FIX_APPLY.1 == operation)
        || (mode == Mode::OrgScan
            && ORG_SCAN
                .iter()
                .any(|(s, o)| s.eq_ignore_ascii_case(service) && *o == operation))
        || (mode == Mode::Athena
            && ATHENA_QUERY.0.eq_ignore_ascii_case(service)
            && ATHENA_QUERY.1 == operation)
        || (mode == Mode::ArchiveRole
            && ARCHIVE_ROLE.0.eq_ignore_ascii_case(service)
            && ARCHIVE_ROLE.1 == operation)
}

/// One AWS call, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub service: String,
    pub operation: String,
}

/// Every call the clients made (or refused to make), and the endpoint of the last one sent.
#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<Call>>>, Arc<Mutex<Option<String>>>);

impl CallLog {
    pub fn calls(&self) -> Vec<Call> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
    fn push(&self, c: Call) {
        if let Ok(mut v) = self.0.lock() {
            v.push(c);
        }
    }
    /// `scheme://host[:port]` of the last request put on the wire: what could not be
    /// reached, when a call fails before any reply.
    pub fn last_endpoint(&self) -> Option<String> {
        self.1.lock().ok().and_then(|e| e.clone())
    }
    fn sent_to(&self, endpoint: String) {
        if let Ok(mut e) = self.1.lock() {
            *e = Some(endpoint);
        }
    }
}

#[derive(Debug, Clone)]
struct Attempt(u32);

impl Storable for Attempt {
    type Storer = StoreReplace<Self>;
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
    mode: Mode,
}

impl ReadOnlyGuard {
    pub fn new(log: CallLog, region: &str) -> Self {
        Self::with_mode(log, region, Mode::ReadOnly)
    }

    pub fn with_mode(log: CallLog, region: &str, mode: Mode) -> Self {
        ReadOnlyGuard {
            log,
            region: region.to_string(),
            mode,
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
        context: &BeforeSerializationInterceptorContextRef<'_>,
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
        if !is_allowed_in(self.mode, &service, &operation) {
            return Err(
                format!("kmsdoctor is read-only: refused to send {service} {operation}").into(),
            );
        }
        // The one write: never with the lockout safety check bypassed, whoever builds it.
        if let Some(put) = context
            .input()
            .downcast_ref::<aws_sdk_kms::operation::put_key_policy::PutKeyPolicyInput>()
        {
            if put.bypass_policy_lockout_safety_check() != Some(false) {
                return Err(
                    "kmsdoctor refused to send PutKeyPolicy without BypassPolicyLockoutSafetyCheck=false"
                        .into(),
                );
            }
        }
        cfg.interceptor_state().store_put(Started(Instant::now()));
        Ok(())
    }

    /// Each attempt: where it goes (for errors that get no reply), and with `--verbose`,
    /// each retry by name.
    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let uri = context.request().uri();
        let endpoint = match uri.find("://") {
            Some(i) => {
                let rest = &uri[i + 3..];
                let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
                uri[..i + 3 + host_end].to_string()
            }
            None => uri.to_string(),
        };
        self.log.sent_to(endpoint);
        let attempt = cfg.load::<Attempt>().map(|a| a.0 + 1).unwrap_or(1);
        cfg.interceptor_state().store_put(Attempt(attempt));
        if attempt > 1 {
            let op = cfg
                .load::<Metadata>()
                .map(|m| m.name().to_string())
                .unwrap_or_default();
            tracing::info!(
                operation = %op,
                region = %self.region,
                attempt,
                "retrying aws call"
            );
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_key_policy_passes_only_for_fix_apply() {
        assert!(!is_allowed("KMS", "PutKeyPolicy"));
        assert!(!is_allowed_in(Mode::ReadOnly, "KMS", "PutKeyPolicy"));
        assert!(is_allowed_in(Mode::FixApply, "KMS", "PutKeyPolicy"));
        // Nothing else becomes writable with it.
        for op in [
            "CreateKey",
            "ScheduleKeyDeletion",
            "CreateGrant",
            "PutKeyPolicyX",
        ] {
            assert!(!is_allowed_in(Mode::FixApply, "KMS", op), "{op}");
        }
        assert!(!is_allowed_in(Mode::FixApply, "IAM", "PutKeyPolicy"));
        assert!(is_allowed_in(Mode::OrgScan, "STS", "AssumeRole"));
        assert!(!is_allowed_in(Mode::ReadOnly, "STS", "AssumeRole"));
        assert!(!is_allowed_in(Mode::FixApply, "STS", "AssumeRole"));
        assert!(!is_allowed_in(Mode::OrgScan, "KMS", "PutKeyPolicy"));
        assert!(is_allowed_in(Mode::Athena, "Athena", "StartQueryExecution"));
        for mode in [Mode::ReadOnly, Mode::FixApply, Mode::OrgScan] {
            assert!(!is_allowed_in(mode, "Athena", "StartQueryExecution"));
        }
        assert!(!is_allowed_in(Mode::Athena, "KMS", "PutKeyPolicy"));
        assert!(is_allowed_in(Mode::ArchiveRole, "STS", "AssumeRole"));
        assert!(!is_allowed_in(Mode::Athena, "STS", "AssumeRole"));
        assert!(!is_allowed_in(Mode::ArchiveRole, "KMS", "PutKeyPolicy"));
        assert!(!is_allowed_in(
            Mode::ArchiveRole,
            "Organizations",
            "ListAccounts"
        ));
    }

    #[test]
    fn only_the_operations_kmsdoctor_uses_pass() {
        for (s, o) in ALLOWED {
            assert!(is_allowed(s, o), "{s} {o}");
        }
        for (s, o) in [
            ("STS", "GetSessionToken"),
            ("STS", "GetFederationToken"),
            ("STS", "AssumeRole"),
            ("KMS", "GetParametersForImport"),
            ("KMS", "PutKeyPolicy"),
            ("KMS", "CreateKey"),
            ("KMS", "ScheduleKeyDeletion"),
            ("KMS", "Decrypt"),
            ("IAM", "GetAccountAuthorizationDetails"),
            ("IAM", "PutRolePolicy"),
            ("IAM", "DeleteRolePermissionsBoundary"),
            ("Organizations", "DetachPolicy"),
            ("Organizations", "UpdatePolicy"),
            ("Organizations", "ListAccounts"),
            ("CloudTrail", "LookupEvents2"),
            ("S3", "PutObject"),
            ("S3", "DeleteObject"),
            ("CloudTrail", "StopLogging"),
        ] {
            assert!(!is_allowed(s, o), "{s} {o}");
        }
    }
}
